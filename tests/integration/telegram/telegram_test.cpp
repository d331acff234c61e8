// gwr-telegram-bridge end to end: the real daemon, the fake gateway and
// openclaw CLI, and an in-process FakeTelegram on loopback. Every command and
// button; strangers; one incident = one thread; outages, a crash mid-send,
// 429/409, garbage updates; the token never on disk.
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "common/platform/proc.h"
#include "tests/fakes/telegram/fake_telegram.h"
#include "tests/support/repair_scenario.h"

namespace gwr::testing {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

constexpr int64_t kChat = 4242;
constexpr int64_t kOwner = 4242;  // a private chat: the owner's user id is the chat id
constexpr const char* kToken = "123456789:AAH-test-token-abcdefghijklmnopqrstuv";
constexpr const char* kTokenSecret = "AAH-test-token-abcdefghijklmnopqrstuv";

class TelegramTest : public RepairScenario {
 protected:
  void SetUp() override {
    RepairScenario::SetUp();
    tg_ = std::make_unique<FakeTelegram>(kToken);
    tg_->start();
  }

  void TearDown() override {
    if (daemon_) {
      // Whatever the test did, the token reached no log and no database.
      EXPECT_TRUE(files_containing(daemon_->log_dir(), kTokenSecret).empty());
      EXPECT_TRUE(files_containing(daemon_->state_dir(), kTokenSecret).empty());
      // Only where the owner keeps it: the config, or the 0600 .env beside it.
      const std::string env_file = (std::filesystem::path(daemon_->config_path()).parent_path() / ".env").string();
      for (const auto& f : files_containing(daemon_->dir().path(), kTokenSecret)) {
        EXPECT_TRUE(f == daemon_->config_path() || f == env_file) << "the token leaked into " << f;
      }
    }
  }

  // The scenario's config with Telegram on, pointed at the fake.
  std::string yaml(const std::string& telegram_more) const {
    return RepairScenario::yaml("telegram:\n"
                                "  api_base_url: " + tg_->base_url() + "\n"
                                "  bot_token: \"" + kToken + "\"\n"
                                "  chat_id: " + std::to_string(kChat) + "\n"
                                "  poll_timeout: 2s\n" +
                                telegram_more);
  }

  // Starts everything; with wait_polling, returns once the bot long-polls.
  void start(const std::string& telegram_more = "", bool wait_polling = true, const std::string& more_yaml = "") {
    ASSERT_TRUE(service_->start_healthy());
    daemon_ = std::make_unique<Daemon>(yaml(telegram_more) + more_yaml);
    ASSERT_TRUE(daemon_->start());
    ASSERT_TRUE(gateway_healthy());
    if (wait_polling) {
      ASSERT_TRUE(tg_->wait_for([&] { return tg_->active_long_polls() > 0; }, 10s)) << "the bot never polled";
    }
  }

  ::testing::AssertionResult gateway_healthy() {
    return wait_until([&] {
      pb::Request req;
      req.mutable_probe_status();
      auto r = daemon_->call("prober", req);
      return r && r->has_probe_status() && r->probe_status().health().state() == pb::HEALTHY;
    }, 10s, "gateway healthy");
  }

  // The bridge's pid as the supervisor reports it (0 while it is restarting).
  pid_t bridge_pid() {
    pid_t pid = 0;
    (void)wait_until([&] {
      auto c = daemon_->components();
      if (!c) return false;  // a busy moment: ask again
      for (const auto& comp : c->components()) {
        if (comp.name() == "telegram-bridge") pid = static_cast<pid_t>(comp.pid());
      }
      return true;
    }, 5s, "components");
    return pid;
  }

  // What the bridge's heartbeat says it is doing ("" when not known).
  std::string bridge_activity() {
    const auto comps = daemon_->components();
    if (!comps) return "";
    for (const auto& c : comps->components()) {
      if (c.name() == "telegram-bridge") return c.activity();
    }
    return "";
  }

  // A whole config file for the running daemon (its paths first, as Daemon writes them).
  std::string with_paths(const std::string& rest) {
    return "paths:\n  runtime_dir: " + daemon_->runtime_dir() + "\n  state_dir: " + daemon_->state_dir() +
           "\n  log_dir: " + daemon_->log_dir() + "\n" + rest;
  }

  std::vector<FakeTelegram::SentMessage> containing(const std::string& needle) {
    std::vector<FakeTelegram::SentMessage> out;
    for (const auto& m : tg_->sent_messages()) {
      if (m.text.find(needle) != std::string::npos) out.push_back(m);
    }
    return out;
  }

  // Waits for a bot message containing needle; returns it.
  std::optional<FakeTelegram::SentMessage> wait_message(const std::string& needle, std::chrono::milliseconds timeout = 10s) {
    std::optional<FakeTelegram::SentMessage> found;
    tg_->wait_for(
        [&] {
          auto c = containing(needle);
          if (!c.empty()) found = c.back();
          return !c.empty();
        },
        timeout);
    return found;
  }

  // Sends a command as the owner and waits for the reply to it.
  std::optional<FakeTelegram::SentMessage> command(const std::string& text, const std::string& expect,
                                                   std::chrono::milliseconds timeout = 10s) {
    const json u = tg_->push_message(kChat, kOwner, text);
    const int64_t mid = u["message"]["message_id"];
    std::optional<FakeTelegram::SentMessage> found;
    tg_->wait_for(
        [&] {
          for (const auto& m : tg_->sent_messages()) {
            if (m.reply_to == mid && m.text.find(expect) != std::string::npos) {
              found = m;
              return true;
            }
          }
          return false;
        },
        timeout);
    EXPECT_TRUE(found) << "no reply containing \"" << expect << "\" to " << text << "; the bot said: " << [&] {
      std::string all;
      for (const auto& m : tg_->sent_messages()) all += "\n  [reply to " + std::to_string(m.reply_to.value_or(0)) + "] " + m.text;
      return all;
    }();
    return found;
  }

  // Presses a button under a bot message; waits for its answerCallbackQuery.
  void press(int64_t message_id, const std::string& data, int64_t user = kOwner) {
    const json u = tg_->push_callback(kChat, user, message_id, data);
    const std::string id = u["callback_query"]["id"];
    EXPECT_TRUE(tg_->wait_for(
        [&] {
          for (const auto& r : tg_->requests("answerCallbackQuery")) {
            if (r.param("callback_query_id") == id && r.http_status == 200) return true;
          }
          return false;
        },
        10s))
        << "button " << data << " was not answered";
  }

  std::vector<json> bridge_log(const std::string& event) {
    std::vector<json> out;
    for (const auto& l : read_json_lines(daemon_->log_file("gwr-telegram-bridge"))) {
      if (l.value("event", "") == event) out.push_back(l);
    }
    return out;
  }

  // The repairer's answer; retried briefly, so a busy moment is not a test failure.
  pb::Reply ask(const std::string& component, const pb::Request& req) {
    pb::Reply reply;
    EXPECT_TRUE(wait_until([&] {
      auto r = daemon_->call(component, req);
      if (r && !r->has_error()) reply = *r;
      return r && !r->has_error();
    }, 10s, component + " answers"));
    return reply;
  }

  bool repair_paused() {
    pb::Request req;
    req.mutable_repair_status();
    return ask("repairer", req).repair_status().paused();
  }

  // One statement on the bridge's database, through plain SQLite (nothing
  // that could move or rewrite the file): a count for a query, the number of
  // changed rows otherwise; -1 on error.
  int64_t sql(const std::string& statement, const std::string& param) {
    sqlite3* db = nullptr;
    int64_t out = -1;
    if (sqlite3_open_v2((daemon_->state_dir() + "/telegram.db").c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
      sqlite3_busy_timeout(db, 5000);
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v2(db, statement.c_str(), -1, &st, nullptr) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, param.c_str(), -1, SQLITE_TRANSIENT);
        const int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) out = sqlite3_column_int64(st, 0);
        if (rc == SQLITE_DONE) out = sqlite3_changes(db);
      }
      sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return out;
  }

  int64_t outbox_rows(const std::string& state) { return sql("SELECT COUNT(*) FROM outbox WHERE state = ?", state); }

  std::unique_ptr<FakeTelegram> tg_;
};

TEST_F(TelegramTest, EveryCommandAndButtonWorks) {
  start();
  // The command menu was set at start-up.
  ASSERT_TRUE(tg_->wait_for([&] { return tg_->commands().size() == 7; }, 5s)) << tg_->commands().dump();
  std::vector<std::string> names;
  for (const auto& c : tg_->commands()) names.push_back(c["command"]);
  EXPECT_EQ(names, (std::vector<std::string>{"status", "repair", "logs", "history", "config", "pause", "resume"}));

  auto status = command("/status", "Gateway healthy");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->parse_mode, "HTML");
  for (const char* part : {"pid ", "memory", "Last check", "Repairs in the last hour: 0/3", "prober", "repairer",
                           "telegram-bridge"}) {
    EXPECT_NE(status->text.find(part), std::string::npos) << part << "\n" << status->text;
  }
  const std::string kb = status->markup.dump();
  for (const char* b : {"Repair Now", "View Logs", "Pause", "Stats"}) EXPECT_NE(kb.find(b), std::string::npos) << kb;
  command("/status@gwr_test_bot", "Gateway healthy");
  command("/help", "/history");
  command("/start", "/resume");
  command("/logs", "repair");
  command("/history", "Repair statistics");
  auto cfg = command("/config", "repair.max_per_hour");
  ASSERT_TRUE(cfg);
  EXPECT_EQ(cfg->text.find(kTokenSecret), std::string::npos);
  command("/config set repair.max_per_hour 5", "repair.max_per_hour = 5");
  pb::Request get;
  get.mutable_get_config();
  EXPECT_EQ(ask("supervisor", get).config().config().repair().max_per_hour(), 5u);
  command("/config set repair.max_per_hour zero", "Not changed");
  command("/config set telegram.bot_token 1:x", "is a secret");
  command("/frobnicate", "I don't know /frobnicate");

  // Pause and resume by command and by button.
  command("/pause upgrading node", "Auto-repair paused: upgrading node");
  EXPECT_TRUE(repair_paused());
  press(status->message_id, "resume");
  ASSERT_TRUE(wait_message("Auto-repair resumed"));
  EXPECT_FALSE(repair_paused());
  // ⏸ asks for how long: 15 min / 1 h / until resumed.
  press(status->message_id, "pause");
  auto menu = wait_message("for how long");
  ASSERT_TRUE(menu);
  EXPECT_NE(menu->markup.dump().find("pausefor:15m"), std::string::npos) << menu->markup.dump();
  EXPECT_FALSE(repair_paused());
  press(menu->message_id, "pausefor:15m");
  ASSERT_TRUE(tg_->wait_for([&] { return containing("Auto-repair paused").size() == 2; }, 10s));
  EXPECT_TRUE(repair_paused());
  EXPECT_TRUE(wait_message("resume by themselves at"));
  command("/resume", "Auto-repair resumed");
  EXPECT_FALSE(repair_paused());
  // The bot answered those users itself: no extra "paused by" notices.
  EXPECT_TRUE(containing("paused by Telegram user").empty());

  // View Logs and Stats.
  press(status->message_id, "logs");
  ASSERT_TRUE(wait_message("paused by Telegram user " + std::to_string(kOwner), 10s));  // a line of the log
  press(status->message_id, "stats");
  ASSERT_TRUE(tg_->wait_for([&] { return containing("Repair statistics").size() == 2; }, 10s));

  // Repair Now: a confirmation, then the repair, followed to its outcome.
  press(status->message_id, "repair");
  auto question = wait_message("Repair the gateway now?");
  ASSERT_TRUE(question);
  EXPECT_NE(question->markup.dump().find("repair_confirm"), std::string::npos);
  press(question->message_id, "repair_confirm");
  ASSERT_TRUE(wait_message("Repair #1 started"));
  auto green = wait_message("Gateway recovered", 20s);
  ASSERT_TRUE(green);
  auto opener = containing("Gateway repaired by tier 1");  // the thread's first message, in its final state
  ASSERT_EQ(opener.size(), 1u);
  EXPECT_NE(opener[0].text.find("Repair #1 · manual, by Telegram user 4242"), std::string::npos) << opener[0].text;
  EXPECT_EQ(green->reply_to, opener[0].message_id);
  // The same confirmation pressed again starts nothing.
  press(question->message_id, "repair_confirm");
  pb::Request hist;
  hist.mutable_history();
  const auto history = ask("repairer", hist).history();
  ASSERT_EQ(history.repairs_size(), 1);
  EXPECT_EQ(history.repairs(0).actor(), "telegram:" + std::to_string(kOwner));

  // /repair and Cancel.
  auto q2 = command("/repair", "Repair the gateway now?");
  ASSERT_TRUE(q2);
  press(q2->message_id, "repair_cancel");
  ASSERT_TRUE(wait_message("Repair cancelled"));

  // Every button press was answered exactly once.
  std::map<std::string, int> answers;
  for (const auto& r : tg_->requests("answerCallbackQuery")) ++answers[r.param("callback_query_id")];
  EXPECT_EQ(answers.size(), 9u);
  for (const auto& [id, n] : answers) EXPECT_EQ(n, 1) << id;
  // Nothing the bot sent was refused by Telegram's checks.
  for (const auto& r : tg_->requests()) {
    if (r.method == "sendMessage" || r.method == "editMessageText") {
      EXPECT_EQ(r.http_status, 200) << r.response;
    }
  }
  EXPECT_FALSE(bridge_log("telegram_command").empty());
}

TEST_F(TelegramTest, StrangersGetNothingAndAreAudited) {
  start("  allowed_user_ids: [4242]\n");
  tg_->clear_requests();
  tg_->push_message(999, 999, "/status");        // another chat
  tg_->push_message(kChat, 777, "/pause");       // the owner's chat, a user who is not allowed
  tg_->push_callback(kChat, 777, 1, "repair_confirm");
  tg_->push_callback(999, 999, 1, "pause");
  tg_->push_message(-100, 4242, "/status@gwr_test_bot");  // the owner, but in some group
  // The owner's command after them proves they were all read.
  command("/status", "Gateway healthy");
  tg_->wait_for([] { return false; }, 1s);
  EXPECT_EQ(tg_->requests("sendMessage").size(), 1u);
  EXPECT_TRUE(tg_->requests("answerCallbackQuery").empty());
  EXPECT_TRUE(tg_->requests("editMessageText").empty());
  EXPECT_FALSE(repair_paused());
  std::set<int64_t> audited;
  for (const auto& l : bridge_log("telegram_unauthorized")) {
    audited.insert(l.value("user_id", int64_t{0}));
    EXPECT_TRUE(l.contains("chat_id"));
    EXPECT_TRUE(l.contains("command"));
  }
  EXPECT_EQ(audited, (std::set<int64_t>{999, 777, 4242}));
}

// A group as the owner's chat, with no telegram.allowed_user_ids: every
// member is "in the owner's chat", so nothing that changes something runs;
// forwarded messages and messages posted as a chat never command at all.
TEST_F(TelegramTest, InAGroupWithoutAllowedUsersNothingChangesAndForwardsNeverCommand) {
  constexpr int64_t kGroup = -1001234;
  constexpr int64_t kMember = 555;
  ASSERT_TRUE(service_->start_healthy());
  std::string y = yaml("");
  y.replace(y.find("chat_id: 4242"), 13, "chat_id: " + std::to_string(kGroup));
  daemon_ = std::make_unique<Daemon>(y);
  // --check-config says so.
  auto check = run({bin_path("gwr-supervisor"), "--config", daemon_->config_path(), "--check-config"});
  EXPECT_EQ(check.exit_code, 0);
  EXPECT_NE(check.output.find("warning: telegram.chat_id -1001234 is a group"), std::string::npos) << check.output;
  ASSERT_TRUE(daemon_->start());
  ASSERT_TRUE(gateway_healthy());
  ASSERT_TRUE(tg_->wait_for([&] { return tg_->active_long_polls() > 0; }, 10s));
  auto reply_to = [&](const json& u, const std::string& expect) {
    const int64_t mid = u["message"]["message_id"];
    return tg_->wait_for(
        [&] {
          for (const auto& m : tg_->sent_messages()) {
            if (m.reply_to == mid && m.text.find(expect) != std::string::npos) return true;
          }
          return false;
        },
        10s);
  };
  // Reading works for anyone in the group.
  EXPECT_TRUE(reply_to(tg_->push_message(kGroup, kMember, "/status"), "Gateway healthy"));
  // Changing something does not, and the reply says how to allow it.
  for (const std::string cmd : {"/pause", "/resume", "/repair", "/config set repair.max_per_hour 50"}) {
    EXPECT_TRUE(reply_to(tg_->push_message(kGroup, kMember, cmd), "telegram.allowed_user_ids")) << cmd;
  }
  tg_->push_callback(kGroup, kMember, 1, "pause");
  tg_->push_callback(kGroup, kMember, 1, "repair_confirm");
  // A forwarded /resume and one posted as the group itself.
  json forwarded = {{"message",
                     {{"message_id", 90001},
                      {"date", std::time(nullptr)},
                      {"chat", {{"id", kGroup}, {"type", "supergroup"}}},
                      {"from", {{"id", kMember}, {"is_bot", false}, {"first_name", "m"}}},
                      {"forward_origin", {{"type", "user"}, {"date", 1}, {"sender_user", {{"id", 1}}}}},
                      {"text", "/resume"},
                      {"entities", json::array({{{"type", "bot_command"}, {"offset", 0}, {"length", 7}}})}}}};
  tg_->push_update(forwarded);
  json as_chat = forwarded;
  as_chat["message"].erase("forward_origin");
  as_chat["message"]["message_id"] = 90002;
  as_chat["message"]["sender_chat"] = {{"id", kGroup}, {"type", "supergroup"}, {"title", "ops"}};
  tg_->push_update(as_chat);
  EXPECT_TRUE(reply_to(tg_->push_message(kGroup, kMember, "/status"), "Gateway healthy"));
  EXPECT_FALSE(repair_paused());
  pb::Request hist;
  hist.mutable_history();
  EXPECT_EQ(ask("repairer", hist).history().repairs_size(), 0) << "a repair was started";
  pb::Request cfg;
  cfg.mutable_get_config();
  EXPECT_EQ(ask("supervisor", cfg).config().config().repair().max_per_hour(), 3u);
  for (const auto& m : tg_->sent_messages()) {
    EXPECT_NE(m.reply_to, 90001) << "a forwarded message was answered: " << m.text;
    EXPECT_NE(m.reply_to, 90002) << "a message posted as a chat was answered: " << m.text;
  }
}

// gwr's state directory fills up while it runs: the owner is told once that
// automatic repairs stopped, hears of the incident, and can still repair by
// hand from the chat — every answer sent from memory.
TEST_F(TelegramTest, OnAFullStateDiskTheOwnerIsToldOnceAndCanStillRepair) {
  ASSERT_TRUE(service_->start_healthy());
  daemon_ = std::make_unique<Daemon>(yaml(""));
  std::filesystem::create_directories(daemon_->state_dir());
  if (::mount("gwr-test", daemon_->state_dir().c_str(), "tmpfs", 0, "size=3m,mode=0700") != 0) {
    GTEST_SKIP() << "mounting a tmpfs needs root (CI runs as root)";
  }
  struct Unmount {
    std::string path;
    Daemon* d;
    ~Unmount() {
      (void)d->stop();
      ::umount2(path.c_str(), MNT_DETACH);
    }
  } unmount{daemon_->state_dir(), daemon_.get()};
  ASSERT_TRUE(daemon_->start());
  ASSERT_TRUE(gateway_healthy());  // (a /status sent before the first check says "unknown")
  ASSERT_TRUE(tg_->wait_for([&] { return tg_->active_long_polls() > 0; }, 10s));
  command("/status", "Gateway healthy");
  {
    std::ofstream f(daemon_->state_dir() + "/filler", std::ios::binary);
    const std::string block(64 * 1024, '\0');
    while (f.write(block.data(), static_cast<std::streamsize>(block.size()))) {
    }
    std::ofstream tail(daemon_->state_dir() + "/filler2", std::ios::binary);
    while (tail.put('\0')) {
    }
  }
  ::kill(service_->gateway_pid(), SIGKILL);
  ASSERT_TRUE(wait_message("cannot save its repair state", 30s)) << "the owner was not told";
  ASSERT_TRUE(wait_message("automatic repairs are stopped", 30s));
  // Commands still answer, and a manual repair still runs.
  command("/status", "Gateway down");
  auto q = command("/repair", "Repair the gateway now?");
  ASSERT_TRUE(q);
  press(q->message_id, "repair_confirm");
  ASSERT_TRUE(wait_message("Gateway recovered", 30s));
  tg_->wait_for([] { return false; }, 2s);
  EXPECT_EQ(containing("🔴 gwr cannot save its repair state").size(), 1u) << "told more than once";
  std::filesystem::remove(daemon_->state_dir() + "/filler");
  std::filesystem::remove(daemon_->state_dir() + "/filler2");
  ASSERT_TRUE(wait_message("can save its state again", 30s));
}

TEST_F(TelegramTest, AKilledGatewayIsOneThreadEndingGreen) {
  start();
  tg_->clear_requests();
  ::kill(service_->gateway_pid(), SIGKILL);
  auto green = wait_message("Gateway recovered", 20s);
  ASSERT_TRUE(green);
  tg_->wait_for([] { return false; }, 3s);  // and then nothing more
  const auto sends = tg_->requests("sendMessage");
  ASSERT_EQ(sends.size(), 2u) << "expected the opening message and the reply";
  const auto messages = tg_->sent_messages();
  const auto& opener = messages[messages.size() - 2];
  EXPECT_NE(opener.text.find("Repair #1"), std::string::npos) << opener.text;
  EXPECT_NE(opener.text.find("repaired by tier 1"), std::string::npos) << opener.text;  // its final state
  EXPECT_EQ(green->reply_to, opener.message_id);
  EXPECT_NE(green->text.find("🟢 Gateway recovered (tier 1, took "), std::string::npos) << green->text;
  for (const auto& e : tg_->requests("editMessageText")) {
    EXPECT_EQ(e.int_param("message_id").value_or(0), opener.message_id);
    EXPECT_EQ(e.http_status, 200) << e.response;
  }
}

TEST_F(TelegramTest, TelegramDownNotificationsArriveLaterInOrderNoneTwice) {
  start();
  tg_->clear_requests();
  tg_->set_outage(FakeTelegram::Outage::kRefuse);
  ASSERT_EQ(daemon_->gwrctl({"pause", "--reason", "window cleaning"}).exit_code, 0);
  ASSERT_EQ(daemon_->gwrctl({"resume"}).exit_code, 0);
  ::kill(service_->gateway_pid(), SIGKILL);
  BusWatcher bus(daemon_->runtime_dir(), {"repair_event"});
  ASSERT_TRUE(bus.wait_for([](const pb::Event& e) {
    return e.has_repair_event() && e.repair_event().kind() == pb::RepairEvent::FINISHED;
  }, 20s));
  ASSERT_TRUE(wait_until([&] { return outbox_rows("queued") >= 4; }, 5s, "notifications queued"));
  tg_->wait_for([] { return false; }, 1s);
  EXPECT_TRUE(tg_->sent_messages().empty());
  tg_->set_outage(FakeTelegram::Outage::kNone);
  ASSERT_TRUE(wait_message("Gateway recovered", 30s));
  tg_->wait_for([] { return false; }, 2s);
  std::vector<std::string> texts;
  for (const auto& m : tg_->sent_messages()) texts.push_back(m.text);
  ASSERT_EQ(texts.size(), 4u) << ::testing::PrintToString(texts);
  EXPECT_NE(texts[0].find("Auto-repair paused by gwrctl"), std::string::npos) << texts[0];
  EXPECT_NE(texts[0].find("window cleaning"), std::string::npos) << texts[0];
  EXPECT_NE(texts[1].find("Auto-repair resumed by gwrctl"), std::string::npos) << texts[1];
  EXPECT_NE(texts[2].find("Repair #1"), std::string::npos) << texts[2];
  EXPECT_NE(texts[2].find("repaired by tier 1"), std::string::npos) << texts[2];  // went out with its final state
  EXPECT_NE(texts[3].find("Gateway recovered"), std::string::npos) << texts[3];
  EXPECT_EQ(tg_->sent_messages()[3].reply_to, tg_->sent_messages()[2].message_id);
  EXPECT_EQ(outbox_rows("queued"), 0);
  EXPECT_FALSE(bridge_log("telegram_send_failed").empty());
}

TEST_F(TelegramTest, BridgeKilledMidSendLosesNothingAndSendsNothingTwice) {
  start();
  tg_->clear_requests();
  tg_->set_outage(FakeTelegram::Outage::kHang);
  const int held = tg_->held_sends();
  ASSERT_EQ(daemon_->gwrctl({"pause", "--reason", "mid-send"}).exit_code, 0);
  ASSERT_TRUE(wait_until([&] { return outbox_rows("sending") == 1 && tg_->held_sends() >= held + 1; }, 10s,
                         "a send hanging"));
  // SIGTERM first: the bridge leaves within a second or two although a call hangs.
  const pid_t old = bridge_pid();
  const auto t0 = std::chrono::steady_clock::now();
  ::kill(old, SIGTERM);
  ASSERT_TRUE(wait_until([&] { return !pid_alive(old); }, 3s, "bridge exits on SIGTERM"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2500ms);
  // The restarted bridge is killed the hard way in the middle of the same
  // send: once its request is held by the fake (the old bridge's "sending"
  // row alone is no proof; a kill before the request is held would let it
  // reach "Telegram" after the outage, and the resend be a true second copy).
  ASSERT_TRUE(wait_until([&] { const pid_t p = bridge_pid(); return p != 0 && p != old && outbox_rows("sending") == 1; },
                         10s, "restarted bridge sending again"));
  ASSERT_TRUE(wait_until([&] { return tg_->held_sends() >= held + 2; }, 10s, "the restarted bridge's send held"));
  const pid_t second = bridge_pid();
  ::kill(second, SIGKILL);
  tg_->set_outage(FakeTelegram::Outage::kNone);
  // A command sent while no bridge runs is answered by the next one, once.
  const json status_update = tg_->push_message(kChat, kOwner, "/status");
  ASSERT_TRUE(wait_until([&] { const pid_t p = bridge_pid(); return p != 0 && p != second; }, 10s, "bridge restarted"));
  ASSERT_TRUE(wait_message("mid-send", 15s));
  ASSERT_TRUE(wait_message("Gateway healthy", 10s));
  ASSERT_EQ(daemon_->gwrctl({"resume"}).exit_code, 0);
  ASSERT_TRUE(wait_message("Auto-repair resumed by gwrctl", 10s));
  tg_->wait_for([] { return false; }, 2s);
  const auto messages = tg_->sent_messages();
  std::vector<std::string> texts;
  for (const auto& m : messages) texts.push_back(m.text);
  ASSERT_EQ(messages.size(), 3u) << ::testing::PrintToString(texts);
  EXPECT_NE(messages[0].text.find("paused"), std::string::npos);
  EXPECT_NE(messages[1].text.find("Gateway healthy"), std::string::npos);
  EXPECT_EQ(messages[1].reply_to, status_update["message"]["message_id"].get<int64_t>());
  EXPECT_NE(messages[2].text.find("resumed"), std::string::npos);
  EXPECT_FALSE(bridge_log("telegram_outbox_recovered").empty());
}

TEST_F(TelegramTest, RetryAfterIsHonoured) {
  start();
  tg_->clear_requests();
  tg_->fail_next("sendMessage", 1, 429, 429, "", 2);
  command("/status", "Gateway healthy");
  const auto sends = tg_->requests("sendMessage");
  ASSERT_EQ(sends.size(), 2u);
  EXPECT_EQ(sends[0].http_status, 429);
  EXPECT_EQ(sends[1].http_status, 200);
  // The fake stamps arrivals in whole milliseconds, the bridge counts the
  // wait from its own clock: 1 ms of rounding, never more (CI saw 1999).
  EXPECT_GE(sends[1].time_ms - sends[0].time_ms, 1999);
  const auto limited = bridge_log("telegram_rate_limited");
  ASSERT_FALSE(limited.empty());
  EXPECT_EQ(limited[0].value("retry_after", 0), 2);
}

// Issue #19: the gateway's own bot is never polled by gwr (two pollers of one
// bot: Telegram answers one of them 409 Conflict).
TEST_F(TelegramTest, TheGatewaysOwnBotIsNeverPolledAndCheckConfigSaysWhy) {
  // OpenClaw's config as people write it (JSON5), giving an account this very bot.
  const std::string openclaw = dir_ / "openclaw.json";
  {
    std::ofstream out(openclaw);
    out << "{\n  // channels of the gateway\n  channels: {\n    telegram: {\n      enabled: true,\n"
           "      accounts: { ops: { botToken: '" << kToken << "', }, },\n    },\n  },\n}\n";
  }
  ASSERT_TRUE(service_->start_healthy());
  daemon_ = std::make_unique<Daemon>(yaml(""), std::map<std::string, std::string>{{"OPENCLAW_CONFIG_PATH", openclaw}});
  ASSERT_TRUE(daemon_->start());
  ASSERT_TRUE(wait_until([&] { return !bridge_log("telegram_bot_shared").empty(); }, 10s, "the shared bot refused"));
  const std::string details = bridge_log("telegram_bot_shared")[0].value("details", "");
  EXPECT_NE(details.find("channels.telegram.accounts.ops.botToken"), std::string::npos) << details;
  tg_->wait_for([] { return false; }, 2s);
  EXPECT_TRUE(tg_->requests("getUpdates").empty()) << "gwr polled the gateway's bot";
  // --check-config fails with exit 78 and names the clash, never the token.
  const std::string out_file = dir_ / "check.out";
  Process check = Process::start({bin_path("gwr-supervisor"), "--config", daemon_->config_path(), "--check-config"},
                                 {{"OPENCLAW_CONFIG_PATH", openclaw}}, out_file);
  const auto status = check.wait(10s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 78) << read_file(out_file);
  const std::string said = read_file(out_file);
  EXPECT_NE(said.find("telegram.bot_token"), std::string::npos) << said;
  EXPECT_NE(said.find("409 Conflict"), std::string::npos) << said;
  EXPECT_EQ(said.find(kTokenSecret), std::string::npos) << said;
  // Another bot for gwr: no clash.
  {
    std::ofstream out(openclaw);
    out << "{ channels: { telegram: { botToken: '987654321:BBX-the-gateways-own-bot-xxxxxxxxxxx' } } }\n";
  }
  Process again = Process::start({bin_path("gwr-supervisor"), "--config", daemon_->config_path(), "--check-config"},
                                 {{"OPENCLAW_CONFIG_PATH", openclaw}}, out_file);
  const auto ok = again.wait(10s);
  ASSERT_TRUE(ok);
  EXPECT_TRUE(WIFEXITED(*ok) && WEXITSTATUS(*ok) == 0) << read_file(out_file);
}

// Issue #19: from a bot token to a working set-up in one command, against the
// fake Bot API: the chat and the user come from a /start, a test message goes
// there, the .env is written 0600 with its other lines kept, gwr reloads and polls.
TEST_F(TelegramTest, TelegramSetupLearnsTheChatFromAStartWritesTheEnvAndTurnsTelegramOn) {
  ASSERT_TRUE(service_->start_healthy());
  daemon_ = std::make_unique<Daemon>(RepairScenario::yaml("telegram:\n  api_base_url: " + tg_->base_url() +
                                                          "\n  poll_timeout: 2s\n"));
  ASSERT_TRUE(daemon_->start());
  const std::string env_file = (std::filesystem::path(daemon_->config_path()).parent_path() / ".env").string();
  {
    std::ofstream out(env_file);
    out << "# the owner's own lines stay\nQWEN_API_KEY=sk-kept\nTELEGRAM_CHAT_ID=1\n";
  }
  tg_->wait_for([] { return false; }, 1s);
  EXPECT_EQ(tg_->active_long_polls(), 0) << "Telegram should be off before the set-up";
  const std::string token_file = dir_ / "token";
  std::ofstream(token_file) << kToken << "\n";
  // The owner sends /start (the command waits for it; one sent just before counts too).
  tg_->push_message(kChat, kOwner, "/start");
  const std::string out_file = dir_ / "setup.out";
  const auto began = std::chrono::steady_clock::now();
  Process setup = Process::start({bin_path("gwrctl"), "--config", daemon_->config_path(), "telegram", "setup",
                                  "--token-file", token_file, "--wait", "30s"},
                                 {}, out_file);
  const auto status = setup.wait(40s);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  ASSERT_TRUE(status);
  const std::string said = read_file(out_file);
  ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << said;
  std::fprintf(stderr, "[setup] token -> test message sent and gwr reloaded in %.2f s\n%s", took, said.c_str());
  EXPECT_NE(said.find("@"), std::string::npos);
  EXPECT_EQ(said.find(kTokenSecret), std::string::npos) << "the token was printed";
  // The test message, in that chat.
  const auto sent = tg_->requests("sendMessage");
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent.front().int_param("chat_id"), kChat);
  // The .env: 0600, the owner's lines kept, the three set.
  struct stat st {};
  ASSERT_EQ(::stat(env_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string env = read_file(env_file);
  EXPECT_NE(env.find("# the owner's own lines stay\nQWEN_API_KEY=sk-kept\n"), std::string::npos) << env;
  EXPECT_NE(env.find("TELEGRAM_CHAT_ID=" + std::to_string(kChat) + "\n"), std::string::npos) << env;
  EXPECT_EQ(env.find("TELEGRAM_CHAT_ID=1\n"), std::string::npos) << env;
  EXPECT_NE(env.find("TELEGRAM_ALLOWED_USER_IDS=" + std::to_string(kOwner) + "\n"), std::string::npos) << env;
  EXPECT_NE(env.find(std::string("TELEGRAM_BOT_TOKEN=") + kToken), std::string::npos);
  // gwr reloaded: the bridge polls with it now, and the owner's /status is answered.
  ASSERT_TRUE(tg_->wait_for([&] { return tg_->active_long_polls() > 0; }, 15s)) << "the bridge never polled";
  command("/status", "Gateway healthy");
  // The token on the command line is refused, and so is a token that is not one.
  const auto argv_token = daemon_->gwrctl({"telegram", "setup", "--token", kToken});
  EXPECT_EQ(argv_token.exit_code, 2) << argv_token.output;
  std::ofstream(token_file) << "not-a-token\n";
  const auto bad = daemon_->gwrctl({"telegram", "setup", "--token-file", token_file, "--wait", "1s"});
  EXPECT_EQ(bad.exit_code, 78) << bad.output;
}

// Issue #19: `gwrctl doctor --json` reports each check, on a healthy set-up
// and on a broken one (the gateway gone, the gateway's own bot).
TEST_F(TelegramTest, DoctorReportsEachCheckOnAHealthyAndOnABrokenSetUp) {
  start();
  int runs = 0;
  const auto doctor = [&](const std::map<std::string, std::string>& env) {
    const std::string out_file = dir_ / ("doctor" + std::to_string(++runs) + ".out");
    Process p = Process::start({bin_path("gwrctl"), "--config", daemon_->config_path(), "doctor", "--json"}, env, out_file);
    const auto status = p.wait(30s);
    EXPECT_TRUE(status && WIFEXITED(*status)) << read_file(out_file);
    auto j = nlohmann::json::parse(read_file(out_file), nullptr, false);
    std::map<std::string, nlohmann::json> by_name;
    if (j.is_object() && j.contains("checks")) {
      for (const auto& c : j["checks"]) by_name[c.value("name", "")] = c;
    }
    std::fprintf(stderr, "[doctor] exit %d\n%s\n", status ? WEXITSTATUS(*status) : -1, read_file(out_file).c_str());
    return std::make_pair(status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1, by_name);
  };
  auto [code, checks] = doctor({});
  for (const char* name : {"config", "daemon", "gateway", "gateway commands", "runtime dir", "state dir", "log dir",
                           "telegram bot", "telegram token", "telegram chat", "disk"}) {
    ASSERT_TRUE(checks.count(name)) << name;
    EXPECT_TRUE(checks[name]["ok"].get<bool>()) << name << ": " << checks[name].dump();
  }
  EXPECT_TRUE(checks.count("service"));  // no systemd on these machines: it fails here, with its fix
  EXPECT_TRUE(checks["tier 3"]["skipped"].get<bool>()) << "Tier 3 is off in this scenario";
  EXPECT_NE(checks["telegram token"]["detail"].get<std::string>().find("@gwr_test_bot"), std::string::npos);
  EXPECT_EQ(code, checks["service"]["ok"].get<bool>() ? 0 : 1);

  // Broken: the gateway's own bot, and no gateway.
  const std::string openclaw = dir_ / "openclaw.json";
  std::ofstream(openclaw) << "{ channels: { telegram: { botToken: '" << kToken << "' } } }\n";
  ASSERT_EQ(daemon_->gwrctl({"pause"}).exit_code, 0);  // or gwr brings it back at once
  ::kill(service_->gateway_pid(), SIGKILL);
  ASSERT_TRUE(wait_until([&] { return listening_pids(static_cast<uint16_t>(port_)).empty(); }, 5s, "the port free"));
  auto [bad_code, bad] = doctor({{"OPENCLAW_CONFIG_PATH", openclaw}});
  EXPECT_EQ(bad_code, 1);
  ASSERT_TRUE(bad.count("gateway") && bad.count("telegram bot"));
  EXPECT_FALSE(bad["gateway"]["ok"].get<bool>()) << bad["gateway"].dump();
  EXPECT_FALSE(bad["telegram bot"]["ok"].get<bool>()) << bad["telegram bot"].dump();
  EXPECT_NE(bad["telegram bot"]["fix"].get<std::string>().find("@BotFather"), std::string::npos);
  EXPECT_EQ(bad["telegram bot"]["detail"].get<std::string>().find(kTokenSecret), std::string::npos);
}

TEST_F(TelegramTest, ConflictIsExplainedInTheLog) {
  tg_->fail_next("getUpdates", 1, 409, 409, "Conflict: can't use getUpdates method while webhook is active");
  start("", false);
  ASSERT_TRUE(wait_until([&] { return !bridge_log("telegram_conflict").empty(); }, 10s, "conflict logged"));
  const auto line = bridge_log("telegram_conflict")[0];
  const std::string explanation = line.value("explanation", "");
  EXPECT_NE(explanation.find("webhook"), std::string::npos);
  EXPECT_NE(explanation.find("deleteWebhook"), std::string::npos);
  EXPECT_NE(explanation.find("another process"), std::string::npos);
  EXPECT_EQ(line.value("retry_in_ms", int64_t{0}), 30'000);
  EXPECT_TRUE(tg_->requests("deleteWebhook").empty());
  // It waits instead of fighting the other consumer.
  tg_->wait_for([] { return false; }, 2s);
  EXPECT_EQ(tg_->requests("getUpdates").size(), 1u);
  ASSERT_TRUE(wait_until([&] { return bridge_activity().find("conflict") != std::string::npos; }, 5s,
                         "heartbeat tells about the conflict"));
}

TEST_F(TelegramTest, MalformedAndOversizedUpdatesDoNotCrashTheBridge) {
  start();
  const pid_t pid = bridge_pid();
  tg_->respond_raw_next("getUpdates", 200, "{\"ok\":true,\"result\":[{\"update_id\":");
  tg_->push_update({{"message", 5}});
  tg_->push_update({{"message", {{"message_id", "x"}, {"chat", {{"id", "4242"}}}, {"text", {1, 2}}}}});
  tg_->push_update({{"callback_query", "pause"}});
  tg_->push_update({{"callback_query", {{"id", 1}, {"from", nullptr}, {"data", json::object()}}}});
  tg_->push_update({{"edited_message", {{"text", "/pause"}}}});
  tg_->push_update({{"message", {{"message_id", 9},
                                 {"from", {{"id", kOwner}}},
                                 {"chat", {{"id", kChat}}},
                                 {"text", "/pause " + std::string(100'000, 'x')}}}});
  tg_->push_message(kChat, kOwner, std::string(100'000, 'y'));
  tg_->push_message(kChat, kOwner, "/status " + std::string(100'000, '<'));
  ASSERT_TRUE(wait_message("Gateway healthy", 15s));
  tg_->respond_raw_next("getUpdates", 502, "<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html");
  tg_->push_message(kChat, kOwner, "/logs");
  command("/status", "Gateway healthy", 15s);
  EXPECT_EQ(bridge_pid(), pid);
  // The 100 KB /pause was carried out (its reason bounded), not choked on.
  EXPECT_TRUE(repair_paused());
}

TEST_F(TelegramTest, ConfigChangesApplyWithoutARestartOfTheProcess) {
  start();
  const pid_t pid = bridge_pid();
  command("/status", "Gateway healthy");
  // Only user 1 may command now: the owner's commands are ignored and audited.
  write_file(daemon_->config_path(), with_paths(yaml("  allowed_user_ids: [1]\n")));
  daemon_->supervisor().signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return !bridge_log("telegram_access_changed").empty(); }, 5s, "access change applied"));
  tg_->clear_requests();
  tg_->push_message(kChat, kOwner, "/status");
  ASSERT_TRUE(wait_until([&] { return !bridge_log("telegram_unauthorized").empty(); }, 5s, "owner audited"));
  tg_->wait_for([] { return false; }, 1s);
  EXPECT_TRUE(tg_->requests("sendMessage").empty());
  // A new token restarts the Telegram threads; this one is rejected (401), which is logged, not spun on.
  std::string other = yaml("");
  other.replace(other.find(kTokenSecret), std::string(kTokenSecret).size(), "BBH-other-token-abcdefghijklmnopqrstuv");
  write_file(daemon_->config_path(), with_paths(other));
  daemon_->supervisor().signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return !bridge_log("telegram_token_rejected").empty(); }, 10s, "401 logged"));
  tg_->wait_for([] { return false; }, 1500ms);
  size_t unauthorized = 0;
  for (const auto& r : tg_->requests()) unauthorized += r.http_status == 401;
  EXPECT_LE(unauthorized, 2u);  // getMe once (and perhaps one more request), then minutes of quiet
  EXPECT_EQ(bridge_pid(), pid);
  EXPECT_TRUE(files_containing(daemon_->log_dir(), "BBH-other-token").empty());
}

TEST_F(TelegramTest, ACommandInterruptedByACrashIsNotCarriedOutTwice) {
  start();
  // Freeze the bridge, let /pause arrive, and plant what a crash right after
  // "in progress" was committed leaves behind; then let it run.
  const pid_t pid = bridge_pid();
  ASSERT_TRUE(stop_process(pid));
  const json u = tg_->push_message(kChat, kOwner, "/pause");
  ASSERT_EQ(sql("INSERT INTO markers(key, state, created_at) VALUES(?, 'in_progress', 0)",
                "update:" + std::to_string(u["update_id"].get<int64_t>())),
            1);
  ::kill(pid, SIGCONT);
  auto reply = wait_message("may or may not have taken effect", 10s);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->reply_to, u["message"]["message_id"].get<int64_t>());
  EXPECT_FALSE(repair_paused());  // not carried out a second time
  EXPECT_EQ(bridge_pid(), pid);
  // The heartbeat tells the truth.
  ASSERT_TRUE(wait_until([&] { return bridge_activity() == "polling; outbox 0 queued"; }, 5s,
                         "heartbeat: polling; outbox 0 queued"));
}

TEST_F(TelegramTest, AWarningIsSentOnceWhileItLasts) {
  start();
  command("/config set probes.memory.max_rss_mb 1", "probes.memory.max_rss_mb = 1");
  auto warning = wait_message("🟡 Warning: high memory", 10s);
  ASSERT_TRUE(warning);
  EXPECT_NE(warning->markup.dump().find("repair"), std::string::npos);
  tg_->wait_for([] { return false; }, 3s);  // three more evaluations, nothing new
  EXPECT_EQ(containing("high memory").size(), 1u);
}

TEST_F(TelegramTest, EventsMissedWhileTheBridgeWasDownAreCaughtUpOnce) {
  start("supervisor:\n  restart_initial: 1s\n");
  const pid_t first = bridge_pid();
  ::kill(first, SIGKILL);
  // Published while no bridge listens: pub/sub drops it; the repairer's log keeps it.
  ASSERT_EQ(daemon_->gwrctl({"pause", "--reason", "while you were away"}).exit_code, 0);
  ASSERT_TRUE(wait_message("while you were away", 15s));
  // Delivery is at least once: a kill between Telegram's answer and the
  // "sent" mark would send it again. Kill once the outbox is empty, so that
  // what is tested is the catch-up alone.
  ASSERT_TRUE(wait_until([&] { return bridge_activity().find("outbox 0 queued") != std::string::npos; }, 5s,
                         "the outbox sent and marked"));
  // Another restart catches up again and finds nothing new.
  const pid_t second = bridge_pid();
  ASSERT_NE(second, first);
  ::kill(second, SIGKILL);
  ASSERT_TRUE(wait_until([&] { const pid_t p = bridge_pid(); return p != 0 && p != second; }, 10s, "bridge restarted"));
  ASSERT_TRUE(tg_->wait_for([&] { return tg_->active_long_polls() > 0; }, 10s));
  tg_->wait_for([] { return false; }, 2s);  // past the catch-up, one second after start
  EXPECT_EQ(containing("while you were away").size(), 1u);
}

TEST(TelegramOff, NoTokenMeansTheBridgeIdlesHonestly) {
  Daemon d;
  ASSERT_TRUE(d.start());
  ASSERT_TRUE(wait_until([&] {
    auto c = d.components();
    if (!c) return false;
    for (const auto& comp : c->components()) {
      if (comp.name() == "telegram-bridge") return comp.activity() == "Telegram off: no bot token";
    }
    return false;
  }, 5s, "bridge says Telegram is off"));
}

}  // namespace
}  // namespace gwr::testing
