// The command runner: argv without a shell, bounded output, timeouts that
// take the whole process group down.
#include "common/process.h"

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace gwr {
namespace {

using namespace std::chrono_literals;

TEST(CommandRunner, RunsArgvWithoutAShell) {
  RealCommandRunner runner;
  auto r = runner.run({.argv = {"/bin/echo", "a; rm -rf /", "$HOME", "`id`"}, .timeout = 5s});
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, "a; rm -rf / $HOME `id`\n");
  EXPECT_TRUE(r.success());
}

TEST(CommandRunner, ReportsExitCodesAndMissingPrograms) {
  RealCommandRunner runner;
  auto f = runner.run({.argv = {"/bin/sh", "-c", "echo oops >&2; exit 3"}, .timeout = 5s});
  EXPECT_EQ(f.exit_code, 3);
  EXPECT_EQ(f.output, "oops\n");
  EXPECT_EQ(f.describe(), "exit 3");
  auto missing = runner.run({.argv = {"definitely-not-a-command-gwr"}, .timeout = 5s});
  EXPECT_FALSE(missing.started);
  EXPECT_NE(missing.error.find("not found"), std::string::npos);
  auto noexec = runner.run({.argv = {"/etc/hostname"}, .timeout = 5s});
  EXPECT_FALSE(noexec.started);
}

TEST(CommandRunner, TimeoutKillsTheWholeProcessGroup) {
  testing::TempDir dir;
  const std::string pidfile = dir / "child.pid";
  RealCommandRunner runner;
  const auto start = std::chrono::steady_clock::now();
  auto r = runner.run({.argv = {"/bin/sh", "-c", "sleep 60 & echo $! > " + pidfile + "; wait"}, .timeout = 300ms});
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.success());
  EXPECT_LT(took, 3s);
  const pid_t grandchild = static_cast<pid_t>(std::stol(testing::read_file(pidfile)));
  EXPECT_TRUE(testing::wait_until([&] { return !testing::pid_alive(grandchild); }, 2s, "grandchild killed"));
}

TEST(CommandRunner, DoesNotWaitForDaemonsHoldingThePipe) {
  testing::TempDir dir;
  RealCommandRunner runner;
  const std::string pidfile = dir / "d.pid";
  const auto start = std::chrono::steady_clock::now();
  // The child exits at once but leaves a background process holding stdout.
  auto r = runner.run({.argv = {"/bin/sh", "-c", "(sleep 30 & echo $! > " + pidfile + ") ; echo started"}, .timeout = 10s});
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("started"), std::string::npos);
  ::kill(static_cast<pid_t>(std::stol(testing::read_file(pidfile))), SIGKILL);
}

TEST(CommandRunner, OutputIsBoundedHeadAndTail) {
  RealCommandRunner runner;
  auto r = runner.run({.argv = {"/bin/sh", "-c", "echo FIRST; head -c 1000000 /dev/zero | tr '\\0' x; echo; echo LAST"},
                       .timeout = 10s,
                       .max_output = 1000});
  EXPECT_TRUE(r.truncated);
  EXPECT_LT(r.output.size(), 1100u);
  EXPECT_EQ(r.output.rfind("FIRST", 0), 0u);
  EXPECT_NE(r.output.find("LAST"), std::string::npos);
}

TEST(CommandRunner, FeedsStdinAndUsesGivenEnvironment) {
  RealCommandRunner runner;
  auto r = runner.run({.argv = {"/bin/sh", "-c", "cat; echo \"[$ONLY]\"; echo \"[${HOME:-none}]\""},
                       .timeout = 5s,
                       .env = std::map<std::string, std::string>{{"ONLY", "yes"}, {"PATH", "/usr/bin:/bin"}},
                       .stdin_data = "hello\n"});
  EXPECT_EQ(r.output, "hello\n[yes]\n[none]\n");
}

TEST(JoinArgv, QuotesWhatAShellWouldSplit) {
  EXPECT_EQ(join_argv({"openclaw", "gateway", "restart"}), "openclaw gateway restart");
  EXPECT_EQ(join_argv({"echo", "a b", "it's"}), "echo 'a b' 'it'\\''s'");
}

}  // namespace
}  // namespace gwr
