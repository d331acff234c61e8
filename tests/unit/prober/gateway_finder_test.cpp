#include "common/gateway_finder.h"

#include <gtest/gtest.h>

namespace gwr {
namespace {

ProcInfo proc(pid_t pid, pid_t ppid, const std::string& comm, std::vector<std::string> argv, uint64_t start,
              char state = 'S') {
  ProcInfo p;
  p.pid = pid;
  p.ppid = ppid;
  p.comm = comm;
  p.argv = std::move(argv);
  p.start_ticks = start;
  p.state = state;
  return p;
}

// Only the real name counts (no launch name).
GatewayCandidate choose(const std::vector<ProcInfo>& table, const std::string& match, std::vector<pid_t> listeners,
                        uint16_t port) {
  return choose_gateway(table, GatewaySpec{match, "", 0, port}, listeners, 0);
}

constexpr int64_t kGraceMs = 40'000;
GatewaySpec openclaw_spec() { return GatewaySpec{"openclaw-gateway", "openclaw", kGraceMs, 18789}; }

TEST(GatewayFinder, RealGatewayByTruncatedCommNotItsNodeChildren) {
  const std::vector<ProcInfo> table = {
      proc(1, 0, "init", {"/sbin/init"}, 1),
      proc(100, 1, "openclaw-gatewa", {"openclaw-gateway"}, 50),
      proc(101, 100, "openclaw-gatewa", {"openclaw-gateway"}, 60),  // a worker with the same title
      proc(102, 100, "node", {"/usr/bin/node", "spawn-broker.js"}, 61),
  };
  auto g = choose(table, "openclaw-gateway", {}, 18789);
  ASSERT_TRUE(g.found);
  EXPECT_EQ(g.pid, 100);
}

TEST(GatewayFinder, PrefersThePortListenerAmongUnrelatedCandidates) {
  const std::vector<ProcInfo> table = {
      proc(200, 1, "fake-gateway", {"/x/fake-gateway", "--port", "1"}, 10),
      proc(300, 1, "fake-gateway", {"/x/fake-gateway", "--port", "2"}, 20),
  };
  EXPECT_EQ(choose(table, "fake-gateway", {300}, 2).pid, 300);
  EXPECT_EQ(choose(table, "fake-gateway", {}, 2).pid, 200);  // else the oldest
}

TEST(GatewayFinder, ZombiesAreDead) {
  const std::vector<ProcInfo> table = {proc(100, 1, "openclaw-gatewa", {}, 5, 'Z')};
  auto g = choose(table, "openclaw-gateway", {}, 18789);
  EXPECT_FALSE(g.found);
}

TEST(GatewayFinder, NothingFoundNamesWhoHoldsThePort) {
  const std::vector<ProcInfo> table = {proc(77, 1, "python3", {"python3", "-m", "http.server"}, 5)};
  auto g = choose(table, "openclaw-gateway", {77}, 18789);
  EXPECT_FALSE(g.found);
  EXPECT_NE(g.detail.find("port 18789 is held by pid 77 (python3)"), std::string::npos) << g.detail;
}

TEST(GatewayFinder, MatchesArgv0Basename) {
  ProcInfo p = proc(5, 1, "bash", {"/opt/bin/fake-gateway", "--port", "9"}, 1);
  EXPECT_TRUE(process_matches(p, "fake-gateway"));
  EXPECT_FALSE(process_matches(p, "gateway"));
  ProcInfo titled = proc(6, 1, "node", {"openclaw-gateway --port 18789"}, 1);
  EXPECT_TRUE(process_matches(titled, "openclaw-gateway"));
}

// The real gateway is called "openclaw" for its first 5-15 s (its CLI
// loading), then renames itself: while young, that is the gateway starting.
TEST(GatewayFinder, YoungProcessUnderTheLaunchNameIsTheGatewayStarting) {
  const std::vector<ProcInfo> table = {proc(400, 1, "openclaw", {"openclaw"}, 100)};
  const int64_t started = table[0].start_wall_ms();
  auto g = choose_gateway(table, openclaw_spec(), {}, started + 3'000);
  ASSERT_TRUE(g.found);
  EXPECT_TRUE(g.launching);
  EXPECT_EQ(g.pid, 400);
  EXPECT_NE(g.detail.find("not yet named openclaw-gateway"), std::string::npos) << g.detail;
}

TEST(GatewayFinder, TheFirstMomentsAsAScriptOfNodeCountToo) {
  const std::vector<ProcInfo> table = {
      proc(400, 1, "MainThread", {"node", "/opt/oc/node_modules/.bin/openclaw", "gateway", "run"}, 100),
      proc(401, 1, "node", {"node", "/srv/other/openclaw-helper.js"}, 100)};
  auto g = choose_gateway(table, openclaw_spec(), {}, table[0].start_wall_ms() + 100);
  ASSERT_TRUE(g.found);
  EXPECT_TRUE(g.launching);
  EXPECT_EQ(g.pid, 400);
}

TEST(GatewayFinder, LaunchNamePastTheGraceIsNotTheGateway) {
  const std::vector<ProcInfo> table = {proc(400, 1, "openclaw", {"openclaw"}, 100)};
  const int64_t started = table[0].start_wall_ms();
  auto g = choose_gateway(table, openclaw_spec(), {}, started + kGraceMs);
  EXPECT_FALSE(g.found);
  EXPECT_NE(g.detail.find("pid 400 (openclaw) is older than the 40s startup grace"), std::string::npos) << g.detail;
}

TEST(GatewayFinder, RealNameWinsOverAYoungerLauncher) {
  // A running gateway and someone's `openclaw status` beside it.
  const std::vector<ProcInfo> table = {proc(100, 1, "openclaw-gatewa", {"openclaw-gateway"}, 50),
                                       proc(500, 1, "openclaw", {"openclaw"}, 900)};
  auto g = choose_gateway(table, openclaw_spec(), {}, table[1].start_wall_ms() + 1'000);
  ASSERT_TRUE(g.found);
  EXPECT_FALSE(g.launching);
  EXPECT_EQ(g.pid, 100);
}

TEST(GatewayFinder, NoLaunchNameMeansOnlyTheRealName) {
  const std::vector<ProcInfo> table = {proc(400, 1, "openclaw", {"openclaw"}, 100)};
  GatewaySpec spec = openclaw_spec();
  spec.launch_match.clear();
  EXPECT_FALSE(choose_gateway(table, spec, {}, table[0].start_wall_ms() + 1'000).found);
}

TEST(GatewayFinder, ZombieLauncherIsDead) {
  const std::vector<ProcInfo> table = {proc(400, 1, "openclaw", {"openclaw"}, 100, 'Z')};
  EXPECT_FALSE(choose_gateway(table, openclaw_spec(), {}, table[0].start_wall_ms() + 1'000).found);
}

}  // namespace
}  // namespace gwr
