// CommandHandler: what each command and button does. The answers come from
// the repairer, the prober and the supervisor through a ControlPort, so the
// handler holds no socket and is unit-tested with a scripted port. A
// component that does not answer is reported as unavailable, never as a
// failure of the bot.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/control_port.h"
#include "gwr.pb.h"
#include "telegram-bridge/outgoing.h"

namespace gwr::telegram {

// A request to a component's control socket ("prober", "repairer", "supervisor").
using ControlPort = gwr::ControlPort;

// Who asked, where, and when.
struct CommandContext {
  int64_t chat_id = 0;
  int64_t user_id = 0;
  std::string username;
  int64_t message_id = 0;    // the command message, or the bot message under a button
  int64_t message_date = 0;  // unix seconds of that message
  int64_t now_ms = 0;
  std::string actor() const { return "telegram:" + std::to_string(user_id); }
};

struct CommandResult {
  std::vector<Outgoing> messages;  // in order; chat ids are filled in by the caller
  std::string outcome;             // short, for the log ("ok", "refused", "repairer unavailable", ...)
};

// A confirmation older than this no longer starts a repair.
inline constexpr int64_t kConfirmationValidityMs = 5 * 60'000;
// A side-effecting command delivered later than this (the bridge was down) is not carried out.
inline constexpr int64_t kStaleCommandMs = 10 * 60'000;

class CommandHandler {
 public:
  explicit CommandHandler(ControlPort& port) : port_(port) {}
  // The gateways gwr watches, in config order (none or one: a single gateway).
  // With several, the commands about a gateway take its name (/repair rescue)
  // or ask which with buttons, and the buttons carry the name ("repair@rescue").
  void set_gateways(std::vector<std::string> names) { local_ = gateways_ = std::move(names); }
  // fleet.role hub: each command first asks gwr-fleet which nodes it knows;
  // their gateways are "NODE/NAME" (/repair web1/main), asked through the hub.
  void set_fleet_hub(bool hub) { fleet_hub_ = hub; }

  // "/name args": replies to the command message.
  CommandResult handle_command(const std::string& name, const std::string& args, const CommandContext& ctx);
  // A button press (answerCallbackQuery is the caller's, with callback_ack()).
  CommandResult handle_callback(const std::string& data, const CommandContext& ctx);
  // What to say when the bridge restarted while a side-effecting command was in flight.
  static CommandResult interrupted(const std::string& what, const CommandContext& ctx);

  // The short answerCallbackQuery text for a button, before its action runs.
  static std::string callback_ack(const std::string& data);
  // Commands and buttons that change something (and so get an in-progress marker).
  static bool command_has_side_effect(const std::string& name, const std::string& args);
  static bool callback_has_side_effect(const std::string& data);
  // Those, and the ones that lead straight to such a change (/repair asks to
  // confirm a repair): what a read-only sender may not use.
  static bool command_changes_something(const std::string& name, const std::string& args);
  static bool callback_changes_something(const std::string& data);
  // The answer to a read-only sender (a member of a group with no
  // telegram.allowed_user_ids) who tried one.
  static CommandResult read_only_refusal(const std::string& what, const CommandContext& ctx);

 private:
  CommandResult callback(const std::string& data, const CommandContext& ctx);
  CommandResult status(const CommandContext& ctx);
  CommandResult repair_question(const CommandContext& ctx);
  CommandResult repair_confirmed(const CommandContext& ctx);
  CommandResult start_channel(const std::string& channel, const CommandContext& ctx);
  // for_ms > 0: the pause ends by itself then.
  CommandResult pause(const std::string& reason, const CommandContext& ctx, int64_t for_ms = 0);
  CommandResult start_gateway(const CommandContext& ctx);
  CommandResult resume(const CommandContext& ctx);
  CommandResult logs(const CommandContext& ctx);
  CommandResult history(const CommandContext& ctx);
  CommandResult config(const std::string& args, const CommandContext& ctx);
  Result<pb::Reply> ask(const std::string& component, const pb::Request& request, std::chrono::milliseconds timeout);
  CommandResult status_of_all(const CommandContext& ctx);
  bool several() const { return gateways_.size() > 1; }
  bool known(const std::string& name) const;
  // The gateway a command is about: its target, else the first.
  std::string gateway() const;
  // The target's components: "repairer.rescue" while a command for rescue runs.
  std::string repairer() const;
  std::string prober() const;
  // Several gateways: names the target in each message and on its buttons.
  CommandResult labelled(CommandResult r) const;
  CommandResult which_gateway(const std::string& action, const std::string& what) const;

  // A hub: the nodes gwr-fleet knows, and their gateways after the local ones.
  void refresh_fleet();
  const pb::FleetNodeInfo* node_of(const std::string& gateway) const;
  // A node's gateway's component ("repairer.web1/main") is asked through gwr-fleet.
  ControlPort::Call routed(const std::string& component, const pb::Request& request,
                           std::chrono::milliseconds timeout) const;
  std::string node_line(const std::string& gateway, int64_t now_ms) const;

  ControlPort& port_;
  bool fleet_hub_ = false;
  std::vector<std::string> local_;
  std::vector<pb::FleetNodeInfo> nodes_;
  std::vector<std::string> gateways_;
  std::string target_;  // the gateway of the command being handled ("" = main)
};

}  // namespace gwr::telegram
