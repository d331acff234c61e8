// Finds the gateway process (the prober watches it, the repairer checks it):
// by name (comm or argv[0]), preferring the one that listens on the gateway
// port and skipping its own children (the real gateway has Node children that
// are not the gateway). Zombies are dead.
//
// While it starts, the real gateway is not yet called by its name: it is
// "node .../openclaw gateway run" for its first ~0.2 s, then sets its title to
// "openclaw" until its CLI has loaded (5-15 s), then renames itself
// "openclaw-gateway". A process with the launch name is taken for the gateway
// only when none has the real name, and only while it is younger than the
// launch window (the startup grace): a CLI that stays "openclaw" for longer
// is not the gateway.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/proc.h"

namespace gwr {

struct GatewaySpec {
  std::string match;         // gateway.process_match
  std::string launch_match;  // gateway.launch_match ("" = none)
  int64_t launch_window_ms = 0;
  uint16_t port = 0;
};

struct GatewayCandidate {
  bool found = false;
  bool launching = false;  // found under its launch name (still starting)
  pid_t pid = 0;
  int64_t start_wall_ms = 0;
  std::string detail;  // when not found: what was seen instead; when launching: what was found
};

// Pure choice among a process table (tested without /proc).
GatewayCandidate choose_gateway(const std::vector<ProcInfo>& table, const GatewaySpec& spec,
                                const std::vector<pid_t>& port_listeners, int64_t now_wall_ms);

// Reads /proc; keeps `previous` when it is still alive and still matches.
GatewayCandidate find_gateway(const GatewaySpec& spec, pid_t previous, int64_t now_wall_ms);

}  // namespace gwr
