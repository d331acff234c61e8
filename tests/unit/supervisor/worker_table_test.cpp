// The supervisor's core, stepped on a fake clock: no processes, no sleeps.
#include "supervisor/worker_table.h"

#include <csignal>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace gwr::supervisor {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

TEST(RestartBackoff, DoublesOnQuickDeathsUpToTheCap) {
  RestartBackoff b(100ms, 1000ms, 10s);
  EXPECT_EQ(b.on_exit(50ms), 100ms);
  EXPECT_EQ(b.on_exit(50ms), 200ms);
  EXPECT_EQ(b.on_exit(50ms), 400ms);
  EXPECT_EQ(b.on_exit(50ms), 800ms);
  EXPECT_EQ(b.on_exit(50ms), 1000ms);
  EXPECT_EQ(b.on_exit(50ms), 1000ms);
  EXPECT_EQ(b.quick_deaths(), 6u);
}

TEST(RestartBackoff, StableRunResets) {
  RestartBackoff b(100ms, 30s, 10s);
  (void)b.on_exit(1s);
  (void)b.on_exit(1s);
  EXPECT_EQ(b.on_exit(1s), 400ms);
  EXPECT_EQ(b.on_exit(10s), 100ms);
  EXPECT_EQ(b.quick_deaths(), 1u);
}

class WorkerTableTest : public ::testing::Test {
 protected:
  Timings timings() {
    Timings t;
    t.heartbeat_timeout = 5s;
    t.startup_allowance = 3s;
    t.restart_initial = 100ms;
    t.restart_max = 30s;
    t.restart_stable_after = 10s;
    t.stop_timeout = 10s;
    return t;
  }
  testing::FakeClock clock_;
};

TEST_F(WorkerTableTest, StartsEveryWorkerAtOnce) {
  WorkerTable t({"prober", "repairer"}, timings(), clock_.steady());
  auto due = t.due(clock_.steady());
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].kind, Action::Kind::kSpawn);
  t.on_spawned("prober", 11, clock_.steady());
  t.on_spawned("repairer", 12, clock_.steady());
  EXPECT_TRUE(t.due(clock_.steady()).empty());
  EXPECT_FALSE(t.all_heartbeating());
  EXPECT_TRUE(t.on_heartbeat("prober", 11, "probing", clock_.steady()));
  EXPECT_TRUE(t.on_heartbeat("repairer", 12, "idle", clock_.steady()));
  EXPECT_TRUE(t.all_heartbeating());
}

TEST_F(WorkerTableTest, DeadWorkerRestartsAfterBackoffOthersUntouched) {
  WorkerTable t({"prober", "repairer"}, timings(), clock_.steady());
  t.on_spawned("prober", 11, clock_.steady());
  t.on_spawned("repairer", 12, clock_.steady());
  clock_.advance(20s);
  EXPECT_TRUE(t.on_heartbeat("repairer", 12, "idle", clock_.steady()));
  EXPECT_EQ(t.on_exit(11, "signal 9", clock_.steady()), "prober");
  EXPECT_TRUE(t.due(clock_.steady()).empty());
  EXPECT_EQ(t.next_wake(clock_.steady()), clock_.steady() + 100ms);
  clock_.advance(100ms);
  auto due = t.due(clock_.steady());
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].name, "prober");
  EXPECT_EQ(due[0].reason, "restart");
  t.on_spawned("prober", 13, clock_.steady());
  EXPECT_EQ(t.slots()[0].restarts, 1u);
  EXPECT_EQ(t.slots()[1].pid, 12);  // the repairer was not touched
  EXPECT_EQ(t.slots()[1].restarts, 0u);
  EXPECT_EQ(t.slots()[0].last_exit, "signal 9");
}

TEST_F(WorkerTableTest, CrashLoopBacksOff) {
  WorkerTable t({"prober"}, timings(), clock_.steady());
  milliseconds expected = 100ms;
  for (int i = 0; i < 6; ++i) {
    t.on_spawned("prober", 100 + i, clock_.steady());
    clock_.advance(10ms);
    (void)t.on_exit(100 + i, "exit 1", clock_.steady());
    EXPECT_TRUE(t.due(clock_.steady() + expected - 1ms).empty()) << i;
    EXPECT_EQ(t.due(clock_.steady() + expected).size(), 1u) << i;
    clock_.advance(expected);
    expected *= 2;
  }
}

TEST_F(WorkerTableTest, SilentWorkerIsKilled) {
  WorkerTable t({"prober"}, timings(), clock_.steady());
  t.on_spawned("prober", 11, clock_.steady());
  // No heartbeat at all: startup allowance + timeout.
  clock_.advance(7900ms);
  EXPECT_TRUE(t.check_hung(clock_.steady()).empty());
  clock_.advance(100ms);
  auto kill = t.check_hung(clock_.steady());
  ASSERT_EQ(kill.size(), 1u);
  EXPECT_EQ(kill[0].signal, SIGKILL);
  EXPECT_EQ(kill[0].pid, 11);
  EXPECT_TRUE(t.check_hung(clock_.steady()).empty());  // only once
  (void)t.on_exit(11, "signal 9", clock_.steady());
  EXPECT_NE(t.slots()[0].last_exit.find("hung"), std::string::npos);
}

TEST_F(WorkerTableTest, HeartbeatsKeepItAliveAndStaleOnesAreIgnored) {
  WorkerTable t({"prober"}, timings(), clock_.steady());
  t.on_spawned("prober", 11, clock_.steady());
  for (int i = 0; i < 20; ++i) {
    clock_.advance(1s);
    EXPECT_TRUE(t.on_heartbeat("prober", 11, "probing", clock_.steady()));
    EXPECT_TRUE(t.check_hung(clock_.steady()).empty());
  }
  EXPECT_FALSE(t.on_heartbeat("prober", 999, "impostor", clock_.steady()));
  EXPECT_FALSE(t.on_heartbeat("nobody", 11, "x", clock_.steady()));
  clock_.advance(5s);
  EXPECT_EQ(t.check_hung(clock_.steady()).size(), 1u);
}

TEST_F(WorkerTableTest, ShutdownTermsThenKillsAndNeverRestarts) {
  WorkerTable t({"prober", "repairer"}, timings(), clock_.steady());
  t.on_spawned("prober", 11, clock_.steady());
  t.on_spawned("repairer", 12, clock_.steady());
  auto term = t.begin_shutdown(clock_.steady());
  ASSERT_EQ(term.size(), 2u);
  EXPECT_EQ(term[0].signal, SIGTERM);
  (void)t.on_exit(11, "exit 0", clock_.steady());
  EXPECT_FALSE(t.all_stopped());
  EXPECT_TRUE(t.due(clock_.steady() + 1h).empty());
  clock_.advance(10s);
  EXPECT_EQ(t.next_wake(clock_.steady()), clock_.steady());
  auto kill = t.force_shutdown();
  ASSERT_EQ(kill.size(), 1u);
  EXPECT_EQ(kill[0].pid, 12);
  EXPECT_EQ(kill[0].signal, SIGKILL);
  (void)t.on_exit(12, "signal 9", clock_.steady());
  EXPECT_TRUE(t.all_stopped());
}

TEST_F(WorkerTableTest, SpawnFailureRetriesWithBackoff) {
  WorkerTable t({"prober"}, timings(), clock_.steady());
  t.on_spawn_failed("prober", "No such file", clock_.steady());
  EXPECT_TRUE(t.due(clock_.steady()).empty());
  EXPECT_EQ(t.due(clock_.steady() + 100ms).size(), 1u);
  EXPECT_NE(t.slots()[0].last_exit.find("No such file"), std::string::npos);
}

TEST_F(WorkerTableTest, UnknownPidsAreNotOurs) {
  WorkerTable t({"prober"}, timings(), clock_.steady());
  t.on_spawned("prober", 11, clock_.steady());
  EXPECT_FALSE(t.on_exit(4242, "exit 0", clock_.steady()).has_value());
  EXPECT_FALSE(t.on_exit(0, "exit 0", clock_.steady()).has_value());
}

}  // namespace
}  // namespace gwr::supervisor
