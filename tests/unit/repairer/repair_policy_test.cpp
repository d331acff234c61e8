// RepairPolicy on a fake clock: the PRD §5.2 limiter, cooldown, pause,
// quiet-moment deferral and staleness rules.
#include "repairer/repair_policy.h"

#include <gtest/gtest.h>

namespace gwr::repairer {
namespace {

constexpr int64_t kT0 = 1'800'000'000'000;

pb::GatewayHealth down(int64_t at_ms, uint32_t tier = 1) {
  pb::GatewayHealth h;
  h.set_state(pb::DOWN);
  h.set_recommended_tier(tier);
  h.set_observed_at_ms(at_ms);
  auto* c = h.add_checks();
  c->set_kind(pb::CHECK_PROCESS);
  c->set_probed(true);
  c->set_ok(false);
  c->set_at_ms(at_ms);
  {
    auto* f = h.add_findings();
    f->set_kind(pb::Finding::EXITED);
    f->set_check(pb::CHECK_PROCESS);
    f->set_value(42);
  }
  return h;
}

pb::GatewayHealth healthy(int64_t at_ms) {
  pb::GatewayHealth h;
  h.set_state(pb::HEALTHY);
  h.set_observed_at_ms(at_ms);
  return h;
}

class PolicyTest : public ::testing::Test {
 protected:
  PolicySettings settings_ = PolicySettings::defaults();
  PolicyState state_;
  int64_t now_ = kT0;

  // Runs one automatic repair to its end.
  void repair(bool success, int64_t took_ms = 2000) {
    auto d = decide(state_, down(now_), settings_, now_);
    ASSERT_EQ(d.verdict, Verdict::kStart);
    on_auto_start(state_, ++next_id_, now_);
    now_ += took_ms;
    on_finished(state_, success, true, settings_, now_);
  }
  int64_t next_id_ = 0;
};

TEST_F(PolicyTest, HealthyMeansNothing) {
  EXPECT_EQ(decide(state_, healthy(now_), settings_, now_).verdict, Verdict::kNothing);
}

TEST_F(PolicyTest, DownStartsAtTheRecommendedTier) {
  auto d = decide(state_, down(now_, 2), settings_, now_);
  EXPECT_EQ(d.verdict, Verdict::kStart);
  EXPECT_EQ(d.tier, 2u);
  ASSERT_EQ(d.findings.size(), 1u);
  EXPECT_EQ(d.findings[0].kind(), pb::Finding::EXITED);
}

TEST_F(PolicyTest, ARunningRepairAbsorbsTriggers) {
  on_auto_start(state_, 7, now_);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(decide(state_, down(now_ + i), settings_, now_ + i).verdict, Verdict::kBusy);
  EXPECT_EQ(repairs_in_last_hour(state_, now_), 1u);
}

TEST_F(PolicyTest, EvidenceFromBeforeTheLastRepairIsIgnored) {
  repair(true);
  // A DOWN observed before the repair ended describes the old gateway.
  EXPECT_EQ(decide(state_, down(now_ - 500), settings_, now_).verdict, Verdict::kNothing);
  EXPECT_EQ(decide(state_, down(now_ + 1), settings_, now_ + 1).verdict, Verdict::kStart);
}

// The prober noticed the exit of `pid` at `noticed` (its pidfd fired late)
// and last scanned the process table at `scanned`.
pb::GatewayHealth exit_seen(uint32_t pid, int64_t noticed, int64_t scanned) {
  pb::GatewayHealth h = down(scanned);
  h.mutable_checks(0)->set_at_ms(scanned);
  h.mutable_findings(0)->set_value(pid);
  h.mutable_findings(0)->set_since_ms(noticed);
  return h;
}

TEST_F(PolicyTest, TheExitOfAGatewayTheRepairReplacedSeenAfterItEndedIsNotAnIncident) {
  // A manual restart of healthy gateway 42; its exit is noticed 1 ms after
  // the repair ended (it was: a second, automatic repair followed).
  on_manual_start(state_, 1);
  note_replaced_pid(state_, 42);
  note_replaced_pid(state_, 0);   // ignored
  note_replaced_pid(state_, 42);  // once
  EXPECT_EQ(state_.replaced_pids_size(), 1);
  now_ += 50;
  on_finished(state_, true, false, settings_, now_);
  auto d = decide(state_, exit_seen(42, now_ + 1, now_ + 1), settings_, now_ + 1);
  EXPECT_EQ(d.verdict, Verdict::kNothing);
  EXPECT_EQ(d.own_exit_pid, 42u);
  // Until the prober has looked again: a scan after it that finds no gateway is an incident.
  d = decide(state_, exit_seen(42, now_ + 1, now_ + 500), settings_, now_ + 500);
  EXPECT_EQ(d.verdict, Verdict::kStart);
  EXPECT_EQ(d.own_exit_pid, 0u);
  // Another gateway's exit is a crash.
  EXPECT_EQ(decide(state_, exit_seen(43, now_ + 1, now_ + 1), settings_, now_ + 1).verdict, Verdict::kStart);
  // So is one seen long after the repair (the pid lives on in the new gateway's place only briefly).
  EXPECT_EQ(decide(state_, exit_seen(42, now_ + 6'000, now_ + 6'000), settings_, now_ + 6'000).verdict,
            Verdict::kStart);
  // And an OOM kill beside the exit is not gwr's restart.
  auto oom = exit_seen(42, now_ + 1, now_ + 1);
  oom.add_findings()->set_kind(pb::Finding::OOM_KILLED);
  EXPECT_EQ(decide(state_, oom, settings_, now_ + 1).verdict, Verdict::kStart);
  // Facts beside it (another gateway seen instead) change nothing.
  auto other = exit_seen(42, now_ + 1, now_ + 1);
  other.add_findings()->set_kind(pb::Finding::OTHER_GATEWAY);
  EXPECT_EQ(decide(state_, other, settings_, now_ + 1).verdict, Verdict::kNothing);
  // The next repair forgets the pids of the last one.
  on_auto_start(state_, 2, now_ + 2);
  EXPECT_EQ(state_.replaced_pids_size(), 0);
}

TEST_F(PolicyTest, AtMostEightReplacedPidsAreKeptTheNewest) {
  on_manual_start(state_, 1);
  for (uint32_t pid = 100; pid < 110; ++pid) note_replaced_pid(state_, pid);
  ASSERT_EQ(state_.replaced_pids_size(), 8);
  EXPECT_EQ(state_.replaced_pids(0), 102u);
  EXPECT_EQ(state_.replaced_pids(7), 109u);
}

TEST_F(PolicyTest, StaleHealthIsIgnored) {
  EXPECT_EQ(decide(state_, down(now_ - 60'000), settings_, now_).verdict, Verdict::kNothing);
}

TEST_F(PolicyTest, AtMostMaxPerHourThenOneCooldown) {
  for (int i = 0; i < 3; ++i) {
    repair(true);
    now_ += 60'000;  // crashes again a minute later
  }
  auto d = decide(state_, down(now_), settings_, now_);
  ASSERT_EQ(d.verdict, Verdict::kRateLimited);
  // Until both the cooldown has run and the oldest repair left the hour.
  EXPECT_EQ(d.cooldown_until_ms, std::max(now_ + settings_.cooldown_ms, kT0 + 3'600'000));
  enter_cooldown(state_, d.cooldown_until_ms, "limit");
  for (int i = 0; i < 100; ++i) {
    now_ += 10'000;
    if (now_ >= d.cooldown_until_ms) break;
    EXPECT_EQ(decide(state_, down(now_), settings_, now_).verdict, Verdict::kCooldown);
  }
  EXPECT_TRUE(cooldown_ended(state_, d.cooldown_until_ms));
  EXPECT_FALSE(cooldown_ended(state_, d.cooldown_until_ms + 1));  // announced once
}

TEST_F(PolicyTest, SlidingHourNotCalendarHour) {
  settings_.max_per_hour = 2;
  repair(true);
  now_ += 59 * 60'000;
  repair(true);
  // 59 min after the first: still two in the hour.
  EXPECT_EQ(decide(state_, down(now_ + 1), settings_, now_ + 1).verdict, Verdict::kRateLimited);
  // Once the first is an hour old, one slot frees up.
  const int64_t later = kT0 + 3'600'001;
  now_ = std::max(now_, later);
  EXPECT_EQ(repairs_in_last_hour(state_, now_), 1u);
}

TEST_F(PolicyTest, AllTiersFailedEntersCooldown) {
  repair(false);
  EXPECT_TRUE(state_.cooldown_active());
  EXPECT_EQ(state_.cooldown_until_ms(), now_ + settings_.cooldown_ms);
  EXPECT_EQ(state_.consecutive_failures(), 1u);
  EXPECT_EQ(decide(state_, down(now_ + 1), settings_, now_ + 1).verdict, Verdict::kCooldown);
  now_ += settings_.cooldown_ms;
  EXPECT_TRUE(cooldown_ended(state_, now_));
  EXPECT_EQ(decide(state_, down(now_ + 1), settings_, now_ + 1).verdict, Verdict::kStart);
}

TEST_F(PolicyTest, PauseStopsAutomaticRepairsOnly) {
  pause(state_, "gwrctl", "maintenance", now_);
  EXPECT_EQ(decide(state_, down(now_), settings_, now_).verdict, Verdict::kPaused);
  resume(state_);
  EXPECT_EQ(decide(state_, down(now_), settings_, now_).verdict, Verdict::kStart);
}

TEST_F(PolicyTest, BusyDegradedGatewayWaitsForAQuietMomentButNotForever) {
  pb::GatewayHealth h;
  h.set_state(pb::DEGRADED);
  h.set_recommended_tier(2);
  h.set_busy(true);
  h.set_observed_at_ms(now_);
  auto first = decide(state_, h, settings_, now_);
  EXPECT_EQ(first.verdict, Verdict::kDeferred);
  EXPECT_TRUE(first.first_deferral);
  now_ += 60'000;
  h.set_observed_at_ms(now_);
  auto again = decide(state_, h, settings_, now_);
  EXPECT_EQ(again.verdict, Verdict::kDeferred);
  EXPECT_FALSE(again.first_deferral);
  // Quiet now: repair.
  h.set_busy(false);
  EXPECT_EQ(decide(state_, h, settings_, now_).verdict, Verdict::kStart);
  // Busy for longer than quiet_max_wait: repair anyway.
  h.set_busy(true);
  state_.set_deferred_since_ms(now_);
  now_ += settings_.quiet_max_wait_ms;
  h.set_observed_at_ms(now_);
  EXPECT_EQ(decide(state_, h, settings_, now_).verdict, Verdict::kStart);
}

TEST_F(PolicyTest, ADeadGatewayIsNeverDeferred) {
  auto h = down(now_);
  h.set_busy(true);
  EXPECT_EQ(decide(state_, h, settings_, now_).verdict, Verdict::kStart);
}

TEST_F(PolicyTest, DegradedWithoutATierIsJustAWarning) {
  pb::GatewayHealth h;
  h.set_state(pb::DEGRADED);
  h.set_observed_at_ms(now_);
  EXPECT_EQ(decide(state_, h, settings_, now_).verdict, Verdict::kNothing);
}

TEST_F(PolicyTest, Tier3IsNotChosenWhenDisabled) {
  settings_.tier3_enabled = false;
  EXPECT_EQ(decide(state_, down(now_, 3), settings_, now_).tier, 2u);
}

TEST_F(PolicyTest, The10JsonPolicyIsReadOnlyWhenItIsOne) {
  const auto copy = policy_from_v1_json(R"({"paused":true,"paused_by":"telegram:5","auto_starts_ms":[5,"x",6]})");
  ASSERT_TRUE(copy);
  EXPECT_EQ(copy->auto_starts_ms_size(), 2);
  EXPECT_TRUE(copy->paused());
  EXPECT_EQ(copy->paused_by(), "telegram:5");
  // Garbage is not a policy: never silently the defaults (that would unpause).
  EXPECT_FALSE(policy_from_v1_json("garbage"));
  EXPECT_FALSE(policy_from_v1_json("{}"));
}

TEST_F(PolicyTest, NextWakeCoversCooldownAndWindow) {
  repair(true);
  EXPECT_EQ(next_wake_ms(state_, settings_), kT0 + 3'600'000);
  enter_cooldown(state_, now_ + 1000, "x");
  EXPECT_EQ(next_wake_ms(state_, settings_), now_ + 1000);
}

// --- The owner's intent (issue #20) --------------------------------------------------------

pb::GatewayHealth stopped_by_service(int64_t at_ms, int64_t since_ms) {
  auto h = down(at_ms);
  auto* f = h.add_findings();
  f->set_kind(pb::Finding::STOPPED_BY_SERVICE);
  f->set_subject("systemd (user)");
  f->set_detail("inactive (dead), result success");
  f->set_since_ms(since_ms);
  return h;
}

pb::GatewayHealth with_upgrade(pb::GatewayHealth h, int64_t since_ms) {
  auto* f = h.add_findings();
  f->set_kind(pb::Finding::UPGRADE_RUNNING);
  f->set_value(777);
  f->set_detail("openclaw update");
  f->set_since_ms(since_ms);
  return h;
}

TEST_F(PolicyTest, TheOwnersStopIsNotRepairedAndIsToldOnce) {
  auto first = decide(state_, stopped_by_service(now_, now_), settings_, now_);
  EXPECT_EQ(first.verdict, Verdict::kStoppedByOwner);
  EXPECT_TRUE(first.first_deferral);
  EXPECT_EQ(first.stop.subject(), "systemd (user)");
  for (int i = 1; i < 60; ++i) {
    auto again = decide(state_, stopped_by_service(now_ + i * 1000, now_), settings_, now_ + i * 1000);
    EXPECT_EQ(again.verdict, Verdict::kStoppedByOwner);
    EXPECT_FALSE(again.first_deferral) << i;
  }
  EXPECT_TRUE(owner_stop(state_, stopped_by_service(now_ + 60'000, now_)));
  // Started again, then stopped again: a new stop, told again.
  EXPECT_EQ(decide(state_, healthy(now_ + 61'000), settings_, now_ + 61'000).verdict, Verdict::kNothing);
  EXPECT_TRUE(decide(state_, stopped_by_service(now_ + 70'000, now_ + 65'000), settings_, now_ + 70'000).first_deferral);
  // Pausing changes nothing about it: still the owner's stop, not "paused".
  pause(state_, "gwrctl", "", now_ + 71'000);
  EXPECT_EQ(decide(state_, stopped_by_service(now_ + 72'000, now_ + 65'000), settings_, now_ + 72'000).verdict,
            Verdict::kStoppedByOwner);
}

TEST_F(PolicyTest, AStopDuringGwrsOwnRepairIsGwrsAndIsRepaired) {
  // Tier 2 stops the gateway; its start fails; the service manager says
  // "stopped" since the middle of that repair: not the owner's stop.
  on_auto_start(state_, 1, now_);
  const int64_t stopped_at = now_ + 1000;
  EXPECT_EQ(decide(state_, stopped_by_service(now_ + 2000, stopped_at), settings_, now_ + 2000).verdict, Verdict::kBusy);
  EXPECT_FALSE(owner_stop(state_, stopped_by_service(now_ + 2000, stopped_at)));
  now_ += 30'000;
  on_finished(state_, false, true, settings_, now_);
  state_.set_cooldown_until_ms(0);
  state_.set_cooldown_active(false);
  EXPECT_FALSE(owner_stop(state_, stopped_by_service(now_ + 1000, stopped_at)));
  EXPECT_EQ(decide(state_, stopped_by_service(now_ + 1000, stopped_at), settings_, now_ + 1000).verdict, Verdict::kStart);
}

TEST_F(PolicyTest, AnUpgradeHoldsRepairsForItsGraceThenTheGatewayIsRepaired) {
  settings_.upgrade_grace_ms = 600'000;
  const int64_t began = now_;
  auto d = decide(state_, with_upgrade(down(now_), began), settings_, now_);
  EXPECT_EQ(d.verdict, Verdict::kDeferred);
  EXPECT_EQ(d.defer_reason, pb::DEFER_UPGRADE);
  EXPECT_EQ(d.wait_until_ms, began + 600'000);
  EXPECT_TRUE(d.first_deferral);
  d = decide(state_, with_upgrade(down(now_ + 300'000), began), settings_, now_ + 300'000);
  EXPECT_EQ(d.verdict, Verdict::kDeferred);
  EXPECT_FALSE(d.first_deferral);
  // Past the grace, an upgrade that never ends no longer holds anything.
  EXPECT_EQ(decide(state_, with_upgrade(down(now_ + 600'001), began), settings_, now_ + 600'001).verdict, Verdict::kStart);
}

TEST_F(PolicyTest, ACrashLoopRightAfterAnUpgradeStartsWithTheDoctor) {
  settings_.upgrade_grace_ms = 600'000;
  (void)decide(state_, with_upgrade(healthy(now_), now_), settings_, now_);  // the upgrade runs while it is healthy
  EXPECT_EQ(state_.upgrade_seen_ms(), now_);
  (void)decide(state_, with_upgrade(healthy(now_ + 5000), now_), settings_, now_ + 5000);
  EXPECT_EQ(state_.upgrade_seen_ms(), now_) << "saved at most every 10 s";
  now_ += 60'000;  // it ended; the gateway crashes
  auto first = decide(state_, down(now_), settings_, now_);
  ASSERT_EQ(first.verdict, Verdict::kStart);
  EXPECT_FALSE(first.doctor_first) << "one crash after an upgrade gets a plain restart";
  on_auto_start(state_, 1, now_);
  now_ += 5000;
  on_finished(state_, true, true, settings_, now_);
  now_ += 10'000;  // and again: a crash loop
  auto second = decide(state_, down(now_), settings_, now_);
  ASSERT_EQ(second.verdict, Verdict::kStart);
  EXPECT_TRUE(second.doctor_first);
  EXPECT_EQ(second.tier, 2u);
  // Long after the upgrade, a crash is a crash.
  on_auto_start(state_, 2, now_);
  on_finished(state_, true, true, settings_, now_ + 1000);
  now_ += 900'000;
  EXPECT_FALSE(decide(state_, down(now_), settings_, now_).doctor_first);
}

TEST_F(PolicyTest, InsideAMaintenanceWindowRepairsWaitAndAfterItTheyRun) {
  settings_.windows = *parse_maintenance_windows({"Sun 03:00-04:00"});
  const LocalMoment inside{0, 3 * 60 + 50, 0};
  auto d = decide(state_, down(now_), settings_, now_, inside);
  EXPECT_EQ(d.verdict, Verdict::kDeferred);
  EXPECT_EQ(d.defer_reason, pb::DEFER_MAINTENANCE);
  EXPECT_EQ(d.wait_until_ms, now_ + 10 * 60'000);
  EXPECT_TRUE(d.first_deferral);
  EXPECT_FALSE(decide(state_, down(now_ + 1000), settings_, now_ + 1000, {0, 3 * 60 + 50, 1}).first_deferral);
  const LocalMoment after{0, 4 * 60, 0};
  EXPECT_EQ(decide(state_, down(now_ + 600'000), settings_, now_ + 600'000, after).verdict, Verdict::kStart);
  // A manual repair is not the policy's to hold (decide is for automatic ones);
  // a healthy gateway inside the window is simply healthy.
  EXPECT_EQ(decide(state_, healthy(now_), settings_, now_, inside).verdict, Verdict::kNothing);
}

TEST_F(PolicyTest, ATimedPauseEndsByItself) {
  pause(state_, "telegram:42", "upgrading", now_, now_ + 30 * 60'000);
  EXPECT_FALSE(pause_expired(state_, now_ + 30 * 60'000 - 1));
  EXPECT_EQ(decide(state_, down(now_), settings_, now_).verdict, Verdict::kPaused);
  EXPECT_EQ(next_wake_ms(state_, settings_), now_ + 30 * 60'000);
  EXPECT_TRUE(pause_expired(state_, now_ + 30 * 60'000));
  resume(state_);
  EXPECT_EQ(state_.paused_until_ms(), 0);
  EXPECT_FALSE(pause_expired(state_, now_ + 3'600'000));
  // A plain pause never ends by itself.
  pause(state_, "gwrctl", "", now_);
  EXPECT_FALSE(pause_expired(state_, now_ + 365LL * 24 * 3'600'000));
}

}  // namespace
}  // namespace gwr::repairer
