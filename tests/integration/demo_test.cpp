// The README's run command on a machine without OpenClaw shows the demo:
// scripts/demo.sh on its own port and directory, run to the end.
#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace gwr::testing {
namespace {

using namespace std::chrono_literals;

TEST(Demo, InjectsTwoFaultsAndShowsTheRepairs) {
  TempDir dir;
  const int port = free_tcp_port();
  auto out = run({"/usr/bin/env", "GATEWAY_PORT=" + std::to_string(port), "GWR_DEMO_EXIT=1",
                  "GWR_DEMO_DIR=" + (dir / "demo"), "TELEGRAM_BOT_TOKEN=", "TELEGRAM_CHAT_ID=",
                  source_path("scripts/demo.sh")},
                 150s);
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_NE(out.output.find("Fault 1"), std::string::npos);
  // The story as `gwrctl watch` tells it.
  EXPECT_NE(out.output.find("gateway DOWN (was healthy)"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("repair #1 repaired tier 1"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("repair #2 repaired tier 2"), std::string::npos) << out.output;
  // History shows both repairs, by the tiers the demo promises.
  const auto history = out.output.substr(out.output.find("== gwrctl history"));
  EXPECT_NE(history.find("succeeded   1"), std::string::npos) << history;
  EXPECT_NE(history.find("succeeded   2"), std::string::npos) << history;
  // The live lock survived, the dead one did not.
  EXPECT_NE(out.output.find("in-use.jsonl.lock"), std::string::npos);
  EXPECT_NE(out.output.find("removed 1 stale lock(s), kept 1"), std::string::npos);
}

}  // namespace
}  // namespace gwr::testing
