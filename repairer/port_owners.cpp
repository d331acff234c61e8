#include "repairer/port_owners.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include "common/log.h"
#include "common/proc.h"

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

namespace {

void stop_one(pid_t pid, uint16_t port, uid_t allowed_uid, const std::set<pid_t>& protect,
              std::chrono::milliseconds grace, PortOwnerReport& report) {
  auto info = read_proc(pid);
  if (!info || info->zombie()) return;
  const std::string who = "pid " + std::to_string(pid) + " (" + info->cmdline(200) + ")";
  if (pid <= 1 || protect.count(pid)) {
    report.refused.push_back(who + ": protected");
    log::warn("port_owner_protected", {{"target_pid", pid}, {"cmdline", info->cmdline()}, {"port", port}});
    return;
  }
  if (info->uid != allowed_uid) {
    report.refused.push_back(who + ": belongs to uid " + std::to_string(info->uid));
    log::warn("port_owner_other_user",
              {{"target_pid", pid}, {"uid", info->uid}, {"cmdline", info->cmdline()}, {"port", port}});
    return;
  }
  // From here on the process is held by identity: if it exits during the
  // grace and its pid is reused, the SIGKILL cannot reach the newcomer.
  const auto handle = ProcessHandle::open({pid, info->start_ticks, ""});
  if (!handle) return;  // gone (or replaced) since it was listed
  if (!pid_listens_on(pid, port)) {
    report.refused.push_back(who + ": no longer listens on port " + std::to_string(port));
    return;
  }
  log::warn("port_owner_kill", {{"target_pid", pid}, {"signal", "SIGTERM"}, {"cmdline", info->cmdline()}, {"port", port}});
  handle->signal(SIGTERM);
  std::string how = "SIGTERM";
  if (!handle->wait_exit(grace)) {
    log::warn("port_owner_kill", {{"target_pid", pid}, {"signal", "SIGKILL"}, {"cmdline", info->cmdline()}, {"port", port}});
    handle->signal(SIGKILL);
    how = "SIGKILL";
    (void)handle->wait_exit(1s);
  }
  if (!handle->exited()) {
    report.failed.push_back(who + ": still alive after SIGKILL");
  } else {
    report.killed.push_back(who + " with " + how);
  }
}

}  // namespace

PortOwnerReport kill_port_owners(uint16_t port, uid_t allowed_uid, const std::set<pid_t>& protect,
                                 std::chrono::milliseconds grace) {
  PortOwnerReport report;
  const auto pids = listening_pids(port);
  if (pids.empty()) {
    report.nothing_listening = true;
    return report;
  }
  for (pid_t pid : pids) stop_one(pid, port, allowed_uid, protect, grace, report);
  return report;
}

PortOwnerReport kill_one_port_owner(uint16_t port, pid_t pid, uid_t allowed_uid, const std::set<pid_t>& protect,
                                    std::chrono::milliseconds grace) {
  PortOwnerReport report;
  const auto pids = listening_pids(port);
  if (std::find(pids.begin(), pids.end(), pid) == pids.end()) {
    // Checked again now: the model's pid may have gone or changed hands.
    report.refused.push_back("pid " + std::to_string(pid) + ": no longer listening on port " + std::to_string(port));
    return report;
  }
  stop_one(pid, port, allowed_uid, protect, grace, report);
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
