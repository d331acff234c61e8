#include "common/redact.h"

#include <gtest/gtest.h>

namespace gwr {
namespace {

constexpr const char* kToken = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

TEST(Redact, KnownSecretsAnywhere) {
  Redactor r({"s3cr3t-value", "ab"});
  EXPECT_EQ(r.redact("key is s3cr3t-value!"), "key is [REDACTED]!");
  EXPECT_EQ(r.redact("ab stays"), "ab stays");  // too short to be treated as a secret
}

TEST(Redact, JsonEscapedSecret) {
  Redactor r({"pa\"ss\\word"});
  EXPECT_EQ(r.redact(R"({"x":"pa\"ss\\word"})"), R"({"x":"[REDACTED]"})");
}

TEST(Redact, TelegramTokenShapes) {
  const std::string t = kToken;
  EXPECT_EQ(redact_patterns("token " + t + " end"), "token [REDACTED] end");
  EXPECT_EQ(redact_patterns("https://api.telegram.org/bot" + t + "/getUpdates"),
            "https://api.telegram.org/bot[REDACTED]/getUpdates");
  EXPECT_EQ(redact_patterns("time 12:30:45 is fine"), "time 12:30:45 is fine");
}

TEST(Redact, ApiKeysAndAuthHeaders) {
  EXPECT_EQ(redact_patterns("key sk-abcdefghijklmnop1234 used"), "key [REDACTED] used");
  EXPECT_EQ(redact_patterns("Authorization: Bearer abc.def.ghi123\nnext"), "Authorization: [REDACTED]\nnext");
  EXPECT_EQ(redact_patterns("curl -H 'authorization: Basic dXNlcjpwYXNz'"), "curl -H 'authorization: [REDACTED]'");
  EXPECT_EQ(redact_patterns("bearer abcdefgh12345678"), "bearer [REDACTED]");
}

TEST(Redact, CredentialPairs) {
  EXPECT_EQ(redact_patterns("QWEN_API_KEY=abc123xyz"), "QWEN_API_KEY=[REDACTED]");
  EXPECT_EQ(redact_patterns(R"({"api_key": "hunter22"})"), R"({"api_key": "[REDACTED]"})");
  EXPECT_EQ(redact_patterns("password: letmein now"), "password: [REDACTED] now");
  EXPECT_EQ(redact_patterns("max_tokens: 500"), "max_tokens: 500");
  EXPECT_EQ(redact_patterns("token: true"), "token: true");
}

TEST(Redact, LongInputIsLinear) {
  std::string big(2'000'000, 'a');
  big += " ";
  big += kToken;
  const auto out = redact_patterns(big);
  EXPECT_EQ(out.find("AAHdq"), std::string::npos);
}

}  // namespace
}  // namespace gwr
