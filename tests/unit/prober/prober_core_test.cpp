// ProberCore on a fake clock: every decision of the detection state machine.
#include "prober/prober_core.h"

#include <gtest/gtest.h>

#include <set>

#include "common/config.h"
#include "common/findings.h"
#include "tests/support/test_support.h"

namespace gwr::prober {
namespace {

using namespace std::chrono_literals;

class ProberCoreTest : public ::testing::Test {
 protected:
  ProberCoreTest() : core_(settings(), 42, clock_.steady()) {}

  static ProbeSettings settings() {
    auto s = ProbeSettings::defaults();
    s.max_rss_bytes = 2048ull << 20;  // the default of a machine with 8 GB or more, whatever this one has
    return s;
  }
  int64_t wall() const { return clock_.wall_ms(); }

  // The gateway process started `age` ago.
  void process_found(pid_t pid = 100, std::chrono::milliseconds age = 10min) {
    ProcessObservation p;
    p.found = true;
    p.pid = pid;
    p.start_wall_ms = wall() - age.count();
    core_.on_process(p, clock_.steady(), wall());
  }
  void process_missing(const std::string& name = "openclaw-gateway") {
    ProcessObservation p;
    p.looked_for = name;
    core_.on_process(p, clock_.steady(), wall());
  }
  void port(bool ok) {
    PortObservation o;
    o.ok = ok;
    o.latency_us = 150;
    o.detail = ok ? "" : "connection refused";
    o.cause = ok ? pb::CAUSE_UNSPECIFIED : pb::CAUSE_REFUSED;
    core_.on_port(o, clock_.steady(), wall());
  }
  void health(bool ok, int64_t latency_ms = 2, StartupStatus startup = StartupStatus::kUnknown,
              const std::string& detail = "no answer within 2s") {
    HealthObservation o;
    o.ok = ok;
    o.latency_us = latency_ms * 1000;
    o.detail = ok ? "" : detail;
    o.cause = ok ? pb::CAUSE_UNSPECIFIED : pb::CAUSE_TIMEOUT;
    o.timed_out = !ok && detail.rfind("no answer", 0) == 0;
    o.startup = startup;
    core_.on_health(o, clock_.steady(), wall());
  }
  // A GET as the worker runs it: sent now, answered (or timed out) after
  // `takes`, reported with the time it was sent.
  void health_get(bool answered, std::chrono::milliseconds takes) {
    const int64_t sent = wall();
    clock_.advance(takes);
    HealthObservation o;
    o.ok = answered;
    o.latency_us = takes.count() * 1000;
    o.timed_out = !answered;
    o.cause = answered ? pb::CAUSE_UNSPECIFIED : pb::CAUSE_TIMEOUT;
    o.detail = answered ? "" : "no answer within 2s";
    core_.on_health(o, clock_.steady(), sent);
  }
  void memory(uint64_t rss_mb, double available_percent = 50) {
    MemoryObservation m;
    m.rss_bytes = rss_mb << 20;
    m.available_percent = available_percent;
    core_.on_memory(m, clock_.steady(), wall());
  }
  // One full round of good answers, evaluated as the real loop does.
  void all_healthy() {
    process_found();
    port(true);
    health(true);
    memory(100);
    (void)state();
  }
  pb::GatewayState state() { return core_.evaluate(clock_.steady(), wall()).state(); }
  uint32_t tier() { return core_.evaluate(clock_.steady(), wall()).recommended_tier(); }
  // The findings as people read them (the renderer is part of what is tested).
  std::string reasons() { return describe_all(core_.evaluate(clock_.steady(), wall()).findings()); }
  // How many findings of a kind (decisions use these, never the words).
  int count(pb::Finding::Kind kind) {
    int n = 0;
    for (const auto& f : core_.evaluate(clock_.steady(), wall()).findings()) n += f.kind() == kind;
    return n;
  }
  bool due(pb::CheckKind kind) {
    const auto d = core_.take_due(clock_.steady());
    return std::find(d.begin(), d.end(), kind) != d.end();
  }

  testing::FakeClock clock_;
  ProberCore core_;
};

TEST_F(ProberCoreTest, EverythingIsProbedAtOnceExceptMemoryWithoutAPid) {
  const auto d = core_.take_due(clock_.steady());
  EXPECT_EQ(d, (std::vector<pb::CheckKind>{pb::CHECK_PROCESS, pb::CHECK_PORT, pb::CHECK_HEALTH}));
  EXPECT_TRUE(core_.take_due(clock_.steady()).empty());  // in flight
  EXPECT_EQ(state(), pb::GATEWAY_STATE_UNKNOWN);
}

TEST_F(ProberCoreTest, HealthyAndPublishedOnChangeAndPeriodically) {
  (void)core_.take_due(clock_.steady());
  all_healthy();
  auto first = core_.publishable(clock_.steady(), wall());
  ASSERT_TRUE(first);
  EXPECT_EQ(first->state(), pb::HEALTHY);
  EXPECT_EQ(first->pid(), 100u);
  EXPECT_EQ(first->recommended_tier(), 0u);
  EXPECT_EQ(first->seq(), 1u);
  EXPECT_FALSE(core_.publishable(clock_.steady(), wall()));
  clock_.advance(4999ms);
  EXPECT_FALSE(core_.publishable(clock_.steady(), wall()));
  clock_.advance(1ms);
  auto again = core_.publishable(clock_.steady(), wall());
  ASSERT_TRUE(again);  // level-triggered republish
  EXPECT_EQ(again->seq(), 2u);
  EXPECT_EQ(again->prober_run_id(), 42u);
}

TEST_F(ProberCoreTest, MissingProcessIsDownAtOnceWithTier1) {
  (void)core_.take_due(clock_.steady());
  process_missing();
  EXPECT_EQ(state(), pb::DOWN);
  EXPECT_EQ(tier(), 1u);
  EXPECT_NE(reasons().find("no process named"), std::string::npos);
  // While down, the process is re-checked every second, not every 10 s.
  (void)core_.publishable(clock_.steady(), wall());
  clock_.advance(999ms);
  EXPECT_FALSE(due(pb::CHECK_PROCESS));
  clock_.advance(1ms);
  EXPECT_TRUE(due(pb::CHECK_PROCESS));
}

TEST_F(ProberCoreTest, ExitSeenThroughPidWatchThenRecovery) {
  (void)core_.take_due(clock_.steady());
  all_healthy();
  (void)core_.publishable(clock_.steady(), wall());
  ProcessObservation exited;
  exited.exited = true;
  exited.pid = 100;
  core_.on_process(exited, clock_.steady(), wall());
  auto down = core_.publishable(clock_.steady(), wall());
  ASSERT_TRUE(down);  // published at once, not at the next interval
  EXPECT_EQ(down->state(), pb::DOWN);
  EXPECT_EQ(down->pid(), 0u);
  clock_.advance(1s);
  (void)core_.take_due(clock_.steady());
  process_found(101, 1s);
  port(true);
  health(true);
  EXPECT_EQ(state(), pb::HEALTHY);
  EXPECT_EQ(core_.current().pid(), 101u);
}

TEST_F(ProberCoreTest, PortNeedsTwoFailuresAndRecommendsTier1) {
  (void)core_.take_due(clock_.steady());
  all_healthy();
  (void)core_.publishable(clock_.steady(), wall());
  port(false);
  EXPECT_EQ(state(), pb::HEALTHY);  // one failure is not an incident
  EXPECT_NE(reasons().find("confirming: port check failed 1 of 2"), std::string::npos);
  // Re-probed quickly to confirm.
  clock_.advance(500ms);
  EXPECT_TRUE(due(pb::CHECK_PORT));
  port(false);
  EXPECT_EQ(state(), pb::DOWN);
  EXPECT_EQ(tier(), 1u);
  EXPECT_NE(reasons().find("port not accepting connections: connection refused (2 checks in a row)"), std::string::npos);
}

TEST_F(ProberCoreTest, HealthNeedsThreeFailuresAndRecommendsTier2) {
  (void)core_.take_due(clock_.steady());
  all_healthy();
  health(false);
  health(false);
  EXPECT_EQ(state(), pb::HEALTHY);
  health(false);
  EXPECT_EQ(state(), pb::DOWN);
  EXPECT_EQ(tier(), 2u);
  EXPECT_NE(reasons().find("health check failing: no answer within 2s (3 checks in a row)"), std::string::npos);
}

TEST_F(ProberCoreTest, AHangIsConfirmedInSecondsNotMinutes) {
  // Health timeout 2 s, recheck 500 ms: first failure at +2 s, then two more.
  (void)core_.take_due(clock_.steady());
  all_healthy();
  (void)core_.publishable(clock_.steady(), wall());
  const auto hang_starts = clock_.steady();
  clock_.advance(5s);  // the next scheduled health check
  ASSERT_TRUE(due(pb::CHECK_HEALTH));
  int checks = 0;
  while (state() != pb::DOWN && checks < 10) {
    clock_.advance(2s);  // each check waits for its timeout
    health(false);
    ++checks;
    if (state() == pb::DOWN) break;
    // The port (TCP accepts during a hang) and the process are cross-checked.
    for (auto k : core_.take_due(clock_.steady())) {
      if (k == pb::CHECK_PORT) port(true);
      if (k == pb::CHECK_PROCESS) process_found();
    }
    clock_.advance(500ms);
    ASSERT_TRUE(due(pb::CHECK_HEALTH));
  }
  EXPECT_EQ(checks, 3);
  const auto first_failure_to_down = clock_.steady() - (hang_starts + 5s + 2s);
  EXPECT_LE(first_failure_to_down, 5s);
  EXPECT_EQ(tier(), 2u);
}

TEST_F(ProberCoreTest, NoAnswerForHangAfterIsDownWhileTheRecheckIsStillWaiting) {
  (void)core_.take_due(clock_.steady());
  all_healthy();
  (void)core_.publishable(clock_.steady(), wall());
  clock_.advance(5s);
  ASSERT_TRUE(due(pb::CHECK_HEALTH));
  const auto first_sent = clock_.steady();
  health_get(false, 2s);  // the first GET times out
  EXPECT_NE(state(), pb::DOWN);
  clock_.advance(500ms);
  ASSERT_TRUE(due(pb::CHECK_HEALTH));  // the recheck is sent and waits
  // Without any answer, the hang is due hang_after after the first GET was
  // sent: the loop wakes for it (and for its republishing) and finds it.
  (void)core_.publishable(clock_.steady(), wall());
  for (int i = 0; i < 20 && state() != pb::DOWN; ++i) {
    const SteadyTime wake = core_.next_wake(clock_.steady());
    ASSERT_GT(wake, clock_.steady());
    clock_.advance(std::chrono::duration_cast<std::chrono::milliseconds>(wake - clock_.steady()));
    (void)core_.publishable(clock_.steady(), wall());
  }
  EXPECT_EQ(state(), pb::DOWN) << reasons();
  EXPECT_LE(clock_.steady() - first_sent, 4s + 10ms);
  EXPECT_GE(clock_.steady() - first_sent, 4s);
  EXPECT_EQ(tier(), 2u);
}

TEST_F(ProberCoreTest, SlowSpellsOfTwoAndAHalfSecondsAreNeverDown) {
  (void)core_.take_due(clock_.steady());
  all_healthy();
  for (int spell = 0; spell < 50; ++spell) {
    clock_.advance(5s);
    ASSERT_TRUE(due(pb::CHECK_HEALTH)) << spell;
    health_get(false, 2s);  // sent at the spell's start: timed out at 2 s
    EXPECT_NE(state(), pb::DOWN) << spell;
    clock_.advance(500ms);
    ASSERT_TRUE(due(pb::CHECK_HEALTH)) << spell;
    health_get(true, 20ms);  // the spell is over
    for (auto k : core_.take_due(clock_.steady())) {
      if (k == pb::CHECK_PORT) port(true);
      if (k == pb::CHECK_PROCESS) process_found();
    }
    EXPECT_NE(state(), pb::DOWN) << spell;
    EXPECT_EQ(tier(), 0u);
  }
}

TEST_F(ProberCoreTest, AnyAnswerEndsARunOfUnansweredChecks) {
  auto s = settings();
  s.health_failures = 10;  // only the hang rule can make it DOWN here
  core_.update_settings(s, clock_.steady());
  (void)core_.take_due(clock_.steady());
  all_healthy();
  clock_.advance(5s);
  ASSERT_TRUE(due(pb::CHECK_HEALTH));
  health_get(false, 2s);
  clock_.advance(500ms);
  ASSERT_TRUE(due(pb::CHECK_HEALTH));
  HealthObservation error;  // an HTTP 500 is an answer: counted by failures, not a hang
  error.http_status = 500;
  error.detail = "HTTP 500";
  error.cause = pb::CAUSE_HTTP_STATUS;
  const int64_t sent = wall();
  clock_.advance(30ms);
  core_.on_health(error, clock_.steady(), sent);
  clock_.advance(500ms);
  ASSERT_TRUE(due(pb::CHECK_HEALTH));
  health_get(false, 2s);
  // 5 s after the first unanswered GET, but the run restarted 2 s ago.
  EXPECT_NE(state(), pb::DOWN);
}

TEST_F(ProberCoreTest, SlowButUnderTheTimeoutIsNeverDown) {
  (void)core_.take_due(clock_.steady());
  process_found();
  port(true);
  health(true, 1500);
  EXPECT_EQ(state(), pb::HEALTHY);  // one slow answer is not even a warning
  health(true, 1800);
  EXPECT_EQ(state(), pb::DEGRADED);
  EXPECT_EQ(tier(), 0u);
  EXPECT_NE(reasons().find("slow health answers"), std::string::npos);
  for (int i = 0; i < 20; ++i) {
    health(true, 1900);
    EXPECT_NE(state(), pb::DOWN);
  }
  health(true, 5);
  EXPECT_EQ(state(), pb::HEALTHY);
}

TEST_F(ProberCoreTest, YoungGatewayFailingHealthIsStartingUntilTheGraceEnds) {
  (void)core_.take_due(clock_.steady());
  process_found(100, 5s);
  for (int i = 0; i < 10; ++i) {
    port(false);
    health(false, 0, StartupStatus::kNotSupported, "connection refused");
    EXPECT_EQ(state(), pb::STARTING) << i;
    EXPECT_EQ(tier(), 0u);
    clock_.advance(1s);
  }
  EXPECT_NE(reasons().find("within the startup grace"), std::string::npos);
  clock_.advance(2min);
  health(false, 0, StartupStatus::kNotSupported, "connection refused");
  EXPECT_EQ(state(), pb::DOWN);
}

TEST_F(ProberCoreTest, StartupzStartingExtendsTheGraceButNotForever) {
  (void)core_.take_due(clock_.steady());
  process_found(100, 3min);  // older than the 2 min grace
  health(false, 0, StartupStatus::kStarting, "HTTP 503");
  health(false, 0, StartupStatus::kStarting, "HTTP 503");
  health(false, 0, StartupStatus::kStarting, "HTTP 503");
  EXPECT_EQ(state(), pb::STARTING);
  EXPECT_NE(reasons().find("reports it is still starting"), std::string::npos);
  clock_.advance(8min);  // past 5 x grace
  health(false, 0, StartupStatus::kStarting, "HTTP 503");
  EXPECT_EQ(state(), pb::DOWN);
  EXPECT_NE(reasons().find("stuck starting"), std::string::npos);
}

TEST_F(ProberCoreTest, AGatewayThatWasHealthyIsNotStartingAnyMore) {
  (void)core_.take_due(clock_.steady());
  process_found(100, 5s);
  port(true);
  health(true);
  health(false);
  health(false);
  health(false);
  EXPECT_EQ(state(), pb::DOWN);  // hung 10 s after start: not "starting"
}

// Port checks failed while it started; then it bound the port and answered
// /health before the next port check: that answer says the port works.
TEST_F(ProberCoreTest, AnHttpAnswerClearsOlderPortFailures) {
  (void)core_.take_due(clock_.steady());
  process_found(100, 2s);
  for (int i = 0; i < 4; ++i) {
    port(false);
    clock_.advance(1s);
  }
  EXPECT_EQ(state(), pb::STARTING);
  HealthObservation ok;
  ok.ok = true;
  ok.http_status = 200;
  ok.latency_us = 800;
  core_.on_health(ok, clock_.steady(), wall());
  EXPECT_EQ(state(), pb::HEALTHY) << reasons();
  // A port check that began before that answer and failed late changes nothing.
  PortObservation late;
  late.detail = "connection refused";
  core_.on_port(late, clock_.steady(), wall() - 500);
  EXPECT_EQ(state(), pb::HEALTHY) << reasons();
  // One that began after it counts.
  clock_.advance(1s);
  port(false);
  port(false);
  EXPECT_EQ(state(), pb::DOWN);
}

TEST_F(ProberCoreTest, MemoryWarnsThenRecommendsTier2OnlyWhenRunningOut) {
  (void)core_.take_due(clock_.steady());
  all_healthy();
  memory(850);  // a healthy OpenClaw 2026.9
  EXPECT_EQ(state(), pb::HEALTHY);
  memory(3000, 40);
  EXPECT_EQ(state(), pb::DEGRADED);
  EXPECT_EQ(tier(), 0u);
  EXPECT_NE(reasons().find("high memory: RSS 3000 MB over the 2048 MB threshold"), std::string::npos);
  memory(3000, 3);
  EXPECT_EQ(state(), pb::DEGRADED);
  EXPECT_EQ(tier(), 2u);
  EXPECT_NE(reasons().find("memory critical"), std::string::npos);
}

TEST_F(ProberCoreTest, HardMemoryLimit) {
  auto s = settings();
  s.hard_rss_bytes = 4096ULL << 20;
  core_.update_settings(s, clock_.steady());
  (void)core_.take_due(clock_.steady());
  all_healthy();
  memory(5000, 60);
  EXPECT_EQ(tier(), 2u);
}

TEST_F(ProberCoreTest, OomKillRecommendsTier2) {
  (void)core_.take_due(clock_.steady());
  all_healthy();
  ProcessObservation gone;
  gone.exited = true;
  gone.oom_killed = true;
  gone.pid = 100;
  core_.on_process(gone, clock_.steady(), wall());
  EXPECT_EQ(state(), pb::DOWN);
  EXPECT_EQ(tier(), 2u);
  EXPECT_NE(reasons().find("OOM"), std::string::npos);
}

TEST_F(ProberCoreTest, ANewInstanceStartsWithCleanCountersAndIsProbedAtOnce) {
  (void)core_.take_due(clock_.steady());
  all_healthy();
  health(false);
  health(false);
  clock_.advance(10s);
  (void)core_.take_due(clock_.steady());
  process_found(200, 10min);
  health(false);
  EXPECT_NE(state(), pb::DOWN);  // two old failures did not carry over
  EXPECT_EQ(core_.current().pid(), 200u);
}

TEST_F(ProberCoreTest, ReprobeMakesEverythingDue) {
  (void)core_.take_due(clock_.steady());
  all_healthy();
  clock_.advance(500ms);
  EXPECT_TRUE(core_.take_due(clock_.steady()).empty());
  core_.reprobe(clock_.steady());
  EXPECT_EQ(core_.take_due(clock_.steady()).size(), 4u);
}

TEST_F(ProberCoreTest, NextWakeIsTheEarliestDueCheck) {
  (void)core_.take_due(clock_.steady());
  all_healthy();
  const auto published_at = clock_.steady();
  (void)core_.publishable(clock_.steady(), wall());
  // Right after start-up the checks come round once more within a second...
  clock_.advance(1s);
  for (auto k : core_.take_due(clock_.steady())) {
    if (k == pb::CHECK_PROCESS) process_found();
    if (k == pb::CHECK_PORT) port(true);
    if (k == pb::CHECK_HEALTH) health(true);
  }
  EXPECT_FALSE(core_.publishable(clock_.steady(), wall()));
  // ...then settle: process every 10 s, port 30 s, health 5 s, memory 60 s;
  // the earliest thing due is the 5 s republish, then the health check.
  EXPECT_EQ(core_.next_wake(clock_.steady()), published_at + 5s);
  clock_.advance(4s);
  (void)core_.publishable(clock_.steady(), wall());
  EXPECT_EQ(core_.next_wake(clock_.steady()), clock_.steady() + 1s);
}

TEST_F(ProberCoreTest, HistoryKeepsStateChanges) {
  (void)core_.take_due(clock_.steady());
  all_healthy();
  (void)core_.evaluate(clock_.steady(), wall());
  process_missing();
  (void)core_.evaluate(clock_.steady(), wall());
  ASSERT_EQ(core_.history().size(), 2u);
  EXPECT_EQ(core_.history()[0].state(), pb::HEALTHY);
  EXPECT_EQ(core_.history()[1].state(), pb::DOWN);
}

}  // namespace
}  // namespace gwr::prober

namespace gwr::prober {
namespace {

// gwr 1.0 copied the previous reasons into every "confirming" evaluation, so
// one GatewayHealth in the demo carried the same line seven times.
TEST_F(ProberCoreTest, FindingsNeverPileUpWhileAFailureIsBeingConfirmed) {
  (void)core_.take_due(clock_.steady());
  all_healthy();
  port(false);
  port(false);
  ASSERT_EQ(state(), pb::DOWN);
  port(true);
  for (int i = 0; i < 2; ++i) {
    health(false);
    (void)core_.publishable(clock_.steady(), wall());
    clock_.advance(500ms);
  }
  health(true);
  port(false);
  for (int i = 0; i < 7; ++i) {
    (void)core_.publishable(clock_.steady(), wall());
    EXPECT_LE(count(pb::Finding::CONFIRMING), 1) << reasons();
  }
  const auto& found = core_.evaluate(clock_.steady(), wall()).findings();
  std::set<std::string> keys;
  for (const auto& f : found) EXPECT_TRUE(keys.insert(finding_key(f)).second) << "twice: " << finding_key(f);
}

// Decisions come from the types: kind, check and cause, never the words.
TEST_F(ProberCoreTest, FindingsAreTypedWithTheirFigures) {
  (void)core_.take_due(clock_.steady());
  all_healthy();
  for (int i = 0; i < 3; ++i) health(false);
  const auto h = core_.evaluate(clock_.steady(), wall());
  ASSERT_EQ(h.findings_size(), 1);
  const auto& f = h.findings(0);
  EXPECT_EQ(f.kind(), pb::Finding::CHECK_FAILING);
  EXPECT_EQ(f.check(), pb::CHECK_HEALTH);
  EXPECT_EQ(f.cause(), pb::CAUSE_TIMEOUT);
  EXPECT_EQ(f.count(), 3u);
  EXPECT_EQ(f.threshold(), 3u);
  EXPECT_EQ(f.since_ms(), wall());
  EXPECT_EQ(finding_key(f), "f:CHECK_FAILING/health/CAUSE_TIMEOUT");
  EXPECT_EQ(incident_signature(h.state(), {h.findings().begin(), h.findings().end()}),
            "v2|down|f:CHECK_FAILING/health/CAUSE_TIMEOUT");
}

TEST_F(ProberCoreTest, AnExitStaysTheIncidentUntilAGatewayIsFoundAgain) {
  (void)core_.take_due(clock_.steady());
  all_healthy();
  ProcessObservation exited;
  exited.exited = true;
  exited.pid = 100;
  core_.on_process(exited, clock_.steady(), wall());
  EXPECT_EQ(count(pb::Finding::EXITED), 1);
  clock_.advance(1s);
  process_missing();  // the next scan finds nothing: still the same incident
  EXPECT_EQ(count(pb::Finding::EXITED), 1);
  EXPECT_EQ(count(pb::Finding::NOT_RUNNING), 0);
  process_found(101, 1s);
  EXPECT_EQ(count(pb::Finding::EXITED), 0);
}

TEST(ProberCoreStale, AProbeOfThePreviousProcessDoesNotCountAgainstTheNewOne) {
  testing::FakeClock clock;
  ProberCore core(ProbeSettings::defaults(), 1, clock.steady());
  (void)core.take_due(clock.steady());
  ProcessObservation p;
  p.found = true;
  p.pid = 100;
  p.start_wall_ms = clock.wall_ms() - 600'000;
  core.on_process(p, clock.steady(), clock.wall_ms());
  const int64_t probe_started = clock.wall_ms();
  clock.advance(std::chrono::milliseconds(500));
  // A repair replaced the gateway while a health check of the old one was running.
  p.pid = 200;
  p.start_wall_ms = clock.wall_ms();
  core.on_process(p, clock.steady(), clock.wall_ms());
  clock.advance(std::chrono::milliseconds(1500));
  HealthObservation late;
  late.ok = false;
  late.detail = "no answer within 2s";
  core.on_health(late, clock.steady(), probe_started);
  core.on_health(late, clock.steady(), probe_started);
  core.on_health(late, clock.steady(), probe_started);
  EXPECT_NE(core.evaluate(clock.steady(), clock.wall_ms()).state(), pb::DOWN);
  // It is probed again at once instead.
  const auto due = core.take_due(clock.steady());
  EXPECT_NE(std::find(due.begin(), due.end(), pb::CHECK_HEALTH), due.end());
}

// --- What the gateway itself knows (/readyz, issue #14) ---------------------------------------

class ReadinessCoreTest : public ProberCoreTest {
 protected:
  void ready(const std::string& status_and_body) {
    const auto space = status_and_body.find(' ');
    HealthObservation o;
    o.ok = true;
    o.latency_us = 2000;
    o.readiness = parse_readiness(std::stoi(status_and_body.substr(0, space)), status_and_body.substr(space + 1));
    core_.on_health(o, clock_.steady(), wall());
  }
  void healthy_with(const std::string& readyz) {
    process_found();
    port(true);
    ready(readyz);
    memory(100);
  }
  std::vector<std::string> subjects(pb::Finding::Kind kind) {
    std::vector<std::string> out;
    for (const auto& f : core_.evaluate(clock_.steady(), wall()).findings()) {
      if (f.kind() == kind) out.push_back(f.subject());
    }
    return out;
  }
};

TEST_F(ReadinessCoreTest, ReadyIsHealthy) {
  healthy_with(R"(200 {"ready":true,"failing":[]})");
  EXPECT_EQ(state(), pb::HEALTHY);
  EXPECT_EQ(tier(), 0u);
}

TEST_F(ReadinessCoreTest, TheBreakerIsNeverHealthyAndNeverARepair) {
  healthy_with(R"(200 {"ready":true,"failing":[],"suppressed":["telegram","discord"]})");
  EXPECT_EQ(state(), pb::DEGRADED);
  EXPECT_EQ(tier(), 0u);  // a restart would be one more unclean boot
  EXPECT_EQ(subjects(pb::Finding::CHANNEL_SUPPRESSED), (std::vector<std::string>{"telegram", "discord"}));
  EXPECT_NE(reasons().find("crash-loop breaker"), std::string::npos) << reasons();
  // It clears by itself, with no restart.
  clock_.advance(6min);
  healthy_with(R"(200 {"ready":true,"failing":[],"suppressed":[]})");
  EXPECT_EQ(state(), pb::HEALTHY);
}

TEST_F(ReadinessCoreTest, AFailingChannelSaysHowOpenClawLastRestartedIt) {
  core_.set_channel_restarts({{"telegram", "disconnected"}});
  healthy_with(R"(503 {"ready":false,"failing":["telegram"]})");
  EXPECT_EQ(reasons(), "channel telegram is failing (OpenClaw's own health monitor restarts it; its last restart: "
                       "disconnected)");
}

TEST_F(ReadinessCoreTest, TheBreakerSaysWhatTrippedItAndWhenItLifts) {
  core_.set_breaker_view({3, wall() + 5 * 60'000 + 20'000, "gateway.fatal (TypeError: boom)"});
  healthy_with(R"(200 {"ready":true,"failing":[],"suppressed":["telegram"]})");
  EXPECT_EQ(tier(), 0u);
  EXPECT_EQ(reasons(),
            "channel telegram is off: OpenClaw's crash-loop breaker suppressed it after 3 unclean boots in 5 min (last "
            "crash: gateway.fatal (TypeError: boom)); it should lift by itself in ~6m, with no restart (a restart "
            "before then keeps it on)");
}

TEST_F(ReadinessCoreTest, AFailingChannelIsDegradedNamedAndKeepsItsSince) {
  healthy_with(R"(503 {"ready":false,"failing":["telegram"]})");
  const auto since = core_.evaluate(clock_.steady(), wall()).findings(0).since_ms();
  EXPECT_EQ(state(), pb::DEGRADED);
  EXPECT_EQ(tier(), 0u);
  clock_.advance(30s);
  healthy_with(R"(503 {"ready":false,"failing":["telegram"]})");
  const auto f = core_.evaluate(clock_.steady(), wall()).findings(0);
  EXPECT_EQ(f.kind(), pb::Finding::CHANNEL_FAILING);
  EXPECT_EQ(f.subject(), "telegram");
  EXPECT_EQ(f.since_ms(), since);
  EXPECT_NE(reasons().find("channel telegram is failing"), std::string::npos) << reasons();
}

TEST_F(ReadinessCoreTest, AChannelFailingThroughOpenClawsRetriesGetsOneRestartPastItsGrace) {
  const auto failing = R"(503 {"ready":false,"failing":["telegram"]})";
  const auto ready_again = R"(200 {"ready":true,"failing":[]})";
  healthy_with(failing);
  const int64_t began = wall();
  // OpenClaw's monitor restarts the channel: ready for minutes, then failing again.
  for (int round = 0; round < 2; ++round) {
    clock_.advance(4min);
    healthy_with(ready_again);
    EXPECT_EQ(tier(), 0u);
    clock_.advance(1min);
    healthy_with(failing);
    EXPECT_EQ(tier(), 0u) << round;
  }
  clock_.advance(4min);
  healthy_with(ready_again);
  EXPECT_EQ(tier(), 0u);
  clock_.advance(2min);  // 16 min since it began failing
  healthy_with(failing);
  auto h = core_.evaluate(clock_.steady(), wall());
  EXPECT_EQ(h.state(), pb::DEGRADED);
  EXPECT_EQ(h.recommended_tier(), 1u);
  ASSERT_EQ(subjects(pb::Finding::CHANNEL_FAILING), (std::vector<std::string>{"telegram"}));
  for (const auto& f : h.findings()) {
    if (f.kind() != pb::Finding::CHANNEL_FAILING) continue;
    EXPECT_EQ(f.since_ms(), began);
    EXPECT_EQ(f.cause(), pb::CAUSE_PAST_GRACE);
  }
  EXPECT_NE(reasons().find("failing for over 15m"), std::string::npos) << reasons();
  // A new gateway process (gwr's restart, or anyone's): still failing is the
  // same episode, and only a warning from now on.
  clock_.advance(20s);
  process_found(200, 10s);
  healthy_with(ready_again);
  clock_.advance(2min);
  process_found(200, 2min);
  port(true);
  ready(failing);
  EXPECT_EQ(state(), pb::DEGRADED);
  EXPECT_EQ(tier(), 0u);
  EXPECT_NE(reasons().find("still failing after a gateway restart"), std::string::npos) << reasons();
}

TEST_F(ReadinessCoreTest, AChannelThatRecoversForLongerThanTheGapStartsAfresh) {
  const auto failing = R"(503 {"ready":false,"failing":["telegram"]})";
  healthy_with(failing);
  clock_.advance(1min);
  healthy_with(R"(200 {"ready":true,"failing":[]})");
  clock_.advance(11min);
  healthy_with(failing);
  const int64_t again = wall();
  clock_.advance(5min);
  healthy_with(failing);
  EXPECT_EQ(tier(), 0u);  // 5 min into the new episode, not 17 into the old one
  for (const auto& f : core_.evaluate(clock_.steady(), wall()).findings()) {
    if (f.kind() == pb::Finding::CHANNEL_FAILING) {
      EXPECT_EQ(f.since_ms(), again);
    }
  }
}

TEST_F(ReadinessCoreTest, AnEventLoopLaggingForLagGraceIsASlowWarningNeverARepair) {
  const auto lagging =
      R"(200 {"ready":true,"failing":[],"eventLoop":{"degraded":true,"reasons":["event_loop_delay","cpu"],)"
      R"("delayP99Ms":1450.2,"delayMaxMs":3017.8,"utilization":0.97,"cpuCoreRatio":0.95}})";
  healthy_with(lagging);
  clock_.advance(59s);
  healthy_with(lagging);
  EXPECT_EQ(state(), pb::HEALTHY);  // not yet lag_grace (1 min)
  clock_.advance(2s);
  healthy_with(lagging);
  EXPECT_EQ(state(), pb::DEGRADED);
  EXPECT_EQ(tier(), 0u);
  EXPECT_EQ(reasons(), "slow: the gateway's event loop is lagging (delay p99 1450 ms, max 3018 ms, 0.95 CPU cores; "
                       "event_loop_delay, cpu)");
  // One good sample ends it.
  clock_.advance(5s);
  healthy_with(R"(200 {"ready":true,"failing":[],"eventLoop":{"degraded":false,"reasons":[]}})");
  EXPECT_EQ(state(), pb::HEALTHY);
  // Garbage figures are not figures.
  EXPECT_EQ(parse_readiness(200, R"({"ready":true,"eventLoop":{"degraded":true,"delayP99Ms":"x","cpuCoreRatio":-1}})")
                .event_loop.delay_p99_ms,
            0);
  EXPECT_FALSE(parse_readiness(200, R"({"ready":true,"eventLoop":{"degraded":"yes"}})").event_loop.known);
}

TEST_F(ReadinessCoreTest, ARefusedDatabaseAsksForTier2AndIsPartOfTheSignature) {
  healthy_with(R"(503 {"ready":false,"failing":["agent-database:main"]})");
  EXPECT_EQ(state(), pb::DEGRADED);
  EXPECT_EQ(tier(), 2u);
  const auto& h = core_.evaluate(clock_.steady(), wall());
  EXPECT_EQ(incident_signature(h.state(), {h.findings().begin(), h.findings().end()}),
            "v2|degraded|f:DATABASE_REFUSED/health");
}

TEST_F(ReadinessCoreTest, StartupSidecarsIsStartingNotHealthy) {
  healthy_with(R"(503 {"ready":false,"failing":["startup-sidecars"]})");
  EXPECT_EQ(state(), pb::STARTING);
  EXPECT_EQ(tier(), 0u);
}

TEST_F(ReadinessCoreTest, TwoChannelsAreTwoFindingsAndAChangeIsPublished) {
  healthy_with(R"(503 {"ready":false,"failing":["telegram"]})");
  ASSERT_TRUE(core_.publishable(clock_.steady(), wall()));
  healthy_with(R"(503 {"ready":false,"failing":["telegram","discord"]})");
  EXPECT_EQ(subjects(pb::Finding::CHANNEL_FAILING), (std::vector<std::string>{"telegram", "discord"}));
  EXPECT_TRUE(core_.publishable(clock_.steady(), wall()));
}

TEST_F(ReadinessCoreTest, AnOlderGatewayOrTheControlUiKeepsTodaysBehaviour) {
  healthy_with("404 {\"error\":\"Not Found\"}");
  EXPECT_EQ(state(), pb::HEALTHY);
  healthy_with("200 <!doctype html><html></html>");
  EXPECT_EQ(state(), pb::HEALTHY);
}

TEST_F(ReadinessCoreTest, FailingHealthForgetsWhatReadinessSaid) {
  healthy_with(R"(200 {"ready":true,"suppressed":["telegram"]})");
  EXPECT_EQ(count(pb::Finding::CHANNEL_SUPPRESSED), 1);
  health(false);
  EXPECT_EQ(count(pb::Finding::CHANNEL_SUPPRESSED), 0);
}

// --- Memory with a trend (PRD §10) -------------------------------------------------------------

TEST(MemoryDefaults, TheWarningThresholdScalesWithTheMachine) {
  EXPECT_EQ(default_max_rss_mb(0), 2048u);
  EXPECT_EQ(default_max_rss_mb(24ull << 30), 2048u);
  EXPECT_EQ(default_max_rss_mb(8ull << 30), 2048u);
  EXPECT_EQ(default_max_rss_mb(4ull << 30), 1024u);
  EXPECT_EQ(default_max_rss_mb(512ull << 20), 256u);
}

TEST_F(ProberCoreTest, TheSlopeIsBytesPerHourAndOneJumpIsNoTrend) {
  std::deque<std::pair<int64_t, uint64_t>> samples;
  for (int i = 0; i <= 30; ++i) samples.emplace_back(i * 60'000, (1000ull << 20) + static_cast<uint64_t>(i) * (2ull << 20));
  EXPECT_NEAR(rss_slope_per_hour(samples), 120.0 * 1024 * 1024, 1.0);  // 2 MB a minute
  // A start: 100 MB, then 850 MB from the next minute on, flat.
  std::deque<std::pair<int64_t, uint64_t>> start{{0, 100ull << 20}};
  for (int i = 1; i <= 15; ++i) start.emplace_back(i * 60'000, 850ull << 20);
  EXPECT_EQ(rss_slope_per_hour(start), 0);
  EXPECT_EQ(rss_slope_per_hour({{0, 5}, {1, 6}}), 0);                    // too few
  EXPECT_EQ(rss_slope_per_hour({{7, 5}, {7, 6}, {7, 9}}), 0);            // no time passed
}

TEST_F(ProberCoreTest, AGrowingGatewayIsWarnedWithAProjectionBeforeItCrossesTheThreshold) {
  // Defaults: 2048 MB threshold, 30 min window, 6 h horizon, memory read every 60 s.
  all_healthy();
  uint64_t rss = 1000;
  for (int minute = 0; minute < 14; ++minute) {
    clock_.advance(60s);
    memory(rss += 4);  // +240 MB/h
  }
  EXPECT_EQ(count(pb::Finding::MEMORY_GROWING), 0);  // under half the window: too early to say
  clock_.advance(60s);
  memory(rss += 4);
  clock_.advance(60s);
  memory(rss += 4);
  ASSERT_EQ(count(pb::Finding::MEMORY_GROWING), 1) << reasons();
  const auto& h = core_.evaluate(clock_.steady(), wall());
  EXPECT_EQ(h.state(), pb::DEGRADED);
  EXPECT_EQ(h.recommended_tier(), 0u);  // a projection is never a repair
  EXPECT_NEAR(h.rss_growth_bytes_per_hour() / (1024 * 1024), 240.0, 0.5);
  const double hours_left = (2048.0 - static_cast<double>(rss)) / 240.0;  // ~4.1 h
  EXPECT_NEAR(static_cast<double>(h.rss_limit_eta_ms() - wall()) / 3'600'000.0, hours_left, 0.05);
  EXPECT_NE(reasons().find("memory growing +240 MB/h"), std::string::npos) << reasons();
  EXPECT_NE(reasons().find("reaches the 2048 MB threshold in ~4h"), std::string::npos) << reasons();
}

TEST_F(ProberCoreTest, FlatOrSlowGrowthOrANewInstanceIsNoWarning) {
  all_healthy();
  for (int minute = 0; minute < 40; ++minute) {
    clock_.advance(60s);
    memory(1000 + (minute % 2));  // noise, no trend toward 2048 within 6 h
  }
  EXPECT_EQ(count(pb::Finding::MEMORY_GROWING), 0) << reasons();
  EXPECT_EQ(state(), pb::HEALTHY);
  for (int minute = 0; minute < 40; ++minute) {
    clock_.advance(60s);
    memory(1100 + static_cast<uint64_t>(minute) / 10);  // +6 MB/h: reaches 2048 MB in months
  }
  EXPECT_EQ(count(pb::Finding::MEMORY_GROWING), 0) << reasons();
  // A restarted gateway starts its own trend.
  for (int minute = 0; minute < 20; ++minute) {
    clock_.advance(60s);
    memory(1200 + static_cast<uint64_t>(minute) * 10);
  }
  ASSERT_EQ(count(pb::Finding::MEMORY_GROWING), 1);
  process_found(200, 1s);
  memory(300);
  EXPECT_EQ(count(pb::Finding::MEMORY_GROWING), 0);
  EXPECT_EQ(core_.evaluate(clock_.steady(), wall()).rss_growth_bytes_per_hour(), 0);
}

TEST_F(ProberCoreTest, OverTheThresholdTheWarningCarriesTheGrowth) {
  all_healthy();
  for (int minute = 0; minute < 20; ++minute) {
    clock_.advance(60s);
    memory(2040 + static_cast<uint64_t>(minute) * 2);
  }
  ASSERT_EQ(count(pb::Finding::HIGH_MEMORY), 1);
  EXPECT_EQ(count(pb::Finding::MEMORY_GROWING), 0);
  EXPECT_NE(reasons().find("growing +120 MB/h"), std::string::npos) << reasons();
}

// Issue #20: what the owner is doing is reported beside what the checks found.
TEST_F(ProberCoreTest, AStopByTheServiceManagerIsReportedOnlyWhileTheGatewayIsDown) {
  all_healthy();
  ServiceState stopped;
  stopped.verdict = ServiceState::Verdict::kStopped;
  stopped.manager = "systemd (user)";
  stopped.detail = "inactive (dead), result success";
  core_.set_service_state(stopped, wall());
  EXPECT_EQ(count(pb::Finding::STOPPED_BY_SERVICE), 0) << "a gateway that serves was started again";
  EXPECT_EQ(state(), pb::HEALTHY);
  const int64_t gone_at = wall();
  process_missing();
  core_.set_service_state(stopped, gone_at);
  EXPECT_EQ(state(), pb::DOWN);
  EXPECT_EQ(count(pb::Finding::STOPPED_BY_SERVICE), 1);
  clock_.advance(30s);
  core_.set_service_state(stopped, wall());  // asked again: the same stop, since when first seen
  for (const auto& f : core_.evaluate(clock_.steady(), wall()).findings()) {
    if (f.kind() != pb::Finding::STOPPED_BY_SERVICE) continue;
    EXPECT_EQ(f.since_ms(), gone_at);
    EXPECT_EQ(f.subject(), "systemd (user)");
  }
  EXPECT_NE(reasons().find("stopped on purpose: systemd (user) says inactive (dead), result success"), std::string::npos)
      << reasons();
  // The state and the tier are the failure's: the repairer judges whose stop it was.
  EXPECT_EQ(tier(), 1u);
  ServiceState failed;
  failed.verdict = ServiceState::Verdict::kFailed;
  core_.set_service_state(failed, wall());
  EXPECT_EQ(count(pb::Finding::STOPPED_BY_SERVICE), 0);
}

TEST_F(ProberCoreTest, ARunningUpgradeIsAFindingThatChangesNoState) {
  all_healthy();
  const int64_t seen = wall();
  core_.set_upgrade({4242, "openclaw update"}, seen);
  EXPECT_EQ(state(), pb::HEALTHY);
  EXPECT_EQ(count(pb::Finding::UPGRADE_RUNNING), 1);
  clock_.advance(10s);
  core_.set_upgrade({4242, "openclaw update"}, wall());
  process_missing();
  EXPECT_EQ(state(), pb::DOWN);
  for (const auto& f : core_.evaluate(clock_.steady(), wall()).findings()) {
    if (f.kind() == pb::Finding::UPGRADE_RUNNING) {
      EXPECT_EQ(f.since_ms(), seen);
    }
  }
  core_.set_upgrade({}, wall());
  EXPECT_EQ(count(pb::Finding::UPGRADE_RUNNING), 0);
}

}  // namespace
}  // namespace gwr::prober
