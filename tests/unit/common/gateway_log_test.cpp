// What OpenClaw's health monitor said about the channels it restarted, from
// its tslog JSON lines (and plain lines), whatever else the log holds.
#include "common/gateway_log.h"

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace gwr {
namespace {

TEST(ChannelRestartReasons, TheLastRestartOfEachChannelWins) {
  const std::string log =
      R"J({"0":"{\"subsystem\":\"gateway/health-monitor\"}","1":"[telegram:default] health-monitor: restarting (reason: stuck)","time":"t1"})J"
      "\n"
      R"J({"0":"{\"subsystem\":\"channels/telegram\"}","1":"Telegram command sync failed: HttpError","time":"t2"})J"
      "\n"
      R"J({"1":"[discord:main] health-monitor: restarting (reason: disconnected)"})J"
      "\n"
      "{garbage health-monitor: restarting\n"
      R"J({"message":"[telegram:default] health-monitor: restarting (reason: disconnected)"})J"
      "\n"
      "12:00:01 [slack:x] health-monitor: restarting (reason: \x01gone)\n";
  const auto r = channel_restart_reasons(log);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r.at("telegram"), "disconnected");
  EXPECT_EQ(r.at("discord"), "disconnected");
  EXPECT_EQ(r.at("slack"), " gone");  // one line, no control characters
}

TEST(ChannelRestartReasons, AnotherGatewaysEarlierLinesAreNotAboutThisOne) {
  const std::string log =
      R"J({"1":"[telegram:default] health-monitor: restarting (reason: stuck)","time":"2026-12-02T16:10:00.000+00:00"})J"
      "\n"
      R"J({"1":"[discord:default] health-monitor: restarting (reason: disconnected)","time":"2026-12-02T16:30:00.500Z"})J"
      "\n"
      "16:31:00 [slack:x] health-monitor: restarting (reason: plain)\n";
  const int64_t started = iso_time_ms("2026-12-02T16:28:22.951Z");
  const auto r = channel_restart_reasons(log, started);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r.at("discord"), "disconnected");
}

TEST(IsoTime, ReadsOpenClawsTimesAndNothingElse) {
  EXPECT_EQ(iso_time_ms("1970-01-01T00:00:01.5Z"), 1500);
  EXPECT_EQ(iso_time_ms("2026-12-02T16:28:22.951+00:00"), iso_time_ms("2026-12-02T16:28:22.951Z"));
  EXPECT_EQ(iso_time_ms("2026-12-02T18:28:22.951+02:00"), iso_time_ms("2026-12-02T16:28:22.951Z"));
  EXPECT_EQ(iso_time_ms("2026-12-02T16:28:22Z"), 1'796'228'902'000);
  EXPECT_EQ(iso_time_ms("yesterday"), 0);
  EXPECT_EQ(iso_time_ms("2026-13-02T16:28:22Z"), 0);
  EXPECT_EQ(iso_time_ms("2026-12-02T16:28:22+0"), 0);
}

TEST(ChannelRestartReasons, NothingToSayIsEmpty) {
  EXPECT_TRUE(channel_restart_reasons("").empty());
  EXPECT_TRUE(channel_restart_reasons("health-monitor: restarting (reason: x)\n").empty());  // no channel
  EXPECT_TRUE(channel_restart_reasons(R"({"1":"[telegram:default] health-monitor: restarting (reason: never closed")").empty());
}

TEST(ReadTail, StartsAtALineAndIsBounded) {
  testing::TempDir dir;
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "line " + std::to_string(i) + "\n";
  testing::write_file(dir / "openclaw-1.log", text);
  const auto tail = read_tail(dir / "openclaw-1.log", 100);
  EXPECT_LE(tail.size(), 100u);
  EXPECT_EQ(tail.rfind("line ", 0), 0u) << tail;
  EXPECT_NE(tail.find("line 999\n"), std::string::npos);
  EXPECT_EQ(read_tail(dir / "none.log", 100), "");
  EXPECT_EQ(newest_match({dir / "openclaw-*.log"}), dir / "openclaw-1.log");
}

}  // namespace
}  // namespace gwr
