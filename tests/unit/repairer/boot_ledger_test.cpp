// OpenClaw's crash-loop breaker, forecast: when a SIGKILL from gwr would be
// the third unclean boot in 300 s, and when it no longer is; and OpenClaw's
// own boot records read read-only from a live WAL database.
#include "common/boot_ledger.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "common/sqlite.h"
#include "common/boot_lifecycle.h"
#include "tests/support/test_support.h"

namespace gwr::repairer {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;
constexpr uint32_t kPid = 4242;
constexpr int64_t kProcessStart = kNow - 20'000;

BootRecord open_boot(int64_t started, uint32_t pid = 1) {
  BootRecord b;
  b.started_at_ms = started;
  b.pid = pid;
  return b;
}

BootRecord closed_boot(int64_t started, int64_t completed, const std::string& outcome) {
  BootRecord b = open_boot(started);
  b.completed_at_ms = completed;
  b.outcome = outcome;
  return b;
}

// The running gateway's own row: written a few seconds after its process started.
BootRecord running() { return open_boot(kProcessStart + 6'000, kPid); }

TEST(BreakerForecast, NoRecordsMeansNoBreakerToTrip) {
  const auto f = forecast_hard_kill({}, kPid, kProcessStart, kNow);
  EXPECT_FALSE(f.trips_now);
  EXPECT_FALSE(f.trips_anyway);
  EXPECT_EQ(f.safe_at_ms, kNow);
}

TEST(BreakerForecast, OneEarlierCrashLeavesRoomForTheKill) {
  const auto f = forecast_hard_kill({open_boot(kNow - 100'000), running()}, kPid, kProcessStart, kNow);
  EXPECT_EQ(f.unclean_now, 2u);
  EXPECT_TRUE(f.own_row_counted);
  EXPECT_FALSE(f.trips_now);
}

TEST(BreakerForecast, TwoEarlierCrashesMakeTheKillTheThirdUntilTheOldestAgesOut) {
  const std::vector<BootRecord> boots{open_boot(kNow - 250'000), open_boot(kNow - 60'000), running()};
  const auto f = forecast_hard_kill(boots, kPid, kProcessStart, kNow);
  EXPECT_EQ(f.unclean_now, 3u);
  EXPECT_TRUE(f.trips_now);
  EXPECT_FALSE(f.trips_anyway);
  // The oldest counts until its start + 300 s; one ms later two are left.
  EXPECT_EQ(f.safe_at_ms, kNow - 250'000 + kBreakerWindowMs + 1);
  EXPECT_FALSE(breaker_trips_at(boots, f.safe_at_ms));
  EXPECT_TRUE(breaker_trips_at(boots, f.safe_at_ms - 1));
  // And at that time the forecast agrees.
  EXPECT_FALSE(forecast_hard_kill(boots, kPid, kProcessStart, f.safe_at_ms).trips_now);
}

TEST(BreakerForecast, CleanStopsDoNotCountFailedStartupsDo) {
  const std::vector<BootRecord> boots{closed_boot(kNow - 200'000, kNow - 150'000, "clean_stop"),
                                      closed_boot(kNow - 100'000, kNow - 90'000, "planned_restart"),
                                      closed_boot(kNow - 400'000, kNow - 50'000, "startup_failed"), running()};
  const auto f = forecast_hard_kill(boots, kPid, kProcessStart, kNow);
  // The failed start-up counts by its completion (50 s ago), though it began 400 s ago.
  EXPECT_EQ(f.unclean_now, 2u);
  EXPECT_FALSE(f.trips_now);
}

TEST(BreakerForecast, MaintenanceStartsAndOldBootsAreLeftOut) {
  BootRecord maintenance = open_boot(kNow - 30'000);
  maintenance.startup_reason = "gateway.maintenance_required";
  const std::vector<BootRecord> boots{maintenance, open_boot(kNow - 301'000), open_boot(kNow - 10'000), running()};
  const auto f = forecast_hard_kill(boots, kPid, kProcessStart, kNow);
  EXPECT_EQ(f.unclean_now, 2u);
  EXPECT_FALSE(f.trips_now);
}

TEST(BreakerForecast, AGatewayWhoseBootLeftTheWindowMayBeKilled) {
  // Its own row started 10 min ago: it no longer counts, kill or not.
  const std::vector<BootRecord> boots{open_boot(kNow - 100'000), open_boot(kNow - 50'000),
                                      open_boot(kNow - 600'000, kPid)};
  const auto f = forecast_hard_kill(boots, kPid, kNow - 605'000, kNow);
  EXPECT_FALSE(f.own_row_counted);
  EXPECT_FALSE(f.trips_now);
}

TEST(BreakerForecast, ThreeCrashesTripItWhateverGwrDoes) {
  const std::vector<BootRecord> boots{open_boot(kNow - 200'000), open_boot(kNow - 100'000), open_boot(kNow - 50'000),
                                      running()};
  const auto f = forecast_hard_kill(boots, kPid, kProcessStart, kNow);
  EXPECT_TRUE(f.trips_anyway);
  EXPECT_FALSE(f.trips_now);  // waiting would not help: the kill is not what trips it
}

TEST(BreakerForecast, ARecycledPidsOldRowIsNotTheRunningGateways) {
  // Same pid, but the row began long before this process: another boot.
  const std::vector<BootRecord> boots{open_boot(kNow - 200'000), open_boot(kNow - 100'000),
                                      open_boot(kNow - 150'000, kPid)};
  const auto f = forecast_hard_kill(boots, kPid, kProcessStart, kNow);
  EXPECT_FALSE(f.own_row_counted);
  EXPECT_TRUE(f.trips_anyway);
}

TEST(BreakerClears, AtOpenClawsFirstHealthMonitorCheckAfterTheWindowDrains) {
  BootRecord tripped = open_boot(kNow - 90'000, kPid);
  tripped.startup_reason = "gateway.crash_loop_breaker";
  const std::vector<BootRecord> boots{open_boot(kNow - 200'000), open_boot(kNow - 150'000), open_boot(kNow - 100'000),
                                      tripped};
  // Its own open row counts until its start + 300 s; the monitor looks at
  // start + 60 s, then every 300 s: the first look after that lifts it.
  EXPECT_EQ(breaker_clears_at(boots, kNow), kNow - 90'000 + 360'000);
  EXPECT_EQ(breaker_clears_at({closed_boot(kNow - 100'000, kNow - 90'000, "clean_stop")}, kNow), 0);
  // OpenClaw tripped on three; the tripped boot's own open row is not one of them.
  EXPECT_EQ(breaker_trip_count(boots, kNow), 3u);
  EXPECT_EQ(unclean_boots_at(boots, kNow), 4u);
}

TEST(BootLifecycle, TheNewestCrashBundleSaysWhatTrippedItNotTheBreakersOwn) {
  testing::TempDir dir;
  const std::string stability = dir.path() + "/logs/stability";
  std::filesystem::create_directories(stability);
  testing::write_file(stability + "/openclaw-stability-2026-12-02T10-00-00.000Z-11-gateway.fatal.json",
                      R"({"version":1,"reason":"gateway.fatal","error":{"name":"TypeError","message":"cannot read \u0007x"}})");
  testing::write_file(stability + "/openclaw-stability-2026-12-02T10-00-05.000Z-12-gateway.crash_loop_breaker.json",
                      R"({"version":1,"reason":"gateway.crash_loop_breaker"})");
  testing::write_file(stability + "/other.json", R"({"reason":"not a bundle"})");
  EXPECT_EQ(latest_crash_cause(dir.path(), 0), "gateway.fatal (TypeError: cannot read  x)");
  EXPECT_EQ(latest_crash_cause(dir.path(), kNow + 3'600'000'000), "");  // none that recent
  EXPECT_EQ(latest_crash_cause(dir.path() + "/nope", 0), "");
  testing::write_file(stability + "/openclaw-stability-2026-12-02T10-00-09.000Z-13-gateway.fatal.json", "{garbage");
  EXPECT_EQ(latest_crash_cause(dir.path(), 0).size() <= 200, true);
}

TEST(UncleanBootLedger, CountsWhatGwrSawAndForgetsAfterTheWindow) {
  UncleanBootLedger ledger;
  ledger.record(10, kNow - 200'000, kNow - 100'000);  // crashed after 100 s
  ledger.record(11, kNow - 60'000, kNow - 40'000);
  ledger.record(11, kNow - 60'000, kNow - 39'000);    // the same crash reported twice
  EXPECT_EQ(ledger.size(), 2u);
  const auto boots = ledger.as_boots(kNow, kPid, kProcessStart);
  ASSERT_EQ(boots.size(), 3u);  // two crashes and the running gateway
  const auto f = forecast_hard_kill(boots, kPid, kProcessStart, kNow);
  EXPECT_TRUE(f.trips_now);
  // Counted from 15 s after the process start (when OpenClaw writes its row).
  EXPECT_EQ(f.safe_at_ms, kNow - 200'000 + 15'000 + kBreakerWindowMs + 1);
  ledger.record(12, kNow + 400'000, kNow + 400'000);  // later: the old ones are pruned
  EXPECT_EQ(ledger.size(), 1u);
}

TEST(BootLifecycle, ReadsALiveWalDatabaseReadOnly) {
  testing::TempDir dir;
  const std::string state = dir.path() + "/state";
  std::filesystem::create_directories(state);
  auto db = Database::open(state + "/openclaw.sqlite");
  ASSERT_TRUE(db.ok()) << db.message();
  ASSERT_TRUE((*db)->exec("CREATE TABLE gateway_boot_lifecycle (boot_id TEXT NOT NULL PRIMARY KEY, pid INTEGER NOT "
                          "NULL, started_at_ms INTEGER NOT NULL, completed_at_ms INTEGER, outcome TEXT, "
                          "startup_reason TEXT, reason TEXT) STRICT")
                  .ok());
  const int64_t now = kNow;
  ASSERT_TRUE((*db)->exec("INSERT INTO gateway_boot_lifecycle VALUES ('a', 7, " + std::to_string(now - 900'000) +
                          ", NULL, NULL, NULL, NULL), ('b', 8, " + std::to_string(now - 100'000) + ", " +
                          std::to_string(now - 90'000) + ", 'clean_stop', NULL, NULL), ('c', 9, " +
                          std::to_string(now - 50'000) + ", NULL, NULL, 'gateway.crash_loop_breaker', NULL)")
                  .ok());
  // The writer stays open (its WAL not checkpointed): the reader must see its rows.
  const auto life = read_boot_lifecycle(dir.path(), now);
  ASSERT_TRUE(life.read) << life.error;
  ASSERT_EQ(life.boots.size(), 2u);  // the 15 min old one is outside the window
  EXPECT_EQ(life.boots[0].pid, 8u);
  EXPECT_EQ(life.boots[0].outcome, "clean_stop");
  ASSERT_TRUE(life.boots[0].completed_at_ms.has_value());
  EXPECT_FALSE(life.boots[1].completed_at_ms.has_value());
  EXPECT_EQ(life.boots[1].startup_reason, "gateway.crash_loop_breaker");
  EXPECT_EQ(unclean_boots_at(life.boots, now), 1u);
}

TEST(BootLifecycle, AnOlderGatewayHasNoBreakerAMissingDatabaseIsNotKnown) {
  testing::TempDir dir;
  auto missing = read_boot_lifecycle(dir.path(), kNow);
  EXPECT_FALSE(missing.read);
  EXPECT_FALSE(missing.no_breaker);
  EXPECT_NE(missing.error.find("openclaw.sqlite"), std::string::npos);
  std::filesystem::create_directories(dir.path() + "/state");
  {
    auto db = Database::open(dir.path() + "/state/openclaw.sqlite");
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->exec("CREATE TABLE other (x INTEGER)").ok());
  }
  const auto old = read_boot_lifecycle(dir.path(), kNow);
  EXPECT_TRUE(old.no_breaker);
  EXPECT_FALSE(old.read);
}

TEST(BootLifecycle, GarbageIsAnErrorNotAnEmptyWindow) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.path() + "/state");
  testing::write_file(dir.path() + "/state/openclaw.sqlite", std::string(4096, 'x'));
  const auto life = read_boot_lifecycle(dir.path(), kNow);
  EXPECT_FALSE(life.read);
  EXPECT_FALSE(life.no_breaker);
  EXPECT_FALSE(life.error.empty());
}

}  // namespace
}  // namespace gwr::repairer
