// The stale-lock sweeper on real temp directories: exactly the stale locks
// under the globs go; live owners, symlinks and everything else stay.
#include "repairer/stale_lock_sweeper.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "common/text.h"
#include "tests/support/test_support.h"

namespace gwr::repairer {
namespace {

namespace fs = std::filesystem;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string lock_json(int64_t pid, int64_t created_ms) {
  return "{\"pid\":" + std::to_string(pid) + ",\"createdAt\":" + std::to_string(created_ms) + "}";
}

ProcInfo live_process(pid_t pid, int64_t start_wall_ms_approx) {
  ProcInfo p;
  p.pid = pid;
  p.comm = "node";
  p.state = 'S';
  // start_wall_ms() derives from ticks; emulate with a real process instead when needed.
  (void)start_wall_ms_approx;
  return p;
}

TEST(JudgeLock, DeadOwnerIsStale) {
  auto j = judge_lock(lock_json(999999, now_ms()), now_ms(), now_ms(), 10'000, [](pid_t) { return std::nullopt; });
  EXPECT_TRUE(j.stale);
  EXPECT_EQ(j.why, "owner pid 999999 is gone");
}

TEST(JudgeLock, ZombieOwnerIsStale) {
  auto j = judge_lock(lock_json(77, now_ms()), now_ms(), now_ms(), 10'000, [](pid_t pid) {
    ProcInfo p;
    p.pid = pid;
    p.state = 'Z';
    return lock_owner(p);
  });
  EXPECT_TRUE(j.stale);
}

TEST(JudgeLock, LiveOwnerIsKeptHoweverOld) {
  // Our own process is alive; a lock it "created" an hour after it started is its own.
  auto self = read_proc(::getpid());
  ASSERT_TRUE(self);
  const int64_t created = self->start_wall_ms() + 5000;
  auto j = judge_lock(lock_json(::getpid(), created), created, now_ms() + 86'400'000, 10'000,
                      [](pid_t pid) { return lock_owner(read_proc(pid)); });
  EXPECT_FALSE(j.stale) << j.why;
  EXPECT_NE(j.why.find("is alive"), std::string::npos);
}

TEST(JudgeLock, ReusedPidIsStale) {
  auto self = read_proc(::getpid());
  ASSERT_TRUE(self);
  const int64_t created = self->start_wall_ms() - 60'000;  // before this process existed
  auto j = judge_lock(lock_json(::getpid(), created), created, now_ms(), 10'000, [](pid_t pid) { return lock_owner(read_proc(pid)); });
  EXPECT_TRUE(j.stale);
  EXPECT_NE(j.why.find("reused"), std::string::npos);
}

TEST(JudgeLock, UnreadableLocksGetAGracePeriod) {
  auto none = [](pid_t) { return lock_owner(live_process(1, 0)); };
  EXPECT_FALSE(judge_lock("", now_ms() - 1000, now_ms(), 10'000, none).stale);
  EXPECT_TRUE(judge_lock("", now_ms() - 20'000, now_ms(), 10'000, none).stale);
  EXPECT_TRUE(judge_lock("{\"createdAt\":1}", now_ms() - 20'000, now_ms(), 10'000, none).stale);
  EXPECT_TRUE(judge_lock("{\"pid\":\"12\"}", now_ms() - 20'000, now_ms(), 10'000, none).stale);
  EXPECT_TRUE(judge_lock("{\"pid\":-5}", now_ms() - 20'000, now_ms(), 10'000, none).stale);
}

// The pid of a process that has just exited and been reaped: pids are
// handed out in order, so it stays free until the numbers wrap around
// (checked, not assumed: a fixed number such as 999999 may be alive on a
// machine with a large pid_max).
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  EXPECT_FALSE(testing::pid_alive(child));
  return child;
}

class SweeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dead_ = dead_pid();
    dead2_ = dead_pid();
  }
  std::string state() const { return dir_ / "state"; }
  void put(const std::string& rel, const std::string& content) { testing::write_file(state() + "/" + rel, content); }
  bool exists(const std::string& rel) const {
    struct stat st {};
    return ::lstat((state() + "/" + rel).c_str(), &st) == 0;
  }
  testing::TempDir dir_;
  const std::vector<std::string> globs_ = {"agents/*/sessions/*.jsonl.lock"};
  pid_t dead_ = 0;
  pid_t dead2_ = 0;
};

TEST_F(SweeperTest, RemovesExactlyTheStaleLocks) {
  const int64_t now = now_ms();
  put("agents/main/sessions/dead.jsonl.lock", lock_json(dead_, now - 1000));
  put("agents/ops/sessions/dead2.jsonl.lock", lock_json(dead2_, now - 1000));
  put("agents/main/sessions/live.jsonl.lock", lock_json(::getpid(), now));
  put("agents/main/sessions/session.jsonl", "chat history");
  put("agents/main/sessions/other.lock", lock_json(dead_, now));
  put("agents/main/dead-outside.jsonl.lock", lock_json(dead_, now));
  put("state/openclaw.sqlite-wal", "wal");
  put("tmp/openclaw-0/gateway.1.lock", lock_json(dead_, now));
  const auto report = sweep_stale_locks(state(), globs_, 10'000, now);
  EXPECT_EQ(report.removed.size(), 2u) << report.summary();
  EXPECT_FALSE(exists("agents/main/sessions/dead.jsonl.lock"));
  EXPECT_FALSE(exists("agents/ops/sessions/dead2.jsonl.lock"));
  for (const char* kept : {"agents/main/sessions/live.jsonl.lock", "agents/main/sessions/session.jsonl",
                           "agents/main/sessions/other.lock", "agents/main/dead-outside.jsonl.lock",
                           "state/openclaw.sqlite-wal", "tmp/openclaw-0/gateway.1.lock"}) {
    EXPECT_TRUE(exists(kept)) << kept;
  }
  EXPECT_EQ(report.kept.size(), 1u);
  EXPECT_NE(report.summary().find("removed 2 stale lock(s)"), std::string::npos);
}

TEST_F(SweeperTest, NeverFollowsSymlinks) {
  const int64_t now = now_ms();
  // A symlinked lock pointing at a precious file outside.
  testing::write_file(dir_ / "precious.txt", lock_json(dead_, now));
  put("agents/main/sessions/.keep", "");
  fs::create_symlink(dir_ / "precious.txt", state() + "/agents/main/sessions/evil.jsonl.lock");
  // A symlinked directory leading outside the state dir.
  testing::write_file(dir_ / "outside/sessions/victim.jsonl.lock", lock_json(dead_, now));
  fs::create_symlink(dir_ / "outside", state() + "/agents/linked");
  const auto report = sweep_stale_locks(state(), globs_, 10'000, now);
  EXPECT_TRUE(report.removed.empty()) << report.summary();
  EXPECT_TRUE(fs::exists(dir_ / "precious.txt"));
  EXPECT_TRUE(fs::is_symlink(state() + "/agents/main/sessions/evil.jsonl.lock"));
  EXPECT_TRUE(fs::exists(dir_ / "outside/sessions/victim.jsonl.lock"));
  EXPECT_EQ(report.skipped.size(), 2u) << report.summary();
}

TEST_F(SweeperTest, HiddenFilesAndNonFilesAreLeftAlone) {
  const int64_t now = now_ms();
  put("agents/.hidden/sessions/x.jsonl.lock", lock_json(dead_, now));
  fs::create_directories(state() + "/agents/main/sessions/dir.jsonl.lock");
  const auto report = sweep_stale_locks(state(), globs_, 10'000, now);
  EXPECT_TRUE(report.removed.empty());
  EXPECT_TRUE(exists("agents/.hidden/sessions/x.jsonl.lock"));
  EXPECT_TRUE(exists("agents/main/sessions/dir.jsonl.lock"));
}

TEST_F(SweeperTest, NamesThatAreNotUtf8AreReportedAsText) {
  const int64_t now = now_ms();
  put("agents/main/sessions/caf\xE9-\xFF.jsonl.lock", lock_json(dead_, now - 1000));
  const auto report = sweep_stale_locks(state(), globs_, 10'000, now);
  ASSERT_EQ(report.removed.size(), 1u) << report.summary();
  EXPECT_TRUE(is_valid_utf8(report.removed[0])) << report.removed[0];
  EXPECT_NE(report.removed[0].find("caf"), std::string::npos);
}

TEST_F(SweeperTest, TraversalGlobsAreRefused) {
  const int64_t now = now_ms();
  testing::write_file(dir_ / "x.jsonl.lock", lock_json(dead_, now));
  const auto report = sweep_stale_locks(state(), {"../*.jsonl.lock", "/tmp/*.jsonl.lock"}, 10'000, now);
  EXPECT_EQ(report.errors.size(), 2u);
  EXPECT_TRUE(fs::exists(dir_ / "x.jsonl.lock"));
}

TEST_F(SweeperTest, MissingStateDirIsNotAnError) {
  const auto report = sweep_stale_locks(dir_ / "nope", globs_, 10'000, now_ms());
  EXPECT_TRUE(report.errors.empty());
  EXPECT_EQ(report.summary(), "no stale locks");
}

}  // namespace
}  // namespace gwr::repairer
