// WorkerTable: the supervisor's pure core. It holds the state of each worker
// slot and, given events (spawned, exited, heartbeat, tick, shutdown) and the
// current time, returns the actions to take (spawn, signal). It touches no
// process and no socket, so it is tested by stepping a fake clock.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "gwr.pb.h"
#include "supervisor/restart_backoff.h"

namespace gwr::supervisor {

// The supervisor.* keys (defaults in their declarations, gwr.proto), and
// one constant that is not a key.
struct Timings {
  std::chrono::milliseconds heartbeat_timeout{};
  std::chrono::milliseconds startup_allowance{3000};  // extra time for a first heartbeat (not a key)
  std::chrono::milliseconds restart_initial{};
  std::chrono::milliseconds restart_max{};
  std::chrono::milliseconds restart_stable_after{};
  std::chrono::milliseconds stop_timeout{};

  static Timings from_config(const pb::Config& config);
};

enum class SlotState {
  kBackoff,   // waiting to be (re)started at spawn_at
  kRunning,   // has a pid
  kStopping,  // asked to stop, waiting for it to exit
  kStopped,   // exited during shutdown; stays down
};

const char* to_string(SlotState s);
pb::ComponentState component_state(SlotState s);

struct Slot {
  Slot(std::string slot_name, RestartBackoff slot_backoff) : name(std::move(slot_name)), backoff(slot_backoff) {}
  std::string name;
  SlotState state = SlotState::kBackoff;
  pid_t pid = 0;
  uint32_t restarts = 0;               // starts after the first
  uint32_t starts = 0;
  SteadyTime started_at{};
  SteadyTime spawn_at{};               // when kBackoff ends
  std::optional<SteadyTime> last_heartbeat;
  std::string activity;
  std::string last_exit;               // "exit 1", "signal 9", "hung: no heartbeat for 5s"
  bool hung_kill_sent = false;
  RestartBackoff backoff;
};

struct Action {
  enum class Kind { kSpawn, kSignal };
  Kind kind;
  std::string name;
  pid_t pid = 0;
  int signal = 0;
  std::string reason;
};

class WorkerTable {
 public:
  WorkerTable(const std::vector<std::string>& names, const Timings& timings, SteadyTime now);

  void set_timings(const Timings& timings);
  // Every slot whose spawn time has come: start it.
  std::vector<Action> due(SteadyTime now);
  void on_spawned(const std::string& name, pid_t pid, SteadyTime now);
  void on_spawn_failed(const std::string& name, const std::string& error, SteadyTime now);
  // A child exited. Returns the slot name if the pid was ours.
  std::optional<std::string> on_exit(pid_t pid, const std::string& how, SteadyTime now);
  // A heartbeat; ignored unless name and pid match a running slot.
  bool on_heartbeat(const std::string& name, pid_t pid, const std::string& activity, SteadyTime now);
  // Workers that stopped heartbeating: SIGKILL them (they restart on exit).
  std::vector<Action> check_hung(SteadyTime now);
  // Graceful stop of every worker.
  std::vector<Action> begin_shutdown(SteadyTime now);
  // After stop_timeout: SIGKILL whatever is left.
  std::vector<Action> force_shutdown();
  bool shutting_down() const { return shutting_down_; }
  bool all_stopped() const;
  bool all_heartbeating() const;
  // The earliest time something is due.
  SteadyTime next_wake(SteadyTime now) const;
  SteadyTime shutdown_deadline() const { return shutdown_deadline_; }
  const std::vector<Slot>& slots() const { return slots_; }

 private:
  Slot* find(const std::string& name);
  std::vector<Slot> slots_;
  Timings timings_;
  bool shutting_down_ = false;
  SteadyTime shutdown_deadline_{};
};

}  // namespace gwr::supervisor
