// RepairPolicy: whether to repair, and from which tier, given the gateway's
// health, the policy's persisted state and the time (PRD §5.2, §9).
//  * acts on state, not on single messages: a DOWN (or a DEGRADED with a
//    recommended tier) whose evidence is newer than the last repair;
//  * one repair at a time; a running repair absorbs new triggers;
//  * at most max_per_hour automatic repairs in any sliding hour; hitting the
//    limit, or a repair whose every tier failed, enters a cooldown that is
//    announced once;
//  * pause/resume stop and restart automatic repairs only;
//  * a degraded but alive gateway that is busy waits for a quiet moment, up
//    to quiet_max_wait; a dead one is repaired at once.
// Pure: no I/O, no clock; the state is a value the caller persists.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "gwr.pb.h"

namespace gwr::repairer {

// The repair.* keys the policy uses (defaults in their declarations,
// gwr.proto: defaults() reads them).
struct PolicySettings {
  uint32_t max_per_hour = 0;
  int64_t cooldown_ms = 0;
  int64_t quiet_max_wait_ms = 0;
  // Health older than this is not acted on (the prober may be gone). Not a key.
  int64_t max_health_age_ms = 30'000;
  bool tier3_enabled = false;

  static PolicySettings from_config(const pb::Config& config);
  static PolicySettings defaults();
};

// Everything the policy must remember across restarts: a protobuf message,
// so its fields are declared once (gwr.proto) and stored as they are.
using PolicyState = pb::PolicyState;

// gwr 1.0 stored the policy as JSON; read once, when gwr.db is migrated.
// nullopt when the text is not such a policy.
std::optional<PolicyState> policy_from_v1_json(const std::string& json);

enum class Verdict {
  kNothing,      // healthy enough, or nothing new to act on
  kStart,        // start an automatic repair at `tier`
  kBusy,         // a repair is running; the trigger is absorbed
  kPaused,       // maintenance mode
  kCooldown,     // cooling down until cooldown_until_ms
  kRateLimited,  // the hourly limit was just hit: enter the cooldown now
  kDeferred,     // degraded and busy: waiting for a quiet moment
};
const char* to_string(Verdict v);

struct Decision {
  Verdict verdict = Verdict::kNothing;
  uint32_t tier = 0;
  std::vector<pb::Finding> findings;  // what makes the incident (transient findings left out)
  int64_t cooldown_until_ms = 0;    // for kRateLimited
  bool first_deferral = false;      // kDeferred: announce once
};

// Removes starts older than an hour and counts the rest.
uint32_t repairs_in_last_hour(PolicyState& state, int64_t now_ms);

// The decision for the newest health. Mutates only bookkeeping that belongs
// to deciding (deferral start, hour window pruning).
Decision decide(PolicyState& state, const pb::GatewayHealth& health, const PolicySettings& settings, int64_t now_ms);

// Bookkeeping for the outcomes the worker reports back.
void on_auto_start(PolicyState& state, int64_t repair_id, int64_t now_ms);
void on_manual_start(PolicyState& state, int64_t repair_id);
// Returns true when the failure put the policy into cooldown.
bool on_finished(PolicyState& state, bool success, bool automatic, const PolicySettings& settings, int64_t now_ms);
void enter_cooldown(PolicyState& state, int64_t until_ms, const std::string& reason);
// True once, when a cooldown has run out (announce "cooldown ended").
bool cooldown_ended(PolicyState& state, int64_t now_ms);
void pause(PolicyState& state, const std::string& by, const std::string& reason, int64_t now_ms);
void resume(PolicyState& state);

// The earliest time the policy wants to look again without new health.
std::optional<int64_t> next_wake_ms(const PolicyState& state, const PolicySettings& settings);

// Where to start for an incident the repairer has seen before: tiers that
// were tried at least twice for it and never fixed it are skipped.
// attempts/fixes are indexed by tier (1..3).
uint32_t learned_start_tier(uint32_t recommended, const uint32_t attempts[4], const uint32_t fixes[4], bool tier3_enabled);

// When a failing check was last seen failing: the evidence behind a DOWN.
int64_t evidence_ms(const pb::GatewayHealth& health);

}  // namespace gwr::repairer
