// End to end: the real gwr daemon against the real OpenClaw gateway
// (openclaw@2026.9.6 on Node 24, installed by install_openclaw.sh into a
// cache reused across runs). The gateway runs in a temp HOME on a free
// loopback port, started and stopped through openclaw-service.sh, which is
// what gwr's gateway.commands point at (these machines have no service
// manager). One gateway is shared by the scenarios to save its ~12 s cold
// start; every scenario brings it to "healthy" first and uses a fresh gwr
// daemon, so none depends on another's leftovers.
//
// main() installs (or finds) OpenClaw first: when the npm registry cannot be
// reached it prints why and exits 77, which ctest reports as skipped.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <cstdlib>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/http_client.h"
#include "common/proc.h"
#include "tests/support/gateway_fakes.h"

namespace gwr::testing {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr int kSkipExitCode = 77;

std::string g_cache;                  // where install_openclaw.sh put Node and openclaw
std::vector<std::string> g_figures;   // measured figures, printed again at the end

double seconds_since(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A figure for the report: printed at once, kept for the summary, and
// recorded in the test's XML output.
void figure(const std::string& name, double value, const std::string& unit) {
  char text[200];
  std::snprintf(text, sizeof text, "%-34s %8.1f %s", name.c_str(), value, unit.c_str());
  g_figures.emplace_back(text);
  std::fprintf(stderr, "[e2e] %s\n", text);
  if (::testing::UnitTest::GetInstance()->current_test_info() != nullptr) {
    ::testing::Test::RecordProperty(name, std::to_string(value) + " " + unit);
  }
}

// Polls every period (not every 10 ms: each try may be an HTTP request).
::testing::AssertionResult poll_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                                      const std::string& what, std::chrono::milliseconds period = 100ms) {
  const auto deadline = SteadyClock::now() + timeout;
  while (true) {
    if (condition()) return ::testing::AssertionSuccess();
    if (SteadyClock::now() >= deadline) {
      return ::testing::AssertionFailure() << "timed out after " << timeout.count() << " ms waiting for: " << what;
    }
    std::this_thread::sleep_for(period);
  }
}

std::string quoted(const std::string& s) { return nlohmann::json(s).dump(); }

std::string yaml_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + quoted(items[i]);
  return out + "]";
}

// VmRSS of a process in MB, from /proc (0 if it is gone).
double vm_rss_mb(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

std::string comm_of(pid_t pid) {
  std::string comm = read_file("/proc/" + std::to_string(pid) + "/comm");
  while (!comm.empty() && comm.back() == '\n') comm.pop_back();
  return comm;
}

// The gateway's HOME: a temp dir of its own (not /tmp/gwrt-*, which other
// runs' clean-ups may sweep while this long-lived gateway still uses it).
class GatewayHome {
 public:
  GatewayHome() {
    char tmpl[] = "/tmp/gwr-e2e-home-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~GatewayHome() {
    if (std::getenv("GWR_TEST_KEEP") != nullptr) {
      std::fprintf(stderr, "keeping %s\n", path_.c_str());
      return;
    }
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  GatewayHome(const GatewayHome&) = delete;
  GatewayHome& operator=(const GatewayHome&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

// The real gateway under a minimal service manager (openclaw-service.sh).
class OpenclawService {
 public:
  explicit OpenclawService(std::string cache) : cache_(std::move(cache)), port_(free_tcp_port()) {}
  ~OpenclawService() {
    const auto stopped = service("stop");
    if (stopped.exit_code != 0) {
      std::fprintf(stderr, "[e2e] gateway stop failed: %s", stopped.output.c_str());
      // Never leave a gateway behind: its group, if it is still ours.
      if (last_pid_ > 0 && comm_of(last_pid_).rfind("openclaw", 0) == 0) ::kill(-last_pid_, SIGKILL);
    }
  }
  OpenclawService(const OpenclawService&) = delete;
  OpenclawService& operator=(const OpenclawService&) = delete;

  int port() const { return port_; }
  const std::string& home() const { return home_.path(); }
  std::string state_dir() const { return home_ / ".openclaw"; }
  std::string output() const { return read_file(home_ / "service/gateway.out"); }

  std::vector<std::string> argv(const std::string& action) const {
    return {"/bin/bash", source_path("tests/e2e/openclaw-service.sh"), action, "--home", home_.path(),
            "--port", std::to_string(port_), "--cache", cache_};
  }
  CommandOutput service(const std::string& action) const { return run(argv(action), 60s); }

  // The service's gateway if it is alive (the pidfile's pid), else 0.
  pid_t pid() const {
    const std::string text = read_file(home_ / "service/gateway.pid");
    if (text.empty()) return 0;
    const auto pid = static_cast<pid_t>(std::stol(text));
    if (!pid_alive(pid)) return 0;
    last_pid_ = pid;
    return pid;
  }

  // GET /health answers 200 {"ok":true,...}.
  bool healthy(std::chrono::milliseconds timeout = 1500ms) const {
    CurlHttpClient http;
    HttpRequest req;
    req.url = "http://127.0.0.1:" + std::to_string(port_) + "/health";
    req.timeout = timeout;
    const auto r = http.send(req);
    return r.status == 200 && r.body.find("\"ok\":true") != std::string::npos;
  }

  // The gateway: section of a gwr config watching this gateway. An observer
  // gets commands that do nothing: whatever it decides, it cannot touch the
  // gateway, and only what it sees counts.
  std::string gateway_yaml(bool observer = false) const {
    const std::vector<std::string> noop = {"/bin/true"};
    return "gateway:\n"
           "  port: " + std::to_string(port_) + "\n"
           "  process_match: \"openclaw-gateway\"\n"
           "  state_dir: " + quoted(state_dir()) + "\n"
           // OpenClaw logs to its secure temp root whatever HOME is.
           "  log_files: [\"/tmp/openclaw/openclaw-*.log\"]\n"
           "  commands:\n"
           "    restart: " + yaml_list(observer ? noop : argv("restart")) + "\n"
           "    stop: " + yaml_list(observer ? noop : argv("stop")) + "\n"
           "    start: " + yaml_list(observer ? noop : argv("start")) + "\n"
           // Tier 2 runs doctor only when its deep clean did not help, which
           // no scenario here expects; `openclaw doctor --fix
           // --non-interactive` takes ~35 s on 2 cores and rewrites
           // openclaw.json, so a wrong turn is cut short instead.
           "    doctor: []\n";
  }

 private:
  GatewayHome home_;
  std::string cache_;
  int port_;
  mutable pid_t last_pid_ = 0;
};

class OpenclawE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { service_ = new OpenclawService(g_cache); }
  static void TearDownTestSuite() {
    delete service_;
    service_ = nullptr;
  }
  void TearDown() override {
    // gwr goes first, so no repair of it races the next scenario's setup.
    bus_.reset();
    daemon_.reset();
    if (HasFailure()) {
      std::fprintf(stderr, "[e2e] gateway service output (tail):\n%s\n", tail(service_->output(), 4000).c_str());
    }
  }

  static std::string tail(const std::string& s, size_t n) { return s.size() > n ? s.substr(s.size() - n) : s; }

  // gwr with probes fast enough for a test, and its defaults otherwise
  // (memory threshold, tier deadlines, the 2 min startup grace: the real
  // gateway needs ~12-24 s here, and a restart onto a squatted port must not
  // wait it out).
  static std::string fast_yaml(bool observer = false) {
    return service_->gateway_yaml(observer) +
           "probes:\n"
           "  process: {interval: 1s}\n"
           "  port: {interval: 1s}\n"
           "  health: {interval: 1s}\n"
           "  memory: {interval: 2s}\n"
           "  recheck_interval: 250ms\n"
           "  republish_interval: 1s\n"
           "repair:\n"
           "  tier3: {enabled: false}\n";
  }
  // gwr exactly as shipped, except where the gateway is and no Tier 3.
  static std::string default_yaml(bool observer = false) {
    return service_->gateway_yaml(observer) + "repair:\n  tier3: {enabled: false}\n";
  }

  // /health answers again. Right after "http server listening" the gateway
  // is still busy loading (its event loop stalls for a second or two), so a
  // single slow answer is allowed for.
  static ::testing::AssertionResult answers_health() {
    return poll_until([] { return service_->healthy(3s); }, 15s, "the gateway answering /health", 200ms);
  }

  // The shared gateway, running and answering /health (a cold start if not).
  void ensure_healthy() {
    if (service_->pid() != 0 && service_->healthy()) return;
    const auto r = service_->service("restart");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ASSERT_TRUE(poll_until([] { return service_->healthy(); }, 120s, "the gateway answering /health", 200ms))
        << tail(service_->output(), 4000);
  }

  void start_daemon(const std::string& yaml) {
    daemon_ = std::make_unique<Daemon>(yaml);
    ASSERT_TRUE(daemon_->start(30s));
    bus_ = std::make_unique<BusWatcher>(daemon_->runtime_dir(), std::vector<std::string>{"gateway_health", "repair_event"});
  }

  // gwr sees the gateway as healthy, with this pid.
  void wait_watching_healthy(pid_t pid) {
    ASSERT_TRUE(bus_->wait_health([&](const pb::GatewayHealth& h) {
      return h.state() == pb::HEALTHY && h.pid() == static_cast<uint32_t>(pid);
    }, 30s)) << "gwr never saw pid " << pid << " healthy";
  }

  std::optional<pb::Event> wait_repair(pb::RepairEvent::Kind kind, std::chrono::milliseconds timeout,
                                       const std::function<bool(const pb::RepairEvent&)>& extra = nullptr) {
    return bus_->wait_for(
        [&](const pb::Event& e) {
          return e.has_repair_event() && e.repair_event().kind() == kind && (!extra || extra(e.repair_event()));
        },
        timeout);
  }

  static int count(const BusWatcher& bus, pb::RepairEvent::Kind kind) {
    int n = 0;
    for (const auto& e : bus.events()) n += e.has_repair_event() && e.repair_event().kind() == kind;
    return n;
  }

  static nlohmann::json gwrctl_json(Daemon& daemon, const std::vector<std::string>& args) {
    std::vector<std::string> a = args;
    a.push_back("--json");
    const auto out = daemon.gwrctl(a);
    EXPECT_EQ(out.exit_code, 0) << out.output;
    return nlohmann::json::parse(out.output, nullptr, false);
  }

  // Every state the prober logged, in order (its log is complete, unlike a
  // bus subscription that starts after the daemon).
  static std::vector<std::string> logged_states(const Daemon& daemon) {
    std::vector<std::string> out;
    for (const auto& l : read_json_lines(daemon.log_file("gwr-prober"))) {
      if (l.value("event", "") == "gateway_state") out.push_back(l.value("to", "?"));
    }
    return out;
  }

  static std::string joined(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : " -> ") + s;
    return out;
  }

  // gwrctl status --json tells the truth about this gateway. Its RSS comes
  // from a memory probe every 2 s, and a gateway that has just started grows
  // by tens of MB a second, so the figures are compared until they agree
  // (at once for a settled gateway).
  static void expect_status_truthful(Daemon& daemon, pid_t pid) {
    nlohmann::json status;
    double proc_rss = 0;
    const auto agree = poll_until(
        [&] {
          status = gwrctl_json(daemon, {"status"});
          proc_rss = vm_rss_mb(pid);
          return status.is_object() && status["gateway"]["rss_mb"].is_number() &&
                 std::abs(status["gateway"]["rss_mb"].get<double>() - proc_rss) <= std::max(25.0, proc_rss * 0.05);
        },
        20s, "gwrctl's rss_mb close to /proc's VmRSS", 500ms);
    EXPECT_TRUE(agree) << "gwrctl says " << status["gateway"]["rss_mb"] << " MB, /proc says " << proc_rss << " MB";
    ASSERT_TRUE(status.is_object());
    EXPECT_EQ(status["gateway"]["state"], "healthy") << status.dump(2);
    EXPECT_EQ(status["gateway"]["pid"], pid) << status.dump(2);
    EXPECT_EQ(status["repair"]["in_progress"], false);
    EXPECT_EQ(status["repair"]["paused"], false);
    EXPECT_TRUE(status["repair"]["cooldown_until"].is_null());
    ASSERT_EQ(status["components"].size(), 4u) << status.dump(2);
    for (const auto& c : status["components"]) EXPECT_EQ(c["state"], "running") << c.dump();
  }

  // gwrctl history --json lists exactly one automatic repair, fixed by the
  // last of these tiers after trying them all.
  static void expect_history(Daemon& daemon, const std::vector<uint32_t>& tiers) {
    auto history = gwrctl_json(daemon, {"history"});
    ASSERT_EQ(history["repairs"].size(), 1u) << history.dump(2);
    const auto& r = history["repairs"][0];
    EXPECT_EQ(r["status"], "succeeded") << r.dump(2);
    EXPECT_EQ(r["trigger"], "auto");
    EXPECT_EQ(r["fixed_by_tier"], tiers.back());
    ASSERT_TRUE(r["tiers_tried"].is_array()) << r.dump(2);
    EXPECT_EQ(r["tiers_tried"].get<std::vector<uint32_t>>(), tiers) << r.dump(2);
    EXPECT_GT(r["duration_ms"].get<int64_t>(), 0);
  }

  static OpenclawService* service_;
  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<BusWatcher> bus_;
};

OpenclawService* OpenclawE2E::service_ = nullptr;

// (d) and (e): the gateway's ~12 s cold start and its ~0.85 GB RSS raise no
// alarm, with fast probes or with the defaults, and gwrctl status describes
// it as /proc does.
//
// Two kinds of watchers see the same cold start:
// - "at boot": gwr started together with the gateway (0.1 s after it). For
//   its first ~5-8 s the gateway's process is still called "openclaw" (it
//   renames itself "openclaw-gateway" once its CLI has loaded), so these run
//   as observers with do-nothing commands: a false alarm shows in what they
//   report, and cannot restart the gateway under the others. gwr knows the
//   gateway by its launch name then (gateway.launch_match, "openclaw"), for
//   at most the startup grace.
// - gwr with real commands, started once the process carries its final name
//   (the rest of the start: ~6-9 s before /health answers).
TEST_F(OpenclawE2E, ColdStartAndLargeRssRaiseNoFalseAlarm) {
  service_->service("stop");
  ASSERT_EQ(service_->pid(), 0);
  ASSERT_TRUE(poll_until([] { return listening_pids(static_cast<uint16_t>(service_->port())).empty(); }, 15s,
                         "the gateway port free"));
  const auto t0 = SteadyClock::now();
  const auto started = service_->service("start");
  ASSERT_EQ(started.exit_code, 0) << started.output;
  const pid_t pid = service_->pid();
  ASSERT_GT(pid, 0);

  Daemon boot_fast(fast_yaml(true));
  Daemon boot_defaults(default_yaml(true));
  ASSERT_TRUE(boot_fast.start(30s));
  ASSERT_TRUE(boot_defaults.start(30s));

  ASSERT_TRUE(poll_until([&] { return comm_of(pid) == "openclaw-gatewa"; }, 60s, "the process renamed", 50ms))
      << "comm is " << comm_of(pid);
  figure("cold start: named openclaw-gateway after", seconds_since(t0), "s");
  Daemon fast(fast_yaml());
  Daemon defaults(default_yaml());
  ASSERT_TRUE(fast.start(30s));
  ASSERT_TRUE(defaults.start(30s));
  BusWatcher fast_bus(fast.runtime_dir(), {"gateway_health", "repair_event"});
  BusWatcher default_bus(defaults.runtime_dir(), {"gateway_health", "repair_event"});

  ASSERT_TRUE(poll_until([] { return service_->healthy(); }, 90s, "the gateway answering /health", 100ms))
      << tail(service_->output(), 4000);
  const double cold_start = seconds_since(t0);
  figure("cold start: /health 200 after", cold_start, "s");
  EXPECT_LT(cold_start, 60.0);
  const auto healthy = fast_bus.wait_health(
      [&](const pb::GatewayHealth& h) { return h.state() == pb::HEALTHY && h.pid() == static_cast<uint32_t>(pid); },
      15s);
  ASSERT_TRUE(healthy) << "prober states: " << joined(logged_states(fast));

  // A quiet period: the gateway settles (sidecars, caches) while gwr watches.
  fast_bus.pump(20s);
  default_bus.pump(100ms);
  EXPECT_EQ(service_->pid(), pid) << "the gateway was restarted";

  const std::vector<std::pair<const char*, Daemon*>> watchers = {
      {"fast probes", &fast}, {"default probes", &defaults},
      {"fast probes, started at boot", &boot_fast}, {"default probes, started at boot", &boot_defaults}};
  for (const auto& [name, d] : watchers) {
    const auto states = logged_states(*d);
    SCOPED_TRACE(std::string(name) + ": " + joined(states));
    EXPECT_EQ(std::count(states.begin(), states.end(), "down"), 0)
        << "a false alarm" << (d == &boot_fast || d == &boot_defaults
                                   ? ": the gateway was still named \"openclaw\" when gwr started"
                                   : "");
    EXPECT_EQ(std::count(states.begin(), states.end(), "degraded"), 0);
    ASSERT_FALSE(states.empty());
    EXPECT_EQ(states.back(), "healthy");
    const auto history = gwrctl_json(*d, {"history"});
    EXPECT_EQ(history["repairs"].size(), 0u) << history.dump(2);
  }
  for (const BusWatcher* b : {&fast_bus, &default_bus}) {
    EXPECT_EQ(count(*b, pb::RepairEvent::STARTED), 0);
    for (const auto& h : b->healths()) {
      EXPECT_NE(h.state(), pb::DOWN);
      EXPECT_NE(h.state(), pb::DEGRADED);
      EXPECT_EQ(h.recommended_tier(), 0u);
    }
  }
  // The fast prober saw the start: STARTING first, then HEALTHY.
  const auto fast_states = logged_states(fast);
  const auto first_starting = std::find(fast_states.begin(), fast_states.end(), "starting") - fast_states.begin();
  const auto first_healthy = std::find(fast_states.begin(), fast_states.end(), "healthy") - fast_states.begin();
  EXPECT_LT(first_starting, first_healthy) << "never STARTING before HEALTHY: " << joined(fast_states);

  const auto last = fast_bus.healths().back();
  const double rss_mb = static_cast<double>(last.rss_bytes()) / (1024.0 * 1024.0);
  figure("gateway RSS after start (gwr)", rss_mb, "MB");
  figure("gateway RSS after start (/proc)", vm_rss_mb(pid), "MB");
  EXPECT_GT(rss_mb, 200.0);  // really measured: a Node gateway, not a stub
  expect_status_truthful(fast, pid);
  auto status = gwrctl_json(fast, {"status"});
  EXPECT_EQ(status["repair"]["repairs_last_hour"], 0);
  EXPECT_EQ(status["gateway"]["recommended_tier"], 0);
}

// (a) kill -9: seen at once, restarted by Tier 1.
TEST_F(OpenclawE2E, KilledGatewayIsRecoveredByTier1) {
  ASSERT_NO_FATAL_FAILURE(ensure_healthy());
  ASSERT_NO_FATAL_FAILURE(start_daemon(fast_yaml()));
  const pid_t old = service_->pid();
  ASSERT_NO_FATAL_FAILURE(wait_watching_healthy(old));

  const auto t0 = SteadyClock::now();
  const int64_t killed_at = wall_ms();
  ASSERT_EQ(::kill(old, SIGKILL), 0);
  const auto started = wait_repair(pb::RepairEvent::STARTED, 10s);
  ASSERT_TRUE(started);
  const double detect = static_cast<double>(started->sent_at_ms() - killed_at) / 1000.0;
  figure("kill -9: repair started after", detect, "s");
  EXPECT_LT(detect, 3.0);

  const auto done = wait_repair(pb::RepairEvent::FINISHED, 120s);
  ASSERT_TRUE(done);
  const double recovered = seconds_since(t0);
  figure("kill -9: healthy again (Tier 1) after", recovered, "s");
  EXPECT_TRUE(done->repair_event().success()) << done->repair_event().details();
  EXPECT_EQ(done->repair_event().tier(), 1u) << done->repair_event().details();
  EXPECT_EQ(std::vector<uint32_t>(done->repair_event().tiers_tried().begin(), done->repair_event().tiers_tried().end()),
            std::vector<uint32_t>{1});
  EXPECT_LT(recovered, 60.0);

  EXPECT_TRUE(answers_health());
  const pid_t fresh = service_->pid();
  ASSERT_GT(fresh, 0);
  EXPECT_NE(fresh, old);
  EXPECT_EQ(comm_of(fresh), "openclaw-gatewa");
  ASSERT_NO_FATAL_FAILURE(wait_watching_healthy(fresh));
  bus_->pump(3s);
  EXPECT_EQ(count(*bus_, pb::RepairEvent::STARTED), 1) << "a second repair";
  expect_history(*daemon_, {1});
  expect_status_truthful(*daemon_, fresh);
}

// (b) SIGSTOP: the process is there and the port accepts connections, but
// nothing answers. The hang is found and the gateway replaced, without the
// test ever sending SIGCONT.
TEST_F(OpenclawE2E, StoppedGatewayIsFoundHungAndReplaced) {
  ASSERT_NO_FATAL_FAILURE(ensure_healthy());
  ASSERT_NO_FATAL_FAILURE(start_daemon(fast_yaml()));
  const pid_t old = service_->pid();
  ASSERT_NO_FATAL_FAILURE(wait_watching_healthy(old));

  const auto t0 = SteadyClock::now();
  ASSERT_EQ(::kill(old, SIGSTOP), 0);
  const auto down = bus_->wait_health([](const pb::GatewayHealth& h) { return h.state() == pb::DOWN; }, 30s);
  ASSERT_TRUE(down);
  figure("SIGSTOP: DOWN after", seconds_since(t0), "s");
  EXPECT_LT(seconds_since(t0), 15.0);
  EXPECT_EQ(down->pid(), static_cast<uint32_t>(old));  // still there: a hang, not a crash
  EXPECT_EQ(down->recommended_tier(), 2u);

  const auto done = wait_repair(pb::RepairEvent::FINISHED, 150s);
  ASSERT_TRUE(done);
  const double recovered = seconds_since(t0);
  figure("SIGSTOP: healthy again after", recovered, "s");
  figure("SIGSTOP: repair duration", static_cast<double>(done->repair_event().duration_ms()) / 1000.0, "s");
  EXPECT_TRUE(done->repair_event().success()) << done->repair_event().details();
  EXPECT_EQ(done->repair_event().tier(), 2u);
  EXPECT_LT(recovered, 90.0);

  EXPECT_TRUE(poll_until([&] { return !pid_alive(old); }, 10s, "the stopped gateway gone"));
  EXPECT_TRUE(answers_health());
  const pid_t fresh = service_->pid();
  ASSERT_GT(fresh, 0);
  EXPECT_NE(fresh, old);
  ASSERT_NO_FATAL_FAILURE(wait_watching_healthy(fresh));
  expect_history(*daemon_, {2});
  expect_status_truthful(*daemon_, fresh);
}

// (c) The gateway died and something else now holds its port: a restart
// cannot bind, so Tier 1 fails; Tier 2 stops the squatter and starts it.
TEST_F(OpenclawE2E, StaleProcessOnThePortIsClearedByTier2) {
  ASSERT_NO_FATAL_FAILURE(ensure_healthy());
  ASSERT_NO_FATAL_FAILURE(start_daemon(fast_yaml()));
  const pid_t old = service_->pid();
  ASSERT_NO_FATAL_FAILURE(wait_watching_healthy(old));
  const auto port = static_cast<uint16_t>(service_->port());

  // Paused while the stage is set, so the squatter is in place before gwr acts.
  const auto paused = daemon_->gwrctl({"pause", "--reason", "e2e: staging a squatter"});
  ASSERT_EQ(paused.exit_code, 0) << paused.output;
  ASSERT_EQ(::kill(old, SIGKILL), 0);
  ASSERT_TRUE(poll_until([&] { return !pid_alive(old) && listening_pids(port).empty(); }, 15s, "the port free"));
  // Any listener that is not an OpenClaw gateway: the fake one, renamed.
  Process squatter;
  int attempts = 0;
  ASSERT_TRUE(poll_until(
      [&] {
        if (!squatter.running()) {
          // The port is free, yet a bind right after the gateway's death
          // sometimes still fails (EADDRINUSE): try again.
          if (attempts++ > 0) {
            std::fprintf(stderr, "[e2e] squatter attempt %d failed: %s", attempts - 1,
                         read_file(daemon_->dir() / "squatter.out").c_str());
          }
          squatter = Process::start({fake_path("fake-gateway"), "--port", std::to_string(port), "--mode", "hang",
                                     "--name", "stale-squatter"},
                                    {}, daemon_->dir() / "squatter.out");
        }
        return listening_pids(port) == std::vector<pid_t>{squatter.pid()};
      },
      15s, "a squatter listening on the port", 250ms));
  ASSERT_TRUE(bus_->wait_health(
      [](const pb::GatewayHealth& h) { return h.state() == pb::DOWN && h.recommended_tier() == 1; }, 15s));

  const auto t0 = SteadyClock::now();
  const auto resumed = daemon_->gwrctl({"resume"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  const auto done = wait_repair(pb::RepairEvent::FINISHED, 240s);
  ASSERT_TRUE(done);
  const auto& ev = done->repair_event();
  figure("squatter: healthy again (Tier 1 -> 2) after", seconds_since(t0), "s");
  EXPECT_TRUE(ev.success()) << ev.details();
  EXPECT_EQ(ev.tier(), 2u) << ev.details();
  EXPECT_EQ(std::vector<uint32_t>(ev.tiers_tried().begin(), ev.tiers_tried().end()), (std::vector<uint32_t>{1, 2}));
  EXPECT_LT(seconds_since(t0), 90.0);

  const auto tier1_failed =
      wait_repair(pb::RepairEvent::TIER_FAILED, 0ms, [](const pb::RepairEvent& e) { return e.tier() == 1; });
  ASSERT_TRUE(tier1_failed);
  figure("squatter: Tier 1 gave up after", static_cast<double>(tier1_failed->repair_event().duration_ms()) / 1000.0,
         "s");
  // Its 10 s deadline, not the 2 min startup grace: the gateway it launched
  // can never have the squatter's port.
  EXPECT_LT(tier1_failed->repair_event().duration_ms(), 15'000) << tier1_failed->repair_event().details();
  const auto tier2_started = bus_->wait_for(
      [](const pb::Event& e) {
        return e.has_repair_event() && e.repair_event().kind() == pb::RepairEvent::STEP &&
               e.repair_event().step().tier() == 2 && e.repair_event().step().name() == "stop";
      },
      0ms);
  if (tier2_started) {
    figure("squatter: Tier 2 took", static_cast<double>(done->sent_at_ms() - tier2_started->repair_event().step().started_at_ms()) / 1000.0, "s");
  }
  const auto killed = wait_repair(pb::RepairEvent::STEP, 0ms,
                                  [](const pb::RepairEvent& e) { return e.step().name() == "kill_port_owners"; });
  ASSERT_TRUE(killed);
  EXPECT_NE(killed->repair_event().step().detail().find("pid " + std::to_string(squatter.pid())), std::string::npos)
      << killed->repair_event().step().detail();
  EXPECT_TRUE(poll_until([&] { return !squatter.running(); }, 5s, "the squatter gone"));

  EXPECT_TRUE(answers_health());
  const pid_t fresh = service_->pid();
  ASSERT_GT(fresh, 0);
  EXPECT_EQ(listening_pids(port), std::vector<pid_t>{fresh});
  ASSERT_NO_FATAL_FAILURE(wait_watching_healthy(fresh));
  expect_history(*daemon_, {1, 2});
  expect_status_truthful(*daemon_, fresh);
}

}  // namespace
}  // namespace gwr::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (GTEST_FLAG_GET(list_tests)) return RUN_ALL_TESTS();

  using gwr::testing::figure;
  const auto t0 = std::chrono::steady_clock::now();
  const auto install = gwr::testing::run({"/bin/bash", gwr::testing::source_path("tests/e2e/install_openclaw.sh")},
                                         std::chrono::seconds(420));
  std::fprintf(stderr, "%s", install.output.c_str());
  if (install.exit_code == gwr::testing::kSkipExitCode) {
    // CI sets GWR_E2E_REQUIRED=1: there, a run that did not reach the real
    // gateway is a failure, not a quiet skip.
    const char* required = std::getenv("GWR_E2E_REQUIRED");
    if (required != nullptr && std::string(required) == "1") {
      std::fprintf(stderr, "openclaw_e2e: FAILED: the npm registry cannot be reached (reason above) and "
                           "GWR_E2E_REQUIRED=1 says the real-gateway tests must run\n");
      return 1;
    }
    std::fprintf(stderr, "openclaw_e2e: SKIPPED: the npm registry cannot be reached (reason above)\n");
    return gwr::testing::kSkipExitCode;
  }
  if (install.exit_code != 0) {
    std::fprintf(stderr, "openclaw_e2e: FAILED: install_openclaw.sh exited %d\n", install.exit_code);
    return 1;
  }
  std::istringstream lines(install.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("GWR_E2E_CACHE=", 0) == 0) gwr::testing::g_cache = line.substr(14);
  }
  if (gwr::testing::g_cache.empty()) {
    std::fprintf(stderr, "openclaw_e2e: FAILED: install_openclaw.sh did not name its cache\n");
    return 1;
  }
  figure("install (or cache check)", gwr::testing::seconds_since(t0), "s");

  const int rc = RUN_ALL_TESTS();
  std::fprintf(stderr, "\n[e2e] figures (openclaw 2026.9.6, %u cores):\n", std::thread::hardware_concurrency());
  for (const auto& f : gwr::testing::g_figures) std::fprintf(stderr, "[e2e]   %s\n", f.c_str());
  return rc;
}
