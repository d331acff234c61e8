// Every gwrctl command against a running daemon and against none: exit
// codes per DESIGN.md, --json that parses, human tables by default.
#include <gtest/gtest.h>

#include "tests/support/gateway_fakes.h"

namespace gwr::testing {
namespace {

using namespace std::chrono_literals;

struct Case {
  std::vector<std::string> args;
  bool needs_daemon;
};

const std::vector<Case> kCommands = {
    {{"status"}, true},          {{"pause", "--reason", "test"}, true}, {{"resume"}, true},
    {{"history"}, true},         {{"history", "-n", "5"}, true},        {{"stats"}, true},
    {{"logs"}, true},            {{"logs", "-n", "3"}, true},           {{"config"}, true},
    {{"config", "get"}, true},   {{"config", "get", "repair.max_per_hour"}, true},
    {{"config", "set", "probes.health.slow_threshold", "1500ms"}, true},
    {{"config", "reset", "probes.health.slow_threshold"}, true},
    {{"version"}, true},         {{"repair", "--no-wait"}, true},       {{"show", "1"}, true},
    {{"config", "check"}, false}, {{"config", "keys"}, false},
};

TEST(Gwrctl, EveryCommandWithoutADaemonExits3OrWorksOffline) {
  Daemon d;  // configured, never started
  for (const auto& c : kCommands) {
    auto out = d.gwrctl(c.args);
    EXPECT_EQ(out.exit_code, c.needs_daemon ? 3 : 0) << c.args[0] << ": " << out.output;
    std::vector<std::string> json = c.args;
    json.push_back("--json");
    auto j = d.gwrctl(json);
    EXPECT_EQ(j.exit_code, c.needs_daemon ? 3 : 0) << c.args[0];
    // Even an error is JSON on stdout when --json is asked for.
    const auto first = j.output.find('{') != std::string::npos ? j.output.find('{') : j.output.find('[');
    ASSERT_NE(first, std::string::npos) << j.output;
  }
  EXPECT_EQ(d.gwrctl({"completion", "bash"}).exit_code, 0);
  EXPECT_EQ(d.gwrctl({"nonsense"}).exit_code, 2);
  EXPECT_EQ(d.gwrctl({"history", "-n", "zero"}).exit_code, 2);
  EXPECT_EQ(d.gwrctl({"repair", "--tier", "9"}).exit_code, 2);
  auto bad = run({bin_path("gwrctl"), "--config", d.dir() / "missing.yaml", "status"});
  EXPECT_EQ(bad.exit_code, 78);
}

TEST(Gwrctl, EveryCommandAgainstARunningDaemon) {
  TempDir dir;
  const int port = free_tcp_port();
  FakeOpenclaw service(dir.path(), port);
  ASSERT_TRUE(service.start_healthy());
  Daemon d("gateway:\n  port: " + std::to_string(port) + "\n  process_match: " + service.process_name() + "\n" +
           service.commands_yaml() + "repair:\n  tier3: {enabled: false}\n");
  ASSERT_TRUE(d.start());
  for (const auto& c : kCommands) {
    std::vector<std::string> json = c.args;
    json.push_back("--json");
    auto j = d.gwrctl(json, 60s);
    EXPECT_EQ(j.exit_code, 0) << c.args[0] << ": " << j.output;
    const auto parsed = nlohmann::json::parse(j.output, nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << c.args[0] << ": not JSON: " << j.output;
    if (c.args[0] == "repair") {
      ASSERT_TRUE(wait_until([&] { return d.repair_in_progress() == false; }, 20s, "manual repair finished"));
    }
  }
  auto status = nlohmann::json::parse(d.gwrctl({"status", "--json"}).output);
  for (const char* k : {"state", "pid", "rss_mb"}) EXPECT_TRUE(status["gateway"].contains(k)) << k;
  for (const char* k : {"paused", "in_progress", "cooldown_until", "repairs_last_hour"}) {
    EXPECT_TRUE(status["repair"].contains(k)) << k;
  }
  for (const auto& comp : status["components"]) {
    for (const char* k : {"name", "pid", "restarts"}) EXPECT_TRUE(comp.contains(k)) << k;
  }
  // Human output: tables, no JSON.
  for (const auto& c : kCommands) {
    if (c.args[0] == "repair" || c.args[0] == "pause") continue;
    auto out = d.gwrctl(c.args);
    EXPECT_EQ(out.exit_code, 0) << c.args[0] << ": " << out.output;
  }
  EXPECT_NE(d.gwrctl({"history"}).output.find("STATUS"), std::string::npos);
  EXPECT_EQ(d.gwrctl({"show", "999"}).exit_code, 1);
  EXPECT_EQ(d.gwrctl({"config", "set", "gateway.port", "1"}).exit_code, 2);  // not settable at run time
  EXPECT_EQ(d.gwrctl({"config", "set", "probes.health.interval", "soon"}).exit_code, 2);
}

}  // namespace
}  // namespace gwr::testing
