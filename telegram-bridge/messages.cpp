#include "telegram-bridge/messages.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

#include "common/config.h"
#include "common/findings.h"
#include "common/strings.h"
#include "telegram-bridge/html_text.h"

namespace gwr::telegram {

namespace {

using json = nlohmann::json;

// Escaped and bounded: dynamic text never dominates a message.
std::string esc(std::string_view text, size_t max_units = 600) { return html_escape(clip(text, max_units)); }

std::string percent(double fraction) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.0f%%", fraction * 100.0);
  return buf;
}

std::tm local_tm(int64_t wall_ms) {
  const auto t = static_cast<std::time_t>(wall_ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm;
}

json button_json(const char* text, const char* data) { return {{"text", text}, {"callback_data", data}}; }

std::string trigger_word(pb::RepairTrigger t) { return t == pb::TRIGGER_MANUAL ? "manual" : "auto"; }

}  // namespace

json main_keyboard(bool paused) {
  json rows = json::array();
  rows.push_back(json::array({button_json("🔄 Repair Now", button::kRepair), button_json("📋 View Logs", button::kLogs)}));
  rows.push_back(json::array({paused ? button_json("▶ Resume", button::kResume) : button_json("⏸ Pause", button::kPause),
                              button_json("📊 Stats", button::kStats)}));
  return {{"inline_keyboard", rows}};
}

json channel_start_keyboard(const std::vector<std::string>& channels, bool paused) {
  json keyboard = main_keyboard(paused);
  json row = json::array();
  for (const auto& c : channels) {
    if (!is_channel_id(c) || row.size() >= 4) continue;
    const std::string data = std::string(button::kChannelStartPrefix) + c;
    row.push_back({{"text", "▶ Start " + c}, {"callback_data", data}});
  }
  if (!row.empty()) keyboard["inline_keyboard"].insert(keyboard["inline_keyboard"].begin(), row);
  return keyboard;
}

json pause_menu_keyboard() {
  json row = json::array({{{"text", "15 min"}, {"callback_data", std::string(button::kPauseForPrefix) + "15m"}},
                          {{"text", "1 h"}, {"callback_data", std::string(button::kPauseForPrefix) + "1h"}},
                          {{"text", "until resumed"}, {"callback_data", button::kPauseForPrefix}}});
  return {{"inline_keyboard", json::array({row})}};
}

json start_gateway_keyboard(bool paused) {
  json keyboard = main_keyboard(paused);
  keyboard["inline_keyboard"].insert(keyboard["inline_keyboard"].begin(),
                                     json::array({button_json("▶ Start gateway", button::kStartGateway)}));
  return keyboard;
}

json confirm_keyboard() {
  json row = json::array({button_json("✅ Repair now", button::kRepairConfirm), button_json("✖ Cancel", button::kRepairCancel)});
  return {{"inline_keyboard", json::array({row})}};
}

std::string state_emoji(pb::GatewayState state) {
  switch (state) {
    case pb::HEALTHY: return "🟢";
    case pb::STARTING: return "🔵";
    case pb::DEGRADED: return "🟡";
    case pb::DOWN: return "🔴";
    default: return "⚪";
  }
}

std::string clock_time(int64_t wall_ms, int64_t now_ms) {
  if (wall_ms <= 0) return "-";
  const std::tm tm = local_tm(wall_ms);
  const std::tm now = local_tm(now_ms);
  char buf[32];
  if (tm.tm_yday == now.tm_yday && tm.tm_year == now.tm_year) {
    std::strftime(buf, sizeof buf, "%H:%M", &tm);
  } else {
    std::strftime(buf, sizeof buf, "%b %d %H:%M", &tm);
  }
  return buf;
}

std::string clock_time_seconds(int64_t wall_ms) {
  if (wall_ms <= 0) return "--:--:--";
  const std::tm tm = local_tm(wall_ms);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

std::string actor_label(std::string_view actor) {
  constexpr std::string_view prefix = "telegram:";
  if (actor.substr(0, prefix.size()) == prefix) return "Telegram user " + std::string(actor.substr(prefix.size()));
  if (actor.empty()) return "someone";
  return std::string(actor);
}

nlohmann::json for_gateway(nlohmann::json keyboard, const std::string& gateway) {
  if (gateway.empty() || !keyboard.is_object() || !keyboard.contains("inline_keyboard")) return keyboard;
  for (auto& row : keyboard["inline_keyboard"]) {
    for (auto& b : row) {
      if (b.contains("callback_data") && b["callback_data"].is_string()) {
        const std::string data = b["callback_data"].get<std::string>();
        if (split_button(data).second.empty()) b["callback_data"] = data + "@" + gateway;
      }
    }
  }
  return keyboard;
}

void name_gateway(Outgoing& message, const std::string& gateway) {
  message.text = "🖥 <b>" + esc(gateway, 32) + "</b> · " + message.text;
  message.keyboard = for_gateway(std::move(message.keyboard), gateway);
}

std::pair<std::string, std::string> split_button(const std::string& data) {
  const auto at = data.rfind('@');
  if (at == std::string::npos) return {data, ""};
  return {data.substr(0, at), data.substr(at + 1)};
}

nlohmann::json gateway_choice_keyboard(const std::string& action, const std::vector<std::string>& gateways) {
  nlohmann::json rows = nlohmann::json::array();
  nlohmann::json row = nlohmann::json::array();
  for (const auto& g : gateways) {
    row.push_back({{"text", g}, {"callback_data", action + "@" + g}});
    if (row.size() == 3) {
      rows.push_back(row);
      row = nlohmann::json::array();
    }
  }
  if (!row.empty()) rows.push_back(row);
  return {{"inline_keyboard", rows}};
}

std::string render_status(const StatusView& v) {
  std::string out;
  const std::string title = v.gateway.empty() ? "Gateway" : "Gateway " + esc(v.gateway, 32);
  if (!v.node_line.empty()) out += esc(v.node_line, 200) + "\n";
  if (v.probe) {
    const auto& h = v.probe->health();
    out += state_emoji(h.state()) + " <b>" + title + " " + gateway_state_name(h.state()) + "</b>";
    if (h.state_since_ms() > 0) out += " for " + human_duration(v.now_ms - h.state_since_ms());
    out += "\n";
    if (h.pid()) {
      out += "pid <code>" + std::to_string(h.pid()) + "</code> · up " + human_duration(h.uptime_ms()) + " · memory " +
             megabytes_text(h.rss_bytes(), 1) + " RSS";
      if (h.children_rss_bytes()) out += " (+" + megabytes_text(h.children_rss_bytes(), 1) + " children)";
      out += "\n";
    } else {
      out += "no gateway process\n";
    }
    if (h.observed_at_ms() > 0) {
      out += "Last check: " + clock_time_seconds(h.observed_at_ms()) + " (" +
             human_duration(v.now_ms - h.observed_at_ms()) + " ago)\n";
    } else {
      out += "Last check: not yet\n";
    }
    for (int i = 0; i < h.findings_size() && i < 5; ++i) out += "• " + esc(describe(h.findings(i)), 300) + "\n";
  } else {
    out += "⚪ <b>" + title + " state unknown</b>\nprober unavailable: " + esc(v.probe_error, 200) + "\n";
  }
  out += "\n";
  if (v.repair) {
    const auto& r = *v.repair;
    if (r.paused()) {
      out += "Auto-repair: ⏸ <b>paused</b>";
      if (!r.paused_by().empty()) out += " by " + esc(actor_label(r.paused_by()), 100);
      if (r.paused_at_ms() > 0) out += " since " + clock_time(r.paused_at_ms(), v.now_ms);
      if (r.paused_until_ms() > v.now_ms) {
        out += ", until " + clock_time(r.paused_until_ms(), v.now_ms) + " (" + human_duration(r.paused_until_ms() - v.now_ms) +
               " left)";
      }
    } else {
      out += "Auto-repair: ▶ on";
    }
    out += "\nRepairs in the last hour: " + std::to_string(r.repairs_last_hour()) + "/" + std::to_string(r.max_per_hour()) +
           "\n";
    if (r.cooldown_until_ms() > v.now_ms) {
      out += "⏳ Cooldown until " + clock_time(r.cooldown_until_ms(), v.now_ms) + " (" +
             human_duration(r.cooldown_until_ms() - v.now_ms) + " left)\n";
    }
    if (r.stopped_by_owner()) {
      out += "⏹ Stopped by its owner (" + esc(r.stopped_by(), 60) + ") at " + clock_time(r.stopped_at_ms(), v.now_ms) +
             ": not restarting; /repair starts it\n";
    }
    if (r.in_window()) {
      out += "🛠 Maintenance window until " + clock_time(r.window_ends_ms(), v.now_ms) + ": automatic repairs wait\n";
    }
    if (r.in_progress()) {
      out += "🔧 Repair #" + std::to_string(r.current_repair_id()) + " in progress (tier " +
             std::to_string(r.current_tier()) + ")\n";
    }
    if (r.waiting() != pb::DEFER_REASON_UNSPECIFIED) {
      out += "⌛ Waiting: " + esc(defer_reason_text(r.waiting()), 200);
      if (r.waiting_until_ms() > 0) out += " (at most until " + clock_time(r.waiting_until_ms(), v.now_ms) + ")";
      out += "\n";
    }
    if (r.has_last_repair() && r.last_repair().id() != 0 && !r.in_progress()) {
      const auto& l = r.last_repair();
      out += "Last repair: #" + std::to_string(l.id()) + " " + esc(repair_status_name(l.status()), 40);
      if (l.fixed_by_tier()) out += " by tier " + std::to_string(l.fixed_by_tier());
      if (l.finished_at_ms()) out += " in " + human_duration(l.duration_ms());
      out += ", " + clock_time(l.started_at_ms(), v.now_ms) + "\n";
    }
  } else {
    out += "Auto-repair: unknown (repairer unavailable: " + esc(v.repair_error, 200) + ")\n";
  }
  if (!v.show_components) return out;
  out += "\n<b>Components</b>\n";
  if (v.components) {
    for (const auto& c : v.components->components()) {
      const bool running = c.state() == pb::COMPONENT_RUNNING;
      out += (running ? "✅ " : "⚠️ ") + esc(c.name(), 40);
      if (!running) out += " " + esc(component_state_name(c.state()), 20);
      if (c.pid()) out += " · pid " + std::to_string(c.pid());
      if (c.uptime_ms() > 0) out += " · up " + human_duration(c.uptime_ms());
      if (c.restarts() > 0) out += " · " + std::to_string(c.restarts()) + " restart" + (c.restarts() == 1 ? "" : "s");
      out += "\n";
    }
  } else {
    out += "unavailable (supervisor: " + esc(v.components_error, 200) + ")\n";
  }
  return fit_html(out);
}

std::string event_line(const pb::RepairEvent& e) {
  std::string id = e.repair_id() ? "#" + std::to_string(e.repair_id()) + " " : "";
  const std::string tier = e.tier() ? "tier " + std::to_string(e.tier()) : "";
  auto with = [](const std::string& text) { return text.empty() ? std::string() : ": " + text; };
  switch (e.kind()) {
    case pb::RepairEvent::STARTED:
      return "🔧 " + id + "started (" + tier + ", " + trigger_word(e.trigger()) + ")" + with(reason_text(e.reason(), e.findings()));
    case pb::RepairEvent::STEP:
      return (e.step().ok() ? "✅ " : "❌ ") + id + "tier " + std::to_string(e.step().tier()) + " " + e.step().name() +
             " (" + human_duration(e.step().duration_ms()) + (e.step().timed_out() ? ", timed out" : "") + ")" +
             with(e.step().detail());
    case pb::RepairEvent::TIER_FAILED: return "⚠️ " + id + tier + " failed" + with(e.details());
    case pb::RepairEvent::FINISHED:
      return e.success() ? "🟢 " + id + "recovered by " + tier + " in " + human_duration(e.duration_ms())
                         : "🔴 " + id + "failed after " + human_duration(e.duration_ms()) + with(e.details());
    case pb::RepairEvent::ESCALATION: return "🆘 " + id + "all tiers failed: human needed" + with(e.details());
    case pb::RepairEvent::COOLDOWN_ENTERED:
      return "⏳ cooldown until " + clock_time_seconds(e.cooldown_until_ms()) + with(e.details());
    case pb::RepairEvent::COOLDOWN_ENDED: return "▶️ cooldown ended";
    case pb::RepairEvent::PAUSED: return "⏸ paused by " + actor_label(e.actor()) + with(e.details());
    case pb::RepairEvent::RESUMED: return "▶️ resumed by " + actor_label(e.actor());
    case pb::RepairEvent::RESUMING: return "↻ " + id + "resuming (" + tier + ")" + with(e.details());
    case pb::RepairEvent::DEFERRED:
      return "⌛ deferred" + with(e.details().empty() ? defer_reason_text(e.defer_reason()) : e.details());
    case pb::RepairEvent::RATE_LIMITED: return "🚦 rate limited" + with(e.details());
    case pb::RepairEvent::TIER3_REJECTED:
      return "🛡 " + id + std::to_string(e.rejected_lines_size()) + " AI plan line(s) rejected by the allowlist";
    default: return "• event " + std::to_string(static_cast<int>(e.kind()));
  }
}

std::string render_logs(const pb::LogsReply& logs, int64_t /*now_ms*/) {
  if (logs.events().empty()) return "📋 <b>Repair log</b>\nNo repair events recorded yet.";
  std::string out = "📋 <b>Last " + std::to_string(logs.events_size()) + " repair events</b>\n";
  for (const auto& e : logs.events()) {
    out += "<code>" + clock_time_seconds(e.at_ms()) + "</code> " + esc(event_line(e), 350) + "\n";
  }
  return fit_html(out);
}

std::string render_stats(const pb::StatsReply& stats) {
  std::string out = "📊 <b>Repair statistics</b>\n";
  if (stats.windows().empty()) out += "No statistics yet.\n";
  for (const auto& w : stats.windows()) {
    out += "\n<b>" + (w.name() == "all" ? std::string("All time") : "Last " + esc(w.name(), 20)) + "</b>: ";
    if (w.repairs() == 0) {
      out += "no repairs\n";
      continue;
    }
    out += std::to_string(w.repairs()) + " repair" + (w.repairs() == 1 ? "" : "s") + " · " + std::to_string(w.succeeded()) +
           " ✅ " + std::to_string(w.failed()) + " ❌ · " + percent(w.success_rate()) + " success · avg " +
           human_duration(w.avg_duration_ms()) + "\n";
    if (w.manual() || w.escalations()) {
      out += "   " + std::to_string(w.manual()) + " manual, " + std::to_string(w.escalations()) + " escalated\n";
    }
    for (const auto& t : w.tiers()) {
      if (!t.attempts()) continue;
      out += "   tier " + std::to_string(t.tier()) + ": " + std::to_string(t.fixes()) + "/" + std::to_string(t.attempts()) +
             " fixed, avg " + human_duration(t.avg_duration_ms()) + "\n";
    }
  }
  if (!stats.learned().empty()) {
    out += "\n<b>Learned patterns</b>\n";
    int shown = 0;
    for (const auto& l : stats.learned()) {
      if (++shown > 10) break;
      out += "• " + esc(l.description().empty() ? l.signature() : l.description(), 200) + " — seen " +
             std::to_string(l.seen()) + "×";
      if (l.best_tier()) out += ", best tier " + std::to_string(l.best_tier());
      if (l.has_plan()) out += ", learned plan (" + std::to_string(l.plan_successes()) + " successes)";
      out += "\n";
    }
  }
  return fit_html(out);
}

std::string render_config(const pb::ConfigReply& reply) {
  std::string out = "⚙️ <b>Monitoring settings</b> (config v" + std::to_string(reply.version()) + ")\n";
  if (!reply.source().empty()) out += "<i>" + esc(reply.source(), 200) + "</i>\n";
  out += "\n";
  const std::vector<std::string> overridden(reply.overridden_keys().begin(), reply.overridden_keys().end());
  for (const auto& key : config_keys()) {
    if (!is_runtime_settable(key) || is_secret_key(key)) continue;
    auto value = get_config_value(reply.config(), key, false);
    if (!value) continue;
    out += "<code>" + esc(key, 80) + "</code> = " + esc(*value, 120);
    if (std::find(overridden.begin(), overridden.end(), key) != overridden.end()) out += " <i>(set at run time)</i>";
    out += "\n";
  }
  out +=
      "\nChange one: <code>/config set KEY VALUE</code>, e.g. <code>/config set repair.max_per_hour 5</code> or "
      "<code>/config set probes.health.interval 10s</code>\n"
      "Undo a run-time change: <code>/config reset KEY</code>\n"
      "Changes are validated, saved and applied at once. Secrets and paths are set in the config file only.";
  return fit_html(out);
}

std::string render_help(std::string_view unknown_command) {
  std::string out;
  if (!unknown_command.empty()) {
    out += "❓ I don't know /" + esc(unknown_command, 40) + ". These are the commands:\n\n";
  } else {
    out += "🤖 <b>gwr</b> keeps the OpenClaw gateway alive, repairs it when it fails and tells you here.\n\n";
  }
  out +=
      "/status — gateway state, pid, uptime, memory, repairs, components\n"
      "/repair — repair the gateway now (asks to confirm)\n"
      "/logs — the last 10 repair events\n"
      "/history — success rate, average time per tier, counts\n"
      "/config — monitoring settings; <code>/config set KEY VALUE</code> to change one\n"
      "/pause [30m|2h] [reason] — pause automatic repairs (maintenance); with a duration they resume by themselves\n"
      "/resume — resume automatic repairs\n"
      "/help — this list";
  return out;
}

std::string render_repair_confirmation(const std::optional<pb::GatewayHealth>& health, int64_t now_ms) {
  std::string out = "🔄 <b>Repair the gateway now?</b>\n";
  if (health) {
    out += "Gateway: " + state_emoji(health->state()) + " " + gateway_state_name(health->state());
    if (health->state_since_ms() > 0) out += " for " + human_duration(now_ms - health->state_since_ms());
    if (health->pid()) out += " (pid " + std::to_string(health->pid()) + ")";
    out += "\n";
    if (health->findings_size() > 0) out += "• " + esc(describe(health->findings(0)), 300) + "\n";
  }
  out +=
      "The repair pipeline runs tier by tier (restart, deep fix, AI diagnosis) until the gateway is healthy. "
      "This confirmation is valid for 5 minutes.";
  return out;
}

std::string render_unavailable(std::string_view component, std::string_view error) {
  return "⚠️ The " + esc(component, 40) + " did not answer (" + esc(error, 300) + "). Try again in a moment, or /status.";
}

json bot_commands() {
  const std::pair<const char*, const char*> commands[] = {
      {"status", "Gateway state, pid, uptime, memory, repairs"},
      {"repair", "Repair the gateway now (asks to confirm)"},
      {"logs", "The last 10 repair events"},
      {"history", "Success rate and average time per tier"},
      {"config", "Monitoring settings; /config set KEY VALUE"},
      {"pause", "Pause automatic repairs (maintenance)"},
      {"resume", "Resume automatic repairs"},
  };
  json out = json::array();
  for (const auto& [name, description] : commands) out.push_back({{"command", name}, {"description", description}});
  return out;
}

}  // namespace gwr::telegram
