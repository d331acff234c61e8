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

TEST(GatewayFinder, RealGatewayByTruncatedCommNotItsNodeChildren) {
  const std::vector<ProcInfo> table = {
      proc(1, 0, "init", {"/sbin/init"}, 1),
      proc(100, 1, "openclaw-gatewa", {"openclaw-gateway"}, 50),
      proc(101, 100, "openclaw-gatewa", {"openclaw-gateway"}, 60),  // a worker with the same title
      proc(102, 100, "node", {"/usr/bin/node", "spawn-broker.js"}, 61),
  };
  auto g = choose_gateway(table, "openclaw-gateway", {}, 18789);
  ASSERT_TRUE(g.found);
  EXPECT_EQ(g.pid, 100);
}

TEST(GatewayFinder, PrefersThePortListenerAmongUnrelatedCandidates) {
  const std::vector<ProcInfo> table = {
      proc(200, 1, "fake-gateway", {"/x/fake-gateway", "--port", "1"}, 10),
      proc(300, 1, "fake-gateway", {"/x/fake-gateway", "--port", "2"}, 20),
  };
  EXPECT_EQ(choose_gateway(table, "fake-gateway", {300}, 2).pid, 300);
  EXPECT_EQ(choose_gateway(table, "fake-gateway", {}, 2).pid, 200);  // else the oldest
}

TEST(GatewayFinder, ZombiesAreDead) {
  const std::vector<ProcInfo> table = {proc(100, 1, "openclaw-gatewa", {}, 5, 'Z')};
  auto g = choose_gateway(table, "openclaw-gateway", {}, 18789);
  EXPECT_FALSE(g.found);
}

TEST(GatewayFinder, NothingFoundNamesWhoHoldsThePort) {
  const std::vector<ProcInfo> table = {proc(77, 1, "python3", {"python3", "-m", "http.server"}, 5)};
  auto g = choose_gateway(table, "openclaw-gateway", {77}, 18789);
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

}  // namespace
}  // namespace gwr
