// Who still listens on the gateway port after the service was told to stop,
// and stopping them: SIGTERM (and SIGCONT, as systemd does, so a stopped
// process can act on it), then SIGKILL after a grace — unless the hooks say
// to keep waiting for it to exit by itself first (a SIGKILL that would be
// OpenClaw's third unclean boot in its crash-loop window). Only processes of
// the allowed user (the one gwr and the gateway run as) are touched; never
// pid 1, gwr itself or its supervisor. Every kill is reported with its
// pid and command line.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "common/platform/proc.h"

namespace gwr::repairer {

// Asked before a SIGKILL: how much longer to wait for the process to exit by
// itself (0: kill now), and why; told after one was sent.
struct KillDelay {
  std::chrono::milliseconds wait{0};
  std::string why;
};
struct KillHooks {
  std::function<KillDelay(pid_t pid, int64_t start_wall_ms)> before_sigkill;
  std::function<void(pid_t pid, int64_t start_wall_ms)> after_sigkill;
  std::function<bool()> cancelled;  // ends a wait early (the SIGKILL is then sent)
};

struct PortOwnerReport {
  std::vector<std::string> killed;   // "pid 123 (fake-gateway --port 1) SIGTERM"
  std::vector<std::string> refused;  // another user's process, or a protected one
  std::vector<std::string> failed;
  bool nothing_listening = false;
  bool ok() const { return failed.empty() && refused.empty(); }
  std::string summary() const;
};

// Waits up to timeout for the process to exit, in short slices so that
// `cancelled` (if set) ends the wait early. True when it has exited.
bool wait_exit_unless(const ProcessHandle& handle, std::chrono::milliseconds timeout,
                      const std::function<bool()>& cancelled);

PortOwnerReport kill_port_owners(uint16_t port, uid_t allowed_uid, const std::set<pid_t>& protect,
                                 std::chrono::milliseconds grace, const KillHooks& hooks = {});
// The same for one pid, which must still be listening on the port.
PortOwnerReport kill_one_port_owner(uint16_t port, pid_t pid, uid_t allowed_uid, const std::set<pid_t>& protect,
                                    std::chrono::milliseconds grace, const KillHooks& hooks = {});
// Stops one process held by identity (no port condition): SIGTERM + SIGCONT,
// `grace`, the hooks, SIGKILL. "pid N (cmdline) with SIGTERM|SIGKILL ...".
// For a gateway that closed its port after the stop but lingers.
PortOwnerReport stop_process(pid_t pid, uint64_t start_ticks, uid_t allowed_uid, const std::set<pid_t>& protect,
                             std::chrono::milliseconds grace, const KillHooks& hooks = {});
// "pid 123 (cmdline)" for each listener.
std::vector<std::string> describe_port_owners(uint16_t port);

}  // namespace gwr::repairer
