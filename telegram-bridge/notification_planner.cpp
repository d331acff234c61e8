#include "telegram-bridge/notification_planner.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "common/config.h"
#include "common/findings.h"
#include "common/strings.h"
#include "telegram-bridge/html_text.h"
#include "telegram-bridge/messages.h"

namespace gwr::telegram {

namespace {

using json = nlohmann::json;

constexpr size_t kMaxProgressLines = 20;

std::string esc(std::string_view text, size_t max_units = 400) { return html_escape(clip(text, max_units)); }

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string tier_list(const google::protobuf::RepeatedField<uint32_t>& tiers) {
  std::string out;
  for (auto t : tiers) out += (out.empty() ? "" : ", ") + std::to_string(t);
  return out;
}

std::string step_line(const pb::RepairStep& s) {
  std::string line = std::string(s.ok() ? "✅" : "❌") + " tier " + std::to_string(s.tier()) + " · " + s.name() + " (" +
                     human_duration(s.duration_ms()) + (s.timed_out() ? ", timed out" : "") + ")";
  if (!s.detail().empty()) line += ": " + s.detail();
  return line;
}

}  // namespace

PlannerSettings PlannerSettings::from_config(const pb::Config& config) {
  PlannerSettings s;
  s.reminder_interval_ms = config.telegram().reminder_interval();
  s.channel_start = !config.gateway().token().empty();
  return s;
}

PlannerSettings PlannerSettings::defaults() { return from_config(default_config({})); }

std::string incident_key(int64_t repair_id) { return "repair:" + std::to_string(repair_id); }

std::optional<Incident> incident_from_v1_json(const json& j) {
  if (!j.is_object() || !j.contains("repair_id")) return std::nullopt;
  Incident i;
  i.set_repair_id(j.value("repair_id", int64_t{0}));
  i.set_tier(j.value("tier", 0u));
  i.set_manual(j.value("manual", false));
  i.set_actor(j.value("actor", ""));
  i.set_reason(j.value("reason", ""));
  i.set_started_at_ms(j.value("started_at_ms", int64_t{0}));
  if (j.contains("lines") && j["lines"].is_array()) {
    for (const auto& l : j["lines"]) {
      if (l.is_string()) i.add_lines(l.get<std::string>());
    }
  }
  i.set_hidden_lines(j.value("hidden_lines", 0u));
  if (j.contains("tier_failures") && j["tier_failures"].is_object()) {
    for (auto it = j["tier_failures"].begin(); it != j["tier_failures"].end(); ++it) {
      if (it.value().is_string()) {
        (*i.mutable_tier_failures())[static_cast<uint32_t>(std::atoi(it.key().c_str()))] = it.value().get<std::string>();
      }
    }
  }
  if (j.contains("tiers_tried") && j["tiers_tried"].is_array()) {
    for (const auto& t : j["tiers_tried"]) {
      if (t.is_number_unsigned()) i.add_tiers_tried(t.get<uint32_t>());
    }
  }
  const int outcome = j.value("outcome", 0);
  i.set_outcome(outcome == 1 ? Incident::RECOVERED : outcome == 2 ? Incident::FAILED : Incident::RUNNING);
  i.set_fixed_by_tier(j.value("fixed_by_tier", 0u));
  i.set_duration_ms(j.value("duration_ms", int64_t{0}));
  i.set_details(j.value("details", ""));
  i.set_diagnosis(j.value("diagnosis", ""));
  i.set_finished_at_ms(j.value("finished_at_ms", int64_t{0}));
  i.set_reply_sent(j.value("reply_sent", false));
  i.set_escalate_at_ms(j.value("escalate_at_ms", int64_t{0}));
  i.set_last_edit_ms(j.value("last_edit_ms", int64_t{0}));
  i.set_edit_pending(j.value("edit_pending", false));
  return i;
}

std::optional<pb::PlannerNotices> notices_from_v1_json(const json& j) {
  if (!j.is_object()) return std::nullopt;
  pb::PlannerNotices n;
  n.set_paused(j.value("paused", false));
  n.set_cooldown_until_noticed(j.value("cooldown_until_noticed", int64_t{0}));
  n.set_cooldown_end_noticed(j.value("cooldown_end_noticed", false));
  n.set_pause_noticed(j.value("pause_noticed", ""));
  n.set_deferred_noticed(j.value("deferred_noticed", ""));
  n.set_deferred_noticed_at(j.value("deferred_noticed_at", int64_t{0}));
  if (j.contains("alerts") && j["alerts"].is_object()) {
    for (auto it = j["alerts"].begin(); it != j["alerts"].end(); ++it) {
      if (it.value().is_number_integer()) (*n.mutable_alerts())[it.key()] = it.value().get<int64_t>();
    }
  }
  return n;
}

namespace {

// What telegram.db holds: a serialized message, or (gwr 1.0) a JSON object.
// Serialized protobuf never starts with '{' (that would be a group tag).
std::optional<json> as_v1_json(const std::string& stored) {
  if (stored.empty() || stored[0] != '{') return std::nullopt;
  auto j = json::parse(stored, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  return j;
}

}  // namespace

std::string render_incident(const Incident& inc, int64_t now_ms) {
  std::string out;
  const std::string tier = std::to_string(inc.tier());
  switch (inc.outcome()) {
    case Incident::RUNNING:
      out += inc.manual() ? "🔧 <b>Manual repair — tier " + tier + "</b>" : "🔧 <b>Gateway down — repairing (tier " + tier + ")</b>";
      break;
    case Incident::RECOVERED:
      out += "✅ <b>Gateway repaired by tier " + std::to_string(inc.fixed_by_tier()) + "</b> (took " +
             human_duration(inc.duration_ms()) + ")";
      break;
    default:  // FAILED
      out += "❌ <b>Repair failed</b>";
      if (!inc.tiers_tried().empty()) out += " (tiers " + tier_list(inc.tiers_tried()) + ")";
      break;
  }
  out += "\n";
  if (!inc.reason().empty()) out += "Reason: " + esc(inc.reason(), 500) + "\n";
  out += "Repair #" + std::to_string(inc.repair_id()) + " · " +
         (inc.manual() ? "manual, by " + esc(actor_label(inc.actor()), 80) : std::string("automatic"));
  if (inc.started_at_ms() > 0) out += " · started " + clock_time_seconds(inc.started_at_ms());
  out += "\n";
  if (!inc.lines().empty()) {
    out += "\n";
    if (inc.hidden_lines()) out += "<i>… " + std::to_string(inc.hidden_lines()) + " earlier step(s)</i>\n";
    for (const auto& l : inc.lines()) out += esc(l, 300) + "\n";
  }
  if (inc.outcome() == Incident::RUNNING && inc.started_at_ms() > 0 && now_ms > inc.started_at_ms()) {
    out += "<i>running for " + human_duration(now_ms - inc.started_at_ms()) + "</i>";
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return fit_html(out);
}

std::string render_recovered(const Incident& inc) {
  if (!inc.started_channel().empty()) {
    std::string out = "▶ <b>Channel " + esc(inc.started_channel(), 32) + " started</b> (took " +
                      human_duration(inc.duration_ms()) + ")\n";
    if (!inc.verified().empty()) out += esc(inc.verified(), 300) + "\n";
    out += "#" + std::to_string(inc.repair_id());
    if (inc.manual()) out += " · by " + esc(actor_label(inc.actor()), 80);
    return out;
  }
  // Up with its channels held off is not recovered: no green for it.
  std::string out = std::string(inc.impaired() ? "🟡 <b>Gateway back, channels still off</b>" : "🟢 <b>Gateway recovered</b>") +
                    " (tier " + std::to_string(inc.fixed_by_tier()) + ", took " + human_duration(inc.duration_ms()) + ")\n";
  if (!inc.verified().empty()) out += esc(inc.verified(), 300) + "\n";
  out += "Repair #" + std::to_string(inc.repair_id());
  if (inc.manual()) out += " · manual, by " + esc(actor_label(inc.actor()), 80);
  return out;
}

std::string render_escalation(const Incident& inc) {
  std::string out = "🔴 <b>Gateway down, all tiers failed — human intervention needed</b>\n";
  out += "Repair #" + std::to_string(inc.repair_id());
  if (!inc.tiers_tried().empty()) out += " · tiers tried: " + tier_list(inc.tiers_tried());
  if (inc.duration_ms() > 0) out += " · " + human_duration(inc.duration_ms());
  out += "\n";
  if (!inc.reason().empty()) out += "Reason: " + esc(inc.reason(), 400) + "\n";
  out += "\n<b>What was tried</b>\n";
  if (inc.tier_failures().empty()) {
    out += "• " + (inc.details().empty() ? std::string("no tier reported why it failed") : esc(inc.details(), 600)) + "\n";
  } else {
    // In tier order (a protobuf map has none).
    const std::map<uint32_t, std::string> failures(inc.tier_failures().begin(), inc.tier_failures().end());
    for (const auto& [tier, why] : failures) {
      out += "• Tier " + std::to_string(tier) + ": " + esc(why.empty() ? "failed" : why, 500) + "\n";
    }
    if (!inc.details().empty()) out += "Outcome: " + esc(inc.details(), 500) + "\n";
  }
  if (!inc.diagnosis().empty()) out += "\n<b>AI diagnosis</b>\n<i>" + esc(inc.diagnosis(), 1500) + "</i>\n";
  out += "\n<b>What to do</b>\n";
  out += "• <code>gwrctl show " + std::to_string(inc.repair_id()) + "</code> — every step, with its output\n";
  out += "• Check the gateway's own logs and the system journal (<code>journalctl</code> on Linux, "
         "<code>log show</code> on macOS)\n";
  out += "• Once the cause is fixed, tap 🔄 Repair Now or send /repair; /status shows whether auto-repair is cooling down";
  return fit_html(out);
}

void NotificationPlanner::set_paused(bool paused) {
  if (notices_.paused() != paused) {
    notices_.set_paused(paused);
    changes_.misc = true;
  }
}

void NotificationPlanner::changed(const Incident& inc) {
  const std::string key = incident_key(inc.repair_id());
  for (auto& [k, bytes] : changes_.incidents) {
    if (k == key) return;  // serialized in take_changes
  }
  changes_.incidents.emplace_back(key, std::string());
}

void NotificationPlanner::changed(const Warning& w) {
  for (auto& x : changes_.warnings) {
    if (x.key == w.key) {
      x = w;
      return;
    }
  }
  changes_.warnings.push_back(w);
}

NotificationPlanner::Changes NotificationPlanner::take_changes() {
  Changes c = std::move(changes_);
  changes_ = Changes{};
  std::vector<std::pair<std::string, std::string>> incidents;
  for (auto& [key, bytes] : c.incidents) {
    const auto it = incidents_.find(key);
    if (it != incidents_.end()) incidents.emplace_back(key, it->second.SerializeAsString());
  }
  c.incidents = std::move(incidents);
  std::vector<Warning> warnings;
  for (const auto& w : c.warnings) {
    const auto it = warnings_.find(w.key);
    if (it != warnings_.end()) warnings.push_back(it->second);
  }
  c.warnings = std::move(warnings);
  return c;
}

void NotificationPlanner::restore_incident(const std::string& stored) {
  std::optional<Incident> inc;
  if (auto j = as_v1_json(stored)) {
    inc = incident_from_v1_json(*j);
  } else if (Incident parsed; parsed.ParseFromString(stored)) {
    inc = std::move(parsed);
  }
  if (inc && inc->repair_id() != 0) incidents_[incident_key(inc->repair_id())] = std::move(*inc);
}

void NotificationPlanner::restore_warning(const Warning& w) {
  // A key that is not a finding's was gwr 1.0's wording: it can never be
  // matched again, so it is dropped rather than "cleared" later.
  if (starts_with(w.key, "f:")) warnings_[w.key] = w;
}

void NotificationPlanner::restore_notices(const std::string& stored) {
  if (auto j = as_v1_json(stored)) {
    if (auto n = notices_from_v1_json(*j)) notices_ = std::move(*n);
    return;
  }
  pb::PlannerNotices n;
  if (n.ParseFromString(stored)) notices_ = std::move(n);
}

std::string alert_text(const pb::Alert& a, int64_t now_ms) {
  const std::string who = "gwr-" + a.component();
  switch (a.kind()) {
    case pb::Alert::NODE_SILENT: {
      const std::string node = "<b>" + esc(a.topic(), 20) + "</b>";
      if (a.cleared()) return "✅ Node " + node + " is heard from again; what it did meanwhile follows.";
      return "🔴 Node " + node + " is silent: not heard from since " + clock_time(a.last_seen_ms(), now_ms) + " (" +
             human_duration(std::max<int64_t>(0, now_ms - a.last_seen_ms())) +
             " ago). If its gwr still runs, it goes on repairing its gateways and tells you once it is back; if the "
             "host or its network is down, nothing watches its gateways. Check the host.";
    }
    case pb::Alert::UNDECODABLE_MESSAGES:
      if (a.cleared()) return "✅ <b>" + esc(who, 60) + " reads its messages again</b> (\"" + esc(a.topic(), 40) + "\").";
      return std::string(a.topic() == "gateway_health" ? "🔴" : "🟡") + " <b>" + esc(who, 60) +
             " cannot read the messages it gets</b>: " + std::to_string(a.count()) + " on \"" + esc(a.topic(), 40) +
             "\" could not be decoded" +
             (a.topic() == "gateway_health" ? ", so it does not know the gateway's state and repairs nothing automatically"
                                            : "") +
             ". This is a fault in gwr itself: see <code>bus_message_dropped</code> in " + esc(who, 60) +
             ".log, and <code>gwrctl status</code>.";
    case pb::Alert::STATE_NOT_SAVED:
    case pb::Alert::STATE_UNREADABLE: {
      const bool write = a.kind() == pb::Alert::STATE_NOT_SAVED;
      if (a.cleared()) {
        return std::string("✅ <b>gwr can ") + (write ? "save" : "read") +
               " its state again</b>: automatic repairs are back under the saved policy.";
      }
      return std::string("🔴 <b>gwr cannot ") + (write ? "save" : "read") +
             " its repair state</b>" + (a.detail().empty() ? "" : " (" + esc(a.detail(), 300) + ")") +
             ": automatic repairs are stopped until it can, so that a restart cannot forget a pause or the hourly "
             "limit. Detection, notifications and manual repairs (/repair) still work. Check the disk of gwr's state "
             "directory (<code>gwrctl status</code>).";
    }
    default:
      return "⚠️ <b>gwr problem</b> in " + esc(who, 60) + ": " + esc(a.detail(), 300);
  }
}

std::vector<Outgoing> NotificationPlanner::on_alert(const pb::Alert& a, int64_t now_ms) {
  std::vector<Outgoing> out;
  const std::string key = std::to_string(static_cast<int>(a.kind())) + "|" + a.component() + "|" + a.topic();
  auto& alerts = *notices_.mutable_alerts();
  auto it = alerts.find(key);
  if (a.cleared()) {
    if (it == alerts.end()) return out;  // never told, nothing to clear
    alerts.erase(it);
  } else if (it != alerts.end() && now_ms - it->second < settings_.reminder_interval_ms) {
    return out;  // level-triggered repeats say nothing new
  } else {
    alerts[key] = now_ms;
  }
  changes_.misc = true;
  const bool state = a.kind() == pb::Alert::STATE_NOT_SAVED || a.kind() == pb::Alert::STATE_UNREADABLE;
  out.push_back(notice(alert_text(a, now_ms), 0, state && !a.cleared()));
  return out;
}

void NotificationPlanner::add_line(Incident& inc, std::string line) {
  inc.add_lines(std::move(line));
  while (static_cast<size_t>(inc.lines_size()) > kMaxProgressLines) {
    inc.mutable_lines()->erase(inc.mutable_lines()->begin());
    inc.set_hidden_lines(inc.hidden_lines() + 1);
  }
}

void NotificationPlanner::queue_edit(Incident& inc, int64_t now_ms, std::vector<Outgoing>& out) {
  Outgoing o;
  o.kind = Outgoing::Kind::kEdit;
  o.incident = incident_key(inc.repair_id());
  o.text = render_incident(inc, now_ms);
  out.push_back(std::move(o));
  inc.set_last_edit_ms(now_ms);
  inc.set_edit_pending(false);
  changed(inc);
}

void NotificationPlanner::progress_changed(Incident& inc, int64_t now_ms, std::vector<Outgoing>& out) {
  inc.set_edit_pending(true);
  changed(inc);
  if (now_ms - inc.last_edit_ms() >= settings_.edit_interval_ms) queue_edit(inc, now_ms, out);
}

void NotificationPlanner::queue_escalation(Incident& inc, std::vector<Outgoing>& out) {
  Outgoing o = make_message(render_escalation(inc), main_keyboard(notices_.paused()));
  o.incident = incident_key(inc.repair_id());
  o.reply_to_incident = true;
  out.push_back(std::move(o));
  inc.set_reply_sent(true);
  inc.set_escalate_at_ms(0);
  changed(inc);
}

Outgoing NotificationPlanner::notice(std::string text, int64_t repair_id, bool keyboard) const {
  Outgoing o = make_message(fit_html(text), keyboard ? main_keyboard(notices_.paused()) : nlohmann::json(nullptr));
  if (repair_id != 0) {
    o.incident = incident_key(repair_id);
    o.reply_to_incident = true;
  }
  return o;
}

Incident& NotificationPlanner::open_incident(const pb::RepairEvent& e, int64_t now_ms, bool& created) {
  const std::string key = incident_key(e.repair_id());
  auto it = incidents_.find(key);
  created = it == incidents_.end();
  if (!created) return it->second;
  Incident inc;
  inc.set_repair_id(e.repair_id());
  inc.set_tier(e.tier() ? e.tier() : 1);
  inc.set_manual(e.trigger() == pb::TRIGGER_MANUAL);
  inc.set_actor(e.actor());
  inc.set_reason(reason_text(e.reason(), e.findings()));
  inc.set_started_at_ms(e.at_ms() > 0 ? e.at_ms() : now_ms);
  if (e.kind() != pb::RepairEvent::STARTED && e.kind() != pb::RepairEvent::RESUMING) {
    add_line(inc, "(joined this repair late: earlier steps are in /logs)");
  }
  return incidents_.emplace(key, std::move(inc)).first->second;
}

std::vector<Outgoing> NotificationPlanner::on_repair_event(const pb::RepairEvent& e, int64_t now_ms) {
  std::vector<Outgoing> out;
  const int64_t id = e.repair_id();
  // A thread that was just created opens with one message showing the event;
  // an existing one is edited.
  auto open_or_update = [&](Incident& inc, bool created) {
    if (created) {
      Outgoing o = make_message(render_incident(inc, now_ms));
      o.incident = incident_key(inc.repair_id());
      o.opens_incident = true;
      out.push_back(std::move(o));
      inc.set_last_edit_ms(now_ms);
      inc.set_edit_pending(false);
      changed(inc);
    } else {
      progress_changed(inc, now_ms, out);
    }
  };
  bool created = false;
  switch (e.kind()) {
    case pb::RepairEvent::STARTED:
    case pb::RepairEvent::RESUMING: {
      if (id == 0) break;
      Incident& inc = open_incident(e, now_ms, created);
      if (created) {
        if (e.kind() == pb::RepairEvent::RESUMING) add_line(inc, "↻ the repairer restarted; continuing");
        open_or_update(inc, true);
      } else if (inc.outcome() == Incident::RUNNING && e.kind() == pb::RepairEvent::RESUMING) {
        add_line(inc, "↻ the repairer restarted; continuing with tier " + std::to_string(e.tier()));
        open_or_update(inc, false);
      }
      break;
    }
    case pb::RepairEvent::STEP:
    case pb::RepairEvent::TIER_FAILED:
    case pb::RepairEvent::TIER3_REJECTED: {
      if (id == 0) break;
      Incident& inc = open_incident(e, now_ms, created);
      if (inc.outcome() != Incident::RUNNING) break;  // late or repeated: the thread is closed
      if (e.kind() == pb::RepairEvent::STEP) {
        inc.set_tier(std::max(inc.tier(), e.step().tier()));
        add_line(inc, step_line(e.step()));
      } else if (e.kind() == pb::RepairEvent::TIER_FAILED) {
        (*inc.mutable_tier_failures())[e.tier()] = e.details();
        add_line(inc, "⚠️ tier " + std::to_string(e.tier()) + " failed" + (e.details().empty() ? "" : ": " + e.details()));
      } else {
        add_line(inc, "🛡 tier 3: " + std::to_string(e.rejected_lines_size()) +
                          " line(s) of the AI plan rejected by the allowlist");
      }
      open_or_update(inc, created);
      break;
    }
    case pb::RepairEvent::FINISHED: {
      if (id == 0) break;
      Incident& inc = open_incident(e, now_ms, created);
      if (inc.outcome() != Incident::RUNNING) break;
      inc.set_outcome(e.success() ? Incident::RECOVERED : Incident::FAILED);
      if (e.success()) inc.set_fixed_by_tier(e.tier());
      if (e.tier()) inc.set_tier(e.tier());
      inc.set_duration_ms(e.duration_ms());
      inc.set_details(e.details());
      inc.set_diagnosis(e.diagnosis());
      inc.set_verified(e.verified());
      inc.set_impaired(e.impaired());
      inc.set_started_channel(e.started_channel());
      if (!e.tiers_tried().empty()) inc.mutable_tiers_tried()->Assign(e.tiers_tried().begin(), e.tiers_tried().end());
      if (inc.reason().empty()) inc.set_reason(reason_text(e.reason(), e.findings()));
      inc.set_finished_at_ms(now_ms);
      // The final state always lands, whatever the edit interval says.
      if (created) {
        open_or_update(inc, true);
      } else {
        queue_edit(inc, now_ms, out);
      }
      if (e.success()) {
        Outgoing o = make_message(render_recovered(inc));
        o.incident = incident_key(id);
        o.reply_to_incident = true;
        out.push_back(std::move(o));
        inc.set_reply_sent(true);
      } else {
        inc.set_escalate_at_ms(now_ms + settings_.escalation_wait_ms);  // ESCALATION normally follows at once
      }
      changed(inc);
      break;
    }
    case pb::RepairEvent::ESCALATION: {
      if (id == 0) {
        Incident tmp;
        tmp.set_details(e.details());
        tmp.set_diagnosis(e.diagnosis());
        tmp.mutable_tiers_tried()->Assign(e.tiers_tried().begin(), e.tiers_tried().end());
        out.push_back(make_message(render_escalation(tmp), main_keyboard(notices_.paused())));
        break;
      }
      Incident& inc = open_incident(e, now_ms, created);
      if (inc.reply_sent()) break;
      if (!e.tiers_tried().empty()) inc.mutable_tiers_tried()->Assign(e.tiers_tried().begin(), e.tiers_tried().end());
      if (!e.details().empty()) inc.set_details(e.details());
      if (!e.diagnosis().empty()) inc.set_diagnosis(e.diagnosis());
      if (inc.reason().empty()) inc.set_reason(reason_text(e.reason(), e.findings()));
      if (inc.outcome() == Incident::RUNNING) {
        inc.set_outcome(Incident::FAILED);
        inc.set_finished_at_ms(now_ms);
        if (created) {
          open_or_update(inc, true);
        } else {
          queue_edit(inc, now_ms, out);
        }
      }
      queue_escalation(inc, out);
      break;
    }
    case pb::RepairEvent::COOLDOWN_ENTERED: {
      if (e.cooldown_until_ms() != 0 && e.cooldown_until_ms() == notices_.cooldown_until_noticed()) break;
      notices_.set_cooldown_until_noticed(e.cooldown_until_ms());
      notices_.set_cooldown_end_noticed(false);
      changes_.misc = true;
      const std::string why = e.details().empty() ? reason_text(e.reason(), e.findings()) : e.details();
      out.push_back(notice("⏳ <b>Cooldown until " + clock_time(e.cooldown_until_ms(), now_ms) + "</b>" +
                               (why.empty() ? std::string() : ": " + esc(why, 500)),
                           id, false));
      break;
    }
    case pb::RepairEvent::COOLDOWN_ENDED: {
      if (notices_.cooldown_end_noticed()) break;
      notices_.set_cooldown_end_noticed(true);
      changes_.misc = true;
      out.push_back(notice("▶️ <b>Cooldown over</b>: automatic repairs are allowed again.", id, false));
      break;
    }
    case pb::RepairEvent::PAUSED:
    case pb::RepairEvent::RESUMED: {
      const bool pausing = e.kind() == pb::RepairEvent::PAUSED;
      set_paused(pausing);
      const std::string state = pausing ? "paused" : "resumed";
      if (notices_.pause_noticed() == state) break;
      notices_.set_pause_noticed(state);
      changes_.misc = true;
      // Someone who used the bot already got its answer; the chat hears about gwrctl and the like.
      if (starts_with(e.actor(), "telegram:")) break;
      std::string text;
      if (!pausing && e.actor() == "timer") {
        // A timed pause ran out: nobody asked, so the chat must hear it.
        text = "▶️ <b>Auto-repair resumed</b>: " + esc(e.details(), 300);
      } else {
        text = pausing ? "⏸ <b>Auto-repair paused</b> by " : "▶️ <b>Auto-repair resumed</b> by ";
        text += esc(actor_label(e.actor()), 80);
        if (pausing && !e.details().empty()) text += ": " + esc(e.details(), 300);
        if (pausing && e.cooldown_until_ms() > 0) text += "\nIt resumes by itself at " + clock_time(e.cooldown_until_ms(), now_ms) + ".";
      }
      out.push_back(notice(text, id, true));
      break;
    }
    case pb::RepairEvent::DEFERRED: {
      // Said again only when why it waits, or what it waits to fix, changes
      // (or as a reminder).
      std::string key = defer_reason_key(e.defer_reason());
      for (const auto& f : e.findings()) key += "|" + finding_key(f);
      if (key == notices_.deferred_noticed() && now_ms - notices_.deferred_noticed_at() < settings_.reminder_interval_ms) break;
      notices_.set_deferred_noticed(key);
      notices_.set_deferred_noticed_at(now_ms);
      changes_.misc = true;
      const std::string found = describe_all(e.findings(), true);
      std::string text;
      if (e.defer_reason() == pb::DEFER_STOPPED_BY_OWNER) {
        // Not an incident: one message, with a way to start it.
        int64_t since = 0;
        for (const auto& f : e.findings()) {
          if (f.kind() == pb::Finding::STOPPED_BY_SERVICE) since = f.since_ms();
        }
        text = "⏹ <b>Gateway stopped by its service manager</b>" +
               (since > 0 ? " at " + clock_time(since, now_ms) : std::string()) + "; not restarting.\n";
        if (!found.empty()) text += esc(found, 400) + "\n";
        text += "Tap ▶ Start gateway or send /repair to start it.";
        Outgoing o = notice(text, id, false);
        o.keyboard = start_gateway_keyboard(notices_.paused());
        out.push_back(std::move(o));
        break;
      }
      if (e.defer_reason() == pb::DEFER_PAUSED) {
        text = "⏸ <b>The gateway needs a repair, but auto-repair is paused</b>\n";
        if (!found.empty()) text += esc(found, 400) + "\n";
        text += "Send /resume, or tap 🔄 Repair Now.";
      } else {
        const std::string what = e.details().empty() ? defer_reason_text(e.defer_reason()) : e.details();
        text = "⌛ <b>Repair deferred</b>: " + esc(what, 400);
        if (e.cooldown_until_ms() > now_ms) text += " (at most until " + clock_time(e.cooldown_until_ms(), now_ms) + ")";
        if (!found.empty()) text += "\nReason: " + esc(found, 400);
      }
      out.push_back(notice(text, id, true));
      break;
    }
    default:
      break;  // RATE_LIMITED is followed by COOLDOWN_ENTERED, which says it better
  }
  return out;
}

std::vector<Outgoing> NotificationPlanner::on_health(const pb::GatewayHealth& h, int64_t now_ms) {
  std::vector<Outgoing> out;
  if (h.state() != pb::DEGRADED && h.state() != pb::HEALTHY) return out;  // down/starting: the repair speaks
  bool inconclusive = false;
  struct Present {
    std::string key;
    std::string text;
    bool severe;  // calls for red, not yellow
  };
  std::vector<Present> present;
  bool severe = false;  // a fresh one is severe
  for (const auto& f : h.findings()) {
    if (f.kind() == pb::Finding::CONFIRMING) {
      inconclusive = true;  // a check is being re-probed: not a reason to clear anything
      continue;
    }
    if (h.state() != pb::DEGRADED) continue;
    const std::string key = finding_identity(f);
    if (std::none_of(present.begin(), present.end(), [&](const auto& p) { return p.key == key; })) {
      present.push_back({key, describe(f), finding_is_severe(f)});
    }
  }
  std::vector<std::string> fresh;
  std::vector<const Warning*> reminders;
  for (const auto& [key, text, is_severe] : present) {
    auto it = warnings_.find(key);
    if (it == warnings_.end()) {
      Warning w{key, text, now_ms, now_ms, 0};
      it = warnings_.emplace(key, w).first;
      fresh.push_back(text);
      severe |= is_severe;
      changed(it->second);
      continue;
    }
    Warning& w = it->second;
    w.text = text;
    if (w.absent_since_ms != 0) {
      w.absent_since_ms = 0;
      changed(w);
    }
    if (now_ms - w.last_sent_ms >= settings_.reminder_interval_ms) {
      w.last_sent_ms = now_ms;
      reminders.push_back(&w);
      changed(w);
    }
  }
  if (!inconclusive) {
    for (auto& [key, w] : warnings_) {
      // Captured through a name of its own: clang before 16 (Xcode 14) cannot capture a structured binding.
      const bool here = std::any_of(present.begin(), present.end(), [&k = key](const auto& p) { return p.key == k; });
      if (!here && w.absent_since_ms == 0) {
        w.absent_since_ms = now_ms;
        changed(w);
      }
    }
  }
  auto gateway_line = [&] {
    if (!h.pid()) return std::string();
    return "\nGateway pid " + std::to_string(h.pid()) + " · memory " + megabytes_text(h.rss_bytes(), 1) + " RSS";
  };
  if (!fresh.empty()) {
    std::string text = severe ? "🔴 <b>Channels off</b>: " : "🟡 <b>Warning</b>: ";
    if (fresh.size() == 1) {
      text += esc(fresh[0]);
    } else {
      for (const auto& f : fresh) text += "\n• " + esc(f);
    }
    Outgoing o = notice(text + gateway_line(), 0, true);
    if (severe && settings_.channel_start) {
      std::vector<std::string> held;
      for (const auto& f : h.findings()) {
        if (f.kind() == pb::Finding::CHANNEL_SUPPRESSED) held.push_back(f.subject());
      }
      o.keyboard = channel_start_keyboard(held, notices_.paused());
    }
    out.push_back(std::move(o));
  }
  if (!reminders.empty()) {
    std::string text = "🟡 <b>Still</b>: ";
    for (size_t i = 0; i < reminders.size(); ++i) {
      text += (reminders.size() > 1 ? "\n• " : "") + esc(reminders[i]->text) + " (since " +
              clock_time(reminders[i]->first_seen_ms, now_ms) + ")";
    }
    out.push_back(notice(text + gateway_line(), 0, true));
  }
  clear_gone_warnings(now_ms, out);
  return out;
}

void NotificationPlanner::clear_gone_warnings(int64_t now_ms, std::vector<Outgoing>& out) {
  std::vector<std::string> cleared;
  for (auto it = warnings_.begin(); it != warnings_.end();) {
    const Warning& w = it->second;
    if (w.absent_since_ms != 0 && now_ms - w.absent_since_ms >= settings_.warning_clear_after_ms) {
      cleared.push_back(w.text);
      changes_.warnings_removed.push_back(w.key);
      changes_.warnings.erase(std::remove_if(changes_.warnings.begin(), changes_.warnings.end(),
                                             [&](const Warning& x) { return x.key == w.key; }),
                              changes_.warnings.end());
      it = warnings_.erase(it);
    } else {
      ++it;
    }
  }
  if (cleared.empty()) return;
  std::string text = "✅ <b>Warning cleared</b>: ";
  if (cleared.size() == 1) {
    text += esc(cleared[0]);
  } else {
    for (const auto& c : cleared) text += "\n• " + esc(c);
  }
  out.push_back(notice(text, 0, false));
}

std::vector<Outgoing> NotificationPlanner::on_tick(int64_t now_ms) {
  std::vector<Outgoing> out;
  for (auto it = incidents_.begin(); it != incidents_.end();) {
    Incident& inc = it->second;
    if (inc.outcome() == Incident::RUNNING && inc.edit_pending() &&
        now_ms - inc.last_edit_ms() >= settings_.edit_interval_ms) {
      queue_edit(inc, now_ms, out);
    }
    if (inc.escalate_at_ms() != 0 && now_ms >= inc.escalate_at_ms() && !inc.reply_sent()) queue_escalation(inc, out);
    const bool finished = inc.outcome() != Incident::RUNNING && inc.reply_sent();
    const int64_t last = finished ? inc.finished_at_ms() : inc.last_edit_ms();
    if (now_ms - last > settings_.incident_retention_ms && inc.escalate_at_ms() == 0) {
      changes_.incidents_forgotten.push_back(it->first);
      changes_.incidents.erase(std::remove_if(changes_.incidents.begin(), changes_.incidents.end(),
                                              [&](const auto& p) { return p.first == it->first; }),
                               changes_.incidents.end());
      it = incidents_.erase(it);
      continue;
    }
    ++it;
  }
  clear_gone_warnings(now_ms, out);
  return out;
}

int64_t NotificationPlanner::next_due_ms() const {
  int64_t due = std::numeric_limits<int64_t>::max();
  for (const auto& [key, inc] : incidents_) {
    if (inc.outcome() == Incident::RUNNING && inc.edit_pending()) {
      due = std::min(due, inc.last_edit_ms() + settings_.edit_interval_ms);
    }
    if (inc.escalate_at_ms() != 0 && !inc.reply_sent()) due = std::min(due, inc.escalate_at_ms());
  }
  for (const auto& [key, w] : warnings_) {
    if (w.absent_since_ms != 0) due = std::min(due, w.absent_since_ms + settings_.warning_clear_after_ms);
  }
  return due;
}

}  // namespace gwr::telegram
