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
//    to quiet_max_wait; a dead one is repaired at once;
//  * the owner's intent (issue #20): a gateway its owner stopped through its
//    service manager is not repaired (a stop during or before gwr's own last
//    repair is gwr's, and is); a running upgrade holds repairs for at most
//    upgrade_grace; inside a maintenance window repairs wait; a pause may
//    end by itself (paused_until_ms); a crash loop right after an upgrade
//    starts at Tier 2 with OpenClaw's doctor first.
// Pure: no I/O, no clock; the state is a value the caller persists.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "common/maintenance_window.h"
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
  int64_t upgrade_grace_ms = 0;
  std::vector<MaintenanceWindow> windows;  // repair.maintenance_windows, parsed (validated at load)

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
  kDeferred,     // waiting: for a quiet moment, an upgrade, the end of a maintenance window (defer_reason)
  kStoppedByOwner,  // the owner stopped it through its service manager: no repair
};
const char* to_string(Verdict v);

struct Decision {
  Verdict verdict = Verdict::kNothing;
  uint32_t tier = 0;
  std::vector<pb::Finding> findings;  // what makes the incident (transient findings left out)
  int64_t cooldown_until_ms = 0;    // for kRateLimited
  bool first_deferral = false;      // kDeferred / kStoppedByOwner: announce once
  pb::DeferReason defer_reason = pb::DEFER_REASON_UNSPECIFIED;  // kDeferred: why
  int64_t wait_until_ms = 0;        // kDeferred: at most until then (wall clock)
  bool doctor_first = false;        // kStart: right after an upgrade, Tier 2 runs the doctor before starting
  pb::Finding stop;                 // kStoppedByOwner: the service manager's word
  uint32_t own_exit_pid = 0;        // kNothing: a replaced gateway's exit, seen late (own_exit_seen_late)
};

// Removes starts older than an hour and counts the rest.
uint32_t repairs_in_last_hour(PolicyState& state, int64_t now_ms);

// The decision for the newest health. Mutates only bookkeeping that belongs
// to deciding (deferral start, hour window pruning, what was announced).
// `local`: now in local time, for the maintenance windows.
Decision decide(PolicyState& state, const pb::GatewayHealth& health, const PolicySettings& settings, int64_t now_ms,
                const LocalMoment& local);
// The same at local_moment(now_ms) (the process's time zone).
Decision decide(PolicyState& state, const pb::GatewayHealth& health, const PolicySettings& settings, int64_t now_ms);

// The owner's stop the health reports, if it is not gwr's own: the service
// manager's finding, first seen after the last repair ended and while none
// runs (a stop inside a repair of gwr's is gwr's).
const pb::Finding* owner_stop(const PolicyState& state, const pb::GatewayHealth& health);

// Bookkeeping for the outcomes the worker reports back.
// A repair's start forgets the pids the previous one replaced.
void on_auto_start(PolicyState& state, int64_t repair_id, int64_t now_ms);
void on_manual_start(PolicyState& state, int64_t repair_id);
// Returns true when the failure put the policy into cooldown.
bool on_finished(PolicyState& state, bool success, bool automatic, const PolicySettings& settings, int64_t now_ms);
void enter_cooldown(PolicyState& state, int64_t until_ms, const std::string& reason);
// True once, when a cooldown has run out (announce "cooldown ended").
bool cooldown_ended(PolicyState& state, int64_t now_ms);
// until_ms > 0: the pause ends by itself then (pause_expired says when).
void pause(PolicyState& state, const std::string& by, const std::string& reason, int64_t now_ms, int64_t until_ms = 0);
// True when a timed pause has run out (the caller resumes and says so).
bool pause_expired(const PolicyState& state, int64_t now_ms);
void resume(PolicyState& state);

// A gateway pid known while a repair runs (at its start too): the repair
// stops it, so its exit is gwr's own. 0 and repeats are ignored.
void note_replaced_pid(PolicyState& state, uint32_t pid);

// The exit of a gateway the last repair replaced, noticed only after that
// repair ended and not yet looked at again (the prober saw it late, a
// restart had already brought the next one up): gwr's own stop, not an
// incident. The EXITED finding, or nullptr.
const pb::Finding* own_exit_seen_late(const PolicyState& state, const pb::GatewayHealth& health);

// The earliest time the policy wants to look again without new health.
std::optional<int64_t> next_wake_ms(const PolicyState& state, const PolicySettings& settings);

// Where to start for an incident the repairer has seen before: tiers that
// were tried at least twice for it and never fixed it are skipped.
// attempts/fixes are indexed by tier (1..3).
uint32_t learned_start_tier(uint32_t recommended, const uint32_t attempts[4], const uint32_t fixes[4], bool tier3_enabled);

// When a failing check was last seen failing: the evidence behind a DOWN.
int64_t evidence_ms(const pb::GatewayHealth& health);

}  // namespace gwr::repairer
