#include "telegram-bridge/command_handler.h"

#include <algorithm>
#include <cctype>

#include "common/components.h"
#include "common/config.h"
#include "common/duration.h"
#include "common/findings.h"
#include "common/strings.h"
#include "telegram-bridge/html_text.h"
#include "telegram-bridge/messages.h"

namespace gwr::telegram {

namespace {

using namespace std::chrono_literals;

constexpr auto kReadTimeout = 1500ms;
constexpr auto kWriteTimeout = 3000ms;
// A node's answer comes through the hub's gwr-fleet, which waits for it
// for the request's own timeout: the bridge waits this much longer.
constexpr auto kRelayMargin = 1000ms;

std::string esc(std::string_view text, size_t max_units = 400) { return html_escape(clip(text, max_units)); }

CommandResult one(std::string text, nlohmann::json keyboard = nullptr, std::string outcome = "ok") {
  CommandResult r;
  r.messages.push_back(make_message(std::move(text), std::move(keyboard)));
  r.outcome = std::move(outcome);
  return r;
}

CommandResult edit(int64_t message_id, std::string text, std::string outcome) {
  CommandResult r;
  Outgoing o = make_message(std::move(text));
  o.kind = Outgoing::Kind::kEdit;
  o.edit_message_id = message_id;
  r.messages.push_back(std::move(o));
  r.outcome = std::move(outcome);
  return r;
}

std::string who(const CommandContext& ctx) {
  return ctx.username.empty() ? "user " + std::to_string(ctx.user_id) : "@" + ctx.username;
}

// The first word and the rest.
std::pair<std::string, std::string> split_word(const std::string& s) {
  size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  size_t e = b;
  while (e < s.size() && !std::isspace(static_cast<unsigned char>(s[e]))) ++e;
  size_t r = e;
  while (r < s.size() && std::isspace(static_cast<unsigned char>(s[r]))) ++r;
  return {s.substr(b, e - b), s.substr(r)};
}

}  // namespace

namespace {

// Reply.error is an answer too, but only a refusal or a validation error is
// one to show; anything else means the component could not serve it.
Result<pb::Reply> usable(Result<pb::Reply> reply) {
  if (!reply) return reply;
  if (reply->has_error() && reply->error().code() != pb::Error::REFUSED &&
      reply->error().code() != pb::Error::INVALID_ARGUMENT) {
    return make_error(describe_error(reply->error()));
  }
  return reply;
}

}  // namespace

Result<pb::Reply> CommandHandler::ask(const std::string& component, const pb::Request& request,
                                      std::chrono::milliseconds timeout) {
  const auto call = routed(component, request, timeout);
  const auto wait = call.component == component ? timeout : timeout + kRelayMargin;
  return usable(port_.call(call.component, call.request, wait));
}

ControlPort::Call CommandHandler::routed(const std::string& component, const pb::Request& request,
                                         std::chrono::milliseconds timeout) const {
  const auto [base, gateway] = split_component(component);
  const auto slash = gateway.find('/');
  if (slash == std::string::npos) return {component, request};
  ControlPort::Call c;
  c.component = kFleet;
  auto* relay = c.request.mutable_fleet_relay();
  relay->set_node(gateway.substr(0, slash));
  relay->set_component(gateway_component(base, gateway.substr(slash + 1)));
  *relay->mutable_request() = request;
  relay->set_timeout_ms(static_cast<uint32_t>(timeout.count()));
  return c;
}

void CommandHandler::refresh_fleet() {
  if (!fleet_hub_) return;
  gateways_ = local_;
  nodes_.clear();
  pb::Request req;
  req.mutable_fleet_status();
  auto r = port_.call(kFleet, req, kReadTimeout);
  if (!r || !r->has_fleet_status()) return;  // the hub's own gateways still answer
  for (const auto& n : r->fleet_status().nodes()) {
    if (n.revoked() || !valid_gateway_name(n.name())) continue;
    nodes_.push_back(n);
    for (const auto& g : n.gateways()) {
      if (valid_gateway_name(g.name())) gateways_.push_back(n.name() + "/" + g.name());
    }
  }
}

const pb::FleetNodeInfo* CommandHandler::node_of(const std::string& gateway) const {
  const auto slash = gateway.find('/');
  if (slash == std::string::npos) return nullptr;
  for (const auto& n : nodes_) {
    if (n.name() == gateway.substr(0, slash)) return &n;
  }
  return nullptr;
}

std::string CommandHandler::node_line(const std::string& gateway, int64_t now_ms) const {
  const auto* n = node_of(gateway);
  if (n == nullptr) return "";
  const std::string seen = n->last_seen_ms() > 0 ? clock_time(n->last_seen_ms(), now_ms) + " (" +
                                                        human_duration(std::max<int64_t>(0, now_ms - n->last_seen_ms())) + " ago)"
                                                  : "never";
  if (n->silent()) return "🔴 node " + n->name() + " is silent: last heard from " + seen;
  if (!n->connected()) return "⚪ node " + n->name() + " not connected: last heard from " + seen;
  return "node " + n->name() + " · heard from " + seen;
}

bool CommandHandler::known(const std::string& name) const {
  return std::find(gateways_.begin(), gateways_.end(), name) != gateways_.end();
}

// No name given (one gateway, or an old button without "@NAME"): the first.
std::string CommandHandler::gateway() const {
  return !target_.empty() || gateways_.empty() ? target_ : gateways_.front();
}
std::string CommandHandler::repairer() const { return gateway_component(kRepairer, gateway()); }
std::string CommandHandler::prober() const { return gateway_component(kProber, gateway()); }

CommandResult CommandHandler::labelled(CommandResult r) const {
  if (!several() || target_.empty()) return r;
  for (auto& m : r.messages) name_gateway(m, target_);
  return r;
}

CommandResult CommandHandler::which_gateway(const std::string& action, const std::string& what) const {
  return one("Which gateway " + what + "?", gateway_choice_keyboard(action, gateways_), "asked which gateway");
}

std::string CommandHandler::callback_ack(const std::string& with_gateway) {
  const std::string data = split_button(with_gateway).first;
  if (data == button::kRepair) return "Confirm the repair below";
  if (data == button::kLogs) return "Recent repair events";
  if (data == button::kPause) return "Pause for how long?";
  if (data.rfind(button::kPauseForPrefix, 0) == 0) return "Pausing auto-repair…";
  if (data == button::kStartGateway) return "Starting the gateway…";
  if (data == button::kResume) return "Resuming auto-repair…";
  if (data == button::kStats) return "Repair statistics";
  if (data == button::kRepairConfirm) return "Starting a repair…";
  if (data == button::kRepairCancel) return "Cancelled";
  if (data.rfind(button::kChannelStartPrefix, 0) == 0) return "Starting the channel…";
  return "This button is no longer supported";
}

bool CommandHandler::command_has_side_effect(const std::string& name, const std::string& args) {
  if (name == "pause" || name == "resume") return true;
  if (name == "config") {
    const std::string sub = to_lower(split_word(args).first);
    return sub == "set" || sub == "reset";
  }
  return false;
}

bool CommandHandler::callback_has_side_effect(const std::string& with_gateway) {
  const std::string data = split_button(with_gateway).first;
  return data == button::kResume || data == button::kRepairConfirm || data == button::kStartGateway ||
         data.rfind(button::kPauseForPrefix, 0) == 0 || data.rfind(button::kChannelStartPrefix, 0) == 0;
}

bool CommandHandler::command_changes_something(const std::string& name, const std::string& args) {
  return command_has_side_effect(name, args) || name == "repair";
}

bool CommandHandler::callback_changes_something(const std::string& with_gateway) {
  const std::string data = split_button(with_gateway).first;
  return callback_has_side_effect(data) || data == button::kRepair || data == button::kPause;
}

CommandResult CommandHandler::read_only_refusal(const std::string& what, const CommandContext& ctx) {
  CommandResult r = one("🔒 Not done: " + esc(what, 60) +
                            " changes something, and in a group that is only for the users listed in "
                            "<code>telegram.allowed_user_ids</code> — none are listed yet, so every member would "
                            "count as the owner.\nTo allow yourself, add your user id <code>" +
                            std::to_string(ctx.user_id) +
                            "</code> to <code>telegram.allowed_user_ids</code> in gwr's config and reload gwr. "
                            "/status, /logs and /history work for everyone here.",
                        nullptr, "refused: read-only group");
  if (ctx.message_id) r.messages[0].reply_to = ctx.message_id;
  return r;
}

CommandResult CommandHandler::handle_command(const std::string& name, const std::string& given_args,
                                             const CommandContext& ctx) {
  CommandResult r;
  target_.clear();
  refresh_fleet();
  std::string args = given_args;
  // Several gateways: "/repair rescue", "/pause rescue 30m", "/logs main".
  const bool about_a_gateway = name == "status" || name == "repair" || name == "pause" || name == "resume" ||
                               name == "logs" || name == "history" || name == "stats";
  if (about_a_gateway) {
    const auto [first, rest] = split_word(args);
    if (several() && known(to_lower(first))) {
      target_ = to_lower(first);
      args = rest;
    } else if (first.find('/') != std::string::npos && !known(to_lower(first))) {
      // A node's gateway this hub cannot reach now (or no such): never
      // taken as a reason and done to the hub's own gateway instead.
      r = one("✖ No gateway named " + esc(first, 32) + " is known here right now" +
                  (fleet_hub_ ? " (its node may not be connected: gwrctl fleet status)" : "") + " — nothing was done.",
              nullptr, "unknown gateway");
      if (ctx.message_id) r.messages[0].reply_to = ctx.message_id;
      return r;
    }
  }
  const int64_t sent_ms = ctx.message_date * 1000;
  if (command_has_side_effect(name, args) && ctx.message_date > 0 && ctx.now_ms - sent_ms > kStaleCommandMs) {
    r = one("⏱ Not done: /" + esc(name, 40) + " was sent at " + clock_time(sent_ms, ctx.now_ms) + " (" +
                human_duration(ctx.now_ms - sent_ms) + " ago) while I could not read it. Send it again if you still "
                "want it.",
            nullptr, "stale");
  } else if (name == "status") {
    r = several() && target_.empty() ? status_of_all(ctx) : status(ctx);
  } else if (several() && about_a_gateway && target_.empty()) {
    // Which one? The answer is a button that carries the name.
    std::string action = name == "repair"   ? button::kRepair
                         : name == "pause"  ? button::kPause
                         : name == "resume" ? button::kResume
                         : name == "logs"   ? button::kLogs
                                            : button::kStats;
    // "/pause 30m": the answer pauses that long ("pausefor:30m@rescue").
    if (name == "pause") {
      const auto [first, rest] = split_word(args);
      if (!first.empty() && first.size() <= 8 && std::isdigit(static_cast<unsigned char>(first[0]))) {
        const auto d = parse_duration(first);
        if (d && d->count() >= 1000 && d->count() <= 30LL * 24 * 3'600'000) action = button::kPauseForPrefix + first;
      }
    }
    r = which_gateway(action, name == "repair" ? "should I repair" : "do you mean");
  } else if (name == "repair") {
    r = labelled(repair_question(ctx));
  } else if (name == "logs") {
    r = labelled(logs(ctx));
  } else if (name == "history" || name == "stats") {
    r = labelled(history(ctx));
  } else if (name == "config") {
    r = config(args, ctx);
  } else if (name == "pause") {
    // "/pause 30m [reason]": a timed pause; anything else is the reason.
    const auto [first, rest] = split_word(args);
    if (!first.empty() && std::isdigit(static_cast<unsigned char>(first[0]))) {
      const auto d = parse_duration(first);
      if (!d || d->count() < 1000 || d->count() > 30LL * 24 * 3'600'000) {
        r = one("✖ Not paused: \"" + esc(first, 20) + "\" is not a duration from 1s to 30d (like 30m or 2h).", nullptr,
                "bad duration");
      } else {
        r = labelled(pause(std::string(rest), ctx, d->count()));
      }
    } else {
      r = labelled(pause(args, ctx));
    }
  } else if (name == "resume") {
    r = labelled(resume(ctx));
  } else if (name == "start" || name == "help") {
    r = one(render_help());
  } else {
    r = one(render_help(name), nullptr, "unknown command");
  }
  for (auto& m : r.messages) {
    if (m.kind == Outgoing::Kind::kSend && m.reply_to == 0 && m.incident.empty()) m.reply_to = ctx.message_id;
  }
  return r;
}

CommandResult CommandHandler::handle_callback(const std::string& with_gateway, const CommandContext& ctx) {
  const auto [data, gateway] = split_button(with_gateway);
  target_.clear();
  refresh_fleet();
  if (!gateway.empty()) {
    if (!known(gateway)) {
      return one("✖ gwr does not watch a gateway named " + esc(gateway, 32) + " (any more) — nothing was done.",
                 nullptr, "unknown gateway");
    }
    target_ = gateway;
  }
  return labelled(callback(data, ctx));
}

CommandResult CommandHandler::callback(const std::string& data, const CommandContext& ctx) {
  if (data == button::kRepair) return repair_question(ctx);
  if (data == button::kLogs) return logs(ctx);
  if (data == button::kPause) return one("⏸ Pause automatic repairs for how long?", pause_menu_keyboard(), "pause menu");
  if (data.rfind(button::kPauseForPrefix, 0) == 0) {
    const std::string span = data.substr(std::string_view(button::kPauseForPrefix).size());
    if (span.empty()) return pause("", ctx);
    const auto d = parse_duration(span);
    if (!d || d->count() < 1000 || d->count() > 30LL * 24 * 3'600'000) return one("✖ Not paused: an unknown button.", nullptr, "bad button");
    return pause("", ctx, d->count());
  }
  if (data == button::kStartGateway) return start_gateway(ctx);
  if (data == button::kResume) return resume(ctx);
  if (data == button::kStats) return history(ctx);
  if (data == button::kRepairConfirm) return repair_confirmed(ctx);
  if (data == button::kRepairCancel) return edit(ctx.message_id, "✖ Repair cancelled — nothing was started.", "cancelled");
  if (data.rfind(button::kChannelStartPrefix, 0) == 0) {
    return start_channel(data.substr(std::string_view(button::kChannelStartPrefix).size()), ctx);
  }
  CommandResult r;
  r.outcome = "unknown button";
  return r;
}

CommandResult CommandHandler::interrupted(const std::string& what, const CommandContext& ctx) {
  CommandResult r = one("⚠️ I was restarted while carrying out " + esc(what, 60) +
                            ". It may or may not have taken effect — check /status before trying again.",
                        nullptr, "interrupted");
  if (ctx.message_id) r.messages[0].reply_to = ctx.message_id;
  return r;
}

CommandResult CommandHandler::status(const CommandContext& ctx) {
  StatusView v;
  v.now_ms = ctx.now_ms;
  if (several()) v.gateway = target_;
  v.node_line = node_line(gateway(), ctx.now_ms);
  std::vector<ControlPort::Call> calls(3);
  pb::Request probe;
  probe.mutable_probe_status();
  calls[0] = routed(prober(), probe, kReadTimeout);
  pb::Request repair;
  repair.mutable_repair_status();
  calls[1] = routed(repairer(), repair, kReadTimeout);
  calls[2].component = kSupervisor;
  calls[2].request.mutable_components();
  const bool relayed = calls[0].component == kFleet;
  auto replies = port_.call_all(calls, relayed ? kReadTimeout + kRelayMargin : kReadTimeout);
  if (auto r = usable(std::move(replies[0])); r && r->has_probe_status()) {
    v.probe = r->probe_status();
  } else {
    v.probe_error = r ? "unexpected answer" : r.message();
  }
  if (auto r = usable(std::move(replies[1])); r && r->has_repair_status()) {
    v.repair = r->repair_status();
  } else {
    v.repair_error = r ? "unexpected answer" : r.message();
  }
  if (auto r = usable(std::move(replies[2])); r && r->has_components()) {
    v.components = r->components();
  } else {
    v.components_error = r ? "unexpected answer" : r.message();
  }
  const bool paused = v.repair && v.repair->paused();
  CommandResult out = one(render_status(v), for_gateway(main_keyboard(paused), several() ? target_ : std::string()));
  if (!v.probe || !v.repair || !v.components) out.outcome = "partial";
  return out;
}

CommandResult CommandHandler::status_of_all(const CommandContext& ctx) {
  // One message per gateway, the components under the last.
  std::vector<ControlPort::Call> calls;
  bool relayed = false;
  for (const auto& g : gateways_) {
    pb::Request probe;
    probe.mutable_probe_status();
    calls.push_back(routed(gateway_component(kProber, g), probe, kReadTimeout));
    pb::Request repair;
    repair.mutable_repair_status();
    calls.push_back(routed(gateway_component(kRepairer, g), repair, kReadTimeout));
    relayed |= calls.back().component == kFleet;
  }
  calls.emplace_back().component = kSupervisor;
  calls.back().request.mutable_components();
  auto replies = port_.call_all(calls, relayed ? kReadTimeout + kRelayMargin : kReadTimeout);
  CommandResult out;
  out.outcome = "ok";
  for (size_t i = 0; i < gateways_.size(); ++i) {
    StatusView v;
    v.now_ms = ctx.now_ms;
    v.gateway = gateways_[i];
    v.node_line = node_line(gateways_[i], ctx.now_ms);
    v.show_components = i + 1 == gateways_.size();
    if (auto r = usable(std::move(replies[2 * i])); r && r->has_probe_status()) {
      v.probe = r->probe_status();
    } else {
      v.probe_error = r ? "unexpected answer" : r.message();
    }
    if (auto r = usable(std::move(replies[2 * i + 1])); r && r->has_repair_status()) {
      v.repair = r->repair_status();
    } else {
      v.repair_error = r ? "unexpected answer" : r.message();
    }
    if (v.show_components) {
      if (auto r = usable(std::move(replies.back())); r && r->has_components()) {
        v.components = r->components();
      } else {
        v.components_error = r ? "unexpected answer" : r.message();
      }
    }
    if (!v.probe || !v.repair || (v.show_components && !v.components)) out.outcome = "partial";
    const bool paused = v.repair && v.repair->paused();
    out.messages.push_back(make_message(render_status(v), for_gateway(main_keyboard(paused), gateways_[i])));
  }
  return out;
}

CommandResult CommandHandler::repair_question(const CommandContext& ctx) {
  pb::Request status;
  status.mutable_repair_status();
  auto st = ask(repairer(), status, kReadTimeout);
  if (!st || !st->has_repair_status()) {
    return one(render_unavailable("repairer", st ? "unexpected answer" : st.message()), nullptr, "repairer unavailable");
  }
  if (st->repair_status().in_progress()) {
    return one("🔧 Repair #" + std::to_string(st->repair_status().current_repair_id()) + " is already running (tier " +
                   std::to_string(st->repair_status().current_tier()) + "). Its outcome will be posted here.",
               nullptr, "already running");
  }
  std::optional<pb::GatewayHealth> health;
  pb::Request probe;
  probe.mutable_probe_status();
  if (auto r = ask(prober(), probe, kReadTimeout); r && r->has_probe_status()) health = r->probe_status().health();
  return one(render_repair_confirmation(health, ctx.now_ms), confirm_keyboard(), "asked to confirm");
}

CommandResult CommandHandler::start_channel(const std::string& channel, const CommandContext& ctx) {
  if (!is_channel_id(channel)) return one("✖ Not a channel id — nothing was started.", nullptr, "bad channel id");
  pb::Request req;
  req.mutable_repair()->set_actor(ctx.actor());
  req.mutable_repair()->set_start_channel(channel);
  auto r = ask(repairer(), req, kWriteTimeout);
  if (!r) {
    return one("⚠️ Could not reach the repairer (" + esc(r.message(), 300) + "). Check /status.", nullptr,
               "repairer unavailable");
  }
  if (r->has_error()) return one("✖ Not started: " + esc(r->error().message(), 400), nullptr, "refused");
  if (!r->has_repair_accepted()) return one("⚠️ The repairer gave an unexpected answer.", nullptr, "unexpected");
  const int64_t id = r->repair_accepted().repair_id();
  return one("▶ <b>Starting channel " + esc(channel, 32) + "</b> (#" + std::to_string(id) + ", by " + esc(who(ctx), 80) +
                 "). Its outcome follows in its own message.",
             nullptr, "channel start #" + std::to_string(id));
}

CommandResult CommandHandler::repair_confirmed(const CommandContext& ctx) {
  if (ctx.message_date > 0 && ctx.now_ms - ctx.message_date * 1000 > kConfirmationValidityMs) {
    return edit(ctx.message_id, "⌛ This confirmation expired — nothing was started. Send /repair again.", "expired");
  }
  pb::Request req;
  req.mutable_repair()->set_actor(ctx.actor());
  req.mutable_repair()->set_reason("manual repair from Telegram");
  auto r = ask(repairer(), req, kWriteTimeout);
  if (!r) {
    return edit(ctx.message_id,
                "⚠️ Could not reach the repairer (" + esc(r.message(), 300) +
                    "). The repair may not have started — check /status.",
                "repairer unavailable");
  }
  if (r->has_error()) {
    return edit(ctx.message_id, "✖ Not started: " + esc(r->error().message(), 400), "refused");
  }
  if (!r->has_repair_accepted()) return edit(ctx.message_id, "⚠️ The repairer gave an unexpected answer.", "unexpected");
  const int64_t id = r->repair_accepted().repair_id();
  return edit(ctx.message_id,
              "🔧 <b>Repair #" + std::to_string(id) + " started</b> by " + esc(who(ctx), 80) +
                  ". Its progress and outcome follow in the repair's own message.",
              "repair #" + std::to_string(id) + " started");
}

CommandResult CommandHandler::start_gateway(const CommandContext& ctx) {
  pb::Request req;
  req.mutable_repair()->set_actor(ctx.actor());
  req.mutable_repair()->set_reason("start the gateway its owner stopped (Telegram)");
  req.mutable_repair()->set_start_tier(1);
  auto r = ask(repairer(), req, kWriteTimeout);
  if (!r) {
    return one("⚠️ Could not reach the repairer (" + esc(r.message(), 300) + "). The gateway may not have started — check /status.",
               nullptr, "repairer unavailable");
  }
  if (r->has_error()) return one("✖ Not started: " + esc(r->error().message(), 400), nullptr, "refused");
  if (!r->has_repair_accepted()) return one("⚠️ The repairer gave an unexpected answer.", nullptr, "unexpected");
  const int64_t id = r->repair_accepted().repair_id();
  return one("▶ <b>Starting the gateway</b> (#" + std::to_string(id) + ", by " + esc(who(ctx), 80) +
                 "). Its outcome follows in its own message.",
             nullptr, "gateway start #" + std::to_string(id));
}

CommandResult CommandHandler::pause(const std::string& reason, const CommandContext& ctx, int64_t for_ms) {
  pb::Request status;
  status.mutable_repair_status();
  auto st = ask(repairer(), status, kReadTimeout);
  if (!st || !st->has_repair_status()) {
    return one(render_unavailable("repairer", st ? "unexpected answer" : st.message()), nullptr, "repairer unavailable");
  }
  if (st->repair_status().paused() && for_ms == 0) {
    const auto& s = st->repair_status();
    return one("⏸ Auto-repair is already paused, by " + esc(actor_label(s.paused_by()), 80) +
                   (s.paused_at_ms() ? " since " + clock_time(s.paused_at_ms(), ctx.now_ms) : std::string()) + ".",
               main_keyboard(true), "already paused");
  }
  pb::Request req;
  req.mutable_pause()->set_actor(ctx.actor());
  req.mutable_pause()->set_reason(reason.empty() ? "paused from Telegram by " + who(ctx) : reason);
  req.mutable_pause()->set_for_ms(for_ms);
  auto r = ask(repairer(), req, kWriteTimeout);
  if (!r) return one(render_unavailable("repairer", r.message()), nullptr, "repairer unavailable");
  if (r->has_error()) return one("✖ Not paused: " + esc(r->error().message()), nullptr, "refused");
  std::string text = "⏸ <b>Auto-repair paused</b>";
  if (!reason.empty()) text += ": " + esc(reason, 300);
  if (r->has_repair_status() && r->repair_status().paused_until_ms() > 0) {
    text += "\nThe gateway is still watched; automatic repairs resume by themselves at " +
            clock_time(r->repair_status().paused_until_ms(), ctx.now_ms) + " (in " + human_duration(for_ms) + "), or on /resume.";
  } else {
    text += "\nThe gateway is still watched, but nothing is repaired until /resume.";
  }
  return one(text, main_keyboard(true));
}

CommandResult CommandHandler::resume(const CommandContext& ctx) {
  pb::Request status;
  status.mutable_repair_status();
  auto st = ask(repairer(), status, kReadTimeout);
  if (!st || !st->has_repair_status()) {
    return one(render_unavailable("repairer", st ? "unexpected answer" : st.message()), nullptr, "repairer unavailable");
  }
  if (!st->repair_status().paused()) {
    return one("▶️ Auto-repair is already on.", main_keyboard(false), "not paused");
  }
  pb::Request req;
  req.mutable_resume()->set_actor(ctx.actor());
  auto r = ask(repairer(), req, kWriteTimeout);
  if (!r) return one(render_unavailable("repairer", r.message()), nullptr, "repairer unavailable");
  if (r->has_error()) return one("✖ Not resumed: " + esc(r->error().message()), nullptr, "refused");
  std::string text = "▶️ <b>Auto-repair resumed</b>.";
  if (r->has_repair_status() && r->repair_status().cooldown_until_ms() > ctx.now_ms) {
    text += "\n⏳ A cooldown is still on until " + clock_time(r->repair_status().cooldown_until_ms(), ctx.now_ms) + ".";
  } else {
    text += " If the gateway is down, a repair starts now.";
  }
  return one(text, main_keyboard(false));
}

CommandResult CommandHandler::logs(const CommandContext& ctx) {
  pb::Request req;
  req.mutable_logs()->set_limit(10);
  auto r = ask(repairer(), req, kReadTimeout);
  if (!r || !r->has_logs()) {
    return one(render_unavailable("repairer", r ? "unexpected answer" : r.message()), nullptr, "repairer unavailable");
  }
  return one(render_logs(r->logs(), ctx.now_ms));
}

CommandResult CommandHandler::history(const CommandContext& /*ctx*/) {
  pb::Request req;
  req.mutable_stats();
  auto r = ask(repairer(), req, kReadTimeout);
  if (!r || !r->has_stats()) {
    return one(render_unavailable("repairer", r ? "unexpected answer" : r.message()), nullptr, "repairer unavailable");
  }
  return one(render_stats(r->stats()));
}

CommandResult CommandHandler::config(const std::string& args, const CommandContext& ctx) {
  const auto [sub_raw, rest] = split_word(args);
  const std::string sub = to_lower(sub_raw);
  if (sub.empty()) {
    pb::Request req;
    req.mutable_get_config();  // never include_secrets
    auto r = ask(kSupervisor, req, kReadTimeout);
    if (!r || !r->has_config()) {
      return one(render_unavailable("supervisor", r ? "unexpected answer" : r.message()), nullptr,
                 "supervisor unavailable");
    }
    return one(render_config(r->config()));
  }
  const std::string usage =
      "Usage: <code>/config set KEY VALUE</code> or <code>/config reset KEY</code>; /config lists the settings.";
  if (sub != "set" && sub != "reset") return one("❌ " + usage, nullptr, "usage");
  const auto [key, value] = split_word(rest);
  if (key.empty() || (sub == "set" && value.empty())) return one("❌ " + usage, nullptr, "usage");
  if (!is_config_key(key)) {
    return one("❌ There is no setting <code>" + esc(key, 80) + "</code>. /config lists the ones you can change.",
               nullptr, "unknown key");
  }
  if (is_secret_key(key)) {
    return one("❌ <code>" + esc(key, 80) +
                   "</code> is a secret: set it in the config file or the environment, never in a chat.",
               nullptr, "secret key");
  }
  pb::Request req;
  auto* set = req.mutable_set_config();
  set->set_key(key);
  set->set_actor(ctx.actor());
  if (sub == "reset") {
    set->set_reset(true);
  } else {
    set->set_value(value);
  }
  auto r = ask(kSupervisor, req, kWriteTimeout);
  if (!r) return one(render_unavailable("supervisor", r.message()), nullptr, "supervisor unavailable");
  if (r->has_error()) return one("❌ Not changed: " + esc(r->error().message(), 500), nullptr, "invalid");
  if (!r->has_set_config()) return one("⚠️ The supervisor gave an unexpected answer.", nullptr, "unexpected");
  const auto& s = r->set_config();
  return one("✅ <code>" + esc(s.key(), 80) + "</code> = <code>" + esc(s.value(), 200) + "</code>" +
                 (sub == "reset" ? " (run-time change undone)" : "") + "\nSaved and applied (config v" +
                 std::to_string(s.version()) + ").",
             nullptr, "set");
}

}  // namespace gwr::telegram
