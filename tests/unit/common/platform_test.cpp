// The platform seam. Parsers of ps and lsof output run on fixtures written
// from the documented output of macOS ps and lsof (and one captured from
// procps); the seam itself runs against this machine in whichever build this
// is (GWR_PLATFORM linux or posix), so both implementations pass the same
// tests on Linux.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>

#include <gtest/gtest.h>

#include "common/platform/proc.h"
#include "common/platform/ps_lsof.h"
#include "common/platform/service.h"
#include "tests/support/test_support.h"

namespace gwr {
namespace {

using namespace std::chrono_literals;

std::string fixture(const std::string& name) {
  return testing::read_file(std::string(GWR_SOURCE_DIR) + "/tests/unit/common/fixtures/" + name);
}

// lstart is local time: the expectations below are in UTC.
class InUtc : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* tz = std::getenv("TZ")) saved_ = tz;
    ::setenv("TZ", "UTC", 1);
    ::tzset();
  }
  void TearDown() override {
    if (saved_) {
      ::setenv("TZ", saved_->c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }
  std::optional<std::string> saved_;
};

using PsParse = InUtc;

TEST(CpuTime, ProcpsAndBsdForms) {
  EXPECT_EQ(parse_cpu_time("00:00:02"), 200u);
  EXPECT_EQ(parse_cpu_time("1-02:03:04"), (86'400u + 2 * 3600 + 3 * 60 + 4) * 100);
  EXPECT_EQ(parse_cpu_time("0:00.12"), 12u);
  EXPECT_EQ(parse_cpu_time("62:03.25"), (62u * 60 + 3) * 100 + 25);
  EXPECT_EQ(parse_cpu_time("1:02:03.45"), 3723u * 100 + 45);
  EXPECT_EQ(parse_cpu_time("0:01.5"), 150u);
  for (const char* bad : {"", "abc", "1:2:3:4", "12", "1:xx", "-1:00", "1:00.123", "1-", ":"}) {
    EXPECT_FALSE(parse_cpu_time(bad)) << bad;
  }
}

TEST_F(PsParse, Lstart) {
  EXPECT_EQ(parse_lstart({"Wed", "Dec", "2", "18:25:38", "2026"}), 1796235938);
  EXPECT_FALSE(parse_lstart({"Mer", "Dec", "2", "18:25:38", "2026"})) << "a localized day name";
  EXPECT_FALSE(parse_lstart({"Wed", "Dez", "2", "18:25:38", "2026"}));
  EXPECT_FALSE(parse_lstart({"Wed", "Dec", "32", "18:25:38", "2026"}));
  EXPECT_FALSE(parse_lstart({"Wed", "Dec", "2", "18:25", "2026"}));
  EXPECT_FALSE(parse_lstart({"Wed", "Dec", "2", "18:25:38"}));
}

TEST_F(PsParse, MacOsTable) {
  size_t skipped = 99;
  const auto t = parse_ps_table(fixture("ps_macos.txt"), &skipped);
  EXPECT_EQ(skipped, 0u);
  ASSERT_EQ(t.size(), 7u);
  EXPECT_EQ(t[0].pid, 1);
  EXPECT_EQ(t[0].comm, "launchd");
  EXPECT_EQ(t[0].state, 'S') << "Ss: the first letter is the state";
  EXPECT_EQ(t[0].cpu_ticks, (2u * 60 + 31) * 100 + 4);
  // The gateway as node runs it, and as it renames itself (process.title):
  // comm stays "node" on macOS, argv[0] turns into the title.
  const auto& node = t[1];
  EXPECT_EQ(node.pid, 512);
  EXPECT_EQ(node.ppid, 1);
  EXPECT_EQ(node.pgrp, 512);
  EXPECT_EQ(node.uid, 501u);
  EXPECT_EQ(node.rss_kib, 98'304u);
  EXPECT_EQ(node.comm, "node");
  EXPECT_EQ(node.start_ticks, 1796112014u) << "Tue Dec  1 08:00:14 2026 UTC, in seconds";
  ASSERT_EQ(node.argv.size(), 5u);
  EXPECT_EQ(node.argv[1], "/opt/homebrew/lib/node_modules/openclaw/dist/index.js");
  EXPECT_EQ(node.argv[4], "18789");
  EXPECT_TRUE(process_runs_script(node, "index.js"));
  const auto& titled = t[2];
  EXPECT_TRUE(process_matches(titled, "openclaw-gateway"));
  EXPECT_FALSE(process_matches(node, "openclaw-gateway"));
  // A name with spaces: the accounting name is cut at 16 bytes and may end
  // inside a word; argv loses its boundaries (ps joins it with spaces).
  EXPECT_EQ(t[3].comm, "Google Chrome He");
  EXPECT_EQ(t[3].argv.front(), "/Applications/Google");
  EXPECT_EQ(t[3].argv.back(), "--type=renderer");
  EXPECT_TRUE(t[4].zombie());
  EXPECT_EQ(t[5].cpu_ticks, 3723u * 100 + 45);
  EXPECT_EQ(t[5].argv.front(), "-zsh");
  // The rows' pids are what descendants_rss_kib walks.
  EXPECT_EQ(descendants_rss_kib(1, t), 98'304u + 187'392u + 412'160u + 0u);
}

TEST_F(PsParse, ProcpsTable) {
  const auto t = parse_ps_table(fixture("ps_procps.txt"));
  ASSERT_EQ(t.size(), 6u);
  EXPECT_EQ(t[1].argv.front(), "[kthreadd]");
  const auto& gw = t[3];
  EXPECT_EQ(gw.comm, "openclaw-gatewa") << "Linux cuts the name at 15 bytes";
  EXPECT_TRUE(process_matches(gw, "openclaw-gateway"));
  EXPECT_EQ(gw.cpu_ticks, (86'400u + 2 * 3600 + 3 * 60 + 4) * 100);
  EXPECT_EQ(gw.rss_kib, 412'996u);
  EXPECT_EQ(t[4].argv.size(), 5u);
  EXPECT_EQ(t[4].pgrp, 4242);
  EXPECT_TRUE(t[5].zombie());
}

TEST_F(PsParse, WhatIsNotARowIsSkippedNotGuessed) {
  const std::string good = "  512     1   512   501  98304 S      0:42.17 node             Tue Dec  1 08:00:14 2026 node x\n";
  const std::string text = "  PID  PPID  PGID   UID   RSS STAT     TIME UCOMM STARTED ARGS\n" + good +
                           "ps: warning: something odd\n"
                           "  513     1   513   501  98304 S      0:42.17 node             Tue Dec  1 08:0\n"  // cut
                           "  abc     1   513   501  98304 S      0:42.17 node             Tue Dec  1 08:00:14 2026 x\n"
                           "    0     0     0     0      0 S      0:00.00 kernel_task      Tue Dec  1 08:00:14 2026 x\n"
                           "\n\r\n" +
                           good.substr(0, 30);
  size_t skipped = 0;
  const auto t = parse_ps_table(text, &skipped);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].pid, 512);
  EXPECT_EQ(skipped, 6u);
  // No lstart anywhere: nothing to anchor the columns on.
  EXPECT_FALSE(parse_ps_row("  512 1 512 501 98304 S 0:42.17 node a b c d e f g h"));
  // Arguments that look like a date do not move the columns.
  const auto odd = parse_ps_row("  9 1 9 501 10 S 0:00.00 sh Tue Dec  1 08:00:14 2026 sh -c echo Wed Dec  2 18:25:38 2026");
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->comm, "sh");
  EXPECT_EQ(odd->argv.size(), 8u);
  EXPECT_EQ(odd->start_ticks, 1796112014u);
}

TEST(PsEnviron, NamesAndValuesAfterTheArguments) {
  const std::string args = "openclaw-gateway --port 18790";
  const auto env = parse_ps_environ(
      "openclaw-gateway --port 18790 HOME=/Users/ann OPENCLAW_STATE_DIR=/Users/ann/Library/Application Support/oc "
      "OPENCLAW_PROFILE=rescue PATH=/usr/bin:/bin EMPTY= x_1=y=z\n",
      args);
  ASSERT_TRUE(env);
  EXPECT_EQ(env->at("HOME"), "/Users/ann");
  EXPECT_EQ(env->at("OPENCLAW_STATE_DIR"), "/Users/ann/Library/Application Support/oc") << "a value's spaces kept";
  EXPECT_EQ(env->at("OPENCLAW_PROFILE"), "rescue");
  EXPECT_EQ(env->at("EMPTY"), "");
  EXPECT_EQ(env->at("x_1"), "y=z");
  EXPECT_EQ(env->size(), 6u);
  // Not this process's output (its args changed), or no environment shown.
  EXPECT_FALSE(parse_ps_environ("node index.js HOME=/x", args));
  EXPECT_FALSE(parse_ps_environ("openclaw-gateway --port 187901 HOME=/x", args));
  EXPECT_FALSE(parse_ps_environ("", args));
  const auto none = parse_ps_environ(args, args);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  // Words before the first NAME= belong to no variable and are dropped.
  const auto odd = parse_ps_environ(args + " stray =x 9A=b OK=1", args);
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->size(), 1u);
  EXPECT_EQ(odd->at("OK"), "1");
}

TEST(Platform, ReadsAnEnvironment) {
  auto child = testing::Process::start({"/bin/sleep", "30"}, {{"GWR_PLATFORM_PROBE", "a value with spaces"}});
  ASSERT_TRUE(testing::wait_until([&] { return process_alive(child.pid()); }, 3s, "child running"));
  std::optional<std::map<std::string, std::string>> env;
  ASSERT_TRUE(testing::wait_until([&] { return (env = read_environ(child.pid())) && env->count("GWR_PLATFORM_PROBE"); },
                                  3s, "its environment"));
  EXPECT_EQ(env->at("GWR_PLATFORM_PROBE"), "a value with spaces");
  EXPECT_FALSE(read_environ(0));
}

TEST(LsofParse, ListenersAndTheirPorts) {
  EXPECT_EQ(parse_lsof_pids(fixture("lsof_macos_listen.txt")), std::vector<pid_t>{530});
  EXPECT_EQ(parse_lsof_pids("p1\nf3\np2\np1\npx\np\np-4\n"), (std::vector<pid_t>{1, 2}));
  std::set<uint16_t> ports;
  for (const auto& n : parse_lsof_names(fixture("lsof_macos_listen.txt"))) {
    if (auto p = lsof_local_port(n)) ports.insert(*p);
  }
  EXPECT_EQ(ports, (std::set<uint16_t>{18789, 18790}));
  EXPECT_EQ(lsof_local_port("*:18789"), 18789);
  EXPECT_EQ(lsof_local_port("[::1]:18789"), 18789);
  EXPECT_EQ(lsof_local_port("127.0.0.1:18789 (LISTEN)"), 18789);
  EXPECT_EQ(lsof_local_port("10.0.0.2:51234->10.0.0.9:443"), 51234);
  for (const char* bad : {"", "*", ":", "*:", "*:0", "*:65536", "*:http", "host"}) EXPECT_FALSE(lsof_local_port(bad)) << bad;
}

TEST(LsofParse, EstablishedCountsTheGatewaysSideOnly) {
  // A local client shows both ends: only the names whose local port is the
  // gateway's are its connections.
  unsigned n = 0;
  for (const auto& name : parse_lsof_names(fixture("lsof_macos_established.txt"))) n += lsof_local_port(name) == 18789;
  EXPECT_EQ(n, 2u);
}

// The seam itself, against this machine.

TEST(Platform, KnowsThisProcess) {
  const auto me = read_proc(::getpid());
  ASSERT_TRUE(me) << platform_name();
  EXPECT_EQ(me->ppid, ::getppid());
  EXPECT_EQ(me->uid, ::getuid());
  EXPECT_GT(me->rss_kib, 0u);
  EXPECT_FALSE(me->argv.empty());
  const int64_t now_ms = static_cast<int64_t>(std::time(nullptr)) * 1000;
  EXPECT_LE(me->start_wall_ms(), now_ms + 1000);
  EXPECT_GT(me->start_wall_ms(), now_ms - 24LL * 3600 * 1000) << "started within the last day";
  const auto table = process_table();
  EXPECT_TRUE(std::any_of(table.begin(), table.end(), [](const ProcInfo& p) { return p.pid == ::getpid(); }));
  EXPECT_FALSE(boot_id().empty());
  EXPECT_EQ(boot_id(), boot_id());
  EXPECT_FALSE(read_proc(0));
  EXPECT_FALSE(read_proc(-1));
  EXPECT_GT(cpu_ticks_per_second(), 0.0);
}

TEST(Platform, FindsWhoListensOnAPort) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const uint16_t port = ntohs(addr.sin_port);
  const auto pids = listening_pids(port);
  EXPECT_NE(std::find(pids.begin(), pids.end(), ::getpid()), pids.end());
  EXPECT_TRUE(pid_listens_on(::getpid(), port));
  const auto ports = listening_ports(::getpid());
  EXPECT_NE(std::find(ports.begin(), ports.end(), port), ports.end());
  // A connection to it, seen from the listening side once.
  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const int accepted = ::accept(fd, nullptr, nullptr);
  EXPECT_EQ(established_connections(port), 1u);
  ::close(accepted);
  ::close(client);
  ::close(fd);
  EXPECT_TRUE(listening_pids(port).empty());
  EXPECT_FALSE(pid_listens_on(::getpid(), port));
}

TEST(Platform, AnExitIsSeenAndAZombieIsNotAlive) {
  auto child = testing::Process::start({"/bin/sleep", "30"});
  ASSERT_TRUE(testing::wait_until([&] { return process_alive(child.pid()); }, 3s, "child running"));
  const auto id = identify_process(child.pid());
  ASSERT_TRUE(id);
  const int watch = open_pid_watch(child.pid());
  ASSERT_GE(watch, 0) << "both builds can watch an exit";
  pollfd p{watch, POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 300), 0) << "not readable while it runs";
  // Killed but not reaped: a zombie, which is no longer the process.
  ::kill(child.pid(), SIGKILL);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(::poll(&p, 1, 5000), 1) << "the watch fires for a zombie too";
  const auto seen_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ figure ] %s exit watch: a killed child (left a zombie) seen in %lld ms\n", platform_name(),
              static_cast<long long>(seen_ms));
  close_pid_watch(watch);
  EXPECT_FALSE(process_alive(child.pid()));
  EXPECT_FALSE(identify_process(child.pid()));
  EXPECT_FALSE(ProcessHandle::open(*id)) << "a zombie cannot be held as the process it was";
}

TEST(Platform, AHandleSignalsOnlyTheProcessItWasOpenedFor) {
  auto child = testing::Process::start({"/bin/sleep", "30"});
  ASSERT_TRUE(testing::wait_until([&] { return process_alive(child.pid()); }, 3s, "child running"));
  auto id = identify_process(child.pid());
  ASSERT_TRUE(id);
  ProcessIdentity stranger = *id;
  stranger.start_ticks += 1;  // the same pid, started at another time: someone else
  EXPECT_FALSE(ProcessHandle::open(stranger));
  ProcessIdentity other_boot = *id;
  other_boot.boot_id = "another-boot";
  EXPECT_FALSE(ProcessHandle::open(other_boot));
  auto h = ProcessHandle::open(*id);
  ASSERT_TRUE(h);
  EXPECT_FALSE(h->exited());
  EXPECT_FALSE(h->wait_exit(100ms));
  EXPECT_TRUE(h->signal(SIGTERM));
  EXPECT_TRUE(h->wait_exit(5s));
  EXPECT_TRUE(h->exited());
  (void)child.wait(2s);  // reaped: the pid may now be anyone's
  EXPECT_FALSE(h->signal(SIGTERM)) << "gone: nothing is signalled";
}

TEST(Platform, AGroupIsSignalledThroughItsLeader) {
  auto leader = testing::Process::start(testing::in_new_session({"/bin/sh", "-c", "sleep 30 & sleep 30; wait"}));
  ASSERT_TRUE(testing::wait_until([&] { return group_members(leader.pid()).size() >= 3; }, 5s, "the group running"));
  const auto id = identify_process(leader.pid());
  ASSERT_TRUE(id);
  const auto signalled = signal_group(*id, SIGKILL);
  EXPECT_GE(signalled.size(), 3u);
  EXPECT_TRUE(testing::wait_until([&] { return group_members(leader.pid()).empty(); }, 5s, "the group gone"));
}

TEST(Platform, SiblingBinariesAreFoundFromArgv0) {
  const std::string dir = self_exe_dir("/bin/sh");
  EXPECT_FALSE(dir.empty());
  if (std::string(platform_name()) == "posix") {
#ifdef __APPLE__
    // macOS says where the executable is (_NSGetExecutablePath): argv[0] is not asked.
    EXPECT_EQ(self_exe_dir("sh"), dir);
    EXPECT_NE(dir, std::filesystem::canonical("/bin/sh").parent_path().string());
#else
    // No /proc/self/exe to ask: argv[0] is resolved, with PATH if need be.
    EXPECT_EQ(self_exe_dir("/bin/sh"), std::filesystem::canonical("/bin/sh").parent_path().string());
    EXPECT_EQ(self_exe_dir("sh"), std::filesystem::canonical("/bin/sh").parent_path().string());
#endif
  }
}

}  // namespace
}  // namespace gwr
