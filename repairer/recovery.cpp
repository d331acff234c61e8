#include "repairer/recovery.h"

#include <algorithm>

namespace gwr::repairer {

namespace {

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

RecoveryJudgement judge_recovery(const HealthObservation& health, const ReadinessObservation& readiness,
                                 const std::vector<std::string>& before) {
  using V = RecoveryJudgement::Verdict;
  if (!health.ok) return {V::kNotYet, health.detail};
  if (health.startup == StartupStatus::kStarting) return {V::kNotYet, "answers /health but says it is still starting"};
  const std::string started = health.startup == StartupStatus::kStarted ? ", started" : "";
  if (!readiness.understood) return {V::kRecovered, "answers /health" + started};
  if (!readiness.suppressed.empty()) {
    return {V::kImpaired, "answers /health" + started + ", but OpenClaw's crash-loop breaker keeps " +
                              join(readiness.suppressed) + " off"};
  }
  if (readiness.ready) return {V::kRecovered, "answers /health" + started + ", ready"};
  std::vector<std::string> still, fresh;
  for (const auto& name : readiness.failing) {
    (std::find(before.begin(), before.end(), name) != before.end() ? still : fresh).push_back(name);
  }
  if (readiness.failing.empty()) return {V::kNotYet, "answers /health but is not ready"};
  if (!fresh.empty()) return {V::kNotYet, "answers /health but is not ready: failing " + join(fresh)};
  return {V::kRecovered,
          "answers /health" + started + "; still failing " + join(still) + ", as before the incident"};
}

std::vector<std::string> not_ready_before(const std::vector<pb::GatewayHealth>& history,
                                          const google::protobuf::RepeatedPtrField<pb::Finding>& incident) {
  auto name_of = [](const pb::Finding& f) -> std::string {
    switch (f.kind()) {
      case pb::Finding::NOT_READY:
      case pb::Finding::CHANNEL_FAILING:
      case pb::Finding::DATABASE_REFUSED: return f.subject();
      case pb::Finding::PLUGIN_RELOAD_FAILED: return f.subject().empty() ? "plugin-reload" : f.subject();
      default: return "";
    }
  };
  // A channel past its grace gets a restart as a nudge; whether it connects
  // is OpenClaw's (a bad token never will): still failing is named, not a
  // reason for deeper tiers.
  std::vector<std::string> excluded;
  for (const auto& f : incident) {
    if (f.kind() == pb::Finding::CHANNEL_FAILING) continue;
    if (auto n = name_of(f); !n.empty()) excluded.push_back(n);
  }
  std::vector<std::string> out;
  for (auto h = history.rbegin(); h != history.rend(); ++h) {
    if (h->state() == pb::DOWN || h->state() == pb::STARTING || h->state() == pb::GATEWAY_STATE_UNKNOWN) continue;
    for (const auto& f : h->findings()) {
      const auto n = name_of(f);
      if (n.empty() || std::find(excluded.begin(), excluded.end(), n) != excluded.end()) continue;
      if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
    }
    break;
  }
  return out;
}

}  // namespace gwr::repairer
