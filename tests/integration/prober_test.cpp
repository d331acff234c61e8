// gwr-prober against a real fake gateway: every failure mode reaches the
// right state, reasons and tier within its bound; slow or starting
// gateways never produce DOWN.
#include <signal.h>

#include <gtest/gtest.h>

#include "common/findings.h"

#include "tests/support/gateway_fakes.h"

namespace gwr::testing {
namespace {

using namespace std::chrono_literals;

std::string fast_probes(int port, const std::string& more = "") {
  return "gateway:\n  port: " + std::to_string(port) + "\n  process_match: " + gateway_name_for(port) + "\n"
         "probes:\n"
         "  process: {interval: 1s}\n"
         "  port: {interval: 1s, timeout: 500ms}\n"
         "  health: {interval: 1s, timeout: 1s, slow_threshold: 500ms}\n"
         "  memory: {interval: 1s, max_rss_mb: 200}\n"
         "  recheck_interval: 200ms\n"
         "  startup_grace: 5s\n"
         "  republish_interval: 1s\n" +
         more;
}

bool has_reason(const pb::GatewayHealth& h, const std::string& needle) {
  for (const auto& f : h.findings()) {
    if (describe(f).find(needle) != std::string::npos) return true;
  }
  return false;
}

class ProberTest : public ::testing::Test {
 protected:
  void start(const std::string& mode = "healthy", const std::vector<std::string>& gw_args = {},
             const std::string& more_yaml = "") {
    port_ = free_tcp_port();
    gateway_ = std::make_unique<FakeGateway>(dir_.path(), port_, mode, gw_args);
    daemon_ = std::make_unique<Daemon>(fast_probes(port_, more_yaml));
    ASSERT_TRUE(daemon_->start());
    bus_ = std::make_unique<BusWatcher>(daemon_->runtime_dir(), std::vector<std::string>{"gateway_health"});
  }
  std::optional<pb::GatewayHealth> wait_state(pb::GatewayState s, std::chrono::milliseconds timeout) {
    return bus_->wait_health([&](const pb::GatewayHealth& h) { return h.state() == s; }, timeout);
  }
  bool ever_down() {
    for (const auto& h : bus_->healths()) {
      if (h.state() == pb::DOWN) return true;
    }
    return false;
  }

  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<FakeGateway> gateway_;
  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<BusWatcher> bus_;
};

TEST_F(ProberTest, HealthyGatewayWithPidAndMemory) {
  start("healthy", {"--children", "2"});
  auto h = bus_->wait_health([](const pb::GatewayHealth& x) { return x.state() == pb::HEALTHY && x.rss_bytes() > 0; },
                             5s);
  ASSERT_TRUE(h);
  EXPECT_EQ(static_cast<pid_t>(h->pid()), gateway_->pid());  // the parent, not its children
  EXPECT_GT(h->children_rss_bytes(), 0u);
  EXPECT_EQ(h->recommended_tier(), 0u);
  EXPECT_EQ(h->checks_size(), 4);
  for (const auto& c : h->checks()) EXPECT_TRUE(c.ok()) << c.kind();
}

TEST_F(ProberTest, KilledGatewayIsDownAtOnceWithTier1) {
  start();
  ASSERT_TRUE(wait_state(pb::HEALTHY, 5s));
  const auto t0 = std::chrono::steady_clock::now();
  gateway_->process().signal(SIGKILL);
  // Reaped at once, as its service manager (systemd, launchd) would.
  (void)gateway_->process().wait(1s);
  auto h = wait_state(pb::DOWN, 2s);
  ASSERT_TRUE(h);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(h->recommended_tier(), 1u);
  EXPECT_TRUE(has_reason(*h, "exited")) << h->DebugString();
}

TEST_F(ProberTest, HangIsConfirmedAndRecommendsTier2) {
  start();
  ASSERT_TRUE(wait_state(pb::HEALTHY, 5s));
  ASSERT_TRUE(gateway_->post_mode("hang"));
  const auto t0 = std::chrono::steady_clock::now();
  auto h = wait_state(pb::DOWN, 10s);
  ASSERT_TRUE(h);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 7s);
  EXPECT_EQ(h->recommended_tier(), 2u);
  EXPECT_TRUE(has_reason(*h, "health check failing: no answer within 1s")) << h->DebugString();
  EXPECT_EQ(static_cast<pid_t>(h->pid()), gateway_->pid());
  // And recovery is seen.
  ASSERT_TRUE(gateway_->post_mode("healthy"));
  EXPECT_TRUE(wait_state(pb::HEALTHY, 5s));
}

TEST_F(ProberTest, SigstoppedGatewayIsDown) {
  start();
  ASSERT_TRUE(wait_state(pb::HEALTHY, 5s));
  gateway_->process().signal(SIGSTOP);
  auto h = wait_state(pb::DOWN, 10s);
  gateway_->process().signal(SIGCONT);
  ASSERT_TRUE(h);
  // Health times out; so does the TCP connect once the frozen process's
  // listen backlog is full, and whichever is confirmed first is the reason
  // (a dead port makes the health finding redundant): a timeout either way.
  ASSERT_GE(h->findings_size(), 1) << h->DebugString();
  const auto& f = h->findings(0);
  EXPECT_EQ(f.kind(), pb::Finding::CHECK_FAILING) << h->DebugString();
  EXPECT_EQ(f.cause(), pb::CAUSE_TIMEOUT) << h->DebugString();
  if (f.check() == pb::CHECK_PORT) {
    EXPECT_EQ(h->recommended_tier(), 1u);
    EXPECT_TRUE(has_reason(*h, "timeout after 500ms")) << h->DebugString();
  } else {
    EXPECT_EQ(f.check(), pb::CHECK_HEALTH);
    EXPECT_EQ(h->recommended_tier(), 2u);
    EXPECT_TRUE(has_reason(*h, "no answer within 1s")) << h->DebugString();
  }
}

TEST_F(ProberTest, SlowButUnderTheTimeoutIsDegradedNeverDown) {
  start("slow delay_ms=700", {}, "");
  auto h = wait_state(pb::DEGRADED, 8s);
  ASSERT_TRUE(h);
  EXPECT_TRUE(has_reason(*h, "slow health answers")) << h->DebugString();
  EXPECT_EQ(h->recommended_tier(), 0u);
  bus_->pump(4s);
  EXPECT_FALSE(ever_down());
}

TEST_F(ProberTest, UnhealthyBodyIsDownWithTheGatewaysWords) {
  start();
  ASSERT_TRUE(wait_state(pb::HEALTHY, 5s));
  gateway_->set_mode_file("unhealthy");
  auto h = wait_state(pb::DOWN, 8s);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->recommended_tier(), 2u);
  EXPECT_TRUE(has_reason(*h, "gateway says not ok (status degraded)")) << h->DebugString();
}

TEST_F(ProberTest, ServerErrorIsDown) {
  start();
  ASSERT_TRUE(wait_state(pb::HEALTHY, 5s));
  gateway_->set_mode_file("error status=500");
  auto h = wait_state(pb::DOWN, 8s);
  ASSERT_TRUE(h);
  EXPECT_TRUE(has_reason(*h, "HTTP 500")) << h->DebugString();
}

TEST_F(ProberTest, SlowStartWithStartupzIsStartingNeverDown) {
  // 8 s of "starting" is longer than the 5 s grace: /startupz keeps it STARTING.
  start("starting startup_ms=8000");
  ASSERT_TRUE(wait_state(pb::STARTING, 5s));
  ASSERT_TRUE(wait_state(pb::HEALTHY, 15s));
  EXPECT_FALSE(ever_down());
  auto starting = bus_->wait_health([](const pb::GatewayHealth& h) { return h.state() == pb::STARTING; }, 0ms);
  EXPECT_TRUE(has_reason(*starting, "still starting")) << starting->DebugString();
}

TEST_F(ProberTest, SlowStartWithoutStartupzUsesTheGrace) {
  start("starting startup_ms=3000 no_startupz=1");
  ASSERT_TRUE(wait_state(pb::STARTING, 5s));
  ASSERT_TRUE(wait_state(pb::HEALTHY, 10s));
  EXPECT_FALSE(ever_down());
}

TEST_F(ProberTest, StuckStartingBeyondTheGraceWithoutStartupzIsDown) {
  start("starting startup_ms=600000 no_startupz=1");
  ASSERT_TRUE(wait_state(pb::STARTING, 5s));
  auto h = wait_state(pb::DOWN, 15s);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->recommended_tier(), 2u);
}

// The real gateway is called "openclaw" for its first 5-15 s, then renames
// itself "openclaw-gateway": gwr started beside it at boot must see it
// starting, not gone.
TEST_F(ProberTest, GatewayUnderItsLaunchNameIsStartingNotDown) {
  for (const bool knows_launch_name : {true, false}) {
    SCOPED_TRACE(knows_launch_name ? "launch_match set" : "launch_match empty");
    port_ = free_tcp_port();
    const std::string launch = "launch" + std::to_string(port_);
    std::string yaml = fast_probes(port_);
    yaml.insert(yaml.find("probes:"), "  launch_match: \"" + (knows_launch_name ? launch : "") + "\"\n");
    // At boot: the gateway first, gwr a moment later, while it is still
    // called by its launch name (3 s, nothing bound yet).
    gateway_ = std::make_unique<FakeGateway>(dir_.path(), port_, "healthy",
                                             std::vector<std::string>{"--launch-name", launch, "--launch-ms", "3000"});
    daemon_ = std::make_unique<Daemon>(yaml);
    ASSERT_TRUE(daemon_->start());
    bus_ = std::make_unique<BusWatcher>(daemon_->runtime_dir(), std::vector<std::string>{"gateway_health"});
    if (knows_launch_name) {
      auto starting = wait_state(pb::STARTING, 3s);
      ASSERT_TRUE(starting);
      EXPECT_EQ(starting->pid(), static_cast<uint32_t>(gateway_->pid()));
      auto healthy = wait_state(pb::HEALTHY, 10s);
      ASSERT_TRUE(healthy);
      EXPECT_EQ(healthy->pid(), static_cast<uint32_t>(gateway_->pid()));
      for (const auto& h : bus_->healths()) EXPECT_NE(h.state(), pb::DOWN) << h.DebugString();
    } else {
      // Without it, the same start looks like no gateway at all.
      auto down = wait_state(pb::DOWN, 3s);
      ASSERT_TRUE(down);
      EXPECT_TRUE(has_reason(*down, "no process named " + gateway_name_for(port_))) << down->DebugString();
    }
    bus_.reset();
    daemon_.reset();
    gateway_.reset();
  }
}

TEST_F(ProberTest, LeakIsAMemoryWarning) {
  start("leak mb_per_s=100 max_mb=400");
  auto h = wait_state(pb::DEGRADED, 10s);
  ASSERT_TRUE(h);
  EXPECT_TRUE(has_reason(*h, "high memory")) << h->DebugString();
  EXPECT_GT(h->rss_bytes(), 200ULL << 20);
  EXPECT_FALSE(ever_down());
}

TEST_F(ProberTest, CrashIsDown) {
  start();
  ASSERT_TRUE(wait_state(pb::HEALTHY, 5s));
  ASSERT_TRUE(gateway_->post_mode("crash after_ms=10 code=3"));
  auto h = wait_state(pb::DOWN, 3s);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->recommended_tier(), 1u);
}

TEST_F(ProberTest, StaleLockWedgeIsDownWithTier2) {
  start();
  ASSERT_TRUE(wait_state(pb::HEALTHY, 5s));
  write_file(gateway_->state_dir() + "/agents/main/sessions/abc.jsonl.lock",
             R"({"pid":999999,"createdAt":1700000000000})");
  gateway_->set_mode_file("stale_lock");
  auto h = wait_state(pb::DOWN, 8s);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->recommended_tier(), 2u);
  EXPECT_TRUE(has_reason(*h, "session file locked")) << h->DebugString();
}

TEST_F(ProberTest, PortNotAnsweringWhileTheProcessLivesIsTier1) {
  // Our gateway's process (named as ours, on our state dir) is alive past its
  // startup grace, but nothing listens on our port.
  port_ = free_tcp_port();
  const std::string name = gateway_name_for(port_);
  const std::string state = dir_ / "openclaw";
  auto lingering = Process::start({"/bin/bash", "-c", "exec -a " + name + " sleep 120"}, {{"OPENCLAW_STATE_DIR", state}});
  std::string yaml = fast_probes(port_);
  yaml.replace(yaml.find("\n") + 1, 0, "  state_dir: " + state + "\n");  // under gateway:
  daemon_ = std::make_unique<Daemon>(yaml);
  ASSERT_TRUE(daemon_->start());
  bus_ = std::make_unique<BusWatcher>(daemon_->runtime_dir(), std::vector<std::string>{"gateway_health"});
  auto h = bus_->wait_health(
      [](const pb::GatewayHealth& x) { return x.state() == pb::DOWN && x.recommended_tier() == 1; }, 15s);
  ASSERT_TRUE(h);
  EXPECT_TRUE(has_reason(*h, "port not accepting connections: connection refused")) << h->DebugString();
  EXPECT_EQ(static_cast<pid_t>(h->pid()), lingering.pid());
}

// OpenClaw's rescue-bot set-up: a second gateway with the same process name
// on another port. While ours is down, the other is never reported as ours.
TEST_F(ProberTest, ASecondGatewayOfTheSameNameIsNeverReportedAsOurs) {
  port_ = free_tcp_port();
  const int rescue_port = free_tcp_port();
  const std::string name = gateway_name_for(port_);
  TempDir rescue_dir;
  FakeGateway rescue(rescue_dir.path(), rescue_port, "healthy", {"--name", name});
  daemon_ = std::make_unique<Daemon>(fast_probes(port_));
  ASSERT_TRUE(daemon_->start());
  // This is about what the prober reports: the repairer stays out of it (a
  // repair it began before the pause would kill ours as a port owner).
  ASSERT_EQ(daemon_->gwrctl({"pause"}).exit_code, 0);
  bus_ = std::make_unique<BusWatcher>(daemon_->runtime_dir(), std::vector<std::string>{"gateway_health"});
  auto down = wait_state(pb::DOWN, 10s);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->pid(), 0u);
  EXPECT_TRUE(has_reason(*down, "is another gateway")) << down->DebugString();
  ASSERT_TRUE(wait_until([&] { return daemon_->repair_in_progress() == false; }, 60s, "the repair begun before the pause ended"));
  // Ours comes up: it is the one reported, never the other.
  gateway_ = std::make_unique<FakeGateway>(dir_.path(), port_, "healthy");
  auto up = bus_->wait_health([&](const pb::GatewayHealth& x) { return x.state() == pb::HEALTHY; }, 10s);
  ASSERT_TRUE(up) << (bus_->healths().empty() ? std::string("no health") : bus_->healths().back().DebugString())
                  << "\nours said: " << read_file(dir_ / "fake-gateway.out");
  EXPECT_EQ(static_cast<pid_t>(up->pid()), gateway_->pid());
  // Ours dies: down again, and still not the other one.
  gateway_->process().signal(SIGKILL);
  bus_->clear();
  auto again = wait_state(pb::DOWN, 10s);
  ASSERT_TRUE(again);
  bus_->pump(2s);
  for (const auto& h : bus_->healths()) {
    EXPECT_NE(static_cast<pid_t>(h.pid()), rescue.pid()) << h.DebugString();
  }
  EXPECT_TRUE(rescue.healthy()) << "the other gateway was never touched";
}

TEST_F(ProberTest, ProberRestartRepublishesState) {
  start();
  auto first = wait_state(pb::HEALTHY, 5s);
  ASSERT_TRUE(first);
  const pid_t prober = daemon_->worker_pids().at("prober");
  ::kill(prober, SIGKILL);
  auto again = bus_->wait_health(
      [&](const pb::GatewayHealth& h) { return h.prober_run_id() != first->prober_run_id() && h.state() == pb::HEALTHY; },
      5s);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->pid(), first->pid());
}

TEST_F(ProberTest, StatusShowsTheGatewaySection) {
  start();
  ASSERT_TRUE(bus_->wait_health([](const pb::GatewayHealth& h) { return h.state() == pb::HEALTHY && h.rss_bytes(); }, 5s));
  auto out = daemon_->gwrctl({"status", "--json"});
  ASSERT_EQ(out.exit_code, 0) << out.output;
  const auto j = nlohmann::json::parse(out.output);
  EXPECT_EQ(j["gateway"]["state"], "healthy");
  EXPECT_EQ(j["gateway"]["pid"], gateway_->pid());
  EXPECT_GT(j["gateway"]["rss_mb"].get<double>(), 0.0);
  EXPECT_EQ(j["gateway"]["checks"].size(), 4u);
}

}  // namespace
}  // namespace gwr::testing
