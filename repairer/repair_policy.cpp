#include "repairer/repair_policy.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "common/findings.h"

namespace gwr::repairer {

PolicySettings PolicySettings::defaults() { return from_config(default_config({})); }

PolicySettings PolicySettings::from_config(const pb::Config& c) {
  PolicySettings s;
  s.max_per_hour = c.repair().max_per_hour();
  s.cooldown_ms = c.repair().cooldown();
  s.quiet_max_wait_ms = c.repair().quiet_max_wait();
  s.tier3_enabled = c.repair().tier3().enabled();
  s.upgrade_grace_ms = c.repair().upgrade_grace();
  // Validated when the config was loaded; an item that still does not parse is skipped.
  for (const auto& item : c.repair().maintenance_windows()) {
    if (auto w = parse_maintenance_window(item)) s.windows.push_back(std::move(*w));
  }
  return s;
}

std::optional<PolicyState> policy_from_v1_json(const std::string& text) {
  PolicyState s;
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("paused") || !j["paused"].is_boolean()) return std::nullopt;
  s.set_paused(j.value("paused", false));
  s.set_paused_by(j.value("paused_by", ""));
  s.set_pause_reason(j.value("pause_reason", ""));
  s.set_paused_at_ms(j.value("paused_at_ms", int64_t{0}));
  s.set_cooldown_until_ms(j.value("cooldown_until_ms", int64_t{0}));
  s.set_cooldown_reason(j.value("cooldown_reason", ""));
  s.set_cooldown_active(j.value("cooldown_active", false));
  if (j.contains("auto_starts_ms") && j["auto_starts_ms"].is_array()) {
    for (const auto& v : j["auto_starts_ms"]) {
      if (v.is_number_integer()) s.add_auto_starts_ms(v.get<int64_t>());
    }
  }
  s.set_consecutive_failures(j.value("consecutive_failures", 0u));
  s.set_active_repair_id(j.value("active_repair_id", int64_t{0}));
  s.set_last_finished_ms(j.value("last_finished_ms", int64_t{0}));
  s.set_deferred_since_ms(j.value("deferred_since_ms", int64_t{0}));
  s.set_paused_incident_logged(j.value("paused_incident_logged", false));
  return s;
}

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::kNothing: return "nothing";
    case Verdict::kStart: return "start";
    case Verdict::kBusy: return "busy";
    case Verdict::kPaused: return "paused";
    case Verdict::kCooldown: return "cooldown";
    case Verdict::kRateLimited: return "rate_limited";
    case Verdict::kDeferred: return "deferred";
    case Verdict::kStoppedByOwner: return "stopped_by_owner";
  }
  return "?";
}

uint32_t repairs_in_last_hour(PolicyState& state, int64_t now_ms) {
  auto* starts = state.mutable_auto_starts_ms();
  const auto old = std::find_if(starts->begin(), starts->end(), [&](int64_t t) { return t > now_ms - 3'600'000; });
  starts->erase(starts->begin(), old);
  return static_cast<uint32_t>(state.auto_starts_ms_size());
}

int64_t evidence_ms(const pb::GatewayHealth& h) {
  // The newest observation of a failing check: a DOWN is only as fresh as
  // the failure behind it.
  int64_t newest = 0;
  for (const auto& c : h.checks()) {
    if (c.probed() && !c.ok()) newest = std::max(newest, c.at_ms());
  }
  return newest != 0 ? newest : h.observed_at_ms();
}

namespace {

const pb::Finding* find_kind(const pb::GatewayHealth& health, pb::Finding::Kind kind) {
  for (const auto& f : health.findings()) {
    if (f.kind() == kind) return &f;
  }
  return nullptr;
}

// A wait that is announced once per incident (and again if its reason changes).
Decision waiting(PolicyState& state, Decision d, pb::DeferReason why, int64_t until_ms) {
  d.verdict = Verdict::kDeferred;
  d.defer_reason = why;
  d.wait_until_ms = until_ms;
  d.first_deferral = state.wait_noticed() != why;
  state.set_wait_noticed(why);
  return d;
}

}  // namespace

const pb::Finding* owner_stop(const PolicyState& state, const pb::GatewayHealth& health) {
  if (health.state() != pb::DOWN || state.active_repair_id() != 0) return nullptr;
  const pb::Finding* stop = find_kind(health, pb::Finding::STOPPED_BY_SERVICE);
  if (stop == nullptr || stop->since_ms() <= state.last_finished_ms()) return nullptr;
  return stop;
}

Decision decide(PolicyState& state, const pb::GatewayHealth& health, const PolicySettings& settings, int64_t now_ms) {
  return decide(state, health, settings, now_ms, local_moment(now_ms));
}

Decision decide(PolicyState& state, const pb::GatewayHealth& health, const PolicySettings& settings, int64_t now_ms,
                const LocalMoment& local) {
  Decision d;
  // When an upgrade was last seen running, to 10 s (the state is saved when it changes).
  if (find_kind(health, pb::Finding::UPGRADE_RUNNING) != nullptr &&
      now_ms - health.observed_at_ms() <= settings.max_health_age_ms && now_ms - state.upgrade_seen_ms() >= 10'000) {
    state.set_upgrade_seen_ms(now_ms);
  }
  const bool down = health.state() == pb::DOWN && health.recommended_tier() > 0;
  const bool degraded_needing_repair = health.state() == pb::DEGRADED && health.recommended_tier() > 0;
  if (!down && !degraded_needing_repair) {
    state.set_deferred_since_ms(0);
    state.set_paused_incident_logged(false);
    state.set_wait_noticed(pb::DEFER_REASON_UNSPECIFIED);
    return d;
  }
  if (now_ms - health.observed_at_ms() > settings.max_health_age_ms) return d;  // stale news
  // Evidence from before the last repair ended describes the gateway that
  // repair replaced; wait for the prober to look again.
  if (evidence_ms(health) <= state.last_finished_ms()) return d;
  if (const pb::Finding* exit = own_exit_seen_late(state, health)) {
    d.own_exit_pid = static_cast<uint32_t>(exit->value());
    return d;
  }
  d.findings = incident_findings({health.findings().begin(), health.findings().end()});
  d.tier = std::clamp<uint32_t>(health.recommended_tier(), 1, settings.tier3_enabled ? 3 : 2);
  if (state.active_repair_id() != 0) {
    d.verdict = Verdict::kBusy;
    return d;
  }
  if (const pb::Finding* stop = owner_stop(state, health)) {
    d.verdict = Verdict::kStoppedByOwner;
    d.stop = *stop;
    d.first_deferral = state.owner_stop_noticed_ms() != stop->since_ms();
    state.set_owner_stop_noticed_ms(stop->since_ms());
    return d;
  }
  if (state.paused()) {
    d.verdict = Verdict::kPaused;
    return d;
  }
  if (const pb::Finding* up = find_kind(health, pb::Finding::UPGRADE_RUNNING);
      up != nullptr && now_ms - up->since_ms() < settings.upgrade_grace_ms) {
    return waiting(state, d, pb::DEFER_UPGRADE, up->since_ms() + settings.upgrade_grace_ms);
  }
  if (const auto window = maintenance_window_at(settings.windows, local)) {
    return waiting(state, d, pb::DEFER_MAINTENANCE, now_ms + window->ends_in_ms);
  }
  if (state.cooldown_until_ms() > now_ms) {
    d.verdict = Verdict::kCooldown;
    d.cooldown_until_ms = state.cooldown_until_ms();
    return d;
  }
  if (repairs_in_last_hour(state, now_ms) >= settings.max_per_hour) {
    d.verdict = Verdict::kRateLimited;
    // Long enough for the cooldown, and for the oldest repair to leave the hour.
    d.cooldown_until_ms = std::max(now_ms + settings.cooldown_ms, state.auto_starts_ms(0) + 3'600'000);
    return d;
  }
  if (degraded_needing_repair && health.busy()) {
    if (state.deferred_since_ms() == 0) {
      state.set_deferred_since_ms(now_ms);
      d.first_deferral = true;
    }
    if (now_ms - state.deferred_since_ms() < settings.quiet_max_wait_ms) {
      d.verdict = Verdict::kDeferred;
      d.defer_reason = pb::DEFER_BUSY;
      d.wait_until_ms = state.deferred_since_ms() + settings.quiet_max_wait_ms;
      return d;
    }
  }
  // A crash loop right after an upgrade: an unmigrated store or a changed
  // config is what OpenClaw's doctor repairs, so the second automatic repair
  // within upgrade_grace of the upgrade starts with it.
  if (state.upgrade_seen_ms() != 0 && now_ms - state.upgrade_seen_ms() < settings.upgrade_grace_ms) {
    const bool again = std::any_of(state.auto_starts_ms().begin(), state.auto_starts_ms().end(),
                                   [&](int64_t t) { return t >= state.upgrade_seen_ms(); });
    if (again) {
      d.doctor_first = true;
      d.tier = std::max<uint32_t>(d.tier, 2);
    }
  }
  d.verdict = Verdict::kStart;
  return d;
}

namespace {
constexpr int64_t kLateExitMs = 5'000;
}  // namespace

const pb::Finding* own_exit_seen_late(const PolicyState& state, const pb::GatewayHealth& health) {
  if (state.active_repair_id() != 0 || state.replaced_pids().empty()) return nullptr;
  const pb::Finding* exit = find_kind(health, pb::Finding::EXITED);
  // Seen within a few seconds of the repair's end: a prober that is that
  // late is busy, not blind.
  if (exit == nullptr || exit->since_ms() < state.last_finished_ms() ||
      exit->since_ms() - state.last_finished_ms() > kLateExitMs) {
    return nullptr;
  }
  const auto& pids = state.replaced_pids();
  if (std::find(pids.begin(), pids.end(), static_cast<uint32_t>(exit->value())) == pids.end()) return nullptr;
  // Only until the prober has looked for the gateway again: a later scan
  // that still finds none is news of its own.
  for (const auto& c : health.checks()) {
    if (c.kind() == pb::CHECK_PROCESS && c.at_ms() > exit->since_ms()) return nullptr;
  }
  // The exit alone: an OOM kill or anything else that fails is an incident.
  for (const auto& f : health.findings()) {
    if (&f != exit && rule_for(f).state == pb::DOWN) return nullptr;
  }
  return exit;
}

void note_replaced_pid(PolicyState& state, uint32_t pid) {
  if (pid == 0) return;
  const auto& pids = state.replaced_pids();
  if (std::find(pids.begin(), pids.end(), pid) != pids.end()) return;
  // A repair meets a handful of gateways; keep the newest few.
  if (pids.size() >= 8) state.mutable_replaced_pids()->erase(state.mutable_replaced_pids()->begin());
  state.add_replaced_pids(pid);
}

void on_auto_start(PolicyState& state, int64_t repair_id, int64_t now_ms) {
  state.clear_replaced_pids();
  state.set_active_repair_id(repair_id);
  state.add_auto_starts_ms(now_ms);
  state.set_deferred_since_ms(0);
}

void on_manual_start(PolicyState& state, int64_t repair_id) {
  state.clear_replaced_pids();
  state.set_active_repair_id(repair_id);
}

bool on_finished(PolicyState& state, bool success, bool automatic, const PolicySettings& settings, int64_t now_ms) {
  state.set_active_repair_id(0);
  state.set_last_finished_ms(now_ms);
  state.set_deferred_since_ms(0);
  if (success) {
    state.set_consecutive_failures(0);
    return false;
  }
  state.set_consecutive_failures(state.consecutive_failures() + 1);
  // Every tier failed: a human is needed, and more attempts would only make
  // things worse (OpenClaw's own breaker suppresses channels after unclean
  // boots). A failed manual repair cools down automatic ones too.
  (void)automatic;
  enter_cooldown(state, now_ms + settings.cooldown_ms, "all repair tiers failed");
  return true;
}

void enter_cooldown(PolicyState& state, int64_t until_ms, const std::string& reason) {
  state.set_cooldown_until_ms(std::max(state.cooldown_until_ms(), until_ms));
  state.set_cooldown_reason(reason);
  state.set_cooldown_active(true);
}

bool cooldown_ended(PolicyState& state, int64_t now_ms) {
  if (state.cooldown_active() && now_ms >= state.cooldown_until_ms()) {
    state.set_cooldown_active(false);
    return true;
  }
  return false;
}

void pause(PolicyState& state, const std::string& by, const std::string& reason, int64_t now_ms, int64_t until_ms) {
  state.set_paused(true);
  state.set_paused_by(by);
  state.set_pause_reason(reason);
  state.set_paused_at_ms(now_ms);
  state.set_paused_until_ms(until_ms);
}

bool pause_expired(const PolicyState& state, int64_t now_ms) {
  return state.paused() && state.paused_until_ms() != 0 && now_ms >= state.paused_until_ms();
}

void resume(PolicyState& state) {
  state.set_paused(false);
  state.clear_paused_by();
  state.clear_pause_reason();
  state.set_paused_at_ms(0);
  state.set_paused_until_ms(0);
  state.set_paused_incident_logged(false);
}

uint32_t learned_start_tier(uint32_t recommended, const uint32_t attempts[4], const uint32_t fixes[4], bool tier3_enabled) {
  const uint32_t last = tier3_enabled ? 3 : 2;
  uint32_t tier = std::clamp<uint32_t>(recommended, 1, last);
  while (tier < last && attempts[tier] >= 2 && fixes[tier] == 0) ++tier;
  return tier;
}

std::optional<int64_t> next_wake_ms(const PolicyState& state, const PolicySettings& settings) {
  std::optional<int64_t> wake;
  auto consider = [&](int64_t t) {
    if (!wake || t < *wake) wake = t;
  };
  if (state.cooldown_active()) consider(state.cooldown_until_ms());
  if (state.paused_until_ms() != 0) consider(state.paused_until_ms());
  if (state.deferred_since_ms() != 0) consider(state.deferred_since_ms() + settings.quiet_max_wait_ms);
  if (!state.auto_starts_ms().empty()) consider(state.auto_starts_ms(0) + 3'600'000);
  return wake;
}

}  // namespace gwr::repairer
