// SupervisorShell: what gwr-supervisor does, apart from its sockets and
// signals: spawns workers and restarts them (the decisions are WorkerTable's),
// kills a hung one, holds the config (reload, run-time changes, the
// components' status), and shuts everything down in order. Time comes from
// a Clock, processes from a WorkerLauncher, and what it says goes to its
// Ports, so it runs in a unit test on a FakeClock. supervisor.cpp drives it
// from the bus, the control socket, SIGCHLD and SIGHUP.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/result.h"
#include "gwr.pb.h"
#include "supervisor/supervisor.h"
#include "supervisor/worker_table.h"

namespace gwr::supervisor {

// Starts and signals worker processes (the real one forks gwr-<name>).
class WorkerLauncher {
 public:
  virtual ~WorkerLauncher() = default;
  virtual Result<pid_t> spawn(const std::vector<std::string>& argv) = 0;
  virtual void signal(pid_t pid, int sig) = 0;
};

// What the shell tells the world.
struct SupervisorPorts {
  std::function<void(pb::Event)> publish;              // the bus
  std::function<void(const std::string&)> notify;      // the service manager ("READY=1", "WATCHDOG=1", ...)
  int64_t watchdog_interval_ms = 0;                    // systemd's; 0: none
  // Messages the supervisor itself could not decode (bus, control), for its status line.
  std::function<std::pair<uint64_t, uint64_t>()> own_errors;
  pid_t self_pid = 0;
};

class SupervisorShell {
 public:
  SupervisorShell(const SupervisorOptions& options, LoadedConfig config, const Clock& clock, WorkerLauncher& launcher,
                  SupervisorPorts ports);

  // Spawns what is due, kills what hangs, notifies systemd, republishes the
  // config version; returns when it wants to look again.
  SteadyTime tick();
  // Shutting down and every worker has stopped.
  bool finished() const;
  void on_heartbeat(const pb::Event& event);
  // A worker exited (waitpid's status).
  void on_exit(pid_t pid, int status);
  // SIGHUP reloads; SIGTERM and SIGINT shut down.
  void on_signal(int sig);
  pb::Reply handle(const pb::Request& request);
  // Re-reads every config source; a bad config is reported and the running one kept.
  std::optional<ConfigError> reload(const std::string& why, const std::string& actor);
  void shutdown(const std::string& reason);

  const LoadedConfig& config() const { return loaded_; }
  const WorkerTable& table() const { return table_; }
  uint64_t config_version() const { return config_version_; }
  const std::string& shutdown_reason() const { return shutdown_reason_; }

 private:
  void spawn(const std::string& name, SteadyTime now);
  void publish_component(pb::ComponentEvent::Kind kind, const std::string& name, pid_t pid, const std::string& detail);
  pb::Reply set_config(const pb::SetConfigRequest& req);
  std::string status_line() const;

  const SupervisorOptions& options_;
  LoadedConfig loaded_;
  const Clock& clock_;
  WorkerLauncher& launcher_;
  SupervisorPorts ports_;
  WorkerTable table_;
  // What each worker's heartbeats say it could not decode (per process).
  struct Counters {
    pid_t pid = 0;
    uint64_t decode_errors = 0;
    uint64_t control_errors = 0;
  };
  std::map<std::string, Counters> counters_;
  uint64_t config_version_ = 1;
  std::string shutdown_reason_;
  SteadyTime started_;
  SteadyTime next_watchdog_;
  SteadyTime next_config_beacon_;
  SteadyTime ready_deadline_;
  bool ready_sent_ = false;
};

// waitpid's status, for people: "exit 1", "signal 9 (Killed)".
std::string describe_status(int status);

}  // namespace gwr::supervisor
