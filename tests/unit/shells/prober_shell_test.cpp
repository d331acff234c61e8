// gwr-prober's shell on a fake clock: what it asks the system, what it
// checks, what it publishes, how it follows an exit and a config change.
// The network is replaced (ProbeFunctions), the process table is FakeSystem.
#include <atomic>

#include <gtest/gtest.h>

#include "common/findings.h"
#include "prober/prober_worker.h"
#include "tests/support/shell_harness.h"

namespace gwr::prober {
namespace {

using namespace std::chrono_literals;
using testing::Shell;

struct FakeNetwork {
  std::atomic<bool> port_ok{true};
  std::atomic<int> health_status{200};
  std::atomic<int> port_checks{0};
  std::atomic<int> health_checks{0};
  ProbeFunctions functions() {
    ProbeFunctions f;
    f.port = [this](const ProbeJob&) {
      ++port_checks;
      PortObservation o;
      o.ok = port_ok;
      o.cause = o.ok ? pb::CAUSE_UNSPECIFIED : pb::CAUSE_REFUSED;
      o.detail = o.ok ? "" : "connection refused";
      return o;
    };
    f.health = [this](HttpClient&, const ProbeJob&) {
      ++health_checks;
      HealthObservation o;
      o.http_status = health_status;
      o.ok = o.http_status == 200;
      o.latency_us = 2000;
      if (o.http_status == 0) {  // nothing listens
        o.refused = true;
        o.cause = pb::CAUSE_REFUSED;
        o.detail = "connection refused";
      } else if (!o.ok) {
        o.cause = pb::CAUSE_HTTP_STATUS;
        o.detail = "HTTP " + std::to_string(o.http_status);
      }
      return o;
    };
    return f;
  }
};

class ProberShellTest : public ::testing::Test {
 protected:
  ProberShellTest() : shell_("prober"), worker_(net_.functions()) {}

  // One pass of the loop: due checks, then what the check threads report.
  void tick() {
    (void)worker_.on_tick(shell_.ctx(), shell_.clock.steady());
    const int ports = net_.port_checks, healths = net_.health_checks;
    (void)shell_.pump_until(worker_, [&] { return net_.port_checks == ports && net_.health_checks == healths; }, 200ms);
  }
  // Ticks until the last published health says so (bounded).
  std::optional<pb::GatewayHealth> until(const std::function<bool(const pb::GatewayHealth&)>& ok, int rounds = 40) {
    for (int i = 0; i < rounds; ++i) {
      tick();
      (void)shell_.pump_until(worker_, [] { return false; }, 30ms);
      const auto hs = shell_.transport.healths();
      if (!hs.empty() && ok(hs.back())) return hs.back();
      shell_.clock.advance(500ms);
    }
    return std::nullopt;
  }

  FakeNetwork net_;
  Shell shell_;
  ProberWorker worker_;
};

TEST_F(ProberShellTest, AHealthyGatewayIsPublishedWithItsPidAndMemory) {
  shell_.system.gateway_runs(4242, 300, shell_.clock.wall_ms() - 600'000);
  worker_.start(shell_.ctx());
  auto h = until([](const pb::GatewayHealth& x) { return x.state() == pb::HEALTHY && x.rss_bytes() > 0; });
  ASSERT_TRUE(h) << "never healthy";
  EXPECT_EQ(h->pid(), 4242u);
  EXPECT_EQ(h->rss_bytes(), 300ull << 20);
  EXPECT_EQ(shell_.system.last_spec_match(), "openclaw-gateway") << "the config's process name was searched";
  EXPECT_GE(worker_.watched_fd(), 0) << "its exit is watched";
  // Republished on the fake clock, with nothing new.
  const size_t before = shell_.transport.healths().size();
  shell_.clock.advance(5s);
  tick();
  EXPECT_GT(shell_.transport.healths().size(), before);
  EXPECT_EQ(shell_.transport.healths().back().seq(), shell_.transport.healths()[before - 1].seq() + 1);
}

TEST_F(ProberShellTest, AnExitIsSeenThroughTheWatchAtOnceWithTheOomKill) {
  shell_.system.gateway_runs(4242, 300, shell_.clock.wall_ms() - 600'000);
  worker_.start(shell_.ctx());
  ASSERT_TRUE(until([](const pb::GatewayHealth& x) { return x.state() == pb::HEALTHY; }));
  shell_.system.gateway_exits(/*oom=*/true);
  ASSERT_TRUE(shell_.pump_until(worker_, [&] {
    const auto hs = shell_.transport.healths();
    return !hs.empty() && hs.back().state() == pb::DOWN;
  })) << "the pid watch did not report the exit";
  const auto down = shell_.transport.healths().back();
  EXPECT_EQ(down.recommended_tier(), 2u) << "an OOM kill asks for a deep fix";
  bool exited = false, oom = false;
  for (const auto& f : down.findings()) {
    exited |= f.kind() == pb::Finding::EXITED && f.value() == 4242;
    oom |= f.kind() == pb::Finding::OOM_KILLED;
  }
  EXPECT_TRUE(exited && oom) << describe_all(down.findings());
}

// Where the scan sees it first (POSIX polls; or a scan that ran just before
// the pidfd's wakeup): the gateway it knew is gone, which is an exit, not a
// gateway that was never there.
TEST_F(ProberShellTest, AGatewayGoneFromTheScanBeforeItsWatchSaidSoHasExited) {
  shell_.system.gateway_runs(4242, 300, shell_.clock.wall_ms() - 600'000);
  worker_.start(shell_.ctx());
  ASSERT_TRUE(until([](const pb::GatewayHealth& x) { return x.state() == pb::HEALTHY; }));
  shell_.system.gateway_exits(/*oom=*/false, /*watched=*/false);
  auto down = until([](const pb::GatewayHealth& x) { return x.state() == pb::DOWN; });
  ASSERT_TRUE(down) << "the scan did not see it go";
  bool exited = false;
  for (const auto& f : down->findings()) exited |= f.kind() == pb::Finding::EXITED && f.value() == 4242;
  EXPECT_TRUE(exited) << describe_all(down->findings());
  EXPECT_EQ(down->recommended_tier(), 1u);
}

TEST_F(ProberShellTest, A500IsConfirmedThenDownWithTier2) {
  shell_.system.gateway_runs(4242, 300, shell_.clock.wall_ms() - 600'000);
  worker_.start(shell_.ctx());
  ASSERT_TRUE(until([](const pb::GatewayHealth& x) { return x.state() == pb::HEALTHY; }));
  net_.health_status = 500;
  auto down = until([](const pb::GatewayHealth& x) { return x.state() == pb::DOWN; });
  ASSERT_TRUE(down);
  EXPECT_EQ(down->recommended_tier(), 2u);
  ASSERT_EQ(down->findings_size(), 1);
  EXPECT_EQ(finding_key(down->findings(0)), "f:CHECK_FAILING/health/CAUSE_HTTP_STATUS");
  EXPECT_EQ(down->findings(0).http_status(), 500);
}

TEST_F(ProberShellTest, AChangedPortIsWatchedAfreshOnTheSameRun) {
  shell_.system.gateway_runs(4242, 300, shell_.clock.wall_ms() - 600'000);
  worker_.start(shell_.ctx());
  ASSERT_TRUE(until([](const pb::GatewayHealth& x) { return x.state() == pb::HEALTHY; }));
  const uint64_t run = shell_.transport.healths().back().prober_run_id();
  net_.port_ok = false;  // the new port: nothing listens
  net_.health_status = 0;
  shell_.change_config("gateway.port", "18999", worker_);
  auto down = until([](const pb::GatewayHealth& x) { return x.state() == pb::DOWN; }, 60);
  ASSERT_TRUE(down) << "the new port was never found dead";
  EXPECT_EQ(down->prober_run_id(), run);
  EXPECT_EQ(down->recommended_tier(), 1u) << "a dead port asks for a restart";
}

TEST_F(ProberShellTest, NoGatewayIsDownAtOnceAndSaysWhatItLookedFor) {
  worker_.start(shell_.ctx());
  auto down = until([](const pb::GatewayHealth& x) { return x.state() == pb::DOWN; }, 3);
  ASSERT_TRUE(down);
  ASSERT_GE(down->findings_size(), 1);
  EXPECT_EQ(down->findings(0).kind(), pb::Finding::NOT_RUNNING);
  EXPECT_EQ(down->findings(0).subject(), "openclaw-gateway");
  EXPECT_EQ(worker_.watched_fd(), -1);
}

}  // namespace
}  // namespace gwr::prober
