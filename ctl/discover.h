// `gwrctl discover`: what OpenClaw's own files say about the gateway gwr is to
// watch (port, state dir) and the other gateways on this host (profiles), as
// the lines gwr-service writes into a new config. Read-only: OpenClaw's files
// are never written. Issue #19.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/openclaw_config.h"

namespace gwr::ctl {

struct Discovery {
  std::string state_dir;            // OpenClaw's state dir for the default profile
  std::string config;               // its openclaw.json (OPENCLAW_CONFIG_PATH first)
  bool config_found = false;        // the file exists
  std::string config_error;         // it exists but could not be read (why)
  uint32_t port = 18789;
  std::string port_source;          // "OPENCLAW_GATEWAY_PORT", "gateway.port in <file>", "OpenClaw's default"
  std::vector<DiscoveredGateway> others;  // ~/.openclaw-<profile>/ with a config, sorted
  std::vector<std::string> notes;   // what could not be found, each with the key to set
};

// What a systemd unit's text says of the gateway's port: `--port N` or
// `--port=N` on its ExecStart (OpenClaw's first source), and
// OPENCLAW_GATEWAY_PORT in its Environment= (its second). 0: not said.
struct UnitPorts {
  uint32_t flag = 0;         // from the last ExecStart= line
  bool exec_start = false;   // the text has an ExecStart= line (an empty one resets it)
  uint32_t env = 0;
};
UnitPorts parse_unit_ports(const std::string& unit_text);

// From the environment gwr-service or gwrctl runs in (HOME, OPENCLAW_STATE_DIR,
// OPENCLAW_CONFIG_PATH, OPENCLAW_GATEWAY_PORT) and the files under HOME,
// OpenClaw's systemd user unit (openclaw-gateway.service and its drop-ins)
// included: what the gateway is started with wins over the config, as in
// OpenClaw's own precedence.
Discovery discover(const std::map<std::string, std::string>& env);

// The config lines for the discovered gateway: a `gateway:` block with port
// and state_dir, and comments naming the other gateways and what was not found.
std::string discovery_yaml(const Discovery& d);
nlohmann::json discovery_json(const Discovery& d);

}  // namespace gwr::ctl
