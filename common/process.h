// Child processes without a shell: spawn_process for long-lived children (the
// supervisor's workers) and CommandRunner for bounded commands (repair steps,
// the AI CLI): argv only, a deadline, output captured and bounded, the whole
// process group killed on timeout.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace gwr {

struct SpawnOptions {
  std::vector<std::string> argv;     // argv[0] is a path or looked up in PATH
  std::optional<std::map<std::string, std::string>> env;  // nullopt = inherit
  bool die_with_parent = true;       // SIGTERM when gwr dies (child_dies_with_parent)
  bool new_process_group = false;
  std::string stdout_path;           // "" = inherit
};

// Forks and execs; the error says why exec failed (e.g. not found).
Result<pid_t> spawn_process(const SpawnOptions& options);

struct CommandSpec {
  std::vector<std::string> argv;
  std::chrono::milliseconds timeout{10'000};
  std::optional<std::map<std::string, std::string>> env;  // nullopt = inherit
  std::string stdin_data;            // written to the child's stdin, then closed
  size_t max_output = 64 * 1024;     // bytes kept (head and tail) of stdout+stderr
  std::string cwd;
  std::function<void(pid_t)> on_started;  // told the pid (= process group) once it runs
  // When set and it turns true, the command's process group is killed (the
  // runner does it itself, before reaping, so no reused pid is signalled).
  const std::atomic<bool>* cancel = nullptr;
};

struct CommandResult {
  bool started = false;              // false: exec failed (see error)
  int exit_code = -1;                // -1 when killed by a signal
  int term_signal = 0;
  bool timed_out = false;
  bool cancelled = false;            // killed because spec.cancel turned true
  // stdout+stderr, bounded, valid UTF-8, NOT yet redacted: where it was cut,
  // the words the cut fell in were dropped, so redacting it is still safe.
  std::string output;
  bool truncated = false;
  std::chrono::milliseconds duration{0};
  std::string error;                 // why it did not start, if it did not
  pid_t pid = 0;

  bool success() const { return started && !timed_out && !cancelled && exit_code == 0; }
  // "exit 0", "exit 3", "killed by signal 9", "timed out after 10s", "not found"
  std::string describe() const;
};

// Runs commands; an interface so cores can be tested with a fake.
class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  // Blocks until the command ends or times out; never longer than timeout + 2s.
  virtual CommandResult run(const CommandSpec& spec) = 0;
};

class RealCommandRunner final : public CommandRunner {
 public:
  CommandResult run(const CommandSpec& spec) override;
};

// argv joined for display, each word quoted when needed.
std::string join_argv(const std::vector<std::string>& argv);

}  // namespace gwr
