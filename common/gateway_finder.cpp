#include "common/gateway_finder.h"

#include <algorithm>
#include <map>
#include <set>

namespace gwr {

GatewayCandidate choose_gateway(const std::vector<ProcInfo>& table, const std::string& match,
                                const std::vector<pid_t>& port_listeners, uint16_t port) {
  GatewayCandidate out;
  std::vector<const ProcInfo*> candidates;
  std::map<pid_t, const ProcInfo*> by_pid;
  for (const auto& p : table) {
    by_pid[p.pid] = &p;
    if (!p.zombie() && process_matches(p, match)) candidates.push_back(&p);
  }
  if (candidates.empty()) {
    out.detail = "no process named " + match + " is running";
    for (pid_t l : port_listeners) {
      auto it = by_pid.find(l);
      out.detail += "; port " + std::to_string(port) + " is held by pid " + std::to_string(l) +
                    (it != by_pid.end() ? " (" + it->second->comm + ")" : "");
      break;
    }
    return out;
  }
  // Drop candidates whose ancestor is also a candidate: they are its children.
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
  const ProcInfo* chosen = nullptr;
  for (const auto* r : roots) {
    if (std::find(port_listeners.begin(), port_listeners.end(), r->pid) != port_listeners.end()) {
      chosen = r;
      break;
    }
  }
  if (chosen == nullptr) {
    chosen = *std::min_element(roots.begin(), roots.end(),
                               [](const ProcInfo* a, const ProcInfo* b) { return a->start_ticks < b->start_ticks; });
  }
  out.found = true;
  out.pid = chosen->pid;
  out.start_wall_ms = chosen->start_wall_ms();
  return out;
}

GatewayCandidate find_gateway(const std::string& match, uint16_t port, pid_t previous) {
  if (previous > 0) {
    if (auto p = read_proc(previous); p && !p->zombie() && process_matches(*p, match)) {
      GatewayCandidate out;
      out.found = true;
      out.pid = previous;
      out.start_wall_ms = p->start_wall_ms();
      return out;
    }
  }
  const auto table = process_table();
  size_t matches = 0;
  for (const auto& p : table) {
    if (!p.zombie() && process_matches(p, match)) ++matches;
  }
  // Sockets are only looked up when they decide something: several
  // candidates, or none (who holds the port then?).
  std::vector<pid_t> listeners;
  if (matches != 1) listeners = listening_pids(port);
  return choose_gateway(table, match, listeners, port);
}

}  // namespace gwr
