// Commands and buttons against a scripted ControlPort: what each one asks the
// components and what it answers, including components that do not answer.
#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "common/config.h"
#include "common/config_schema.h"
#include "common/control.h"
#include "telegram-bridge/command_handler.h"
#include "telegram-bridge/html_text.h"
#include "telegram-bridge/messages.h"
#include "tests/fakes/telegram/telegram_text.h"

namespace gwr::telegram {
namespace {

namespace tt = gwr::testing::telegram_text;

// Answers per component and request body; records what was asked.
class ScriptedPort final : public ControlPort {
 public:
  using Handler = std::function<Result<pb::Reply>(const pb::Request&)>;
  void on(const std::string& component, Handler h) { handlers_[component] = std::move(h); }
  Result<pb::Reply> call(const std::string& component, const pb::Request& request, std::chrono::milliseconds) override {
    calls.emplace_back(component, request);
    const auto it = handlers_.find(component);
    if (it == handlers_.end()) return make_error("not running (no socket at /run/" + component + ".sock)");
    return it->second(request);
  }
  std::vector<std::pair<std::string, pb::Request>> calls;

 private:
  std::map<std::string, Handler> handlers_;
};

constexpr int64_t kNow = 1'800'000'000'000;

CommandContext context(int64_t message_id = 77) {
  CommandContext c;
  c.chat_id = 4242;
  c.user_id = 42;
  c.username = "owner";
  c.message_id = message_id;
  c.message_date = kNow / 1000 - 2;
  c.now_ms = kNow;
  return c;
}

std::string visible(const Outgoing& o) {
  const auto p = tt::parse_html(o.text);
  EXPECT_TRUE(p.ok) << p.error << "\n" << o.text;
  EXPECT_LE(utf16_units(o.text), kMaxMessageUnits);
  return p.visible;
}

class CommandHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_.on("prober", [](const pb::Request& r) -> Result<pb::Reply> {
      pb::Reply reply;
      if (!r.has_probe_status()) return error_reply(pb::Error::UNRECOGNIZED, "no");
      auto* h = reply.mutable_probe_status()->mutable_health();
      h->set_state(pb::HEALTHY);
      h->set_pid(4321);
      h->set_uptime_ms(3 * 3'600'000);
      h->set_rss_bytes(845ull << 20);
      h->set_observed_at_ms(kNow - 2000);
      h->set_state_since_ms(kNow - 600'000);
      return reply;
    });
    port_.on("repairer", [this](const pb::Request& r) -> Result<pb::Reply> {
      pb::Reply reply;
      if (r.has_repair_status() || r.has_pause() || r.has_resume()) {
        if (r.has_pause()) {
          paused_ = true;
          paused_until_ = r.pause().for_ms() > 0 ? kNow + r.pause().for_ms() : 0;
        }
        if (r.has_resume()) paused_ = false;
        auto* s = reply.mutable_repair_status();
        s->set_paused(paused_);
        s->set_paused_until_ms(paused_ ? paused_until_ : 0);
        s->set_paused_by(paused_ ? "gwrctl" : "");
        s->set_repairs_last_hour(1);
        s->set_max_per_hour(3);
        s->set_in_progress(running_ != 0);
        s->set_current_repair_id(running_);
        s->set_current_tier(1);
      } else if (r.has_repair()) {
        if (running_) return error_reply(pb::Error::REFUSED, "repair #" + std::to_string(running_) + " is already running (tier 1)");
        running_ = 12;
        reply.mutable_repair_accepted()->set_repair_id(12);
      } else if (r.has_logs()) {
        for (int i = 0; i < 10; ++i) {
          auto* e = reply.mutable_logs()->add_events();
          e->set_kind(pb::RepairEvent::STEP);
          e->set_repair_id(3);
          e->mutable_step()->set_name("restart");
          e->mutable_step()->set_tier(1);
          e->mutable_step()->set_ok(i % 2 == 0);
          e->mutable_step()->set_detail("output <with> & markup");
          e->set_at_ms(kNow - 1000 * i);
        }
      } else if (r.has_stats()) {
        auto* w = reply.mutable_stats()->add_windows();
        w->set_name("24h");
        w->set_repairs(4);
        w->set_succeeded(3);
        w->set_failed(1);
        w->set_success_rate(0.75);
        w->set_avg_duration_ms(4100);
        auto* t = w->add_tiers();
        t->set_tier(1);
        t->set_attempts(4);
        t->set_fixes(3);
        t->set_avg_duration_ms(2000);
        auto* l = reply.mutable_stats()->add_learned();
        l->set_signature("down|process:no process named #");
        l->set_seen(4);
        l->set_best_tier(1);
      } else {
        return error_reply(pb::Error::UNRECOGNIZED, "no");
      }
      return reply;
    });
    port_.on("supervisor", [](const pb::Request& r) -> Result<pb::Reply> {
      pb::Reply reply;
      if (r.has_components()) {
        for (const char* name : {"supervisor", "prober", "repairer", "telegram-bridge"}) {
          auto* c = reply.mutable_components()->add_components();
          c->set_name(name);
          c->set_state(pb::COMPONENT_RUNNING);
          c->set_pid(100);
          c->set_restarts(std::string(name) == "repairer" ? 2 : 0);
        }
      } else if (r.has_get_config()) {
        EXPECT_FALSE(r.get_config().include_secrets());
        pb::Config cfg = default_config({});
        cfg.mutable_telegram()->set_bot_token("123456789:AAH-secret-token-abcdefghijklmnopqrs");
        *reply.mutable_config()->mutable_config() = masked_config(cfg);
        reply.mutable_config()->set_version(3);
        reply.mutable_config()->add_overridden_keys("repair.max_per_hour");
      } else if (r.has_set_config()) {
        if (r.set_config().key() == "repair.max_per_hour" && r.set_config().value() == "zero") {
          return error_reply(pb::Error::INVALID_ARGUMENT, "repair.max_per_hour (config set): must be a whole number");
        }
        reply.mutable_set_config()->set_key(r.set_config().key());
        reply.mutable_set_config()->set_value(r.set_config().value());
        reply.mutable_set_config()->set_version(4);
      }
      return reply;
    });
  }

  ScriptedPort port_;
  CommandHandler handler_{port_};
  int64_t paused_until_ = 0;
  bool paused_ = false;
  int64_t running_ = 0;
};

TEST_F(CommandHandlerTest, StatusShowsEverythingWithButtons) {
  auto r = handler_.handle_command("status", "", context());
  ASSERT_EQ(r.messages.size(), 1u);
  const auto& m = r.messages[0];
  EXPECT_EQ(m.reply_to, 77);
  const std::string text = visible(m);
  for (const char* part : {"Gateway healthy", "pid 4321", "up 3h", "845.0 MB", "Last check", "Auto-repair: ▶ on",
                           "Repairs in the last hour: 1/3", "repairer", "2 restarts", "telegram-bridge"}) {
    EXPECT_NE(text.find(part), std::string::npos) << part << "\n" << text;
  }
  const std::string kb = m.keyboard.dump();
  for (const char* data : {"\"repair\"", "\"logs\"", "\"pause\"", "\"stats\""}) EXPECT_NE(kb.find(data), std::string::npos);
  EXPECT_EQ(r.outcome, "ok");
}

// Several gateways: the gateway is named in the command or chosen with a
// button that carries its name; what runs goes to that gateway's components.
TEST_F(CommandHandlerTest, SeveralGatewaysAreNamedAskedForAndKeptApart) {
  int rescue_repairs = 0;
  port_.on("prober.rescue", [](const pb::Request& r) -> Result<pb::Reply> {
    pb::Reply reply;
    if (!r.has_probe_status()) return error_reply(pb::Error::UNRECOGNIZED, "no");
    reply.mutable_probe_status()->mutable_health()->set_state(pb::DOWN);
    return reply;
  });
  port_.on("repairer.rescue", [&](const pb::Request& r) -> Result<pb::Reply> {
    pb::Reply reply;
    if (r.has_repair()) {
      ++rescue_repairs;
      reply.mutable_repair_accepted()->set_repair_id(3);
    } else if (r.has_repair_status()) {
      reply.mutable_repair_status()->set_max_per_hour(1);
    } else {
      return error_reply(pb::Error::UNRECOGNIZED, "no");
    }
    return reply;
  });
  handler_.set_gateways({"main", "rescue"});

  // /status lists every gateway, each with buttons for it; components once.
  auto st = handler_.handle_command("status", "", context());
  ASSERT_EQ(st.messages.size(), 2u);
  EXPECT_NE(visible(st.messages[0]).find("Gateway main healthy"), std::string::npos) << visible(st.messages[0]);
  EXPECT_NE(visible(st.messages[1]).find("Gateway rescue down"), std::string::npos) << visible(st.messages[1]);
  EXPECT_EQ(visible(st.messages[0]).find("Components"), std::string::npos);
  EXPECT_NE(visible(st.messages[1]).find("Components"), std::string::npos);
  EXPECT_EQ(st.messages[1].keyboard["inline_keyboard"][0][0]["callback_data"], "repair@rescue");
  EXPECT_EQ(st.messages[0].keyboard["inline_keyboard"][0][0]["callback_data"], "repair@main");

  // /repair with no name asks which; nothing is repaired yet.
  port_.calls.clear();
  auto ask = handler_.handle_command("repair", "", context());
  ASSERT_EQ(ask.messages.size(), 1u);
  EXPECT_NE(visible(ask.messages[0]).find("Which gateway"), std::string::npos);
  EXPECT_EQ(ask.messages[0].keyboard["inline_keyboard"][0][1]["callback_data"], "repair@rescue");
  EXPECT_TRUE(port_.calls.empty());

  // The button: the question, for rescue, with a confirmation for rescue.
  auto q = handler_.handle_callback("repair@rescue", context(90));
  ASSERT_EQ(q.messages.size(), 1u);
  EXPECT_NE(visible(q.messages[0]).find("rescue"), std::string::npos);
  EXPECT_EQ(q.messages[0].keyboard["inline_keyboard"][0][0]["callback_data"],
            std::string(button::kRepairConfirm) + "@rescue");
  auto done = handler_.handle_callback(std::string(button::kRepairConfirm) + "@rescue", context(90));
  EXPECT_EQ(rescue_repairs, 1);
  EXPECT_EQ(running_, 0) << "main's repairer was not asked";
  EXPECT_NE(visible(done.messages[0]).find("rescue"), std::string::npos);

  // /repair rescue names it directly; /pause main pauses main only.
  auto named = handler_.handle_command("repair", "rescue", context());
  EXPECT_EQ(named.outcome, "asked to confirm");
  auto paused = handler_.handle_command("pause", "main 30m", context());
  EXPECT_TRUE(paused_);
  EXPECT_NE(visible(paused.messages[0]).find("main"), std::string::npos);

  // A button for a gateway gwr does not watch does nothing.
  port_.calls.clear();
  auto stranger = handler_.handle_callback(std::string(button::kRepairConfirm) + "@other", context(90));
  EXPECT_EQ(stranger.outcome, "unknown gateway");
  EXPECT_TRUE(port_.calls.empty());
  EXPECT_EQ(rescue_repairs, 1);
  // The checks on buttons see through the name.
  EXPECT_TRUE(CommandHandler::callback_has_side_effect(std::string(button::kRepairConfirm) + "@rescue"));
  EXPECT_TRUE(CommandHandler::callback_changes_something("repair@rescue"));
  EXPECT_EQ(CommandHandler::callback_ack("resume@rescue"), CommandHandler::callback_ack("resume"));
}

// No gateway named main (gateways: [home]): no name means the first gateway,
// whose components are repairer.home and prober.home; /pause 30m with several
// gateways keeps its 30m in the buttons that ask which.
TEST_F(CommandHandlerTest, WithoutANameTheFirstGatewayIsMeantAndAPauseKeepsItsSpan) {
  handler_.set_gateways({"home"});
  port_.calls.clear();
  (void)handler_.handle_command("status", "", context());
  ASSERT_FALSE(port_.calls.empty());
  EXPECT_EQ(port_.calls[0].first, "prober.home");
  EXPECT_EQ(port_.calls[1].first, "repairer.home");
  handler_.set_gateways({"main", "rescue"});
  auto ask = handler_.handle_command("pause", "30m", context());
  ASSERT_EQ(ask.messages.size(), 1u);
  EXPECT_EQ(ask.messages[0].keyboard["inline_keyboard"][0][1]["callback_data"], "pausefor:30m@rescue");
}

// fleet.role hub: the nodes' gateways come from gwr-fleet, are asked through
// it, and a name with a slash the hub does not know is never taken for its own.
TEST_F(CommandHandlerTest, AHubAsksANodesGatewayThroughGwrFleetAndNeverMistakesItForItsOwn) {
  bool fleet_up = true;
  std::vector<pb::FleetRelayRequest> relayed;
  port_.on("fleet", [&](const pb::Request& r) -> Result<pb::Reply> {
    if (!fleet_up) return make_error("not running");
    pb::Reply reply;
    if (r.has_fleet_status()) {
      auto* n = reply.mutable_fleet_status()->add_nodes();
      n->set_name("web1");
      n->set_connected(true);
      n->set_last_seen_ms(kNow - 3000);
      n->add_gateways()->set_name("main");
      auto* gone = reply.mutable_fleet_status()->add_nodes();
      gone->set_name("old");
      gone->set_revoked(true);
      gone->add_gateways()->set_name("main");
    } else if (r.has_fleet_relay()) {
      relayed.push_back(r.fleet_relay());
      if (r.fleet_relay().request().has_pause()) {
        reply.mutable_repair_status()->set_paused(true);
      } else if (r.fleet_relay().request().has_probe_status()) {
        reply.mutable_probe_status()->mutable_health()->set_state(pb::HEALTHY);
      } else {
        reply.mutable_repair_status();
      }
    }
    return reply;
  });
  handler_.set_gateways({"main"});
  handler_.set_fleet_hub(true);

  auto st = handler_.handle_command("status", "", context());
  ASSERT_EQ(st.messages.size(), 2u) << "the hub's own and web1's";
  EXPECT_NE(visible(st.messages[1]).find("Gateway web1/main healthy"), std::string::npos) << visible(st.messages[1]);
  EXPECT_NE(visible(st.messages[1]).find("node web1 · heard from"), std::string::npos) << visible(st.messages[1]);
  for (const auto& m : st.messages) EXPECT_EQ(visible(m).find("old/main"), std::string::npos) << "revoked";
  ASSERT_EQ(relayed.size(), 2u);
  EXPECT_EQ(relayed[0].node(), "web1");
  EXPECT_EQ(relayed[0].component(), "prober");
  EXPECT_EQ(relayed[1].component(), "repairer");
  EXPECT_GT(relayed[1].timeout_ms(), 0u);

  relayed.clear();
  auto p = handler_.handle_command("pause", "web1/main 30m", context());
  int pauses = 0;
  for (const auto& r : relayed) {
    EXPECT_EQ(r.node(), "web1");
    EXPECT_EQ(r.component(), "repairer");
    if (!r.request().has_pause()) continue;
    ++pauses;
    EXPECT_EQ(r.request().pause().actor(), "telegram:42");
    EXPECT_EQ(r.request().pause().for_ms(), 30 * 60'000);
  }
  EXPECT_EQ(pauses, 1);
  EXPECT_FALSE(paused_) << "the hub's own gateway was paused";
  EXPECT_EQ(visible(p.messages[0]).rfind("🖥 web1/main · ", 0), 0u) << visible(p.messages[0]);

  // gwr-fleet down, or a node it does not know: refused, nothing done anywhere.
  fleet_up = false;
  relayed.clear();
  for (const char* args : {"web1/main", "nope/main 30m"}) {
    port_.calls.clear();
    auto r = handler_.handle_command("pause", args, context());
    ASSERT_EQ(r.messages.size(), 1u);
    EXPECT_NE(visible(r.messages[0]).find("nothing was done"), std::string::npos) << visible(r.messages[0]);
    for (const auto& [component, request] : port_.calls) EXPECT_FALSE(request.has_pause()) << component;
  }
  EXPECT_FALSE(paused_);
  EXPECT_TRUE(relayed.empty());
  // A button for it says the same.
  auto b = handler_.handle_callback("pausefor:30m@web1/main", context());
  ASSERT_EQ(b.messages.size(), 1u);
  EXPECT_NE(visible(b.messages[0]).find("nothing was done"), std::string::npos);
  EXPECT_FALSE(paused_);
}

TEST_F(CommandHandlerTest, StatusWithComponentsDownSaysUnavailable) {
  ScriptedPort empty;
  CommandHandler h(empty);
  auto r = h.handle_command("status", "", context());
  ASSERT_EQ(r.messages.size(), 1u);
  const std::string text = visible(r.messages[0]);
  EXPECT_NE(text.find("prober unavailable"), std::string::npos) << text;
  EXPECT_NE(text.find("repairer unavailable"), std::string::npos);
  EXPECT_NE(text.find("unavailable (supervisor"), std::string::npos);
  EXPECT_EQ(r.outcome, "partial");
}

TEST_F(CommandHandlerTest, RepairAsksThenConfirmStartsItAndEditsTheQuestion) {
  auto q = handler_.handle_command("repair", "", context());
  ASSERT_EQ(q.messages.size(), 1u);
  EXPECT_NE(visible(q.messages[0]).find("Repair the gateway now?"), std::string::npos);
  const std::string kb = q.messages[0].keyboard.dump();
  EXPECT_NE(kb.find("repair_confirm"), std::string::npos);
  EXPECT_NE(kb.find("repair_cancel"), std::string::npos);
  EXPECT_TRUE(port_.calls.end() == std::find_if(port_.calls.begin(), port_.calls.end(),
                                                [](const auto& c) { return c.second.has_repair(); }));

  auto c = handler_.handle_callback("repair_confirm", context(500));
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0].kind, Outgoing::Kind::kEdit);
  EXPECT_EQ(c.messages[0].edit_message_id, 500);
  EXPECT_NE(visible(c.messages[0]).find("Repair #12 started"), std::string::npos);
  const auto& req = std::find_if(port_.calls.begin(), port_.calls.end(), [](const auto& x) { return x.second.has_repair(); })
                        ->second.repair();
  EXPECT_EQ(req.actor(), "telegram:42");
  EXPECT_EQ(req.reason(), "manual repair from Telegram");

  // While it runs, /repair says so; a second confirmation shows the refusal.
  EXPECT_NE(visible(handler_.handle_command("repair", "", context()).messages[0]).find("already running"),
            std::string::npos);
  auto again = handler_.handle_callback("repair_confirm", context(501));
  EXPECT_NE(visible(again.messages[0]).find("Not started: repair #12 is already running"), std::string::npos);
  EXPECT_EQ(again.outcome, "refused");
}

TEST_F(CommandHandlerTest, TheStartButtonAsksTheRepairerForThatChannelAndNothingOdd) {
  auto c = handler_.handle_callback("chstart:telegram", context(500));
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_NE(visible(c.messages[0]).find("Starting channel telegram"), std::string::npos) << visible(c.messages[0]);
  const auto it = std::find_if(port_.calls.begin(), port_.calls.end(), [](const auto& x) { return x.second.has_repair(); });
  ASSERT_NE(it, port_.calls.end());
  EXPECT_EQ(it->second.repair().start_channel(), "telegram");
  EXPECT_EQ(it->second.repair().actor(), "telegram:42");
  EXPECT_TRUE(CommandHandler::callback_has_side_effect("chstart:telegram"));  // owners only
  port_.calls.clear();
  auto odd = handler_.handle_callback("chstart:Tele gram;x", context(501));
  EXPECT_NE(visible(odd.messages[0]).find("Not a channel id"), std::string::npos);
  EXPECT_TRUE(std::none_of(port_.calls.begin(), port_.calls.end(), [](const auto& x) { return x.second.has_repair(); }));
}

TEST_F(CommandHandlerTest, AnOldConfirmationDoesNothing) {
  auto ctx = context(500);
  ctx.message_date = kNow / 1000 - 6 * 60;
  auto c = handler_.handle_callback("repair_confirm", ctx);
  EXPECT_NE(visible(c.messages[0]).find("expired"), std::string::npos);
  EXPECT_TRUE(std::none_of(port_.calls.begin(), port_.calls.end(), [](const auto& x) { return x.second.has_repair(); }));
  auto cancel = handler_.handle_callback("repair_cancel", context(500));
  EXPECT_EQ(cancel.messages[0].kind, Outgoing::Kind::kEdit);
  EXPECT_NE(visible(cancel.messages[0]).find("cancelled"), std::string::npos);
}

TEST_F(CommandHandlerTest, PauseAndResume) {
  auto p = handler_.handle_command("pause", "upgrading node", context());
  ASSERT_EQ(p.messages.size(), 1u);
  EXPECT_NE(visible(p.messages[0]).find("Auto-repair paused: upgrading node"), std::string::npos);
  EXPECT_NE(p.messages[0].keyboard.dump().find("\"resume\""), std::string::npos);
  const auto pause = std::find_if(port_.calls.begin(), port_.calls.end(), [](const auto& x) { return x.second.has_pause(); });
  ASSERT_NE(pause, port_.calls.end());
  EXPECT_EQ(pause->second.pause().actor(), "telegram:42");
  EXPECT_EQ(pause->second.pause().reason(), "upgrading node");
  // The ⏸ button asks for how long; "until resumed" over a pause says so.
  const auto menu = handler_.handle_callback("pause", context());
  EXPECT_NE(visible(menu.messages[0]).find("for how long"), std::string::npos);
  EXPECT_NE(menu.messages[0].keyboard.dump().find("\"pausefor:15m\""), std::string::npos);
  EXPECT_NE(menu.messages[0].keyboard.dump().find("\"pausefor:1h\""), std::string::npos);
  EXPECT_NE(menu.messages[0].keyboard.dump().find("\"pausefor:\""), std::string::npos);
  EXPECT_NE(visible(handler_.handle_callback("pausefor:", context()).messages[0]).find("already paused"), std::string::npos);
  auto r = handler_.handle_callback("resume", context());
  EXPECT_NE(visible(r.messages[0]).find("Auto-repair resumed"), std::string::npos);
  EXPECT_NE(visible(handler_.handle_command("resume", "", context()).messages[0]).find("already on"), std::string::npos);
}

TEST_F(CommandHandlerTest, TimedPauseFromACommandOrTheMenuResumesByItself) {
  const auto count_pauses = [&] {
    return std::count_if(port_.calls.begin(), port_.calls.end(), [](const auto& x) { return x.second.has_pause(); });
  };
  auto p = handler_.handle_command("pause", "30m upgrading node", context());
  const auto last_pause = [&] {
    return std::find_if(port_.calls.rbegin(), port_.calls.rend(), [](const auto& x) { return x.second.has_pause(); })->second.pause();
  };
  EXPECT_EQ(last_pause().for_ms(), 30 * 60'000);
  EXPECT_EQ(last_pause().reason(), "upgrading node");
  EXPECT_NE(visible(p.messages[0]).find("resume by themselves at"), std::string::npos) << visible(p.messages[0]);
  EXPECT_NE(visible(p.messages[0]).find("in 30m"), std::string::npos) << visible(p.messages[0]);
  // A timed pause over a pause sets its end (the repairer keeps the latest word).
  (void)handler_.handle_callback("pausefor:1h", context());
  EXPECT_EQ(last_pause().for_ms(), 3'600'000);
  (void)handler_.handle_callback("resume", context());
  // Not a duration: nothing is paused, and the owner hears why.
  const auto before = count_pauses();
  for (const char* bad : {"99x", "0s", "45d", "5"}) {
    const auto b = handler_.handle_command("pause", bad, context());
    EXPECT_NE(visible(b.messages[0]).find("Not paused"), std::string::npos) << bad;
  }
  EXPECT_NE(visible(handler_.handle_callback("pausefor:forever", context()).messages[0]).find("Not paused"), std::string::npos);
  EXPECT_EQ(count_pauses(), before);
  // Words are a reason, and the pause lasts until resumed.
  (void)handler_.handle_command("pause", "upgrading for 30m", context());
  EXPECT_EQ(last_pause().for_ms(), 0);
  EXPECT_EQ(last_pause().reason(), "upgrading for 30m");
}

TEST_F(CommandHandlerTest, StartGatewayButtonIsAManualTier1Repair) {
  const auto r = handler_.handle_callback("start_gateway", context());
  EXPECT_NE(visible(r.messages[0]).find("Starting the gateway"), std::string::npos) << visible(r.messages[0]);
  const auto req = std::find_if(port_.calls.begin(), port_.calls.end(), [](const auto& x) { return x.second.has_repair(); });
  ASSERT_NE(req, port_.calls.end());
  EXPECT_EQ(req->second.repair().start_tier(), 1u);
  EXPECT_EQ(req->second.repair().actor(), "telegram:42");
  EXPECT_TRUE(CommandHandler::callback_has_side_effect("start_gateway"));
}

TEST_F(CommandHandlerTest, LogsAndHistory) {
  auto l = handler_.handle_command("logs", "", context());
  const std::string logs = visible(l.messages[0]);
  EXPECT_NE(logs.find("Last 10 repair events"), std::string::npos);
  EXPECT_NE(logs.find("output <with> & markup"), std::string::npos);
  const auto req = std::find_if(port_.calls.begin(), port_.calls.end(), [](const auto& x) { return x.second.has_logs(); });
  EXPECT_EQ(req->second.logs().limit(), 10u);
  const std::string hist = visible(handler_.handle_command("history", "", context()).messages[0]);
  for (const char* part : {"Last 24h", "4 repairs", "75% success", "avg 4.1s", "tier 1: 3/4 fixed, avg 2.0s",
                           "Learned patterns", "seen 4×"}) {
    EXPECT_NE(hist.find(part), std::string::npos) << part << "\n" << hist;
  }
  // The Stats button answers the same.
  EXPECT_EQ(visible(handler_.handle_callback("stats", context()).messages[0]), hist);
}

TEST_F(CommandHandlerTest, ConfigShowsSettingsNeverSecrets) {
  auto r = handler_.handle_command("config", "", context());
  const std::string text = visible(r.messages[0]);
  EXPECT_NE(text.find("repair.max_per_hour = 3 (set at run time)"), std::string::npos) << text;
  EXPECT_NE(text.find("probes.health.interval"), std::string::npos);
  EXPECT_NE(text.find("/config set KEY VALUE"), std::string::npos);
  EXPECT_EQ(text.find("bot_token"), std::string::npos);
  // The same keys `gwrctl config keys --json` calls [runtime] (one declaration).
  for (const auto& k : config_keys_json()) {
    const std::string key = k["key"];
    const bool listed = text.find(key + " = ") != std::string::npos;
    EXPECT_EQ(listed, k["runtime_settable"] == true && k["secret"] == false) << key;
  }
  EXPECT_EQ(text.find("AAH-secret"), std::string::npos);
  EXPECT_EQ(text.find("api_key"), std::string::npos);
}

TEST_F(CommandHandlerTest, ConfigSetValidatesThroughTheSupervisor) {
  auto ok = handler_.handle_command("config", "set repair.max_per_hour 5", context());
  EXPECT_NE(visible(ok.messages[0]).find("repair.max_per_hour = 5"), std::string::npos);
  const auto set = std::find_if(port_.calls.begin(), port_.calls.end(), [](const auto& x) { return x.second.has_set_config(); });
  ASSERT_NE(set, port_.calls.end());
  EXPECT_EQ(set->second.set_config().actor(), "telegram:42");
  auto bad = handler_.handle_command("config", "set repair.max_per_hour zero", context());
  EXPECT_NE(visible(bad.messages[0]).find("Not changed: repair.max_per_hour (config set): must be a whole number"),
            std::string::npos);
  EXPECT_NE(visible(handler_.handle_command("config", "set no.such.key 1", context()).messages[0]).find("There is no setting"),
            std::string::npos);
  const auto secret = handler_.handle_command("config", "set telegram.bot_token 1:abc", context());
  EXPECT_NE(visible(secret.messages[0]).find("is a secret"), std::string::npos);
  EXPECT_NE(visible(handler_.handle_command("config", "set repair.max_per_hour", context()).messages[0]).find("Usage"),
            std::string::npos);
  auto reset = handler_.handle_command("config", "reset repair.max_per_hour", context());
  EXPECT_NE(visible(reset.messages[0]).find("run-time change undone"), std::string::npos);
  const size_t sets = std::count_if(port_.calls.begin(), port_.calls.end(), [](const auto& x) { return x.second.has_set_config(); });
  EXPECT_EQ(sets, 3u);  // the unknown key, the secret and the usage error never left the bot
}

TEST_F(CommandHandlerTest, HelpAndUnknownCommands) {
  const std::string help = visible(handler_.handle_command("help", "", context()).messages[0]);
  for (const char* c : {"/status", "/repair", "/logs", "/history", "/config", "/pause", "/resume"}) {
    EXPECT_NE(help.find(c), std::string::npos) << c;
  }
  EXPECT_EQ(visible(handler_.handle_command("start", "", context()).messages[0]), help);
  const auto unknown = handler_.handle_command("frobnicate<b>", "", context());
  EXPECT_NE(visible(unknown.messages[0]).find("I don't know /frobnicate<b>"), std::string::npos);
  EXPECT_TRUE(handler_.handle_callback("no_such_button", context()).messages.empty());
}

TEST_F(CommandHandlerTest, SideEffectingCommandsDeliveredLateAreNotCarriedOut) {
  auto ctx = context();
  ctx.message_date = kNow / 1000 - 3600;
  auto r = handler_.handle_command("pause", "", ctx);
  EXPECT_NE(visible(r.messages[0]).find("Not done"), std::string::npos);
  EXPECT_TRUE(port_.calls.empty());
  // Reading is harmless, late or not.
  EXPECT_EQ(handler_.handle_command("status", "", ctx).outcome, "ok");
}

TEST_F(CommandHandlerTest, SideEffectClassification) {
  EXPECT_TRUE(CommandHandler::command_has_side_effect("pause", ""));
  EXPECT_TRUE(CommandHandler::command_has_side_effect("resume", ""));
  EXPECT_TRUE(CommandHandler::command_has_side_effect("config", "set a b"));
  EXPECT_TRUE(CommandHandler::command_has_side_effect("config", "RESET a"));
  EXPECT_FALSE(CommandHandler::command_has_side_effect("config", ""));
  EXPECT_FALSE(CommandHandler::command_has_side_effect("repair", ""));  // only asks
  EXPECT_FALSE(CommandHandler::command_has_side_effect("status", ""));
  EXPECT_TRUE(CommandHandler::callback_has_side_effect("repair_confirm"));
  EXPECT_FALSE(CommandHandler::callback_has_side_effect("pause"));  // only shows the menu
  EXPECT_TRUE(CommandHandler::callback_changes_something("pause"));
  EXPECT_TRUE(CommandHandler::callback_has_side_effect("pausefor:15m"));
  EXPECT_TRUE(CommandHandler::callback_has_side_effect("pausefor:"));
  EXPECT_FALSE(CommandHandler::callback_has_side_effect("repair"));
  EXPECT_FALSE(CommandHandler::callback_has_side_effect("logs"));
  auto i = CommandHandler::interrupted("/pause", context());
  EXPECT_NE(visible(i.messages[0]).find("may or may not have taken effect"), std::string::npos);
}

TEST(Keyboards, CallbackDataIsShortAndValid) {
  for (bool paused : {false, true}) {
    const auto kb = main_keyboard(paused);
    ASSERT_EQ(kb["inline_keyboard"].size(), 2u);
    for (const auto& row : kb["inline_keyboard"]) {
      for (const auto& b : row) {
        EXPECT_LE(b["callback_data"].get<std::string>().size(), 64u);
        EXPECT_FALSE(b["text"].get<std::string>().empty());
      }
    }
    EXPECT_EQ(kb["inline_keyboard"][1][0]["callback_data"], paused ? "resume" : "pause");
  }
  EXPECT_EQ(bot_commands().size(), 7u);
}

}  // namespace
}  // namespace gwr::telegram
