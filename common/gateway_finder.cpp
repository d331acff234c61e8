#include "common/gateway_finder.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "common/findings.h"
#include "common/strings.h"

namespace gwr {
namespace {

bool launching_as(const ProcInfo& p, const GatewaySpec& spec, int64_t now_wall_ms) {
  return !spec.launch_match.empty() && process_runs_script(p, spec.launch_match) &&
         now_wall_ms - p.start_wall_ms() < spec.launch_window_ms;
}

// The value of --name X or --name=X in argv.
std::optional<std::string> flag_value(const std::vector<std::string>& argv, const std::string& name) {
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == name && i + 1 < argv.size()) return argv[i + 1];
    if (argv[i].rfind(name + "=", 0) == 0) return argv[i].substr(name.size() + 1);
  }
  return std::nullopt;
}

std::string env_value(const std::map<std::string, std::string>& env, const char* name) {
  const auto it = env.find(name);
  return it == env.end() ? std::string() : it->second;
}

// Why a candidate that does not listen on our port is, or is not, ours.
struct Ownership {
  bool ours = false;
  std::string why;  // when not ours
};

Ownership judge(const GatewaySpec& spec, const GatewayClaims& c) {
  for (uint16_t port : c.listening) {
    if (port != spec.port) return {false, "it listens on port " + std::to_string(port)};
  }
  if (!c.readable) return {false, "it does not say which gateway it is (its environment cannot be read)"};
  if (c.port) {
    if (*c.port == spec.port) return {true, ""};
    return {false, "it is for port " + std::to_string(*c.port)};
  }
  if (c.state_dir && !spec.state_dir.empty()) {
    if (*c.state_dir == spec.state_dir) return {true, ""};
    return {false, "its state dir is " + *c.state_dir};
  }
  return {false, "it does not say which gateway it is"};
}

pb::Finding about(pb::Finding::Kind kind, const ProcInfo& p) {
  pb::Finding f;
  f.set_kind(kind);
  f.set_check(pb::CHECK_PROCESS);
  f.set_value(p.pid);
  f.set_subject(p.comm_text());
  return f;
}

// Among processes that all match one name: drop those whose ancestor also
// matches (its children), then the oldest.
const ProcInfo* oldest_root(const std::vector<const ProcInfo*>& candidates,
                            const std::map<pid_t, const ProcInfo*>& by_pid) {
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
  return *std::min_element(roots.begin(), roots.end(),
                           [](const ProcInfo* a, const ProcInfo* b) { return a->start_ticks < b->start_ticks; });
}

}  // namespace

GatewayClaims claims_from(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                          const std::string& home_fallback) {
  GatewayClaims c;
  c.readable = true;
  const bool dev = std::find(argv.begin(), argv.end(), "--dev") != argv.end();
  // OpenClaw's precedence: --port, then OPENCLAW_GATEWAY_PORT, then its config.
  if (auto v = flag_value(argv, "--port")) {
    c.port = parse_port(*v);
  } else if (auto e = env_value(env, "OPENCLAW_GATEWAY_PORT"); !e.empty()) {
    c.port = parse_port(e);
  } else if (dev) {
    c.port = 19001;
  }
  std::string home = env_value(env, "HOME");
  if (home.empty()) home = home_fallback;
  std::string profile = flag_value(argv, "--profile").value_or(env_value(env, "OPENCLAW_PROFILE"));
  if (profile == "default") profile.clear();
  if (auto dir = env_value(env, "OPENCLAW_STATE_DIR"); !dir.empty()) {
    c.state_dir = dir;
  } else if (!home.empty()) {
    c.state_dir = home + (!profile.empty() ? "/.openclaw-" + profile : dev ? "/.openclaw-dev" : "/.openclaw");
  }
  return c;
}

GatewayCandidate choose_gateway(const std::vector<ProcInfo>& table, const GatewaySpec& spec,
                                const std::vector<pid_t>& port_listeners, int64_t now_wall_ms,
                                const ClaimsLookup& claims) {
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
  auto on_port = [&](const ProcInfo* p) {
    return std::find(port_listeners.begin(), port_listeners.end(), p->pid) != port_listeners.end();
  };
  auto found = [&](const ProcInfo* p, bool is_launching) {
    out.found = true;
    out.launching = is_launching;
    out.pid = p->pid;
    out.start_ticks = p->start_ticks;
    out.start_wall_ms = p->start_wall_ms();
    if (is_launching) {
      out.detail = "pid " + std::to_string(p->pid) + " (" + p->comm_text() + "), not yet named " + spec.match;
    }
    return out;
  };
  // 1. Whoever of that name holds our port; 2. one that says it is ours.
  for (const auto* group : {&named, &launching}) {
    const bool is_launching = group == &launching;
    for (const auto* p : *group) {
      if (on_port(p)) return found(p, is_launching);
    }
    std::vector<const ProcInfo*> ours;
    for (const auto* p : *group) {
      const Ownership v = judge(spec, claims(*p));
      if (v.ours) {
        ours.push_back(p);
      } else if (out.seen_instead.size() < 3) {
        pb::Finding f = about(pb::Finding::OTHER_GATEWAY, *p);
        f.set_detail(v.why);
        out.seen_instead.push_back(std::move(f));
      }
    }
    if (!ours.empty()) {
      out.seen_instead.clear();
      return found(oldest_root(ours, by_pid), is_launching);
    }
  }
  if (overdue != nullptr) {
    pb::Finding f = about(pb::Finding::LAUNCH_OVERDUE, *overdue);
    f.set_limit(static_cast<double>(spec.launch_window_ms));
    out.seen_instead.push_back(std::move(f));
  }
  for (pid_t l : port_listeners) {
    ProcInfo holder;
    holder.pid = l;
    if (auto it = by_pid.find(l); it != by_pid.end()) holder = *it->second;
    pb::Finding f = about(pb::Finding::PORT_HELD, holder);
    f.set_limit(spec.port);
    out.seen_instead.push_back(std::move(f));
    break;
  }
  out.detail = "no process named " + spec.match + " is running";
  if (!out.seen_instead.empty()) out.detail += "; " + describe_all(out.seen_instead);
  return out;
}

std::string normal_path(const std::string& path) {
  if (path.empty()) return path;
  std::error_code ec;
  std::filesystem::path p = std::filesystem::weakly_canonical(path, ec);
  if (ec) p = std::filesystem::path(path).lexically_normal();
  std::string s = p.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

GatewayClaims read_claims(const ProcInfo& process) {
  GatewayClaims c;
  const auto env = read_environ(process.pid);
  if (env) {
    c = claims_from(process.argv, *env, home_of_uid(process.uid));
    if (c.state_dir) c.state_dir = normal_path(*c.state_dir);
  }
  c.listening = listening_ports(process.pid);
  return c;
}

GatewayCandidate find_gateway(const GatewaySpec& spec, pid_t previous, uint64_t previous_start_ticks,
                              int64_t now_wall_ms) {
  if (previous > 0) {
    if (auto p = read_proc(previous); p && !p->zombie() && p->start_ticks == previous_start_ticks &&
                                      process_matches(*p, spec.match)) {
      GatewayCandidate out;
      out.found = true;
      out.pid = previous;
      out.start_ticks = p->start_ticks;
      out.start_wall_ms = p->start_wall_ms();
      return out;
    }
    // A previous launcher that is still launching is re-chosen below only if
    // no process carries the real name by now.
  }
  GatewaySpec normal = spec;
  normal.state_dir = normal_path(spec.state_dir);
  const auto table = process_table();
  std::vector<pid_t> candidates;
  for (const auto& p : table) {
    if (!p.zombie() && (process_matches(p, spec.match) || launching_as(p, spec, now_wall_ms))) candidates.push_back(p.pid);
  }
  // Every process's sockets are only scanned when that decides something: the
  // one candidate usually holds the port itself.
  std::vector<pid_t> listeners;
  if (candidates.size() == 1 && pid_listens_on(candidates[0], spec.port)) {
    listeners = candidates;
  } else {
    listeners = listening_pids(spec.port);
  }
  return choose_gateway(table, normal, listeners, now_wall_ms, read_claims);
}

}  // namespace gwr
