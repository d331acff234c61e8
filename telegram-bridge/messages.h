// What the bot says, as Telegram HTML: answers to commands, the inline
// keyboards and the small formatters shared with the notifications. Pure
// functions from control replies (and `now`) to text; every dynamic string
// is escaped and every result fits in one message.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/duration.h"  // human_duration
#include "common/pb_json.h"   // gateway_state_name
#include "gwr.pb.h"
#include "telegram-bridge/outgoing.h"

namespace gwr::telegram {

// callback_data tokens of the inline buttons (each well under 64 bytes).
namespace button {
inline constexpr const char* kRepair = "repair";
inline constexpr const char* kLogs = "logs";
inline constexpr const char* kPause = "pause";
inline constexpr const char* kResume = "resume";
inline constexpr const char* kStats = "stats";
inline constexpr const char* kRepairConfirm = "repair_confirm";
inline constexpr const char* kRepairCancel = "repair_cancel";
// "chstart:<channel id>": start a channel OpenClaw's crash-loop breaker holds
// off. The id is only a request: the repairer takes it only if OpenClaw lists
// that channel as held off at that moment.
inline constexpr const char* kChannelStartPrefix = "chstart:";
// The ⏸ menu: "pausefor:15m", "pausefor:1h", "pausefor:" (until resumed).
inline constexpr const char* kPauseForPrefix = "pausefor:";
// Start a gateway its owner stopped through its service manager (a manual repair).
inline constexpr const char* kStartGateway = "start_gateway";
}  // namespace button

// Several gateways: a button's data ends in "@NAME", the gateway it is for.
// Returns the keyboard with "@gateway" after every button's data.
nlohmann::json for_gateway(nlohmann::json keyboard, const std::string& gateway);
// A message about one of several gateways: "🖥 NAME · " before its text,
// "@NAME" after its buttons' data.
void name_gateway(Outgoing& message, const std::string& gateway);
// "repair@rescue" -> {"repair", "rescue"}; "repair" -> {"repair", ""}.
std::pair<std::string, std::string> split_button(const std::string& data);
// [main] [rescue]: "Which gateway?" answers, each "<action>@NAME".
nlohmann::json gateway_choice_keyboard(const std::string& action, const std::vector<std::string>& gateways);

// [15 min] [1 h] [until resumed]
nlohmann::json pause_menu_keyboard();
// [▶ Start gateway] above the main keyboard.
nlohmann::json start_gateway_keyboard(bool paused);

// [▶ Start telegram] ... above the main keyboard (at most 4 channels).
nlohmann::json channel_start_keyboard(const std::vector<std::string>& channels, bool paused);

// [🔄 Repair Now] [📋 View Logs] / [⏸ Pause or ▶ Resume] [📊 Stats]
nlohmann::json main_keyboard(bool paused);
// [✅ Repair now] [✖ Cancel]
nlohmann::json confirm_keyboard();

// 🟢 healthy, 🔵 starting, 🟡 degraded, 🔴 down, ⚪ unknown
std::string state_emoji(pb::GatewayState state);
// Local "HH:MM" today, "Mon DD HH:MM" on another day.
std::string clock_time(int64_t wall_ms, int64_t now_ms);
// Local "HH:MM:SS".
std::string clock_time_seconds(int64_t wall_ms);
// "telegram:42" -> "Telegram user 42"; others as they are.
std::string actor_label(std::string_view actor);

// What /status gathered; a part is absent when its component did not answer.
struct StatusView {
  std::string gateway;           // its name, when gwr watches several ("" = one)
  std::string node_line;         // a hub's: the node's link ("node web1 · heard from 3 s ago"), "" = local
  bool show_components = true;   // /status of several gateways shows them once
  std::optional<pb::ProbeStatusReply> probe;
  std::string probe_error;
  std::optional<pb::RepairStatusReply> repair;
  std::string repair_error;
  std::optional<pb::ComponentsReply> components;
  std::string components_error;
  int64_t now_ms = 0;
};
std::string render_status(const StatusView& view);

// /logs: the newest events last.
std::string render_logs(const pb::LogsReply& logs, int64_t now_ms);
// One repair event as a line of plain text (not yet escaped).
std::string event_line(const pb::RepairEvent& event);

// /history
std::string render_stats(const pb::StatsReply& stats);

// /config: the run-time settable (monitoring) settings, never a secret.
std::string render_config(const pb::ConfigReply& config);

// /start, /help, and the short help after an unknown command ("" = none).
std::string render_help(std::string_view unknown_command = {});

// /repair: the question before a manual repair.
std::string render_repair_confirmation(const std::optional<pb::GatewayHealth>& health, int64_t now_ms);

// "⚠️ The repairer did not answer (...)".
std::string render_unavailable(std::string_view component, std::string_view error);

// The Bot API command menu for setMyCommands.
nlohmann::json bot_commands();

}  // namespace gwr::telegram
