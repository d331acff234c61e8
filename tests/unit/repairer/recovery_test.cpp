// "Recovered means recovered": /health alone does not end a repair.
#include "repairer/recovery.h"

#include <gtest/gtest.h>

namespace gwr::repairer {
namespace {

using V = RecoveryJudgement::Verdict;

HealthObservation up(StartupStatus startup = StartupStatus::kStarted) {
  HealthObservation h;
  h.ok = true;
  h.startup = startup;
  return h;
}

ReadinessObservation readyz(bool ready, std::vector<std::string> failing = {}, std::vector<std::string> suppressed = {}) {
  ReadinessObservation r;
  r.understood = true;
  r.ready = ready;
  r.failing = std::move(failing);
  r.suppressed = std::move(suppressed);
  return r;
}

TEST(JudgeRecovery, HealthyStartedAndReadyIsRecoveredAndSaysSo) {
  const auto j = judge_recovery(up(), readyz(true), {});
  EXPECT_EQ(j.verdict, V::kRecovered);
  EXPECT_EQ(j.detail, "answers /health, started, ready");
}

TEST(JudgeRecovery, AGatewayWithoutReadinessKeepsTodaysRule) {
  EXPECT_EQ(judge_recovery(up(StartupStatus::kUnknown), ReadinessObservation{}, {}).verdict, V::kRecovered);
}

TEST(JudgeRecovery, StillStartingIsNotYet) {
  EXPECT_EQ(judge_recovery(up(StartupStatus::kStarting), readyz(true), {}).verdict, V::kNotYet);
  const auto sidecars = judge_recovery(up(), readyz(false, {"startup-sidecars"}), {});
  EXPECT_EQ(sidecars.verdict, V::kNotYet);
  EXPECT_NE(sidecars.detail.find("startup-sidecars"), std::string::npos);
}

TEST(JudgeRecovery, FailingOnSomethingNewIsNotRecovered) {
  const auto j = judge_recovery(up(), readyz(false, {"telegram", "agent-database:main"}), {"telegram"});
  EXPECT_EQ(j.verdict, V::kNotYet);
  EXPECT_EQ(j.detail, "answers /health but is not ready: failing agent-database:main");
}

TEST(JudgeRecovery, AChannelThatWasAlreadyDownIsNamedNotHidden) {
  const auto j = judge_recovery(up(), readyz(false, {"telegram"}), {"telegram"});
  EXPECT_EQ(j.verdict, V::kRecovered);
  EXPECT_EQ(j.detail, "answers /health, started; still failing telegram, as before the incident");
}

TEST(JudgeRecovery, ChannelsHeldOffByTheBreakerAreImpairedNotGreen) {
  const auto j = judge_recovery(up(), readyz(true, {}, {"telegram", "discord"}), {});
  EXPECT_EQ(j.verdict, V::kImpaired);
  EXPECT_NE(j.detail.find("crash-loop breaker keeps telegram, discord off"), std::string::npos) << j.detail;
}

TEST(JudgeRecovery, NotReadyWithNoNamesIsNotYet) {
  EXPECT_EQ(judge_recovery(up(), readyz(false), {}).verdict, V::kNotYet);
}

pb::GatewayHealth health(pb::GatewayState state, std::vector<std::pair<pb::Finding::Kind, std::string>> findings) {
  pb::GatewayHealth h;
  h.set_state(state);
  for (const auto& [kind, subject] : findings) {
    auto* f = h.add_findings();
    f->set_kind(kind);
    f->set_subject(subject);
  }
  return h;
}

TEST(NotReadyBefore, TakesTheLastHealthBeforeTheGatewayWentDown) {
  const std::vector<pb::GatewayHealth> history{
      health(pb::DEGRADED, {{pb::Finding::CHANNEL_FAILING, "discord"}}),
      health(pb::DEGRADED, {{pb::Finding::CHANNEL_FAILING, "telegram"}, {pb::Finding::SLOW, ""}}),
      health(pb::DOWN, {{pb::Finding::CHECK_FAILING, ""}}),
      health(pb::STARTING, {{pb::Finding::NOT_READY, "startup-sidecars"}}),
  };
  EXPECT_EQ(not_ready_before(history, {}), (std::vector<std::string>{"telegram"}));
}

TEST(NotReadyBefore, WhatMadeTheIncidentIsNotAsBefore) {
  const std::vector<pb::GatewayHealth> history{health(
      pb::DEGRADED, {{pb::Finding::DATABASE_REFUSED, "agent-database:main"}, {pb::Finding::CHANNEL_FAILING, "telegram"}})};
  google::protobuf::RepeatedPtrField<pb::Finding> incident;
  auto* f = incident.Add();
  f->set_kind(pb::Finding::DATABASE_REFUSED);
  f->set_subject("agent-database:main");
  EXPECT_EQ(not_ready_before(history, incident), (std::vector<std::string>{"telegram"}));
  EXPECT_TRUE(not_ready_before({}, incident).empty());
}

}  // namespace
}  // namespace gwr::repairer
