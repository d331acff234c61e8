// The parts of the process seam that are the same on every platform: names,
// matching, sums over a process table, and what a ProcessHandle does with
// the platform's open/signal/wait.
#include <pwd.h>
#include <unistd.h>

#include <set>
#include <unordered_map>

#include "common/platform/proc.h"
#include "common/text.h"

namespace gwr {

std::string ProcInfo::cmdline(size_t max_bytes) const {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    out += a;
    if (out.size() > max_bytes) break;
  }
  return valid_utf8(utf8_prefix(out, max_bytes));
}

std::string ProcInfo::comm_text() const { return valid_utf8(comm); }

bool process_matches(const ProcInfo& p, const std::string& name) {
  if (name.empty()) return false;
  if (p.comm == name.substr(0, 15)) return true;
  if (!p.argv.empty()) {
    std::string first = p.argv[0];
    // process.title-style argv[0] may carry the arguments in one string.
    const auto space = first.find(' ');
    if (space != std::string::npos) first = first.substr(0, space);
    const auto slash = first.rfind('/');
    if ((slash == std::string::npos ? first : first.substr(slash + 1)) == name) return true;
  }
  return false;
}

bool process_runs_script(const ProcInfo& p, const std::string& name) {
  if (process_matches(p, name)) return true;
  if (name.empty() || p.argv.size() < 2) return false;
  const std::string& script = p.argv[1];
  const auto slash = script.rfind('/');
  return (slash == std::string::npos ? script : script.substr(slash + 1)) == name;
}

uint64_t descendants_rss_kib(pid_t pid, const std::vector<ProcInfo>& table) {
  std::unordered_map<pid_t, std::vector<const ProcInfo*>> children;
  for (const auto& p : table) children[p.ppid].push_back(&p);
  uint64_t total = 0;
  std::vector<pid_t> stack = {pid};
  std::set<pid_t> seen;
  while (!stack.empty()) {
    const pid_t cur = stack.back();
    stack.pop_back();
    for (const ProcInfo* c : children[cur]) {
      if (!seen.insert(c->pid).second) continue;
      total += c->rss_kib;
      stack.push_back(c->pid);
    }
  }
  return total;
}

std::string home_of_uid(uid_t uid) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  char buf[4096];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &found) != 0 || found == nullptr || pw.pw_dir == nullptr) return "";
  return pw.pw_dir;
}

ProcessHandle::ProcessHandle(ProcessHandle&& other) noexcept : identity_(std::move(other.identity_)), fd_(other.fd_) {
  other.fd_ = -1;
}

ProcessHandle& ProcessHandle::operator=(ProcessHandle&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    identity_ = std::move(other.identity_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

ProcessHandle::~ProcessHandle() {
  if (fd_ >= 0) ::close(fd_);
}

std::vector<pid_t> signal_group(const ProcessIdentity& leader, int sig) {
  std::vector<pid_t> out;
  auto head = ProcessHandle::open(leader);
  if (!head) return out;
  std::vector<ProcessHandle> members;
  // Group 1 is init's: never signalled as a member (group_members agrees).
  for (const auto& row : leader.pid > 1 ? process_table() : std::vector<ProcInfo>{}) {
    if (row.pid == leader.pid || row.pgrp != leader.pid || row.zombie()) continue;
    // Held as the process the table saw, then asked again: still in the group.
    auto h = ProcessHandle::open({row.pid, row.start_ticks, boot_id()});
    const auto p = read_proc(row.pid);
    if (h && p && p->pgrp == leader.pid) members.push_back(std::move(*h));
  }
  // Still the leader we recorded: the members held above are of its group.
  if (head->exited()) return out;
  if (head->signal(sig)) out.push_back(head->pid());
  for (const auto& h : members) {
    if (h.signal(sig)) out.push_back(h.pid());
  }
  return out;
}

std::vector<pid_t> group_members(pid_t pgrp) {
  std::vector<pid_t> out;
  if (pgrp <= 1) return out;
  for (const auto& p : process_table()) {
    if (!p.zombie() && p.pgrp == pgrp) out.push_back(p.pid);
  }
  return out;
}

}  // namespace gwr
