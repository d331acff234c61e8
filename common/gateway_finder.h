// Finds the gateway process (the prober watches it, the repairer checks it):
// by name (comm or argv[0]), preferring the one that listens on the gateway
// port and skipping its own children (the real gateway has Node children that
// are not the gateway). Zombies are dead.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/proc.h"

namespace gwr {

struct GatewayCandidate {
  bool found = false;
  pid_t pid = 0;
  int64_t start_wall_ms = 0;
  std::string detail;  // when not found: what was seen instead
};

// Pure choice among a process table (tested without /proc).
GatewayCandidate choose_gateway(const std::vector<ProcInfo>& table, const std::string& match,
                                const std::vector<pid_t>& port_listeners, uint16_t port);

// Reads /proc; keeps `previous` when it is still alive and still matches.
GatewayCandidate find_gateway(const std::string& match, uint16_t port, pid_t previous);

}  // namespace gwr
