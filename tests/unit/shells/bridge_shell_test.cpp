// gwr-telegram-bridge's shell on a fake clock: a repair becomes a message in
// the chat, a /status from the owner is answered from the components' own
// replies, a stranger gets nothing, and without a token nothing starts. The
// Bot API is a scripted HTTP client; telegram.db is real SQLite in a temp dir.
#include <atomic>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "telegram-bridge/bridge_worker.h"
#include "tests/support/shell_harness.h"

namespace gwr::telegram {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using testing::Shell;

constexpr int64_t kChat = 4242;
constexpr int64_t kOwner = 77;

// The Bot API, answering both threads.
struct FakeBot {
  std::mutex mu;
  std::vector<std::pair<std::string, json>> calls;  // method, params
  std::deque<json> updates;                          // handed out by getUpdates
  int64_t next_message_id = 100;

  HttpResponse answer(const HttpRequest& req) {
    const std::string method = req.url.substr(req.url.rfind('/') + 1);
    const json params = json::parse(req.body, nullptr, false);
    json result;
    {
      std::lock_guard lock(mu);
      calls.emplace_back(method, params);
      if (method == "getMe") {
        result = {{"id", 1}, {"is_bot", true}, {"username", "gwr_bot"}};
      } else if (method == "getUpdates") {
        result = json::array();
        while (!updates.empty()) {
          result.push_back(updates.front());
          updates.pop_front();
        }
      } else if (method == "sendMessage") {
        result = {{"message_id", next_message_id++}, {"chat", {{"id", params.value("chat_id", int64_t{0})}}}};
      } else {
        result = true;
      }
    }
    if (method == "getUpdates" && result.empty()) std::this_thread::sleep_for(20ms);  // a long poll, shortened
    HttpResponse r;
    r.status = 200;
    r.body = json{{"ok", true}, {"result", result}}.dump();
    return r;
  }
  std::vector<json> sent() {
    std::lock_guard lock(mu);
    std::vector<json> out;
    for (const auto& [m, p] : calls) {
      if (m == "sendMessage") out.push_back(p);
    }
    return out;
  }
  void message_from(int64_t user, int64_t chat, const std::string& text, int64_t update_id) {
    std::lock_guard lock(mu);
    updates.push_back({{"update_id", update_id},
                       {"message", {{"message_id", update_id},
                                    {"date", 1},
                                    {"chat", {{"id", chat}, {"type", "private"}}},
                                    {"from", {{"id", user}, {"is_bot", false}, {"first_name", "o"}}},
                                    {"text", text}}}});
  }
};

class BridgeShellTest : public ::testing::Test {
 protected:
  BridgeShellTest()
      : shell_("telegram-bridge", "telegram:\n  api_base_url: http://bot.invalid\n  bot_token: \"123:abc\"\n  chat_id: " +
                                      std::to_string(kChat) + "\n  allowed_user_ids: [" + std::to_string(kOwner) + "]\n") {
    shell_.answer_http([this](const HttpRequest& r) { return bot_.answer(r); });
    shell_.transport.set_answer([](const std::string& component, const pb::Request& req) -> Result<pb::Reply> {
      pb::Reply reply;
      if (req.has_probe_status()) {
        auto* h = reply.mutable_probe_status()->mutable_health();
        h->set_state(pb::HEALTHY);
        h->set_pid(31337);
      } else if (req.has_repair_status()) {
        reply.mutable_repair_status()->set_max_per_hour(3);
      } else if (req.has_components()) {
        auto* c = reply.mutable_components()->add_components();
        c->set_name(component);
        c->set_state(pb::COMPONENT_RUNNING);
      } else if (req.has_logs()) {
        reply.mutable_logs();
      }
      return reply;
    });
  }
  ~BridgeShellTest() override { worker_.stop(shell_.ctx()); }

  // Until a sent message says `needle` (real time, bounded).
  std::optional<json> sent_saying(const std::string& needle) {
    for (int i = 0; i < 300; ++i) {
      for (const auto& m : bot_.sent()) {
        if (m.value("text", "").find(needle) != std::string::npos) return m;
      }
      (void)worker_.on_tick(shell_.ctx(), shell_.clock.steady());
      std::this_thread::sleep_for(10ms);
    }
    return std::nullopt;
  }

  FakeBot bot_;
  Shell shell_;
  BridgeWorker worker_;
};

TEST_F(BridgeShellTest, ARepairBecomesAMessageInTheChat) {
  worker_.start(shell_.ctx());
  pb::Event ev;
  auto* e = ev.mutable_repair_event();
  e->set_kind(pb::RepairEvent::STARTED);
  e->set_repair_id(7);
  e->set_tier(1);
  e->set_trigger(pb::TRIGGER_AUTO);
  e->set_at_ms(shell_.clock.wall_ms());
  auto* f = e->add_findings();
  f->set_kind(pb::Finding::NOT_RUNNING);
  f->set_check(pb::CHECK_PROCESS);
  f->set_subject("openclaw-gateway");
  pb::Event stranger = ev;
  stranger.set_gateway("elsewhere");  // not a gateway this gwr watches: never said as ours
  stranger.mutable_repair_event()->set_repair_id(8);
  worker_.on_event(shell_.ctx(), stranger);
  worker_.on_event(shell_.ctx(), ev);
  worker_.on_event(shell_.ctx(), ev);  // the same event again (a replay): said once
  auto m = sent_saying("repairing");
  ASSERT_TRUE(m) << "no message for the repair";
  EXPECT_EQ(m->value("chat_id", int64_t{0}), kChat);
  EXPECT_NE(m->value("text", "").find("no process named openclaw-gateway is running"), std::string::npos)
      << "the finding, in words, at the edge";
  std::this_thread::sleep_for(100ms);
  int openings = 0;
  for (const auto& s : bot_.sent()) openings += s.value("text", "").find("repairing") != std::string::npos;
  EXPECT_EQ(openings, 1);
  for (const auto& s : bot_.sent()) EXPECT_EQ(s.value("text", "").find("#8"), std::string::npos) << s.dump();
}

// A warning said before the bridge restarted is not news after it (its key,
// "f:HIGH_MEMORY/memory", has a '/' but is main's, not a gateway's).
TEST_F(BridgeShellTest, AWarningSaidBeforeARestartIsNotSaidAgain) {
  pb::Event ev;
  auto* h = ev.mutable_gateway_health();
  h->set_state(pb::DEGRADED);
  h->set_pid(31337);
  auto* f = h->add_findings();
  f->set_kind(pb::Finding::HIGH_MEMORY);
  f->set_check(pb::CHECK_MEMORY);
  f->set_value(static_cast<double>(600ull << 20));
  f->set_limit(static_cast<double>(512ull << 20));
  worker_.start(shell_.ctx());
  worker_.on_event(shell_.ctx(), ev);
  ASSERT_TRUE(sent_saying("high memory")) << "no warning";
  worker_.stop(shell_.ctx());
  auto count = [&] {
    int n = 0;
    for (const auto& m : bot_.sent()) n += m.value("text", "").find("high memory") != std::string::npos;
    return n;
  };
  ASSERT_EQ(count(), 1);
  BridgeWorker again;
  again.start(shell_.ctx());
  again.on_event(shell_.ctx(), ev);
  for (int i = 0; i < 50; ++i) {
    (void)again.on_tick(shell_.ctx(), shell_.clock.steady());
    std::this_thread::sleep_for(10ms);
  }
  again.stop(shell_.ctx());
  EXPECT_EQ(count(), 1) << "the warning was said again after a restart";
}

TEST_F(BridgeShellTest, TheOwnersStatusIsAnsweredAndAStrangersIsNot) {
  bot_.message_from(999, kChat, "/status", 1);     // not an allowed user
  bot_.message_from(kOwner, kChat, "/status", 2);
  worker_.start(shell_.ctx());
  auto m = sent_saying("31337");
  ASSERT_TRUE(m) << "/status was not answered";
  EXPECT_EQ(m->value("chat_id", int64_t{0}), kChat);
  int status_replies = 0;
  for (const auto& s : bot_.sent()) status_replies += s.value("text", "").find("31337") != std::string::npos;
  EXPECT_EQ(status_replies, 1) << "the stranger's /status was answered too";
  bool asked_prober = false;
  for (const auto& [component, req] : shell_.transport.calls()) asked_prober |= component == "prober" && req.has_probe_status();
  EXPECT_TRUE(asked_prober);
}

TEST(BridgeShellOff, WithoutATokenNothingStartsAndItSaysWhy) {
  Shell shell("telegram-bridge");
  BridgeWorker worker;
  worker.start(shell.ctx());
  EXPECT_NE(shell.ctx().activity().find("Telegram off"), std::string::npos) << shell.ctx().activity();
  (void)worker.on_tick(shell.ctx(), shell.clock.steady());
  EXPECT_TRUE(worker.poll_items().empty());
  worker.stop(shell.ctx());
}

}  // namespace
}  // namespace gwr::telegram
