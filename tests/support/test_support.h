// Shared helpers for gwr's tests: temp dirs, a fake clock, real child
// processes that are always reaped, bounded polling, and a running daemon.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "common/clock.h"
#include "common/control.h"
#include "gwr.pb.h"

namespace gwr::testing {

// Where CMake put the binaries (handed in, never searched for).
std::string bin_path(const std::string& name);    // build/bin/<name>
std::string fake_path(const std::string& name);   // build/tests/fakes/<name>
std::string source_path(const std::string& rel);  // <source>/<rel>

class TempDir {
 public:
  TempDir();   // short, under /tmp: ipc socket paths must stay under 107 bytes
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t wall_ms = 1'800'000'000'000) : wall_ms_(wall_ms) {}
  // Read by a shell's threads while a test steps it: atomic.
  SteadyTime steady() const override { return SteadyTime(std::chrono::milliseconds(steady_ms_.load())); }
  WallTime wall() const override { return WallTime(std::chrono::milliseconds(wall_ms_.load())); }
  void advance(std::chrono::milliseconds d) {
    steady_ms_ += d.count();
    wall_ms_ += d.count();
  }
  void set_wall_ms(int64_t ms) { wall_ms_ = ms; }

 private:
  std::atomic<int64_t> steady_ms_{1'000'000};
  std::atomic<int64_t> wall_ms_;
};

// argv run in a session (and process group) of its own, under the same pid:
// setsid(1) where there is one (Linux), perl's POSIX::setsid where there is
// none (macOS).
std::vector<std::string> in_new_session(const std::vector<std::string>& argv);

// A child process that is killed and reaped when the handle goes away.
class Process {
 public:
  Process() = default;
  static Process start(const std::vector<std::string>& argv, const std::map<std::string, std::string>& extra_env = {},
                       const std::string& output_file = "");
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  ~Process();
  pid_t pid() const { return pid_; }
  bool running();                       // reaps if it exited
  void signal(int sig) const;
  // Waits for exit; the exit status (as from waitpid) or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  std::optional<int> exit_status() const { return status_; }
  void release() { pid_ = 0; }          // stop owning it

 private:
  pid_t pid_ = 0;
  std::optional<int> status_;
};

// Polls `condition` every 10 ms until it holds or `timeout` passes.
::testing::AssertionResult wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                                      const std::string& what);

int free_tcp_port();
bool pid_alive(pid_t pid);
// SIGSTOPs pid and waits until every one of its threads has stopped: kill()
// returns before they do (by milliseconds under load), and a test that acts
// "while it is frozen" must not race a process that is still running.
::testing::AssertionResult stop_process(pid_t pid, std::chrono::milliseconds timeout = std::chrono::seconds(5));
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& content);
std::vector<nlohmann::json> read_json_lines(const std::string& path);
// Every file under dir (recursively) whose content contains needle.
std::vector<std::string> files_containing(const std::string& dir, const std::string& needle);
// pids of processes whose argv[0] ends with name.
std::vector<pid_t> pids_named(const std::string& name);

struct CommandOutput {
  int exit_code = -1;
  std::string output;
};
CommandOutput run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::seconds(30));

// A gwr daemon under test: its own temp dir, config and supervisor.
class Daemon {
 public:
  // extra_yaml is appended to a config whose paths point into the temp dir.
  explicit Daemon(const std::string& extra_yaml = "", const std::map<std::string, std::string>& env = {});
  ~Daemon();
  const TempDir& dir() const { return dir_; }
  const std::string& config_path() const { return config_path_; }
  std::string runtime_dir() const { return dir_ / "run"; }
  std::string log_dir() const { return dir_ / "log"; }
  std::string state_dir() const { return dir_ / "state"; }
  std::string log_file(const std::string& process) const { return log_dir() + "/" + process + ".log"; }
  Process& supervisor() { return supervisor_; }

  // Starts gwr-supervisor and waits until every worker heartbeats.
  ::testing::AssertionResult start(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // SIGTERM, and waits until the supervisor (and so every worker) has exited.
  ::testing::AssertionResult stop(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  ::testing::AssertionResult wait_all_heartbeating(std::chrono::milliseconds timeout);
  // One control call; errors come back as Result errors.
  Result<pb::Reply> call(const std::string& component, const pb::Request& request,
                         std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));
  std::optional<pb::ComponentsReply> components();
  std::map<std::string, pid_t> worker_pids();
  CommandOutput gwrctl(const std::vector<std::string>& args, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // `gwrctl status --json`'s repair.in_progress; nullopt when status cannot be read.
  std::optional<bool> repair_in_progress(std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  TempDir dir_;
  std::string config_path_;
  std::map<std::string, std::string> env_;
  Process supervisor_;
  zmq::context_t zctx_{1};
};

}  // namespace gwr::testing
