// The log sink: JSON lines with the fixed header, and redaction no call
// site can bypass.
#include "common/log.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include "common/redact.h"
#include "tests/support/test_support.h"

namespace gwr {
namespace {

TEST(Log, JsonLinesWithHeaderAndFields) {
  testing::TempDir dir;
  ASSERT_TRUE(log::init({.process = "gwr-test", .log_dir = dir.path(), .level = "debug", .to_stderr = false}).ok());
  log::info("repair_completed", {{"tier", 1}, {"duration_ms", 3200}, {"trigger", "auto"}, {"success", true},
                                 {"details", "Gateway restarted successfully"}, {"pid", 99}});
  log::debug("quiet");
  log::trace("dropped below level");
  log::flush();
  const auto lines = testing::read_json_lines(dir / "gwr-test.log");
  ASSERT_EQ(lines.size(), 2u);
  const auto& j = lines[0];
  for (const char* k : {"timestamp", "level", "process", "pid", "event", "tier", "duration_ms", "trigger", "success", "details"}) {
    EXPECT_TRUE(j.contains(k)) << k;
  }
  EXPECT_EQ(j["process"], "gwr-test");
  EXPECT_EQ(j["pid"], ::getpid());
  EXPECT_EQ(j["field_pid"], 99);  // a field may not shadow the header
  EXPECT_EQ(j["event"], "repair_completed");
  EXPECT_EQ(j["level"], "info");
  // ISO-8601 with milliseconds and an offset.
  const std::string ts = j["timestamp"];
  EXPECT_EQ(ts[10], 'T');
  EXPECT_EQ(ts[19], '.');
  EXPECT_TRUE(ts.back() == 'Z' || ts[ts.size() - 3] == ':');
  log::shutdown();
}

TEST(Log, SecretsAreRedactedAtTheSink) {
  testing::TempDir dir;
  ASSERT_TRUE(log::init({.process = "gwr-test", .log_dir = dir.path(), .to_stderr = false}).ok());
  log::set_secrets({"my-api-key-value"});
  log::info("leak_attempt", {{"text", "key=my-api-key-value token 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"},
                             {"nested", {{"a", "my-api-key-value"}}}});
  log::error("my-api-key-value");  // even as the event name
  log::flush();
  const std::string text = testing::read_file(dir / "gwr-test.log");
  EXPECT_EQ(text.find("my-api-key-value"), std::string::npos) << text;
  EXPECT_EQ(text.find("AAHdqTcv"), std::string::npos) << text;
  EXPECT_NE(text.find("[REDACTED]"), std::string::npos);
  EXPECT_EQ(testing::read_json_lines(dir / "gwr-test.log").size(), 2u);  // still valid JSON
  log::set_secrets({});
  log::shutdown();
}

TEST(Log, InvalidUtf8DoesNotThrow) {
  testing::TempDir dir;
  ASSERT_TRUE(log::init({.process = "gwr-test", .log_dir = dir.path(), .to_stderr = false}).ok());
  log::info("bytes", {{"raw", std::string("\xff\xfe bad \xc3", 8)}});
  log::flush();
  EXPECT_EQ(testing::read_json_lines(dir / "gwr-test.log").size(), 1u);
  log::shutdown();
}

}  // namespace
}  // namespace gwr
