// Telegram Update JSON -> command / callback / ignored, whatever the JSON holds.
#include <gtest/gtest.h>

#include "telegram-bridge/update_parser.h"

#include "common/text.h"

namespace gwr::telegram {
namespace {

using json = nlohmann::json;
using Kind = ParsedUpdate::Kind;

json message_update(int64_t id, int64_t chat, int64_t user, const std::string& text) {
  return {{"update_id", id},
          {"message",
           {{"message_id", 7},
            {"date", 1'800'000'000},
            {"from", {{"id", user}, {"is_bot", false}, {"first_name", "Owner"}, {"username", "owner"}}},
            {"chat", {{"id", chat}, {"type", chat > 0 ? "private" : "supergroup"}}},
            {"text", text}}}};
}

TEST(UpdateParser, PlainCommand) {
  auto p = parse_update(message_update(10, 4242, 4242, "/status"), "gwr_bot");
  ASSERT_EQ(p.kind, Kind::kCommand) << p.reason;
  EXPECT_TRUE(p.has_update_id);
  EXPECT_EQ(p.update_id, 10);
  EXPECT_EQ(p.command, "status");
  EXPECT_EQ(p.args, "");
  EXPECT_EQ(p.chat_id, 4242);
  EXPECT_EQ(p.user_id, 4242);
  EXPECT_EQ(p.username, "owner");
  EXPECT_EQ(p.message_id, 7);
  EXPECT_EQ(p.message_date, 1'800'000'000);
}

TEST(UpdateParser, ArgumentsAreTrimmedAndCaseOfTheNameIgnored) {
  auto p = parse_update(message_update(1, 4242, 1, "/Pause   upgrading node  \n"), "gwr_bot");
  ASSERT_EQ(p.kind, Kind::kCommand);
  EXPECT_EQ(p.command, "pause");
  EXPECT_EQ(p.args, "upgrading node");
  p = parse_update(message_update(1, 4242, 1, "/config set repair.max_per_hour 5"), "gwr_bot");
  EXPECT_EQ(p.command, "config");
  EXPECT_EQ(p.args, "set repair.max_per_hour 5");
}

TEST(UpdateParser, CommandsAddressedToThisBotWorkOthersAreIgnored) {
  auto p = parse_update(message_update(1, -100, 1, "/status@gwr_bot"), "gwr_bot");
  ASSERT_EQ(p.kind, Kind::kCommand) << p.reason;
  EXPECT_EQ(p.command, "status");
  p = parse_update(message_update(1, -100, 1, "/status@GWR_Bot now"), "gwr_bot");
  ASSERT_EQ(p.kind, Kind::kCommand) << p.reason;
  EXPECT_EQ(p.args, "now");
  p = parse_update(message_update(1, -100, 1, "/status@OtherBot"), "gwr_bot");
  EXPECT_EQ(p.kind, Kind::kIgnored);
  EXPECT_EQ(p.reason, "addressed to another bot");
  // Until the bot knows its own name, an addressed command is not taken.
  p = parse_update(message_update(1, -100, 1, "/status@gwr_bot"), "");
  EXPECT_EQ(p.kind, Kind::kIgnored);
}

TEST(UpdateParser, TextThatIsNotACommandIsIgnored) {
  for (const char* text : {"hello", "", " /status", "/", "/status!", "/@gwr_bot", "/sta-tus",
                           "/a_very_long_command_name_that_exceeds_32"}) {
    auto p = parse_update(message_update(3, 4242, 1, text), "gwr_bot");
    EXPECT_EQ(p.kind, Kind::kIgnored) << text;
    EXPECT_TRUE(p.has_update_id) << text;  // still acknowledged
  }
}

TEST(UpdateParser, CallbackQuery) {
  json u = {{"update_id", 11},
            {"callback_query",
             {{"id", "9001"},
              {"from", {{"id", 5}, {"username", "owner"}}},
              {"message", {{"message_id", 33}, {"date", 1'800'000'100}, {"chat", {{"id", 4242}, {"type", "private"}}}}},
              {"chat_instance", "x"},
              {"data", "pause"}}}};
  auto p = parse_update(u, "gwr_bot");
  ASSERT_EQ(p.kind, Kind::kCallback) << p.reason;
  EXPECT_EQ(p.callback_id, "9001");
  EXPECT_EQ(p.callback_data, "pause");
  EXPECT_EQ(p.user_id, 5);
  EXPECT_EQ(p.chat_id, 4242);
  EXPECT_EQ(p.message_id, 33);
  EXPECT_EQ(p.message_date, 1'800'000'100);

  u["callback_query"]["data"] = std::string(65, 'x');
  EXPECT_EQ(parse_update(u, "gwr_bot").reason, "callback data too long");
  u["callback_query"].erase("data");
  EXPECT_EQ(parse_update(u, "gwr_bot").kind, Kind::kIgnored);
  u["callback_query"]["data"] = "pause";
  u["callback_query"].erase("message");  // an inline-mode button: no chat to answer in
  EXPECT_EQ(parse_update(u, "gwr_bot").kind, Kind::kIgnored);
}

TEST(UpdateParser, MalformedShapesAreSkippedWithAReason) {
  const json cases[] = {
      json(nullptr),
      json::array({1, 2}),
      json("string"),
      json::object(),
      {{"update_id", "12"}, {"message", {{"text", "/status"}}}},
      {{"update_id", -1}},
      {{"update_id", 1.5}},
      {{"update_id", 12}},
      {{"update_id", 12}, {"message", "text"}},
      {{"update_id", 12}, {"message", json::object()}},
      {{"update_id", 12}, {"message", {{"message_id", 1}, {"chat", {{"id", "4242"}}}, {"text", "/status"}}}},
      {{"update_id", 12}, {"message", {{"message_id", 1}, {"chat", {{"id", 4242}}}, {"text", "/status"}}}},
      {{"update_id", 12},
       {"message", {{"message_id", 1}, {"chat", {{"id", 4242}}}, {"from", {{"id", true}}}, {"text", "/status"}}}},
      {{"update_id", 12},
       {"message", {{"message_id", 1}, {"chat", {{"id", 4242}}}, {"from", {{"id", 1}}}, {"text", 42}}}},
      {{"update_id", 12}, {"message", {{"message_id", 1}, {"chat", 4242}, {"from", {{"id", 1}}}, {"text", "/status"}}}},
      {{"update_id", 12}, {"callback_query", {{"id", 5}, {"data", "x"}}}},
      {{"update_id", 12}, {"edited_message", json::object()}},
      {{"update_id", 12}, {"something_new", json::object()}},
  };
  for (const auto& c : cases) {
    ParsedUpdate p;
    EXPECT_NO_THROW(p = parse_update(c, "gwr_bot")) << c.dump();
    EXPECT_EQ(p.kind, Kind::kIgnored) << c.dump();
    EXPECT_FALSE(p.reason.empty()) << c.dump();
  }
  // An update with a usable id is acknowledged even when its body is garbage.
  EXPECT_TRUE(parse_update({{"update_id", 12}, {"message", "text"}}, "gwr_bot").has_update_id);
  EXPECT_FALSE(parse_update({{"update_id", "12"}}, "gwr_bot").has_update_id);
}

TEST(UpdateParser, NonTextMessagesAreIgnored) {
  json u = message_update(5, 4242, 1, "");
  u["message"].erase("text");
  u["message"]["photo"] = json::array({{{"file_id", "x"}}});
  auto p = parse_update(u, "gwr_bot");
  EXPECT_EQ(p.kind, Kind::kIgnored);
  EXPECT_EQ(p.reason, "not a text message");
}

TEST(UpdateParser, HugeTextIsBoundedAndStillParsed) {
  std::string huge = "/pause " + std::string(100'000, 'a');
  auto p = parse_update(message_update(5, 4242, 1, huge), "gwr_bot");
  ASSERT_EQ(p.kind, Kind::kCommand);
  EXPECT_EQ(p.command, "pause");
  EXPECT_LE(p.args.size(), kMaxArgsBytes);
  // Multi-byte text is cut on a character boundary.
  std::string cyrillic = "/pause ";
  for (int i = 0; i < 5000; ++i) cyrillic += "ж";
  p = parse_update(message_update(5, 4242, 1, cyrillic), "gwr_bot");
  ASSERT_EQ(p.kind, Kind::kCommand);
  ASSERT_FALSE(p.args.empty());
  EXPECT_NE(static_cast<unsigned char>(p.args.back()), 0xD0);  // never half a character
  EXPECT_EQ(p.args.size() % 2, 0u);
  // A command hidden after 4096 bytes of padding is not looked at.
  p = parse_update(message_update(5, 4242, 1, std::string(5000, ' ') + "/status"), "gwr_bot");
  EXPECT_EQ(p.kind, Kind::kIgnored);
}

TEST(UpdateParser, ForwardedMessagesAndMessagesPostedAsAChatNeverCommand) {
  for (const char* key : {"forward_origin", "forward_from", "forward_from_chat", "forward_sender_name", "forward_date",
                          "is_automatic_forward"}) {
    auto u = message_update(1, -100, 4242, "/pause");
    u["message"][key] = key == std::string("is_automatic_forward") ? json(true) : json({{"type", "user"}});
    auto p = parse_update(u, "gwr_bot");
    EXPECT_EQ(p.kind, Kind::kIgnored) << key;
    EXPECT_EQ(p.reason, "a forwarded message") << key;
    EXPECT_TRUE(p.has_update_id) << "still acknowledged";
  }
  // An anonymous group admin, or a channel: "from" is a placeholder bot.
  auto u = message_update(2, -100, 1087968824, "/resume");
  u["message"]["sender_chat"] = {{"id", -100}, {"type", "supergroup"}};
  EXPECT_EQ(parse_update(u, "gwr_bot").kind, Kind::kIgnored);
}

TEST(UpdateParser, MultibyteArgumentsAreCutOnACharacterBoundary) {
  std::string args;
  while (args.size() < kMaxArgsBytes + 10) args += "维护";  // three bytes each
  auto p = parse_update(message_update(3, 4242, 4242, "/pause " + args), "gwr_bot");
  ASSERT_EQ(p.kind, Kind::kCommand);
  EXPECT_LE(p.args.size(), kMaxArgsBytes);
  EXPECT_TRUE(is_valid_utf8(p.args));
}

TEST(UpdateParser, SplitCommand) {
  std::string name, bot, rest;
  ASSERT_TRUE(split_command("/config@gwr_bot set a b", name, bot, rest));
  EXPECT_EQ(name, "config");
  EXPECT_EQ(bot, "gwr_bot");
  EXPECT_EQ(rest, "set a b");
  EXPECT_FALSE(split_command("status", name, bot, rest));
  EXPECT_FALSE(split_command("/status@", name, bot, rest));
}

}  // namespace
}  // namespace gwr::telegram
