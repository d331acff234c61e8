// Reading OpenClaw's own config (read-only): JSON5 as people write it, and
// the Telegram bot tokens it gives the gateway (issue #19).
#include "common/openclaw_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/test_support.h"

namespace gwr {
namespace {

TEST(Json5, WhatPeopleWriteInOpenclawJson) {
  const std::string text = R"({
  // OpenClaw's gateway
  gateway: { port: 18789, bind: 'loopback', },  /* trailing comma */
  channels: {
    telegram: {
      enabled: true,
      botToken: '123:abc "quoted" \'single\'',
      retries: +3, mask: 0xff,
    },
  },
  url: "http://x/y//z",  // a // inside a string is no comment
})";
  auto j = parse_json5(text);
  ASSERT_TRUE(j.ok()) << j.message();
  EXPECT_EQ((*j)["gateway"]["port"], 18789);
  EXPECT_EQ((*j)["gateway"]["bind"], "loopback");
  EXPECT_EQ((*j)["channels"]["telegram"]["botToken"], "123:abc \"quoted\" 'single'");
  EXPECT_EQ((*j)["channels"]["telegram"]["retries"], 3);
  EXPECT_EQ((*j)["channels"]["telegram"]["mask"], 255);
  EXPECT_EQ((*j)["url"], "http://x/y//z");
}

TEST(Json5, BrokenTextIsAClearErrorNeverAGuess) {
  for (const char* bad : {"{ a: 'open", "{ /* never closed", "{ a: ", "{ a: Infinity }", "not json", "",
                          "{ a: 'line\nbreak' }"}) {
    auto j = parse_json5(bad);
    EXPECT_FALSE(j.ok()) << bad;
  }
  EXPECT_NE(parse_json5("{\n\n a: 'x\n").message().find("line 3"), std::string::npos) << parse_json5("{\n\n a: 'x\n").message();
}

TEST(OpenclawConfig, TelegramTokensAtTheChannelAndPerAccountAndFromFiles) {
  auto j = *parse_json5(R"({ channels: {
    telegram: { botToken: ' 111:aaa ', tokenFile: '/run/tok',
                accounts: { ops: { botToken: '222:bbb' }, alerts: { tokenFile: '/run/alerts' },
                            ref: { botToken: { source: 'env', id: 'TG' } }, broken: 5 } },
    slack: { botToken: 'xoxb-not-telegram' } } })");
  const auto tokens = telegram_tokens(j, [](const std::string& path) -> std::optional<std::string> {
    if (path == "/run/tok") return std::string("333:ccc\n");
    return std::nullopt;  // /run/alerts cannot be read: skipped
  });
  ASSERT_EQ(tokens.size(), 3u);
  EXPECT_EQ(tokens[0].token, "111:aaa");
  EXPECT_EQ(tokens[0].where, "channels.telegram.botToken");
  EXPECT_EQ(tokens[1].token, "333:ccc");
  EXPECT_EQ(tokens[1].where, "channels.telegram.tokenFile (/run/tok)");
  EXPECT_EQ(tokens[2].where, "channels.telegram.accounts.ops.botToken");
  EXPECT_TRUE(telegram_tokens(nlohmann::json::array(), nullptr).empty());
  EXPECT_TRUE(telegram_tokens(*parse_json5("{ channels: { telegram: 'x' } }"), nullptr).empty());
}

TEST(OpenclawConfig, WhereItIs) {
  EXPECT_EQ(openclaw_config_path({{"OPENCLAW_CONFIG_PATH", "/c/o.json"}, {"OPENCLAW_STATE_DIR", "/s"}}, "/h/.openclaw"), "/c/o.json");
  EXPECT_EQ(openclaw_config_path({{"OPENCLAW_STATE_DIR", "/s"}}, "/h/.openclaw"), "/s/openclaw.json");
  EXPECT_EQ(openclaw_config_path({}, "/h/.openclaw"), "/h/.openclaw/openclaw.json");
}

TEST(OpenclawConfig, TheClashNamesWhereAndNeverTheToken) {
  testing::TempDir dir;
  const std::string path = dir / "openclaw.json";
  std::ofstream(path) << "{ channels: { telegram: { accounts: { main: { botToken: '123456:AAsecretsecret' } } } } }";
  std::string note;
  auto clash = bot_token_clash("123456:AAsecretsecret", path, &note);
  ASSERT_TRUE(clash);
  EXPECT_NE(clash->find("channels.telegram.accounts.main.botToken in " + path), std::string::npos) << *clash;
  EXPECT_NE(clash->find("fingerprint " + token_fingerprint("123456:AAsecretsecret")), std::string::npos);
  EXPECT_EQ(clash->find("AAsecretsecret"), std::string::npos) << *clash;
  EXPECT_FALSE(bot_token_clash("654321:BBother", path, &note));
  EXPECT_NE(note.find("differs"), std::string::npos);
  EXPECT_FALSE(bot_token_clash("", path));
  EXPECT_FALSE(bot_token_clash("123456:AAsecretsecret", dir / "missing.json", &note));
  EXPECT_NE(note.find("cannot be read"), std::string::npos);
  std::ofstream(path) << "{ broken";
  EXPECT_FALSE(bot_token_clash("123456:AAsecretsecret", path, &note));
  EXPECT_NE(note.find("not compared"), std::string::npos);
  EXPECT_EQ(token_fingerprint("a").size(), 12u);
  EXPECT_NE(token_fingerprint("a"), token_fingerprint("b"));
}

TEST(OpenclawConfig, DiscoversTheDefaultGatewayAndEveryProfile) {
  testing::TempDir home;
  std::filesystem::create_directories(home / ".openclaw");
  std::ofstream(home / ".openclaw/openclaw.json") << "{\n  // the main one\n  gateway: { port: 19001, },\n}\n";
  std::filesystem::create_directories(home / ".openclaw-rescue");
  std::ofstream(home / ".openclaw-rescue/openclaw.json") << "{ gateway: { port: 19789 } }";
  std::filesystem::create_directories(home / ".openclaw-broken");
  std::ofstream(home / ".openclaw-broken/openclaw.json") << "{ gateway: ";
  std::filesystem::create_directories(home / ".openclaw-empty");  // no config: not a gateway
  std::ofstream(home / ".openclaw-file") << "not a directory";
  const auto found = discover_gateways(home.path(), home / ".openclaw", home / ".openclaw/openclaw.json");
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0].profile, "");
  EXPECT_EQ(found[0].port, 19001u);
  EXPECT_EQ(found[1].profile, "broken");
  EXPECT_FALSE(found[1].error.empty());
  EXPECT_EQ(found[2].profile, "rescue");
  EXPECT_EQ(found[2].port, 19789u);
  EXPECT_EQ(found[2].state_dir, home / ".openclaw-rescue");
  // No default gateway: the profiles still.
  const auto elsewhere = discover_gateways(home.path(), home / "nowhere", home / "nowhere/openclaw.json");
  ASSERT_EQ(elsewhere.size(), 2u);
  EXPECT_EQ(elsewhere[0].profile, "broken");
}

}  // namespace
}  // namespace gwr
