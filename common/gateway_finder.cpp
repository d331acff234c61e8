#include "common/gateway_finder.h"

#include <algorithm>
#include <map>
#include <set>

namespace gwr {
namespace {

bool launching_as(const ProcInfo& p, const GatewaySpec& spec, int64_t now_wall_ms) {
  return !spec.launch_match.empty() && process_runs_script(p, spec.launch_match) &&
         now_wall_ms - p.start_wall_ms() < spec.launch_window_ms;
}

// Among processes that all match one name: drop those whose ancestor also
// matches (its children), prefer the one on the port, else the oldest.
const ProcInfo* pick(const std::vector<const ProcInfo*>& candidates, const std::map<pid_t, const ProcInfo*>& by_pid,
                     const std::vector<pid_t>& port_listeners) {
  std::set<pid_t> cand_pids;
  for (const auto* c : candidates) cand_pids.insert(c->pid);
  std::vector<const ProcInfo*> roots;
  for (const auto* c : candidates) {
    bool child = false;
    pid_t up = c->ppid;
    for (int depth = 0; depth < 64 && up > 1; ++depth) {
      if (cand_pids.count(up)) {
        child = true;
        break;
      }
      auto it = by_pid.find(up);
      if (it == by_pid.end()) break;
      up = it->second->ppid;
    }
    if (!child) roots.push_back(c);
  }
  if (roots.empty()) roots = candidates;
  for (const auto* r : roots) {
    if (std::find(port_listeners.begin(), port_listeners.end(), r->pid) != port_listeners.end()) return r;
  }
  return *std::min_element(roots.begin(), roots.end(),
                           [](const ProcInfo* a, const ProcInfo* b) { return a->start_ticks < b->start_ticks; });
}

}  // namespace

GatewayCandidate choose_gateway(const std::vector<ProcInfo>& table, const GatewaySpec& spec,
                                const std::vector<pid_t>& port_listeners, int64_t now_wall_ms) {
  GatewayCandidate out;
  std::vector<const ProcInfo*> named;
  std::vector<const ProcInfo*> launching;
  const ProcInfo* overdue = nullptr;  // kept its launch name past the window
  std::map<pid_t, const ProcInfo*> by_pid;
  for (const auto& p : table) {
    by_pid[p.pid] = &p;
    if (p.zombie()) continue;
    if (process_matches(p, spec.match)) {
      named.push_back(&p);
    } else if (launching_as(p, spec, now_wall_ms)) {
      launching.push_back(&p);
    } else if (overdue == nullptr && !spec.launch_match.empty() && process_runs_script(p, spec.launch_match)) {
      overdue = &p;
    }
  }
  if (named.empty() && launching.empty()) {
    out.detail = "no process named " + spec.match + " is running";
    if (overdue != nullptr) {
      out.detail += "; pid " + std::to_string(overdue->pid) + " (" + overdue->comm + ") is older than the " +
                    std::to_string(spec.launch_window_ms / 1000) + "s startup grace and still not named " + spec.match;
    }
    for (pid_t l : port_listeners) {
      auto it = by_pid.find(l);
      out.detail += "; port " + std::to_string(spec.port) + " is held by pid " + std::to_string(l) +
                    (it != by_pid.end() ? " (" + it->second->comm + ")" : "");
      break;
    }
    return out;
  }
  const ProcInfo* chosen = pick(named.empty() ? launching : named, by_pid, port_listeners);
  out.found = true;
  out.launching = named.empty();
  out.pid = chosen->pid;
  out.start_wall_ms = chosen->start_wall_ms();
  if (out.launching) {
    out.detail = "pid " + std::to_string(chosen->pid) + " (" + chosen->comm + "), not yet named " + spec.match;
  }
  return out;
}

GatewayCandidate find_gateway(const GatewaySpec& spec, pid_t previous, int64_t now_wall_ms) {
  if (previous > 0) {
    if (auto p = read_proc(previous); p && !p->zombie() && process_matches(*p, spec.match)) {
      GatewayCandidate out;
      out.found = true;
      out.pid = previous;
      out.start_wall_ms = p->start_wall_ms();
      return out;
    }
    // A previous launcher that is still launching is re-chosen below only if
    // no process carries the real name by now.
  }
  const auto table = process_table();
  size_t named = 0;
  size_t launching = 0;
  for (const auto& p : table) {
    if (p.zombie()) continue;
    if (process_matches(p, spec.match)) {
      ++named;
    } else if (launching_as(p, spec, now_wall_ms)) {
      ++launching;
    }
  }
  // Sockets are only looked up when they decide something: several
  // candidates, or none (who holds the port then?).
  std::vector<pid_t> listeners;
  if (named != 1 && !(named == 0 && launching == 1)) listeners = listening_pids(spec.port);
  return choose_gateway(table, spec, listeners, now_wall_ms);
}

}  // namespace gwr
