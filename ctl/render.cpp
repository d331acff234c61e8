#include "ctl/render.h"

#include <cctype>
#include <ctime>
#include <iomanip>
#include <sstream>

#include "common/duration.h"
#include "common/log.h"
#include "common/pb_json.h"
#include "common/strings.h"

namespace gwr::ctl {

namespace {

std::string pad(const std::string& s, size_t width) {
  if (s.size() >= width) return s + " ";
  return s + std::string(width - s.size(), ' ');
}

std::string trigger_name(pb::RepairTrigger t) {
  switch (t) {
    case pb::TRIGGER_AUTO: return "auto";
    case pb::TRIGGER_MANUAL: return "manual";
    default: return "?";
  }
}

std::string iso_or_null_text(int64_t ms) { return ms > 0 ? log::iso_time(ms) : std::string(); }

}  // namespace

std::string clock_time(int64_t wall_ms, int64_t now_ms) {
  if (wall_ms <= 0) return "-";
  const std::time_t t = static_cast<std::time_t>(wall_ms / 1000);
  const std::time_t n = static_cast<std::time_t>(now_ms / 1000);
  std::tm tm{}, ntm{};
  localtime_r(&t, &tm);
  localtime_r(&n, &ntm);
  char buf[32];
  if (tm.tm_yday == ntm.tm_yday && tm.tm_year == ntm.tm_year) {
    std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  } else {
    std::strftime(buf, sizeof buf, "%m-%d %H:%M", &tm);
  }
  return buf;
}

nlohmann::json status_json(const StatusParts& parts) {
  nlohmann::json out;
  nlohmann::json gw;
  if (parts.probe) {
    const auto& h = parts.probe->health();
    gw["state"] = gateway_state_name(h.state());
    gw["pid"] = h.pid() ? nlohmann::json(h.pid()) : nlohmann::json(nullptr);
    gw["rss_mb"] = h.pid() ? nlohmann::json(static_cast<double>(h.rss_bytes()) / (1024.0 * 1024.0))
                           : nlohmann::json(nullptr);
    gw["children_rss_mb"] = static_cast<double>(h.children_rss_bytes()) / (1024.0 * 1024.0);
    gw["rss_growth_mb_per_hour"] = h.rss_growth_bytes_per_hour() != 0
                                       ? nlohmann::json(h.rss_growth_bytes_per_hour() / (1024.0 * 1024.0))
                                       : nlohmann::json(nullptr);
    gw["rss_limit_eta_ms"] = h.rss_limit_eta_ms() ? nlohmann::json(h.rss_limit_eta_ms()) : nlohmann::json(nullptr);
    gw["uptime_s"] = h.pid() ? nlohmann::json(h.uptime_ms() / 1000) : nlohmann::json(nullptr);
    nlohmann::json reasons = nlohmann::json::array();
    for (const auto& f : h.findings()) reasons.push_back(describe(f));
    gw["reasons"] = reasons;
    gw["findings"] = findings_json(h.findings());
    gw["recommended_tier"] = h.recommended_tier();
    // The owner stopped it through its service manager (the repairer's
    // judgement: a stop inside gwr's own repair is not the owner's).
    gw["stopped_by_owner"] = parts.repair ? nlohmann::json(parts.repair->stopped_by_owner()) : nlohmann::json(nullptr);
    gw["observed_at"] = iso_or_null_text(h.observed_at_ms());
    gw["state_since"] = iso_or_null_text(h.state_since_ms());
    gw["cpu_percent"] = h.cpu_percent();
    gw["connections"] = h.connections();
    nlohmann::json checks = nlohmann::json::array();
    for (const auto& c : h.checks()) {
      checks.push_back({{"name", check_kind_name(c.kind())},
                        {"ok", c.ok()},
                        {"probed", c.probed()},
                        {"latency_ms", static_cast<double>(c.latency_us()) / 1000.0},
                        {"detail", c.detail()},
                        {"consecutive_failures", c.consecutive_failures()},
                        {"at", iso_or_null_text(c.at_ms())}});
    }
    gw["checks"] = checks;
  } else {
    gw["state"] = "unknown";
    gw["pid"] = nullptr;
    gw["rss_mb"] = nullptr;
    gw["error"] = parts.probe_error;
  }
  out["gateway"] = gw;

  nlohmann::json rep;
  if (parts.repair) {
    const auto& r = *parts.repair;
    rep["paused"] = r.paused();
    rep["paused_by"] = r.paused_by();
    rep["paused_until"] = r.paused() && r.paused_until_ms() > 0 ? nlohmann::json(log::iso_time(r.paused_until_ms())) : nlohmann::json(nullptr);
    rep["in_window"] = r.in_window();
    rep["window_ends"] = r.in_window() ? nlohmann::json(log::iso_time(r.window_ends_ms())) : nlohmann::json(nullptr);
    rep["in_progress"] = r.in_progress();
    rep["current_repair_id"] = r.in_progress() ? nlohmann::json(r.current_repair_id()) : nlohmann::json(nullptr);
    rep["current_tier"] = r.current_tier();
    rep["cooldown_until"] =
        r.cooldown_until_ms() > parts.now_ms ? nlohmann::json(log::iso_time(r.cooldown_until_ms())) : nlohmann::json(nullptr);
    rep["repairs_last_hour"] = r.repairs_last_hour();
    rep["max_per_hour"] = r.max_per_hour();
    rep["consecutive_failures"] = r.consecutive_failures();
    rep["waiting"] = r.waiting() != pb::DEFER_REASON_UNSPECIFIED
                         ? nlohmann::json(defer_reason_key(r.waiting())) : nlohmann::json(nullptr);
    rep["waiting_until"] = iso_or_null_text(r.waiting_until_ms());
    rep["state_unsaved"] = r.state_unsaved();
    rep["state_error"] = r.state_error();
    if (r.has_last_repair()) rep["last_repair"] = repair_json(r.last_repair());
  } else {
    rep["paused"] = nullptr;
    rep["paused_until"] = nullptr;
    rep["in_window"] = nullptr;
    rep["in_progress"] = nullptr;
    rep["cooldown_until"] = nullptr;
    rep["repairs_last_hour"] = nullptr;
    rep["error"] = parts.repair_error;
  }
  out["repair"] = rep;

  nlohmann::json comps = nlohmann::json::array();
  for (const auto& c : parts.components.components()) {
    comps.push_back({{"name", c.name()},
                     {"pid", c.pid()},
                     {"state", component_state_name(c.state())},
                     {"restarts", c.restarts()},
                     {"uptime_s", c.uptime_ms() / 1000},
                     {"last_heartbeat_age_ms", c.last_heartbeat_age_ms()},
                     {"activity", c.activity()},
                     {"last_exit", c.last_exit()},
                     {"decode_errors", c.decode_errors()},
                     {"control_errors", c.control_errors()}});
  }
  out["components"] = comps;
  if (parts.notify) {
    nlohmann::json channels = nlohmann::json::array();
    for (const auto& c : parts.notify->channels()) {
      channels.push_back({{"name", c.name()},
                          {"state", channel_state_name(c.state())},
                          {"detail", c.detail()},
                          {"queued", c.queued()},
                          {"last_sent_ms", c.last_sent_ms()},
                          {"retry_at_ms", c.retry_at_ms()},
                          {"sent", c.sent()},
                          {"dropped", c.dropped()}});
    }
    out["notifications"] = channels;
  }
  out["config"] = {{"version", parts.components.config_version()}, {"source", parts.components.config_source()}};
  return out;
}

std::string status_text(const StatusParts& parts) {
  std::ostringstream out;
  const std::string label = parts.gateway_name.empty() ? "" : parts.gateway_name + ": ";
  if (parts.probe) {
    const auto& h = parts.probe->health();
    std::string state = gateway_state_name(h.state());
    for (auto& c : state) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    out << "Gateway    " << label << state;
    if (parts.repair && parts.repair->stopped_by_owner()) out << ", stopped (by owner)";
    if (h.state_since_ms() > 0) out << " for " << human_duration(parts.now_ms - h.state_since_ms());
    if (!h.findings().empty()) out << " - " << describe_all(h.findings());
    out << "\n";
    if (h.pid()) {
      out << "           pid " << h.pid() << ", up " << human_duration(h.uptime_ms()) << ", rss " << megabytes_text(h.rss_bytes(), 1);
      if (h.children_rss_bytes()) out << " (+" << megabytes_text(h.children_rss_bytes(), 1) << " children)";
      if (h.rss_growth_bytes_per_hour() != 0) {
        out << ", " << megabytes_per_hour_text(h.rss_growth_bytes_per_hour());
        if (h.rss_limit_eta_ms() > parts.now_ms) {
          out << " (threshold in ~" << human_duration(h.rss_limit_eta_ms() - parts.now_ms) << ")";
        }
      }
      out << "\n";
    } else {
      out << "           no gateway process\n";
    }
    out << "           checks:";
    for (const auto& c : h.checks()) {
      out << " " << check_kind_name(c.kind()) << "=";
      if (!c.probed()) {
        out << "pending";
      } else if (c.ok()) {
        out << "ok";
        if (c.kind() == pb::CHECK_HEALTH || c.kind() == pb::CHECK_PORT) out << "(" << human_duration(c.latency_us() / 1000) << ")";
      } else {
        out << "FAIL(" << c.detail() << (c.consecutive_failures() > 1 ? ", x" + std::to_string(c.consecutive_failures()) : "")
            << ")";
      }
    }
    out << "\n";
    if (h.recommended_tier()) out << "           recommended repair: tier " << h.recommended_tier() << "\n";
  } else {
    out << "Gateway    " << label << "unknown (prober: " << parts.probe_error << ")\n";
  }
  if (parts.repair) {
    const auto& r = *parts.repair;
    out << "Repair     auto-repair " << (r.paused() ? "PAUSED" : "on");
    if (r.paused() && !r.paused_by().empty()) out << " by " << r.paused_by();
    if (r.paused() && r.paused_until_ms() > parts.now_ms) {
      out << " until " << clock_time(r.paused_until_ms(), parts.now_ms) << " ("
          << human_duration(r.paused_until_ms() - parts.now_ms) << " left)";
    }
    out << ", " << r.repairs_last_hour() << "/" << r.max_per_hour() << " repairs in the last hour";
    if (r.cooldown_until_ms() > parts.now_ms) {
      out << ", COOLDOWN until " << clock_time(r.cooldown_until_ms(), parts.now_ms) << " ("
          << human_duration(r.cooldown_until_ms() - parts.now_ms) << " left)";
    }
    out << "\n";
    if (r.state_unsaved()) {
      out << "           AUTOMATIC REPAIRS STOPPED: the repair state cannot be saved (" << r.state_error()
          << "); manual repairs still run\n";
    }
    if (r.in_progress()) out << "           repair #" << r.current_repair_id() << " in progress, tier " << r.current_tier() << "\n";
    if (r.stopped_by_owner()) {
      out << "           stopped by its owner (" << r.stopped_by() << ") at " << clock_time(r.stopped_at_ms(), parts.now_ms)
          << ": not restarting; `gwrctl repair` starts it\n";
    }
    if (r.in_window()) {
      out << "           inside a maintenance window until " << clock_time(r.window_ends_ms(), parts.now_ms)
          << ": automatic repairs wait\n";
    }
    if (r.waiting() != pb::DEFER_REASON_UNSPECIFIED) {
      out << "           waiting: " << defer_reason_text(r.waiting());
      if (r.waiting_until_ms()) out << " (at most until " << clock_time(r.waiting_until_ms(), parts.now_ms) << ")";
      out << "\n";
    }
    if (r.has_last_repair() && r.last_repair().id() != 0) {
      const auto& l = r.last_repair();
      out << "           last: #" << l.id() << " " << repair_status_name(l.status());
      if (l.fixed_by_tier()) out << " by tier " << l.fixed_by_tier();
      out << " in " << human_duration(l.duration_ms()) << ", " << clock_time(l.started_at_ms(), parts.now_ms) << "\n";
    }
  } else {
    out << "Repair     unknown (repairer: " << parts.repair_error << ")\n";
  }
  if (!parts.show_shared) return out.str();
  if (parts.notify && parts.notify->channels_size() > 0) {
    out << "Notify    ";
    bool first = true;
    for (const auto& c : parts.notify->channels()) {
      out << (first ? " " : "           ") << pad(c.name(), 10) << channel_state_name(c.state());
      if (c.state() == pb::ChannelStatus::RETRYING || c.state() == pb::ChannelStatus::REJECTED) {
        if (!c.detail().empty()) out << ": " << c.detail();
        if (c.retry_at_ms() > parts.now_ms) out << ", next try in " << human_duration(c.retry_at_ms() - parts.now_ms);
      }
      if (c.queued() > 0) out << " (" << c.queued() << " queued)";
      if (c.last_sent_ms() > 0) out << ", last sent " << clock_time(c.last_sent_ms(), parts.now_ms);
      out << "\n";
      first = false;
    }
  }
  out << "Components\n";
  out << "  " << pad("NAME", 16) << pad("PID", 8) << pad("STATE", 10) << pad("RESTARTS", 9) << pad("UPTIME", 9)
      << "ACTIVITY\n";
  for (const auto& c : parts.components.components()) {
    out << "  " << pad(c.name(), 16) << pad(c.pid() ? std::to_string(c.pid()) : "-", 8) << pad(component_state_name(c.state()), 10)
        << pad(std::to_string(c.restarts()), 9) << pad(c.uptime_ms() ? human_duration(c.uptime_ms()) : "-", 9)
        << c.activity();
    if (!c.last_exit().empty() && c.restarts() > 0) out << " [last exit: " << c.last_exit() << "]";
    out << "\n";
  }
  // Messages a component could not read are a fault of gwr itself: say so.
  for (const auto& c : parts.components.components()) {
    if (c.decode_errors() == 0 && c.control_errors() == 0) continue;
    out << "  ! " << c.name() << " could not decode " << c.decode_errors() << " bus message(s) and "
        << c.control_errors() << " control request(s) (see bus_message_dropped in its log)\n";
  }
  return out.str();
}

nlohmann::json repair_json(const pb::RepairSummary& r) {
  nlohmann::json j = to_json(r);
  j["trigger"] = trigger_name(r.trigger());
  j["status"] = repair_status_name(r.status());
  j["reason"] = reason_text(r.reason(), r.findings());
  j["findings"] = findings_json(r.findings());
  j["started_at"] = iso_or_null_text(r.started_at_ms());
  j["finished_at"] = iso_or_null_text(r.finished_at_ms());
  return j;
}

std::string step_text(const pb::RepairStep& s) {
  std::ostringstream out;
  out << "tier " << s.tier() << " " << pad(s.name(), 18) << (s.ok() ? "ok   " : "FAIL ") << pad(human_duration(s.duration_ms()), 8);
  if (!s.detail().empty()) out << s.detail();
  return out.str();
}

std::string repair_text(const pb::RepairSummary& r, int64_t now_ms) {
  std::ostringstream out;
  out << "Repair #" << r.id() << " (" << trigger_name(r.trigger());
  if (!r.actor().empty() && r.actor() != trigger_name(r.trigger())) out << ", by " << r.actor();
  out << "): " << repair_status_name(r.status());
  if (r.fixed_by_tier()) out << ", fixed by tier " << r.fixed_by_tier();
  if (r.finished_at_ms()) out << " in " << human_duration(r.duration_ms());
  out << "\n  started " << clock_time(r.started_at_ms(), now_ms) << ", reason: " << reason_text(r.reason(), r.findings()) << "\n";
  for (const auto& s : r.steps()) out << "  " << step_text(s) << "\n";
  if (!r.details().empty()) out << "  " << r.details() << "\n";
  return out.str();
}

nlohmann::json history_json(const pb::HistoryReply& history) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& r : history.repairs()) arr.push_back(repair_json(r));
  return {{"repairs", arr}};
}

std::string history_text(const pb::HistoryReply& history, int64_t now_ms) {
  std::ostringstream out;
  if (history.repairs().empty()) return "No repairs recorded.\n";
  out << pad("ID", 6) << pad("STARTED", 13) << pad("TRIGGER", 9) << pad("STATUS", 12) << pad("TIER", 6) << pad("TOOK", 9)
      << "REASON\n";
  for (const auto& r : history.repairs()) {
    out << pad(std::to_string(r.id()), 6) << pad(clock_time(r.started_at_ms(), now_ms), 13)
        << pad(trigger_name(r.trigger()), 9) << pad(repair_status_name(r.status()), 12)
        << pad(r.fixed_by_tier() ? std::to_string(r.fixed_by_tier()) : "-", 6)
        << pad(r.finished_at_ms() ? human_duration(r.duration_ms()) : "-", 9) << reason_text(r.reason(), r.findings())
        << "\n";
  }
  return out.str();
}

nlohmann::json stats_json(const pb::StatsReply& stats) { return to_json(stats); }

std::string stats_text(const pb::StatsReply& stats) {
  std::ostringstream out;
  for (const auto& w : stats.windows()) {
    out << "Last " << w.name() << ": " << w.repairs() << " repairs, " << w.succeeded() << " succeeded, " << w.failed()
        << " failed";
    if (w.repairs()) {
      out << " (" << std::fixed << std::setprecision(1) << w.success_rate() * 100.0 << "% success, avg "
          << human_duration(w.avg_duration_ms()) << ")";
    }
    out << ", " << w.escalations() << " escalations, " << w.manual() << " manual\n";
    for (const auto& t : w.tiers()) {
      if (!t.attempts()) continue;
      out << "  tier " << t.tier() << ": " << t.attempts() << " attempts, " << t.fixes() << " fixes, avg "
          << human_duration(t.avg_duration_ms()) << "\n";
    }
  }
  if (!stats.learned().empty()) {
    out << "Learned patterns\n";
    for (const auto& l : stats.learned()) {
      out << "  " << l.signature() << ": seen " << l.seen() << "x, best tier " << l.best_tier();
      if (l.tier1_failures()) out << ", tier 1 failed " << l.tier1_failures() << "x";
      if (l.has_plan()) out << ", learned plan (" << l.plan_successes() << " successes)";
      if (!l.description().empty()) out << " - " << l.description();
      out << "\n";
    }
  }
  return out.str();
}

nlohmann::json logs_json(const pb::LogsReply& logs) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& e : logs.events()) {
    nlohmann::json j = to_json(e);
    j["kind"] = to_lower(pb::RepairEvent::Kind_Name(e.kind()));
    j["trigger"] = trigger_name(e.trigger());
    j["at"] = iso_or_null_text(e.at_ms());
    arr.push_back(j);
  }
  return {{"events", arr}};
}

std::string repair_event_text(const pb::RepairEvent& e) {
  std::ostringstream out;
  out << to_lower(pb::RepairEvent::Kind_Name(e.kind()));
  if (e.repair_id()) out << " #" << e.repair_id();
  if (e.tier()) out << " tier " << e.tier();
  if (e.kind() == pb::RepairEvent::STEP) {
    out << " " << e.step().name() << " " << (e.step().ok() ? "ok" : "FAIL") << " (" << human_duration(e.step().duration_ms())
        << ")";
    if (!e.step().detail().empty()) out << " " << e.step().detail();
  }
  if (e.kind() == pb::RepairEvent::FINISHED) {
    out << (e.success() ? " success" : " failure") << " in " << human_duration(e.duration_ms());
  }
  if (!e.reason().empty() && e.kind() != pb::RepairEvent::STEP) out << " - " << e.reason();
  if (!e.details().empty() && e.kind() != pb::RepairEvent::STEP) out << " - " << e.details();
  return out.str();
}

std::string logs_text(const pb::LogsReply& logs) {
  std::ostringstream out;
  if (logs.events().empty()) return "No repair events recorded.\n";
  const int64_t now = logs.events().empty() ? 0 : logs.events(logs.events_size() - 1).at_ms();
  for (const auto& e : logs.events()) out << clock_time(e.at_ms(), now) << "  " << repair_event_text(e) << "\n";
  return out.str();
}

nlohmann::json status_json(const std::vector<StatusParts>& parts) {
  if (parts.empty()) return nlohmann::json::object();
  // The shared sections from the last part; "gateway" and "repair" stay the
  // first gateway's (what a one-gateway reader expects), "gateways" has all.
  nlohmann::json out = status_json(parts.back());
  nlohmann::json all = nlohmann::json::array();
  for (const auto& p : parts) {
    const nlohmann::json one = status_json(p);
    all.push_back({{"name", p.gateway_name}, {"gateway", one["gateway"]}, {"repair", one["repair"]}});
  }
  out["gateway"] = all[0]["gateway"];
  out["repair"] = all[0]["repair"];
  out["gateways"] = all;
  return out;
}

std::string status_text(const std::vector<StatusParts>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += "\n";
    out += status_text(parts[i]);
  }
  return out;
}

}  // namespace gwr::ctl
