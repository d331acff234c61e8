// gwrctl telegram setup's reading of getUpdates: which /start counts.
#include "ctl/telegram_setup.h"

#include <gtest/gtest.h>

#include <ctime>

namespace gwr::ctl {
namespace {

nlohmann::json message(int64_t update_id, const nlohmann::json& text, int64_t chat = 42, int64_t from = 42,
                       int64_t age_s = 5, bool bot = false) {
  return {{"update_id", update_id},
          {"message",
           {{"message_id", update_id},
            {"date", static_cast<int64_t>(std::time(nullptr)) - age_s},
            {"chat", {{"id", chat}, {"type", chat < 0 ? "group" : "private"}, {"title", "ops"}}},
            {"from", {{"id", from}, {"is_bot", bot}, {"first_name", "A"}}},
            {"text", text}}}};
}

TEST(FindStart, TheFirstRecentStartFromAPersonAndTheOffsetPastEverything) {
  int64_t offset = 0;
  const nlohmann::json updates = nlohmann::json::array(
      {message(10, "hello"), message(11, "/start", 42, 7, 3600), message(12, "/start", 42, 8, 5, true),
       message(13, 5), {{"update_id", 14}, {"callback_query", {{"id", "x"}}}}, message(15, "/start@gwr_bot", -100, 9),
       message(16, "/start", 42, 10)});
  const auto seen = find_start(updates, offset);
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->chat_id, -100);
  EXPECT_EQ(seen->user_id, 9);
  EXPECT_EQ(seen->chat_title, "ops");
  EXPECT_EQ(offset, 17);
}

TEST(FindStart, NothingUsableIsNothing) {
  int64_t offset = 5;
  EXPECT_FALSE(find_start(nlohmann::json::object(), offset));
  EXPECT_FALSE(find_start(nlohmann::json::array({message(3, "/starting"), message(4, "/stop")}), offset));
  EXPECT_EQ(offset, 5) << "the offset never goes back";
  EXPECT_FALSE(find_start(nlohmann::json::array({{{"update_id", "x"}}, 7, nullptr}), offset));
}

}  // namespace
}  // namespace gwr::ctl
