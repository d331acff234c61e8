#include "common/gateway_finder.h"

#include <map>
#include <set>

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

constexpr const char* kHome = "/home/owner";
constexpr const char* kOurState = "/home/owner/.openclaw";

// What each test process says about itself: its argv, and an environment.
struct World {
  std::map<pid_t, std::map<std::string, std::string>> env;
  std::map<pid_t, std::vector<uint16_t>> listening;
  std::set<pid_t> unreadable;
  ClaimsLookup lookup() const {
    return [this](const ProcInfo& p) {
      GatewayClaims c;
      if (!unreadable.count(p.pid)) {
        const auto e = env.count(p.pid) ? env.at(p.pid) : std::map<std::string, std::string>{{"HOME", kHome}};
        c = claims_from(p.argv, e, kHome);
      }
      if (listening.count(p.pid)) c.listening = listening.at(p.pid);
      return c;
    };
  }
};

// Only the real name counts (no launch name).
GatewayCandidate choose(const std::vector<ProcInfo>& table, const std::string& match, std::vector<pid_t> listeners,
                        uint16_t port, const World& world = {}) {
  return choose_gateway(table, GatewaySpec{match, "", 0, port, kOurState}, listeners, 0, world.lookup());
}

constexpr int64_t kGraceMs = 40'000;
GatewaySpec openclaw_spec() { return GatewaySpec{"openclaw-gateway", "openclaw", kGraceMs, 18789, kOurState}; }
const World kPlainWorld;

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
  // Not listening yet: the one told to use our port, never merely the oldest.
  EXPECT_EQ(choose(table, "fake-gateway", {}, 2).pid, 300);
  EXPECT_FALSE(choose(table, "fake-gateway", {}, 3).found);
}

// OpenClaw's rescue-bot set-up: a second gateway of the same name on the same
// host, on another port with its own state dir.
TEST(GatewayFinder, ASecondGatewayOfTheSameNameIsNeverOurs) {
  const std::vector<ProcInfo> table = {
      proc(100, 1, "openclaw-gatewa", {"openclaw-gateway"}, 50),   // ours: renamed, argv gone
      proc(200, 1, "openclaw-gatewa", {"openclaw-gateway"}, 10),   // the rescue bot, older
  };
  World world;
  world.env[100] = {{"HOME", kHome}};
  world.env[200] = {{"HOME", kHome}, {"OPENCLAW_PROFILE", "rescue"}};
  world.listening[200] = {19789};
  // Ours listens: it wins whatever the other says.
  EXPECT_EQ(choose_gateway(table, openclaw_spec(), {100}, 0, world.lookup()).pid, 100);
  // Ours is down (not listening) and starting: still ours, by its state dir.
  auto starting = choose_gateway(table, openclaw_spec(), {}, 0, world.lookup());
  ASSERT_TRUE(starting.found);
  EXPECT_EQ(starting.pid, 100);
  // Ours is gone: the rescue bot is not taken for it, and the reason says why.
  const std::vector<ProcInfo> only_rescue = {table[1]};
  auto none = choose_gateway(only_rescue, openclaw_spec(), {}, 0, world.lookup());
  EXPECT_FALSE(none.found);
  EXPECT_NE(none.detail.find("pid 200 (openclaw-gatewa) is another gateway: it listens on port 19789"),
            std::string::npos)
      << none.detail;
  // Not listening yet either (both starting): its profile gives it away.
  world.listening.clear();
  auto by_profile = choose_gateway(only_rescue, openclaw_spec(), {}, 0, world.lookup());
  EXPECT_FALSE(by_profile.found);
  EXPECT_NE(by_profile.detail.find("its state dir is /home/owner/.openclaw-rescue"), std::string::npos)
      << by_profile.detail;
}

TEST(GatewayFinder, ClaimsFollowOpenClawsPrecedence) {
  const std::map<std::string, std::string> none;
  auto c = claims_from({"openclaw", "gateway", "run", "--port", "19789"}, {{"OPENCLAW_GATEWAY_PORT", "1"}}, kHome);
  EXPECT_EQ(c.port, std::optional<uint16_t>(19789));  // --port before the environment
  EXPECT_EQ(claims_from({"x"}, {{"OPENCLAW_GATEWAY_PORT", "18790"}}, kHome).port, std::optional<uint16_t>(18790));
  EXPECT_EQ(claims_from({"openclaw", "--dev", "gateway"}, none, kHome).port, std::optional<uint16_t>(19001));
  EXPECT_EQ(claims_from({"x", "--port=abc"}, none, kHome).port, std::nullopt);
  EXPECT_EQ(claims_from({"x"}, none, kHome).state_dir, std::optional<std::string>("/home/owner/.openclaw"));
  EXPECT_EQ(claims_from({"x", "--profile", "rescue"}, none, kHome).state_dir,
            std::optional<std::string>("/home/owner/.openclaw-rescue"));
  EXPECT_EQ(claims_from({"x", "--profile=default"}, none, kHome).state_dir,
            std::optional<std::string>("/home/owner/.openclaw"));
  EXPECT_EQ(claims_from({"x"}, {{"HOME", "/srv/bot"}}, kHome).state_dir, std::optional<std::string>("/srv/bot/.openclaw"));
  EXPECT_EQ(claims_from({"x", "--profile", "rescue"}, {{"OPENCLAW_STATE_DIR", "/data/oc"}}, kHome).state_dir,
            std::optional<std::string>("/data/oc"));
  EXPECT_EQ(claims_from({"x"}, none, "").state_dir, std::nullopt);
}

TEST(GatewayFinder, AProcessThatCannotBeReadIsNotTaken) {
  const std::vector<ProcInfo> table = {proc(100, 1, "openclaw-gatewa", {"openclaw-gateway"}, 50)};
  World world;
  world.unreadable.insert(100);
  auto g = choose_gateway(table, openclaw_spec(), {}, 0, world.lookup());
  EXPECT_FALSE(g.found);
  EXPECT_NE(g.detail.find("cannot be read"), std::string::npos) << g.detail;
  EXPECT_TRUE(choose_gateway(table, openclaw_spec(), {100}, 0, world.lookup()).found) << "unless it holds our port";
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
  auto g = choose_gateway(table, openclaw_spec(), {}, started + 3'000, kPlainWorld.lookup());
  ASSERT_TRUE(g.found);
  EXPECT_TRUE(g.launching);
  EXPECT_EQ(g.pid, 400);
  EXPECT_NE(g.detail.find("not yet named openclaw-gateway"), std::string::npos) << g.detail;
}

TEST(GatewayFinder, TheFirstMomentsAsAScriptOfNodeCountToo) {
  const std::vector<ProcInfo> table = {
      proc(400, 1, "MainThread", {"node", "/opt/oc/node_modules/.bin/openclaw", "gateway", "run"}, 100),
      proc(401, 1, "node", {"node", "/srv/other/openclaw-helper.js"}, 100)};
  auto g = choose_gateway(table, openclaw_spec(), {}, table[0].start_wall_ms() + 100, kPlainWorld.lookup());
  ASSERT_TRUE(g.found);
  EXPECT_TRUE(g.launching);
  EXPECT_EQ(g.pid, 400);
}

TEST(GatewayFinder, LaunchNamePastTheGraceIsNotTheGateway) {
  const std::vector<ProcInfo> table = {proc(400, 1, "openclaw", {"openclaw"}, 100)};
  const int64_t started = table[0].start_wall_ms();
  auto g = choose_gateway(table, openclaw_spec(), {}, started + kGraceMs, kPlainWorld.lookup());
  EXPECT_FALSE(g.found);
  EXPECT_NE(g.detail.find("pid 400 (openclaw) is older than the 40s startup grace"), std::string::npos) << g.detail;
}

TEST(GatewayFinder, RealNameWinsOverAYoungerLauncher) {
  // A running gateway and someone's `openclaw status` beside it.
  const std::vector<ProcInfo> table = {proc(100, 1, "openclaw-gatewa", {"openclaw-gateway"}, 50),
                                       proc(500, 1, "openclaw", {"openclaw"}, 900)};
  auto g = choose_gateway(table, openclaw_spec(), {}, table[1].start_wall_ms() + 1'000, kPlainWorld.lookup());
  ASSERT_TRUE(g.found);
  EXPECT_FALSE(g.launching);
  EXPECT_EQ(g.pid, 100);
}

TEST(GatewayFinder, NoLaunchNameMeansOnlyTheRealName) {
  const std::vector<ProcInfo> table = {proc(400, 1, "openclaw", {"openclaw"}, 100)};
  GatewaySpec spec = openclaw_spec();
  spec.launch_match.clear();
  EXPECT_FALSE(choose_gateway(table, spec, {}, table[0].start_wall_ms() + 1'000, kPlainWorld.lookup()).found);
}

TEST(GatewayFinder, ZombieLauncherIsDead) {
  const std::vector<ProcInfo> table = {proc(400, 1, "openclaw", {"openclaw"}, 100, 'Z')};
  EXPECT_FALSE(choose_gateway(table, openclaw_spec(), {}, table[0].start_wall_ms() + 1'000, kPlainWorld.lookup()).found);
}

}  // namespace
}  // namespace gwr
