// Proves FakeTelegram behaves like the Bot API where gwr depends on it, using a plain
// HTTP client (no gwr code), so a bridge test failure points at gwr and not at the fake.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "tests/fakes/telegram/fake_telegram.h"
#include "tests/fakes/telegram/telegram_text.h"

extern char** environ;

namespace {

using gwr::testing::FakeTelegram;
using json = nlohmann::json;
using namespace std::chrono_literals;
namespace text = gwr::testing::telegram_text;

constexpr char kToken[] = "123456:fake-TOKEN";
constexpr int64_t kChat = 4242;

std::string bot_path(const std::string& method, const std::string& token = kToken) {
  return "/bot" + token + "/" + method;
}

struct Answer {
  int status = 0;  // 0: no HTTP answer
  json body;
  std::string raw;
  httplib::Error error = httplib::Error::Success;
};

Answer to_answer(const httplib::Result& r) {
  Answer a;
  a.error = r.error();
  if (!r) return a;
  a.status = r->status;
  a.raw = r->body;
  a.body = json::parse(r->body, nullptr, false);
  return a;
}

httplib::Client client_for(int port, std::chrono::milliseconds read_timeout = 10s) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(2);
  c.set_read_timeout(std::chrono::duration_cast<std::chrono::microseconds>(read_timeout));
  return c;
}

class FakeTelegramTest : public ::testing::Test {
 protected:
  void SetUp() override { fake.start(); }

  Answer post(const std::string& method, const httplib::Params& params) {
    auto c = client_for(fake.port());
    return to_answer(c.Post(bot_path(method), params));
  }
  Answer post_json(const std::string& method, const json& body) {
    auto c = client_for(fake.port());
    return to_answer(c.Post(bot_path(method), body.dump(), "application/json"));
  }
  Answer get(const std::string& path, std::chrono::milliseconds read_timeout = 10s) {
    auto c = client_for(fake.port(), read_timeout);
    return to_answer(c.Get(path));
  }
  Answer send_text(const std::string& text_value, const std::string& parse_mode = "") {
    httplib::Params p{{"chat_id", std::to_string(kChat)}, {"text", text_value}};
    if (!parse_mode.empty()) p.emplace("parse_mode", parse_mode);
    return post("sendMessage", p);
  }

  FakeTelegram fake{kToken};
};

TEST_F(FakeTelegramTest, GetMeAnswersAndABadTokenIsUnauthorized) {
  const Answer me = get(bot_path("getMe"));
  ASSERT_EQ(me.status, 200);
  EXPECT_EQ(me.body["result"]["username"], "gwr_test_bot");
  EXPECT_EQ(me.body["result"]["id"], 123456);
  EXPECT_EQ(get(bot_path("GETME")).status, 200) << "method names are case-insensitive";

  const Answer bad = get(bot_path("getMe", "999:wrong"));
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(bad.body, json::parse(R"({"ok":false,"error_code":401,"description":"Unauthorized"})"));

  const Answer unknown = get(bot_path("sendPigeon"));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body, json::parse(R"({"ok":false,"error_code":404,"description":"Not Found"})"));
  EXPECT_EQ(get("/").status, 404);

  const auto calls = fake.requests("getme");  // every call is recorded, refused ones too
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].http_method, "GET");
  EXPECT_EQ(calls[2].http_status, 401);
}

TEST_F(FakeTelegramTest, LongPollReturnsAsSoonAsAnUpdateIsPushed) {
  const auto begin = std::chrono::steady_clock::now();
  auto poll = std::async(std::launch::async, [&] { return get(bot_path("getUpdates") + "?timeout=5"); });
  ASSERT_TRUE(fake.wait_for([&] { return fake.active_long_polls() == 1; }, 2s));
  const json pushed = fake.push_message(kChat, 77, "/status now");
  const Answer a = poll.get();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 2s);
  ASSERT_EQ(a.status, 200);
  ASSERT_EQ(a.body["result"].size(), 1u);
  const json& msg = a.body["result"][0]["message"];
  EXPECT_EQ(a.body["result"][0]["update_id"], pushed["update_id"]);
  EXPECT_EQ(msg["text"], "/status now");
  EXPECT_EQ(msg["chat"]["type"], "private");
  EXPECT_EQ(msg["from"]["id"], 77);
  EXPECT_EQ(msg["entities"][0]["type"], "bot_command");
  EXPECT_EQ(msg["entities"][0]["length"], 7);
  EXPECT_EQ(fake.active_long_polls(), 0);
}

TEST_F(FakeTelegramTest, LongPollTimesOutEmptyAndStopWakesIt) {
  const auto begin = std::chrono::steady_clock::now();
  const Answer empty = get(bot_path("getUpdates") + "?timeout=0.2");
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 150ms);
  ASSERT_EQ(empty.status, 200);
  EXPECT_TRUE(empty.body["result"].empty());

  auto older = std::async(std::launch::async, [&] { return get(bot_path("getUpdates") + "?timeout=30"); });
  ASSERT_TRUE(fake.wait_for([&] { return fake.active_long_polls() == 1; }, 2s));
  EXPECT_EQ(get(bot_path("getUpdates")).status, 200);
  EXPECT_EQ(older.get().status, 409) << "a newer getUpdates ends a waiting one, as on Telegram";

  auto poll = std::async(std::launch::async, [&] { return get(bot_path("getUpdates") + "?timeout=30"); });
  ASSERT_TRUE(fake.wait_for([&] { return fake.active_long_polls() == 1; }, 2s));
  const auto stop_begin = std::chrono::steady_clock::now();
  fake.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_begin, 2s);
  EXPECT_EQ(poll.get().status, 0) << "a poll cut off by stop() gets no answer";
}

TEST_F(FakeTelegramTest, AClientThatGivesUpEarlyDoesNotHurtTheServer) {
  // The answer is written to a closed socket: SIGPIPE must not take the process down.
  const Answer gave_up = get(bot_path("getUpdates") + "?timeout=0.3", 100ms);
  EXPECT_EQ(gave_up.status, 0);
  ASSERT_TRUE(fake.wait_for_requests("getUpdates", 1, 2s));
  EXPECT_EQ(fake.requests("getUpdates")[0].http_status, 200);
  EXPECT_EQ(get(bot_path("getMe")).status, 200);
}

TEST_F(FakeTelegramTest, OffsetConfirmsAndDropsUpdates) {
  const int64_t first = fake.push_message(kChat, 1, "a")["update_id"];
  fake.push_message(kChat, 1, "b");
  fake.push_callback(kChat, 1, 1, "c");
  EXPECT_EQ(fake.pending_updates(), 3);

  Answer a = get(bot_path("getUpdates"));
  ASSERT_EQ(a.body["result"].size(), 3u);
  EXPECT_EQ(fake.pending_updates(), 3) << "returning updates does not confirm them";

  a = post("getUpdates", {{"offset", std::to_string(first + 1)}, {"limit", "1"}});
  ASSERT_EQ(a.body["result"].size(), 1u);
  EXPECT_EQ(a.body["result"][0]["update_id"], first + 1);
  EXPECT_EQ(fake.pending_updates(), 2);
  EXPECT_EQ(fake.last_confirmed_offset(), first + 1);

  a = post_json("getUpdates", {{"offset", first + 3}, {"timeout", 0}});
  EXPECT_TRUE(a.body["result"].empty());
  EXPECT_EQ(fake.pending_updates(), 0);
  EXPECT_EQ(fake.last_confirmed_offset(), first + 3);
}

TEST_F(FakeTelegramTest, FailNextAnswers429WithRetryAfterThenRecovers) {
  fake.fail_next("sendMessage", 1, 429, 429, "Too Many Requests: retry after 3", 3);
  const Answer limited = send_text("hello");
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.body["ok"], false);
  EXPECT_EQ(limited.body["error_code"], 429);
  EXPECT_EQ(limited.body["parameters"]["retry_after"], 3);

  EXPECT_EQ(send_text("hello").status, 200);
  const auto calls = fake.requests("sendMessage");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].http_status, 429);
  EXPECT_EQ(calls[1].http_status, 200);
  EXPECT_EQ(calls[1].param("text"), "hello");
  EXPECT_EQ(calls[1].int_param("chat_id"), kChat);
  ASSERT_EQ(fake.sent_messages().size(), 1u) << "a refused send is not in the chat";

  fake.fail_next("*", 2, 502, 502, "");
  EXPECT_EQ(get(bot_path("getMe")).body["description"], "Bad Gateway");
  EXPECT_EQ(get(bot_path("getUpdates")).status, 502);
  EXPECT_EQ(get(bot_path("getMe")).status, 200);

  fake.respond_raw_next("getMe", 200, "{not json");
  EXPECT_EQ(get(bot_path("getMe")).raw, "{not json");
}

TEST_F(FakeTelegramTest, RefuseClosesThePortAndClearingReopensTheSamePort) {
  const int port = fake.port();
  auto keep_alive = client_for(port);
  keep_alive.set_keep_alive(true);
  ASSERT_EQ(to_answer(keep_alive.Get(bot_path("getMe"))).status, 200);

  const auto begin = std::chrono::steady_clock::now();
  fake.set_outage(FakeTelegram::Outage::kRefuse);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 500ms) << "an idle keep-alive connection must not delay it";
  const Answer refused = get(bot_path("getMe"));
  EXPECT_EQ(refused.status, 0);
  EXPECT_EQ(refused.error, httplib::Error::Connection);
  EXPECT_EQ(to_answer(keep_alive.Get(bot_path("getMe"))).status, 0) << "an old connection is cut too";

  fake.set_outage(FakeTelegram::Outage::kNone);
  EXPECT_EQ(fake.port(), port);
  EXPECT_EQ(get(bot_path("getMe")).status, 200);
  EXPECT_EQ(to_answer(keep_alive.Get(bot_path("getMe"))).status, 200);
}

TEST_F(FakeTelegramTest, HangNeverAnswers502AnswersHtmlDropCloses) {
  fake.set_outage(FakeTelegram::Outage::kHang);
  const Answer hung = get(bot_path("sendMessage") + "?chat_id=1&text=x", 200ms);
  EXPECT_EQ(hung.status, 0);
  EXPECT_EQ(hung.error, httplib::Error::Read);
  fake.set_outage(FakeTelegram::Outage::kNone);
  ASSERT_TRUE(fake.wait_for_requests("sendMessage", 1, 2s));
  EXPECT_EQ(fake.requests("sendMessage")[0].http_status, 0);
  EXPECT_TRUE(fake.sent_messages().empty()) << "a hung request is never carried out";

  fake.set_outage(FakeTelegram::Outage::k502);
  const Answer gateway = get(bot_path("getMe"));
  EXPECT_EQ(gateway.status, 502);
  EXPECT_NE(gateway.raw.find("<html>"), std::string::npos);

  fake.set_outage(FakeTelegram::Outage::kDrop);
  const Answer dropped = get(bot_path("getMe"));
  EXPECT_EQ(dropped.status, 0);
  EXPECT_NE(dropped.error, httplib::Error::Success);

  fake.set_outage(FakeTelegram::Outage::kNone);
  fake.set_delay(150ms);
  const auto begin = std::chrono::steady_clock::now();
  EXPECT_EQ(get(bot_path("getMe")).status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 140ms);
}

TEST_F(FakeTelegramTest, ValidatesTextLikeTelegram) {
  EXPECT_EQ(send_text("<b>bold</b> &amp; <a href=\"https://x.y/?a=1&amp;b=2\">link</a> &lt;3", "HTML").status, 200);
  EXPECT_EQ(fake.sent_messages().back().text, "bold & link <3");

  for (const char* bad : {"<b>unclosed", "a < b", "line<br>break", "<b><i>x</b></i>", "fish & chips", "</b>"}) {
    const Answer a = send_text(bad, "HTML");
    EXPECT_EQ(a.status, 400) << bad;
    EXPECT_EQ(a.body["description"].get<std::string>().rfind("Bad Request: can't parse entities: ", 0), 0u) << bad;
  }
  EXPECT_EQ(send_text("fish & chips").status, 200) << "plain text needs no escaping";

  EXPECT_EQ(send_text("*Tier 1* recovered in 2\\.5s \\(ok\\)", "MarkdownV2").status, 200);
  EXPECT_EQ(fake.sent_messages().back().text, "Tier 1 recovered in 2.5s (ok)");
  EXPECT_EQ(send_text("`a.b` and ```\ncode!\n```", "MarkdownV2").status, 200) << "code needs no escaping";
  const Answer md = send_text("recovered in 2.5s", "MarkdownV2");
  EXPECT_EQ(md.status, 400);
  EXPECT_EQ(md.body["description"],
            "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'");
  EXPECT_EQ(send_text("*unclosed", "MarkdownV2").status, 400);
  EXPECT_EQ(send_text("x", "Shouting").body["description"], "Bad Request: unsupported parse_mode");

  EXPECT_EQ(send_text("  \n").body["description"], "Bad Request: message text is empty");
  std::string longest;
  for (int i = 0; i < 4096; ++i) longest += "\xC3\xA9";  // é: two bytes, one character
  EXPECT_EQ(send_text(longest).status, 200) << "the limit counts characters, not bytes";
  const Answer too_long = send_text(longest + "!");
  EXPECT_EQ(too_long.status, 400);
  EXPECT_EQ(too_long.body["description"], "Bad Request: message is too long");
  EXPECT_EQ(send_text("bad \xC3").body["description"], "Bad Request: text must be encoded in UTF-8");
}

TEST_F(FakeTelegramTest, EditMessageTextKeepsTheChatAndRefusesNoOps) {
  const json keyboard = {{"inline_keyboard", {{{{"text", "Repair now"}, {"callback_data", "repair"}}}}}};
  const Answer sent = post_json("sendMessage", {{"chat_id", kChat}, {"text", "🔴 down"}, {"reply_markup", keyboard}});
  ASSERT_EQ(sent.status, 200);
  const int64_t id = sent.body["result"]["message_id"];
  EXPECT_EQ(sent.body["result"]["reply_markup"], keyboard);
  EXPECT_EQ(post_json("sendMessage", {{"chat_id", kChat}, {"text", "next"}}).body["result"]["message_id"], id + 1);

  const Answer same = post("editMessageText", {{"chat_id", std::to_string(kChat)},
                                               {"message_id", std::to_string(id)},
                                               {"text", "🔴 down"},
                                               {"reply_markup", keyboard.dump()}});
  EXPECT_EQ(same.status, 400);
  EXPECT_EQ(same.body["description"].get<std::string>().rfind("Bad Request: message is not modified", 0), 0u);

  const Answer missing = post_json("editMessageText", {{"chat_id", kChat}, {"message_id", 999}, {"text", "x"}});
  EXPECT_EQ(missing.body["description"], "Bad Request: message to edit not found");

  EXPECT_EQ(post_json("editMessageText", {{"chat_id", kChat}, {"message_id", id}, {"text", "🟢 recovered"}}).status, 200);
  const auto chat = fake.sent_messages();
  ASSERT_EQ(chat.size(), 2u);
  EXPECT_EQ(chat[0].text, "🟢 recovered");
  EXPECT_TRUE(chat[0].edited);
  EXPECT_TRUE(chat[0].markup.is_null()) << "an edit without reply_markup removes the keyboard";

  const Answer bad_button = post_json(
      "sendMessage", {{"chat_id", kChat},
                      {"text", "x"},
                      {"reply_markup", {{"inline_keyboard", {{{{"text", "b"}, {"callback_data", std::string(65, 'd')}}}}}}}});
  EXPECT_EQ(bad_button.body["description"], "Bad Request: BUTTON_DATA_INVALID");
}

TEST_F(FakeTelegramTest, CallbacksCommandsAndMultipartUploads) {
  const Answer sent = send_text("menu");
  const int64_t id = sent.body["result"]["message_id"];
  const json update = fake.push_callback(kChat, 77, id, "repair");
  EXPECT_EQ(update["callback_query"]["message"]["text"], "menu");
  const std::string query = update["callback_query"]["id"];
  EXPECT_EQ(post("answerCallbackQuery", {{"callback_query_id", query}, {"text", "on it"}}).status, 200);
  EXPECT_EQ(post("answerCallbackQuery", {{"callback_query_id", query}}).status, 400) << "answered once only";

  const json commands = json::array({{{"command", "status"}, {"description", "Gateway status"}}});
  EXPECT_EQ(post("setMyCommands", {{"commands", commands.dump()}}).status, 200);
  EXPECT_EQ(fake.commands(), commands);
  EXPECT_EQ(post_json("setMyCommands", {{"commands", {{{"command", "Status"}, {"description", "x"}}}}}).status, 400);

  auto c = client_for(fake.port());
  // The client's parts: MultipartFormDataItems up to cpp-httplib 0.22,
  // UploadFormDataItems since 0.23 (CPPHTTPLIB_VERSION_NUM since 0.23.1).
#ifdef CPPHTTPLIB_VERSION_NUM
  const httplib::UploadFormDataItems items = {
#else
  const httplib::MultipartFormDataItems items = {
#endif
      {"chat_id", std::to_string(kChat), "", ""},
      {"caption", "<b>log</b>", "", ""},
      {"parse_mode", "HTML", "", ""},
      {"document", "line 1\nline 2\n", "gateway.log", "text/plain"},
  };
  const Answer doc = to_answer(c.Post(bot_path("sendDocument"), items));
  ASSERT_EQ(doc.status, 200) << doc.raw;
  EXPECT_EQ(doc.body["result"]["document"]["file_name"], "gateway.log");
  const auto last = fake.sent_messages().back();
  EXPECT_EQ(last.document, "line 1\nline 2\n");
  EXPECT_EQ(last.text, "log");
}

TEST(TelegramText, CountsAndChecksUtf8) {
  EXPECT_TRUE(text::is_valid_utf8("h\xC3\xA9 \xF0\x9F\x9F\xA2"));
  EXPECT_FALSE(text::is_valid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(text::is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_EQ(text::code_points("h\xC3\xA9 \xF0\x9F\x9F\xA2"), 4u);
  EXPECT_EQ(text::utf16_units("h\xC3\xA9 \xF0\x9F\x9F\xA2"), 5u);
  EXPECT_EQ(text::parse_html("&#x1F7E2; &#65;").visible, "\xF0\x9F\x9F\xA2 A");
  EXPECT_FALSE(text::parse_html("<span>x</span>").ok);
  EXPECT_TRUE(text::parse_html("<span class=\"tg-spoiler\">x</span>").ok);
  EXPECT_TRUE(text::parse_markdown_v2("[gwr](https://example.com/a\\)b) ||s|| __u__ ~s~\n>quote").ok);
  EXPECT_FALSE(text::parse_markdown_v2("a >b").ok);
  EXPECT_FALSE(text::parse_markdown("*open").ok);
}

// The binary: same server, scripted over HTTP, clean exit on SIGTERM.
TEST(FakeTelegramBinary, ServesTheControlApiAndExitsCleanlyOnSigterm) {
  const std::string port_file = "/tmp/fake-telegram-selftest-" + std::to_string(getpid()) + ".port";
  std::remove(port_file.c_str());
  std::vector<std::string> args = {FAKE_TELEGRAM_BIN, "--token", kToken, "--port-file", port_file};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  struct Child {  // killed and reaped if an assertion ends the test early
    pid_t pid = 0;
    ~Child() {
      if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
      }
    }
  } child;
  ASSERT_EQ(posix_spawn(&child.pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);

  int port = 0;
  for (int i = 0; i < 500 && port == 0; ++i) {
    std::ifstream in(port_file);
    if (!(in >> port)) std::this_thread::sleep_for(10ms);
  }
  ASSERT_GT(port, 0) << "no port file";
  auto c = client_for(port);

  auto pushed = c.Post("/_fake/update", R"({"chat_id": 5, "text": "/pause"})", "application/json");
  ASSERT_TRUE(pushed);
  EXPECT_EQ(pushed->status, 200);
  const Answer updates = to_answer(c.Get(bot_path("getUpdates")));
  ASSERT_EQ(updates.body["result"].size(), 1u);
  EXPECT_EQ(updates.body["result"][0]["message"]["text"], "/pause");

  ASSERT_TRUE(c.Post("/_fake/outage", R"({"mode": "refuse"})", "application/json"));
  EXPECT_EQ(to_answer(c.Get(bot_path("getMe"))).status, 0);
  ASSERT_TRUE(c.Post("/_fake/outage", R"({"mode": "none"})", "application/json"));
  ASSERT_TRUE(c.Post("/_fake/fail", R"({"method": "sendMessage", "http_status": 429, "error_code": 429,
                                        "retry_after": 7})", "application/json"));
  const Answer limited = to_answer(c.Post(bot_path("sendMessage"), "chat_id=5&text=hi",
                                          "application/x-www-form-urlencoded"));
  EXPECT_EQ(limited.body["parameters"]["retry_after"], 7);
  EXPECT_EQ(limited.body["description"], "Too Many Requests: retry after 7");

  const json log = to_answer(c.Get("/_fake/requests")).body;
  ASSERT_TRUE(log.is_array());
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[2]["method"], "sendMessage");
  EXPECT_EQ(log[2]["http_status"], 429);

  ASSERT_EQ(kill(child.pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child.pid, &status, 0), child.pid);
  child.pid = 0;
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::remove(port_file.c_str());
}

}  // namespace
