// Finds the gateway process (the prober watches it, the repairer checks it).
//
// The name is not enough: OpenClaw's own docs recommend a second "rescue"
// gateway on the same host (--profile rescue, another port, its own state
// dir), and its process has the same name. The watched gateway is:
//   * the process of that name listening on gateway.port; or, while nothing
//     of that name listens there,
//   * one that says it is ours: told to use gateway.port (--port,
//     OPENCLAW_GATEWAY_PORT), or running on gateway.state_dir
//     (OPENCLAW_STATE_DIR, --profile/OPENCLAW_PROFILE, --dev, $HOME/.openclaw).
// A process of that name that listens on another port, or says it is for
// another port or state dir, is another gateway: never reported, measured,
// signalled or restarted. One that says nothing readable is not taken.
//
// While it starts, the real gateway is not yet called by its name: it is
// "node .../openclaw gateway run" for its first ~0.2 s, then sets its title to
// "openclaw" until its CLI has loaded (5-15 s), then renames itself
// "openclaw-gateway". A process with the launch name is taken for the gateway
// only when none has the real name, and only while it is younger than the
// launch window (the startup grace): a CLI that stays "openclaw" for longer
// is not the gateway. Zombies are dead.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/platform/proc.h"
#include "gwr.pb.h"

namespace gwr {

struct GatewaySpec {
  std::string match;         // gateway.process_match
  std::string launch_match;  // gateway.launch_match ("" = none)
  int64_t launch_window_ms = 0;
  uint16_t port = 0;
  std::string state_dir;     // gateway.state_dir ("" = do not judge by it)
};

// What a process says about which gateway it is.
struct GatewayClaims {
  bool readable = false;                 // its arguments and environment could be read
  std::optional<uint16_t> port;          // --port / OPENCLAW_GATEWAY_PORT
  std::optional<std::string> state_dir;  // normalised
  std::vector<uint16_t> listening;       // TCP ports it listens on now
};

// The claims made by argv and env (pure; `home` is used when env has no HOME).
GatewayClaims claims_from(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                          const std::string& home);

struct GatewayCandidate {
  bool found = false;
  bool launching = false;  // found under its launch name (still starting)
  pid_t pid = 0;
  uint64_t start_ticks = 0;
  int64_t start_wall_ms = 0;
  // When not found, what was seen instead, typed: other gateways
  // (OTHER_GATEWAY), a launcher past its grace (LAUNCH_OVERDUE), whoever
  // holds the port (PORT_HELD).
  std::vector<pb::Finding> seen_instead;
  std::string detail;  // the same for people (a repair step's detail)
};

using ClaimsLookup = std::function<GatewayClaims(const ProcInfo&)>;

// Pure choice among a process table (tested without a real one). port_listeners:
// who listens on spec.port; claims: asked only for candidates that do not.
GatewayCandidate choose_gateway(const std::vector<ProcInfo>& table, const GatewaySpec& spec,
                                const std::vector<pid_t>& port_listeners, int64_t now_wall_ms,
                                const ClaimsLookup& claims);

// Reads the process table (common/platform/). Keeps `previous` (pid and start time) while that process is
// still alive and named as the gateway: it was ours when it was chosen.
GatewayCandidate find_gateway(const GatewaySpec& spec, pid_t previous, uint64_t previous_start_ticks,
                              int64_t now_wall_ms);

// The claims of a live process, as the platform tells them (arguments,
// environment where readable, listening sockets).
GatewayClaims read_claims(const ProcInfo& process);

// A path as claims compare it: absolute, "." and ".." resolved, symlinks
// resolved as far as the path exists, no trailing slash.
std::string normal_path(const std::string& path);

}  // namespace gwr
