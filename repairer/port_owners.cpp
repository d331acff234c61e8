#include "repairer/port_owners.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "common/log.h"
#include "common/platform/proc.h"

namespace gwr::repairer {

using namespace std::chrono_literals;

std::string PortOwnerReport::summary() const {
  if (nothing_listening) return "nothing was listening on the port";
  std::string out;
  auto add = [&](const std::string& label, const std::vector<std::string>& items) {
    for (const auto& i : items) out += (out.empty() ? "" : "; ") + label + " " + i;
  };
  add("stopped", killed);
  add("refused to touch", refused);
  add("could not stop", failed);
  return out;
}

bool wait_exit_unless(const ProcessHandle& handle, std::chrono::milliseconds timeout,
                      const std::function<bool()>& cancelled) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!handle.exited() && !(cancelled && cancelled())) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    (void)handle.wait_exit(std::min<std::chrono::milliseconds>(200ms, left));
  }
  return handle.exited();
}

namespace {

// Stops a process whose identity is held: SIGTERM and SIGCONT, the grace,
// then SIGKILL once the hooks allow it. Returns how it ended.
void terminate(const ProcessHandle& handle, const ProcInfo& info, const std::string& who, const std::string& where,
               std::chrono::milliseconds grace, const KillHooks& hooks, PortOwnerReport& report) {
  const pid_t pid = handle.pid();
  log::warn("port_owner_kill", {{"target_pid", pid}, {"signal", "SIGTERM"}, {"cmdline", info.cmdline()}, {"where", where}});
  handle.signal(SIGTERM);
  handle.signal(SIGCONT);
  std::string how = "SIGTERM";
  if (!handle.wait_exit(grace)) {
    const KillDelay delay = hooks.before_sigkill ? hooks.before_sigkill(pid, info.start_wall_ms()) : KillDelay{};
    if (delay.wait.count() > 0) {
      log::warn("port_owner_kill_deferred",
                {{"target_pid", pid}, {"wait_ms", delay.wait.count()}, {"reason", delay.why}, {"where", where}});
      if (wait_exit_unless(handle, delay.wait, hooks.cancelled)) {
        how = "SIGTERM (it exited while gwr waited: " + delay.why + ")";
      }
    }
    if (!handle.exited()) {
      log::warn("port_owner_kill", {{"target_pid", pid}, {"signal", "SIGKILL"}, {"cmdline", info.cmdline()}, {"where", where}});
      handle.signal(SIGKILL);
      how = delay.wait.count() > 0 ? "SIGKILL after waiting " + std::to_string(delay.wait.count() / 1000) +
                                         " s more (" + delay.why + ")"
                                   : "SIGKILL";
      (void)handle.wait_exit(1s);
      if (handle.exited() && hooks.after_sigkill) hooks.after_sigkill(pid, info.start_wall_ms());
    }
  }
  if (!handle.exited()) {
    report.failed.push_back(who + ": still alive after SIGKILL");
  } else {
    report.killed.push_back(who + " with " + how);
  }
}

// The checks every stop makes: alive, not protected, the allowed user's.
std::optional<ProcInfo> stoppable(pid_t pid, uid_t allowed_uid, const std::set<pid_t>& protect, const std::string& where,
                                  PortOwnerReport& report) {
  auto info = read_proc(pid);
  if (!info || info->zombie()) return std::nullopt;
  const std::string who = "pid " + std::to_string(pid) + " (" + info->cmdline(200) + ")";
  if (pid <= 1 || protect.count(pid)) {
    report.refused.push_back(who + ": protected");
    log::warn("port_owner_protected", {{"target_pid", pid}, {"cmdline", info->cmdline()}, {"where", where}});
    return std::nullopt;
  }
  if (info->uid != allowed_uid) {
    report.refused.push_back(who + ": belongs to uid " + std::to_string(info->uid));
    log::warn("port_owner_other_user",
              {{"target_pid", pid}, {"uid", info->uid}, {"cmdline", info->cmdline()}, {"where", where}});
    return std::nullopt;
  }
  return info;
}

void stop_one(pid_t pid, uint16_t port, uid_t allowed_uid, const std::set<pid_t>& protect,
              std::chrono::milliseconds grace, const KillHooks& hooks, PortOwnerReport& report) {
  const std::string where = "port " + std::to_string(port);
  const auto info = stoppable(pid, allowed_uid, protect, where, report);
  if (!info) return;
  const std::string who = "pid " + std::to_string(pid) + " (" + info->cmdline(200) + ")";
  // From here on the process is held by identity: if it exits during the
  // grace and its pid is reused, the SIGKILL cannot reach the newcomer.
  const auto handle = ProcessHandle::open({pid, info->start_ticks, ""});
  if (!handle) return;  // gone (or replaced) since it was listed
  if (!pid_listens_on(pid, port)) {
    report.refused.push_back(who + ": no longer listens on port " + std::to_string(port));
    return;
  }
  terminate(*handle, *info, who, where, grace, hooks, report);
}

}  // namespace

PortOwnerReport kill_port_owners(uint16_t port, uid_t allowed_uid, const std::set<pid_t>& protect,
                                 std::chrono::milliseconds grace, const KillHooks& hooks) {
  PortOwnerReport report;
  const auto pids = listening_pids(port);
  if (pids.empty()) {
    report.nothing_listening = true;
    return report;
  }
  for (pid_t pid : pids) stop_one(pid, port, allowed_uid, protect, grace, hooks, report);
  return report;
}

PortOwnerReport kill_one_port_owner(uint16_t port, pid_t pid, uid_t allowed_uid, const std::set<pid_t>& protect,
                                    std::chrono::milliseconds grace, const KillHooks& hooks) {
  PortOwnerReport report;
  const auto pids = listening_pids(port);
  if (std::find(pids.begin(), pids.end(), pid) == pids.end()) {
    // Checked again now: the model's pid may have gone or changed hands.
    report.refused.push_back("pid " + std::to_string(pid) + ": no longer listening on port " + std::to_string(port));
    return report;
  }
  stop_one(pid, port, allowed_uid, protect, grace, hooks, report);
  return report;
}

PortOwnerReport stop_process(pid_t pid, uint64_t start_ticks, uid_t allowed_uid, const std::set<pid_t>& protect,
                             std::chrono::milliseconds grace, const KillHooks& hooks) {
  PortOwnerReport report;
  const std::string where = "lingering gateway";
  const auto info = stoppable(pid, allowed_uid, protect, where, report);
  if (!info || info->start_ticks != start_ticks) return report;
  const auto handle = ProcessHandle::open({pid, start_ticks, ""});
  if (!handle) return report;
  terminate(*handle, *info, "pid " + std::to_string(pid) + " (" + info->cmdline(200) + ")", where, grace, hooks, report);
  return report;
}

std::vector<std::string> describe_port_owners(uint16_t port) {
  std::vector<std::string> out;
  for (pid_t pid : listening_pids(port)) {
    auto info = read_proc(pid);
    out.push_back("pid " + std::to_string(pid) + (info ? " (" + info->cmdline(200) + ")" : ""));
  }
  return out;
}

}  // namespace gwr::repairer
