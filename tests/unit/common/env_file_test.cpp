#include "common/env_file.h"

#include <gtest/gtest.h>

namespace gwr {
namespace {

TEST(EnvFile, ParsesPrdExample) {
  auto r = parse_env_text(
      "# .env.example\n"
      "TELEGRAM_BOT_TOKEN=your_bot_token\n"
      "export TELEGRAM_CHAT_ID=12345\n"
      "\n"
      "QWEN_API_KEY=\"quoted value # not a comment\"\n"
      "HEALTH_CHECK_INTERVAL=10 # seconds\n"
      "LITERAL='a\\nb'\n"
      "ESCAPED=\"a\\nb\"\r\n",
      "t.env");
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(r->size(), 6u);
  EXPECT_EQ((*r)[0].name, "TELEGRAM_BOT_TOKEN");
  EXPECT_EQ((*r)[0].line, 2);
  EXPECT_EQ((*r)[1].value, "12345");
  EXPECT_EQ((*r)[2].value, "quoted value # not a comment");
  EXPECT_EQ((*r)[3].value, "10");
  EXPECT_EQ((*r)[4].value, "a\\nb");
  EXPECT_EQ((*r)[5].value, "a\nb");
}

TEST(EnvFile, ErrorsNameTheLine) {
  auto missing_eq = parse_env_text("A=1\nNOEQUALS\n", "x.env");
  ASSERT_FALSE(missing_eq.ok());
  EXPECT_NE(missing_eq.message().find("x.env line 2"), std::string::npos);
  EXPECT_FALSE(parse_env_text("1BAD=x\n", "x").ok());
  EXPECT_FALSE(parse_env_text("A=\"unterminated\n", "x").ok());
  EXPECT_FALSE(parse_env_text("A=\"x\" trailing\n", "x").ok());
}

}  // namespace
}  // namespace gwr

namespace gwr {
namespace {

TEST(SetEnvValues, ReplacesInPlaceKeepsEverythingElseAndAppendsTheRest) {
  const std::string before =
      "# gwr's secrets\n"
      "export TELEGRAM_BOT_TOKEN=old:token\n"
      "\n"
      "QWEN_API_KEY='sk-keep me'\n"
      "TELEGRAM_CHAT_ID=1\n";
  const std::string after = set_env_values(before, {{"TELEGRAM_BOT_TOKEN", "123:AA-bb_cc"},
                                                    {"TELEGRAM_CHAT_ID", "-1001234"},
                                                    {"TELEGRAM_ALLOWED_USER_IDS", "42"}});
  EXPECT_EQ(after,
            "# gwr's secrets\n"
            "export TELEGRAM_BOT_TOKEN=123:AA-bb_cc\n"
            "\n"
            "QWEN_API_KEY='sk-keep me'\n"
            "TELEGRAM_CHAT_ID=-1001234\n"
            "TELEGRAM_ALLOWED_USER_IDS=42\n");
  // What it writes reads back as written, whatever the value holds.
  for (const std::string v : {"plain", "with space", "it's", "a\"b\\c", "line\nbreak", "€uro"}) {
    auto parsed = parse_env_text(set_env_values("", {{"X", v}}), "t");
    ASSERT_TRUE(parsed.ok()) << v << ": " << parsed.message();
    ASSERT_EQ(parsed->size(), 1u);
    EXPECT_EQ((*parsed)[0].value, v);
  }
  EXPECT_EQ(set_env_values("", {{"A", "1"}}), "A=1\n");
}

}  // namespace
}  // namespace gwr
