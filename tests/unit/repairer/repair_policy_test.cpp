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

}  // namespace
}  // namespace gwr::repairer
