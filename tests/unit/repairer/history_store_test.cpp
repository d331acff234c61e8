// The SQLite history: repairs, steps, events, policy and statistics survive
// reopening; a damaged file is moved aside, not fatal.
#include "repairer/history_store.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace gwr::repairer {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;

pb::RepairSummary new_repair(pb::RepairTrigger trigger, int64_t started) {
  pb::RepairSummary r;
  r.set_trigger(trigger);
  r.set_actor(trigger == pb::TRIGGER_AUTO ? "auto" : "gwrctl");
  r.set_reason("gateway process exited");
  r.set_started_at_ms(started);
  r.set_current_tier(1);
  return r;
}

pb::RepairStep step(uint32_t tier, const std::string& name, bool ok, int64_t ms) {
  pb::RepairStep s;
  s.set_tier(tier);
  s.set_name(name);
  s.set_ok(ok);
  s.set_duration_ms(ms);
  return s;
}

TEST(HistoryStore, RepairsStepsAndEventsSurviveReopening) {
  testing::TempDir dir;
  const std::string path = dir / "gwr.db";
  int64_t id = 0;
  {
    auto store = HistoryStore::open(path);
    ASSERT_TRUE(store.ok()) << store.message();
    auto created = (*store)->create_repair(new_repair(pb::TRIGGER_AUTO, kNow));
    ASSERT_TRUE(created.ok());
    id = *created;
    ASSERT_TRUE((*store)->save_step(id, 0, step(1, "restart", true, 300), true).ok());
    ASSERT_TRUE((*store)->save_step(id, 0, step(1, "restart", true, 300), false).ok());
    ASSERT_TRUE((*store)->save_step(id, 1, step(1, "verify", true, 700), false).ok());
    pb::RepairEvent ev;
    ev.set_kind(pb::RepairEvent::STARTED);
    ev.set_repair_id(id);
    ev.set_at_ms(kNow);
    ASSERT_TRUE((*store)->add_event(ev).ok());
    PolicyState p;
    p.paused = true;
    p.auto_starts_ms = {kNow};
    ASSERT_TRUE((*store)->save_policy(p).ok());
  }
  auto store = HistoryStore::open(path);
  ASSERT_TRUE(store.ok());
  auto r = (*store)->get_repair(id);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status(), "running");
  ASSERT_EQ(r->steps_size(), 2);
  EXPECT_EQ(r->steps(1).name(), "verify");
  EXPECT_EQ((*store)->running_repairs().size(), 1u);
  EXPECT_EQ((*store)->recent_events(10).size(), 1u);
  EXPECT_TRUE((*store)->load_policy().paused);
  EXPECT_EQ((*store)->next_step_index(id), 2);
}

TEST(HistoryStore, InterruptedStepsAreMarked) {
  testing::TempDir dir;
  auto store = HistoryStore::open(dir / "gwr.db");
  ASSERT_TRUE(store.ok());
  const int64_t id = *(*store)->create_repair(new_repair(pb::TRIGGER_AUTO, kNow));
  auto running = step(2, "stop", false, 0);
  running.set_pid(4321);
  ASSERT_TRUE((*store)->save_step(id, 0, running, true).ok());
  const auto interrupted = (*store)->interrupt_running_steps(id);
  ASSERT_EQ(interrupted.size(), 1u);
  EXPECT_EQ(interrupted[0].pid(), 4321u);
  EXPECT_TRUE((*store)->get_repair(id)->steps(0).interrupted());
  EXPECT_TRUE((*store)->interrupt_running_steps(id).empty());
}

TEST(HistoryStore, StatsPerWindowAndTier) {
  testing::TempDir dir;
  auto store = HistoryStore::open(dir / "gwr.db");
  ASSERT_TRUE(store.ok());
  auto finish = [&](int64_t started, bool success, uint32_t fixed, std::vector<uint32_t> tiers, pb::RepairTrigger t) {
    const int64_t id = *(*store)->create_repair(new_repair(t, started));
    int idx = 0;
    for (auto tier : tiers) ASSERT_TRUE((*store)->save_step(id, idx++, step(tier, "x", true, 1000 * tier), false).ok());
    pb::RepairSummary o;
    o.set_finished_at_ms(started + 5000);
    o.set_status(success ? "succeeded" : "failed");
    o.set_success(success);
    o.set_fixed_by_tier(fixed);
    for (auto tier : tiers) o.add_tiers_tried(tier);
    o.set_duration_ms(5000);
    ASSERT_TRUE((*store)->finish_repair(id, o).ok());
  };
  finish(kNow - 3'600'000, true, 1, {1}, pb::TRIGGER_AUTO);
  finish(kNow - 2'000'000, true, 2, {1, 2}, pb::TRIGGER_AUTO);
  finish(kNow - 3 * 86'400'000LL, false, 0, {1, 2, 3}, pb::TRIGGER_MANUAL);
  const auto stats = (*store)->stats(kNow);
  ASSERT_EQ(stats.windows_size(), 3);
  const auto& day = stats.windows(0);
  EXPECT_EQ(day.name(), "24h");
  EXPECT_EQ(day.repairs(), 2u);
  EXPECT_DOUBLE_EQ(day.success_rate(), 1.0);
  const auto& all = stats.windows(2);
  EXPECT_EQ(all.repairs(), 3u);
  EXPECT_EQ(all.failed(), 1u);
  EXPECT_EQ(all.escalations(), 1u);
  EXPECT_EQ(all.manual(), 1u);
  ASSERT_GE(all.tiers_size(), 2);
  EXPECT_EQ(all.tiers(0).tier(), 1u);
  EXPECT_EQ(all.tiers(0).attempts(), 3u);
  EXPECT_EQ(all.tiers(0).fixes(), 1u);
  EXPECT_EQ(all.tiers(0).avg_duration_ms(), 1000);
}

TEST(HistoryStore, AGarbageFileIsMovedAsideNotFatal) {
  testing::TempDir dir;
  testing::write_file(dir / "gwr.db", std::string(8192, 'x'));
  auto store = HistoryStore::open(dir / "gwr.db");
  ASSERT_TRUE(store.ok()) << store.message();
  EXPECT_TRUE((*store)->create_repair(new_repair(pb::TRIGGER_AUTO, kNow)).ok());
  bool aside = false;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    aside |= e.path().filename().string().rfind("gwr.db.corrupt-", 0) == 0;
  }
  EXPECT_TRUE(aside);
}

}  // namespace
}  // namespace gwr::repairer
