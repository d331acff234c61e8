#include "supervisor/worker_table.h"

#include <csignal>

namespace gwr::supervisor {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

const char* to_string(SlotState s) {
  switch (s) {
    case SlotState::kBackoff: return "backoff";
    case SlotState::kRunning: return "running";
    case SlotState::kStopping: return "stopping";
    case SlotState::kStopped: return "stopped";
  }
  return "?";
}

Timings Timings::from_config(const pb::Config& c) {
  using std::chrono::milliseconds;
  Timings t;
  t.heartbeat_timeout = milliseconds(c.supervisor().heartbeat_timeout());
  t.restart_initial = milliseconds(c.supervisor().restart_initial());
  t.restart_max = milliseconds(c.supervisor().restart_max());
  t.restart_stable_after = milliseconds(c.supervisor().restart_stable_after());
  t.stop_timeout = milliseconds(c.supervisor().stop_timeout());
  return t;
}

pb::ComponentState component_state(SlotState s) {
  switch (s) {
    case SlotState::kBackoff: return pb::COMPONENT_BACKOFF;
    case SlotState::kRunning: return pb::COMPONENT_RUNNING;
    case SlotState::kStopping: return pb::COMPONENT_STOPPING;
    case SlotState::kStopped: return pb::COMPONENT_STOPPED;
  }
  return pb::COMPONENT_STATE_UNSPECIFIED;
}

WorkerTable::WorkerTable(const std::vector<std::string>& names, const Timings& timings, SteadyTime now)
    : timings_(timings) {
  for (const auto& n : names) {
    Slot s(n, RestartBackoff(timings.restart_initial, timings.restart_max, timings.restart_stable_after));
    s.spawn_at = now;
    slots_.push_back(std::move(s));
  }
}

void WorkerTable::set_timings(const Timings& timings) { timings_ = timings; }

Slot* WorkerTable::find(const std::string& name) {
  for (auto& s : slots_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::vector<Action> WorkerTable::due(SteadyTime now) {
  std::vector<Action> out;
  if (shutting_down_) return out;
  for (auto& s : slots_) {
    if (s.state == SlotState::kBackoff && now >= s.spawn_at) {
      out.push_back({Action::Kind::kSpawn, s.name, 0, 0, s.starts == 0 ? "start" : "restart"});
    }
  }
  return out;
}

void WorkerTable::on_spawned(const std::string& name, pid_t pid, SteadyTime now) {
  Slot* s = find(name);
  if (s == nullptr) return;
  if (s->starts > 0) ++s->restarts;
  ++s->starts;
  s->state = SlotState::kRunning;
  s->pid = pid;
  s->started_at = now;
  s->last_heartbeat.reset();
  s->hung_kill_sent = false;
  s->activity = "starting";
}

void WorkerTable::on_spawn_failed(const std::string& name, const std::string& error, SteadyTime now) {
  Slot* s = find(name);
  if (s == nullptr) return;
  s->last_exit = "spawn failed: " + error;
  s->state = SlotState::kBackoff;
  s->spawn_at = now + s->backoff.on_exit(milliseconds(0));
}

std::optional<std::string> WorkerTable::on_exit(pid_t pid, const std::string& how, SteadyTime now) {
  for (auto& s : slots_) {
    if (s.pid != pid || pid == 0) continue;
    s.pid = 0;
    if (s.hung_kill_sent) {
      s.last_exit += "; then " + how;
    } else {
      s.last_exit = how;
    }
    s.last_heartbeat.reset();
    if (shutting_down_) {
      s.state = SlotState::kStopped;
    } else {
      const auto uptime = duration_cast<milliseconds>(now - s.started_at);
      s.state = SlotState::kBackoff;
      s.spawn_at = now + s.backoff.on_exit(uptime);
    }
    return s.name;
  }
  return std::nullopt;
}

bool WorkerTable::on_heartbeat(const std::string& name, pid_t pid, const std::string& activity, SteadyTime now) {
  Slot* s = find(name);
  if (s == nullptr || s->state != SlotState::kRunning || s->pid != pid) return false;
  s->last_heartbeat = now;
  s->activity = activity;
  return true;
}

std::vector<Action> WorkerTable::check_hung(SteadyTime now) {
  std::vector<Action> out;
  if (shutting_down_) return out;
  for (auto& s : slots_) {
    if (s.state != SlotState::kRunning || s.hung_kill_sent) continue;
    const SteadyTime since = s.last_heartbeat ? *s.last_heartbeat : s.started_at + timings_.startup_allowance;
    if (now - since >= timings_.heartbeat_timeout) {
      s.hung_kill_sent = true;
      const auto silent = duration_cast<milliseconds>(now - (s.last_heartbeat ? *s.last_heartbeat : s.started_at));
      s.last_exit = "hung: no heartbeat for " + std::to_string(silent.count()) + "ms";
      out.push_back({Action::Kind::kSignal, s.name, s.pid, SIGKILL, s.last_exit});
    }
  }
  return out;
}

std::vector<Action> WorkerTable::begin_shutdown(SteadyTime now) {
  std::vector<Action> out;
  shutting_down_ = true;
  shutdown_deadline_ = now + timings_.stop_timeout;
  for (auto& s : slots_) {
    if (s.state == SlotState::kRunning) {
      s.state = SlotState::kStopping;
      out.push_back({Action::Kind::kSignal, s.name, s.pid, SIGTERM, "shutdown"});
    } else if (s.state == SlotState::kBackoff) {
      s.state = SlotState::kStopped;
    }
  }
  return out;
}

std::vector<Action> WorkerTable::force_shutdown() {
  std::vector<Action> out;
  for (auto& s : slots_) {
    if (s.state == SlotState::kStopping && s.pid != 0) {
      out.push_back({Action::Kind::kSignal, s.name, s.pid, SIGKILL, "did not stop within stop_timeout"});
    }
  }
  return out;
}

bool WorkerTable::all_stopped() const {
  for (const auto& s : slots_) {
    if (s.state != SlotState::kStopped) return false;
  }
  return true;
}

bool WorkerTable::all_heartbeating() const {
  for (const auto& s : slots_) {
    if (s.state != SlotState::kRunning || !s.last_heartbeat) return false;
  }
  return true;
}

SteadyTime WorkerTable::next_wake(SteadyTime now) const {
  SteadyTime wake = now + std::chrono::seconds(1);
  for (const auto& s : slots_) {
    if (s.state == SlotState::kBackoff && s.spawn_at < wake) wake = s.spawn_at;
    if (s.state == SlotState::kRunning && !s.hung_kill_sent) {
      const SteadyTime since = s.last_heartbeat ? *s.last_heartbeat : s.started_at + timings_.startup_allowance;
      const SteadyTime hung_at = since + timings_.heartbeat_timeout;
      if (hung_at < wake) wake = hung_at;
    }
  }
  if (shutting_down_ && shutdown_deadline_ < wake) wake = shutdown_deadline_;
  return wake < now ? now : wake;
}

}  // namespace gwr::supervisor
