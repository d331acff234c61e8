// The two AI engines against their fakes: a good answer, garbage, errors,
// hangs and an engine that is not there all end in a clear result.
#include <gtest/gtest.h>

#include "common/http_client.h"
#include "common/process.h"
#include "repairer/tier3/ai_engine.h"
#include "repairer/tier3/answer_parser.h"
#include "tests/fakes/ai/fake_chat.h"
#include "tests/support/test_support.h"

namespace gwr::tier3 {
namespace {

using namespace std::chrono_literals;

class QwenEngineTest : public ::testing::Test {
 protected:
  EngineReply ask(const std::string& answer, std::chrono::milliseconds timeout = 10s) {
    testing::write_file(dir_ / "answer.txt", answer);
    pb::Config c;
    for (const auto& a : {testing::fake_path("fake-qwen"), std::string("--answer"), dir_ / "answer.txt",
                          std::string("--record"), dir_.path()}) {
      c.mutable_repair()->mutable_tier3()->add_command(a);
    }
    QwenCliEngine engine(c, runner_);
    return engine.ask("INSTRUCTIONS", "BUNDLE TEXT", timeout);
  }
  testing::TempDir dir_;
  RealCommandRunner runner_;
};

TEST_F(QwenEngineTest, GoodAnswerWithPromptAndBundleOnStdin) {
  auto r = ask("DIAGNOSIS: x\nSCRIPT:\n```sh\nopenclaw gateway restart\n```\n");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(parse_model_answer(r.text).script, "openclaw gateway restart\n");
  EXPECT_EQ(testing::read_file(dir_ / "prompt-1.txt"), "INSTRUCTIONS");
  EXPECT_EQ(testing::read_file(dir_ / "bundle-1.txt"), "BUNDLE TEXT");
  EXPECT_NE(testing::read_file(dir_ / "calls.log").find("plan=1 json=1"), std::string::npos);
}

TEST_F(QwenEngineTest, MalformedJsonIsAClearError) {
  auto r = ask("!malformed\n");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("JSON"), std::string::npos) << r.error;
}

TEST_F(QwenEngineTest, ReportedErrorIsPassedOn) {
  auto r = ask("!error quota exceeded for this month\n");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("quota exceeded"), std::string::npos) << r.error;
}

TEST_F(QwenEngineTest, HangIsCutAtTheDeadline) {
  const auto t0 = std::chrono::steady_clock::now();
  auto r = ask("!hang\n", 1500ms);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("did not answer within"), std::string::npos) << r.error;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST_F(QwenEngineTest, MissingCliIsUnreachable) {
  pb::Config c;
  c.mutable_repair()->mutable_tier3()->add_command("/nonexistent/qwen");
  QwenCliEngine engine(c, runner_);
  auto r = engine.ask("x", "y", 5s);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.unreachable);
  EXPECT_NE(r.error.find("npm install -g @qwen-code/qwen-code"), std::string::npos) << r.error;
}

class OpenAiEngineTest : public ::testing::Test {
 protected:
  pb::Config config(const std::string& base_url, const std::string& key = "sk-test-key-0123456789abcdef") {
    pb::Config c;
    auto* t3 = c.mutable_repair()->mutable_tier3();
    t3->set_engine("openai");
    t3->set_base_url(base_url);
    t3->set_model("qwen-plus");
    t3->set_api_key(key);
    return c;
  }
  testing::FakeChatServer chat_;
  CurlHttpClient http_;
};

TEST_F(OpenAiEngineTest, GoodAnswerSendsModelMessagesAndKey) {
  chat_.answer("DIAGNOSIS: y\nSCRIPT:\n```sh\nopenclaw gateway start\n```");
  OpenAiEngine engine(config(chat_.base_url()), http_);
  auto r = engine.ask("INSTR", "BUNDLE", 5s);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(parse_model_answer(r.text).script, "openclaw gateway start\n");
  const auto calls = chat_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].authorization, "Bearer sk-test-key-0123456789abcdef");
  EXPECT_EQ(calls[0].body["model"], "qwen-plus");
  EXPECT_EQ(calls[0].body["messages"][0]["content"], "INSTR");
  EXPECT_EQ(calls[0].body["messages"][1]["content"], "BUNDLE");
}

TEST_F(OpenAiEngineTest, AuthFailureGarbageEmptyAndHang) {
  OpenAiEngine engine(config(chat_.base_url()), http_);
  chat_.fail(401, R"({"error":{"message":"Incorrect API key"}})");
  auto auth = engine.ask("i", "b", 5s);
  EXPECT_FALSE(auth.ok);
  EXPECT_NE(auth.error.find("rejected the API key"), std::string::npos) << auth.error;
  chat_.raw("<html>oops</html>");
  EXPECT_NE(engine.ask("i", "b", 5s).error.find("not JSON"), std::string::npos);
  chat_.answer("   ");
  EXPECT_NE(engine.ask("i", "b", 5s).error.find("empty answer"), std::string::npos);
  chat_.hang(true);
  const auto t0 = std::chrono::steady_clock::now();
  auto hung = engine.ask("i", "b", 1500ms);
  chat_.hang(false);
  EXPECT_FALSE(hung.ok);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST_F(OpenAiEngineTest, NoKeyOrNoNetworkIsUnreachable) {
  OpenAiEngine nokey(config(chat_.base_url(), ""), http_);
  EXPECT_TRUE(nokey.ask("i", "b", 5s).unreachable);
  OpenAiEngine down(config("http://127.0.0.1:" + std::to_string(testing::free_tcp_port()) + "/v1"), http_);
  auto r = down.ask("i", "b", 5s);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.unreachable) << r.error;
}

}  // namespace
}  // namespace gwr::tier3
