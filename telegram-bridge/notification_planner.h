// NotificationPlanner: turns repair events and gateway health into the
// messages the owner gets, so that one incident is one conversation and
// nothing floods the chat.
//   * An incident (one repair_id) opens with one message; steps and failed
//     tiers edit that message into a progress list (at most one edit per
//     edit_interval, latest state wins, the final state always lands); the
//     outcome is one reply to it: 🟢 recovered, or 🔴 all tiers failed with
//     what was tried and what to do.
//   * Cooldown, pause/resume and deferrals are short notices; repeats of the
//     same notice say nothing new and are dropped.
//   * 🟡 warnings come from DEGRADED health: one notice per distinct warning,
//     a reminder at most every reminder_interval while it lasts, one
//     "✅ cleared" once it has been gone for warning_clear_after.
// Pure: no clock, no I/O; every call takes `now` (wall-clock ms). Its state is
// exported for persistence (take_changes) and restored after a restart.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "gwr.pb.h"
#include "telegram-bridge/outgoing.h"

namespace gwr::telegram {

struct PlannerSettings {
  int64_t edit_interval_ms = 2'000;          // at most one progress edit this often per incident
  int64_t reminder_interval_ms = 0;          // telegram.reminder_interval (from_config; defaults())
  int64_t warning_clear_after_ms = 30'000;   // a warning gone this long is cleared (no flapping pairs)
  int64_t escalation_wait_ms = 5'000;        // FINISHED failure without an ESCALATION event: 🔴 after this
  int64_t incident_retention_ms = 6 * 3'600'000LL;  // finished incidents are forgotten after this
  bool channel_start = false;                 // gateway.token is set: held-off channels get a Start button

  static PlannerSettings from_config(const pb::Config& config);
  // The built-in config's.
  static PlannerSettings defaults();
};

// One repair as its Telegram thread shows it: a protobuf message (gwr.proto),
// so what is stored is what is declared.
using Incident = pb::PlannerIncident;
// gwr 1.0 stored incidents and notices as JSON; read once, after an upgrade.
std::optional<Incident> incident_from_v1_json(const nlohmann::json& j);
std::optional<pb::PlannerNotices> notices_from_v1_json(const nlohmann::json& j);

struct Warning {
  std::string key;             // finding_key(): the same problem, whatever its figures
  std::string text;            // the latest wording
  int64_t first_seen_ms = 0;
  int64_t last_sent_ms = 0;
  int64_t absent_since_ms = 0; // 0 while present
};

// The thread key of a repair: "repair:12".
std::string incident_key(int64_t repair_id);

// The text of an incident's thread message (opening or edited).
std::string render_incident(const Incident& incident, int64_t now_ms);
// The 🟢 reply.
std::string render_recovered(const Incident& incident);
// The 🔴 reply: what was tried, the AI's diagnosis, what to do.
std::string render_escalation(const Incident& incident);
// What an Alert about gwr itself says (raised or cleared).
std::string alert_text(const pb::Alert& alert);

class NotificationPlanner {
 public:
  explicit NotificationPlanner(PlannerSettings settings = PlannerSettings::defaults()) : settings_(settings) {}
  void set_settings(const PlannerSettings& settings) { settings_ = settings; }
  const PlannerSettings& settings() const { return settings_; }
  // Whether auto-repair is paused, for the Pause/Resume button.
  void set_paused(bool paused);
  bool paused() const { return notices_.paused(); }

  std::vector<Outgoing> on_repair_event(const pb::RepairEvent& event, int64_t now_ms);
  std::vector<Outgoing> on_health(const pb::GatewayHealth& health, int64_t now_ms);
  // gwr's own problems (a component that cannot read its messages, a
  // repairer that cannot save its state): said once, reminded at most every
  // reminder_interval while they last, and once more when they clear.
  std::vector<Outgoing> on_alert(const pb::Alert& alert, int64_t now_ms);
  // Due work: coalesced edits, a late 🔴, cleared warnings, forgetting old incidents.
  std::vector<Outgoing> on_tick(int64_t now_ms);
  // When on_tick next has something to do (max when nothing is scheduled).
  int64_t next_due_ms() const;

  // State to persist since the last call.
  struct Changes {
    std::vector<std::pair<std::string, std::string>> incidents;  // key -> the serialized Incident
    std::vector<std::string> incidents_forgotten;
    std::vector<Warning> warnings;                                  // upserted
    std::vector<std::string> warnings_removed;
    bool misc = false;                                              // misc_json() changed
    bool empty() const {
      return incidents.empty() && incidents_forgotten.empty() && warnings.empty() && warnings_removed.empty() && !misc;
    }
  };
  Changes take_changes();
  // A stored incident (a serialized Incident, or 1.0's JSON).
  void restore_incident(const std::string& stored);
  void restore_warning(const Warning& warning);
  // What was already said (serialized PlannerNotices), and its restore
  // (which also reads 1.0's JSON).
  std::string notices_bytes() const { return notices_.SerializeAsString(); }
  void restore_notices(const std::string& stored);

  const std::map<std::string, Incident>& incidents() const { return incidents_; }
  const std::map<std::string, Warning>& warnings() const { return warnings_; }

 private:
  // The incident of e's repair, created from e when it is new (created = true).
  Incident& open_incident(const pb::RepairEvent& e, int64_t now_ms, bool& created);
  void add_line(Incident& inc, std::string line);
  void progress_changed(Incident& inc, int64_t now_ms, std::vector<Outgoing>& out);
  void queue_edit(Incident& inc, int64_t now_ms, std::vector<Outgoing>& out);
  void queue_escalation(Incident& inc, std::vector<Outgoing>& out);
  Outgoing notice(std::string text, int64_t repair_id, bool keyboard) const;
  void clear_gone_warnings(int64_t now_ms, std::vector<Outgoing>& out);
  void changed(const Incident& inc);
  void changed(const Warning& w);

  PlannerSettings settings_;
  std::map<std::string, Incident> incidents_;
  std::map<std::string, Warning> warnings_;
  // Notices already given, so that repeats say nothing new.
  pb::PlannerNotices notices_;
  Changes changes_;
};

}  // namespace gwr::telegram
