// Only the owner's chat (and allowed users) may command; strangers are audited, rate-limited.
#include <gtest/gtest.h>

#include "telegram-bridge/access_policy.h"
#include "telegram-bridge/command_handler.h"
#include "telegram-bridge/messages.h"
#include "tests/support/test_support.h"

namespace gwr::telegram {
namespace {

using gwr::testing::FakeClock;
using namespace std::chrono_literals;

TEST(AccessPolicy, OnlyTheConfiguredChat) {
  pb::TelegramConfig cfg;
  cfg.set_chat_id(4242);
  const auto p = AccessPolicy::from_config(cfg);
  EXPECT_TRUE(p.allows(4242, 4242));
  EXPECT_TRUE(p.allows(4242, 7));  // anyone in the owner's chat when no users are listed
  EXPECT_FALSE(p.allows(4243, 4242));
  EXPECT_FALSE(p.allows(-4242, 4242));
}

TEST(AccessPolicy, AllowedUsersRestrictTheChat) {
  pb::TelegramConfig cfg;
  cfg.set_chat_id(-100);
  cfg.add_allowed_user_ids(1);
  cfg.add_allowed_user_ids(2);
  const auto p = AccessPolicy::from_config(cfg);
  EXPECT_TRUE(p.allows(-100, 1));
  EXPECT_TRUE(p.allows(-100, 2));
  EXPECT_FALSE(p.allows(-100, 3));
  EXPECT_FALSE(p.allows(1, 1));  // an allowed user, but in another chat
}

TEST(AccessPolicy, AGroupWithoutListedUsersIsReadOnlyForEveryone) {
  pb::TelegramConfig cfg;
  cfg.set_chat_id(-1001234);
  const auto p = AccessPolicy::from_config(cfg);
  EXPECT_TRUE(p.group());
  EXPECT_EQ(p.check(-1001234, 1), Access::kReadOnly);
  EXPECT_EQ(p.check(-1001234, 2), Access::kReadOnly);
  EXPECT_EQ(p.check(-1, 1), Access::kNone);
  cfg.add_allowed_user_ids(1);
  const auto listed = AccessPolicy::from_config(cfg);
  EXPECT_EQ(listed.check(-1001234, 1), Access::kFull);
  EXPECT_EQ(listed.check(-1001234, 2), Access::kNone);
  // A private chat is its owner's alone.
  pb::TelegramConfig own;
  own.set_chat_id(4242);
  EXPECT_EQ(AccessPolicy::from_config(own).check(4242, 4242), Access::kFull);
}

TEST(AccessPolicy, ReadOnlyMeansNothingThatChangesSomething) {
  for (const auto& [name, args] : std::vector<std::pair<std::string, std::string>>{
           {"pause", ""}, {"resume", ""}, {"repair", ""}, {"config", "set repair.max_per_hour 9"}, {"config", "reset x"}}) {
    EXPECT_TRUE(CommandHandler::command_changes_something(name, args)) << name << " " << args;
  }
  for (const auto& [name, args] : std::vector<std::pair<std::string, std::string>>{
           {"status", ""}, {"logs", ""}, {"history", ""}, {"config", ""}, {"help", ""}}) {
    EXPECT_FALSE(CommandHandler::command_changes_something(name, args)) << name;
  }
  for (const char* data : {button::kRepair, button::kPause, button::kResume, button::kRepairConfirm}) {
    EXPECT_TRUE(CommandHandler::callback_changes_something(data)) << data;
  }
  EXPECT_FALSE(CommandHandler::callback_changes_something(button::kLogs));
  CommandContext ctx;
  ctx.user_id = 777;
  ctx.message_id = 5;
  const auto r = CommandHandler::read_only_refusal("/pause", ctx);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_NE(r.messages[0].text.find("telegram.allowed_user_ids"), std::string::npos);
  EXPECT_NE(r.messages[0].text.find("777"), std::string::npos) << "it names the sender's own id";
  EXPECT_EQ(r.messages[0].reply_to, 5);
}

TEST(AccessPolicy, NoChatConfiguredAllowsNobody) {
  EXPECT_FALSE(AccessPolicy{}.allows(0, 0));
  EXPECT_FALSE(AccessPolicy{}.allows(5, 5));
}

TEST(AuditLimiter, OneLinePerSenderPerIntervalWithTheCountOfWhatWasHeld) {
  FakeClock clock;
  AuditLimiter audit(60'000, 100);
  EXPECT_TRUE(audit.check(1, 1, clock.wall_ms()).log);
  for (int i = 0; i < 50; ++i) {
    clock.advance(100ms);
    EXPECT_FALSE(audit.check(1, 1, clock.wall_ms()).log);
  }
  EXPECT_TRUE(audit.check(2, 2, clock.wall_ms()).log);  // another sender has its own budget
  clock.advance(60s);
  const auto v = audit.check(1, 1, clock.wall_ms());
  EXPECT_TRUE(v.log);
  EXPECT_EQ(v.suppressed, 50u);
}

TEST(AuditLimiter, GlobalCapAgainstManyStrangers) {
  FakeClock clock;
  AuditLimiter audit(60'000, 5);
  int logged = 0;
  for (int user = 0; user < 100; ++user) logged += audit.check(9, user, clock.wall_ms()).log;
  EXPECT_EQ(logged, 5);
  clock.advance(61s);
  EXPECT_TRUE(audit.check(9, 1000, clock.wall_ms()).log);
}

}  // namespace
}  // namespace gwr::telegram
