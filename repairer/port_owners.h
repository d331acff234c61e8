// Who still listens on the gateway port after the service was told to stop,
// and stopping them: SIGTERM, then SIGKILL after a grace. Only processes of
// the allowed user (the one gwr and the gateway run as) are touched; never
// pid 1, gwr itself or its supervisor. Every kill is reported with its
// pid and command line.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace gwr::repairer {

struct PortOwnerReport {
  std::vector<std::string> killed;   // "pid 123 (fake-gateway --port 1) SIGTERM"
  std::vector<std::string> refused;  // another user's process, or a protected one
  std::vector<std::string> failed;
  bool nothing_listening = false;
  bool ok() const { return failed.empty() && refused.empty(); }
  std::string summary() const;
};

PortOwnerReport kill_port_owners(uint16_t port, uid_t allowed_uid, const std::set<pid_t>& protect,
                                 std::chrono::milliseconds grace);
// The same for one pid, which must still be listening on the port.
PortOwnerReport kill_one_port_owner(uint16_t port, pid_t pid, uid_t allowed_uid, const std::set<pid_t>& protect,
                                    std::chrono::milliseconds grace);
// "pid 123 (cmdline)" for each listener.
std::vector<std::string> describe_port_owners(uint16_t port);

}  // namespace gwr::repairer
