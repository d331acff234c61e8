// What the system knows about processes and sockets: the platform seam.
// The prober uses it to find and measure the gateway; the repairer to find
// who holds the gateway's port and whether a lock's owner is alive.
//
// Two implementations, one per build (GWR_PLATFORM): linux.cpp reads /proc
// and holds processes by pidfd; posix.cpp (what macOS uses) asks ps and
// lsof through the command runner and polls. portable.cpp is shared. Nothing
// outside common/platform/ reads /proc or includes a Linux-only header.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gwr {

struct ProcInfo {
  pid_t pid = 0;
  pid_t ppid = 0;
  pid_t pgrp = 0;               // process group
  char state = '?';             // R S D Z T ...
  std::string comm;             // kernel name, at most 15 bytes, as the kernel has it (any bytes)
  std::vector<std::string> argv;  // as the kernel has it (any bytes)
  // When it started, as the platform stamps it: clock ticks since boot on
  // Linux (field 22 of stat), seconds since the epoch on POSIX (ps lstart).
  // Only compared for equality (identity) and turned into start_wall_ms().
  uint64_t start_ticks = 0;
  uid_t uid = 0;
  uint64_t rss_kib = 0;
  uint64_t cpu_ticks = 0;       // user + system, in cpu_ticks_per_second() units

  bool zombie() const { return state == 'Z' || state == 'X'; }
  // Wall-clock start time in ms since the epoch.
  int64_t start_wall_ms() const;
  // For messages: argv joined by spaces (at most max_bytes), and comm, both
  // valid UTF-8. Matching uses comm and argv themselves.
  std::string cmdline(size_t max_bytes = 4096) const;
  std::string comm_text() const;
};

// Reads one process; nullopt when it does not exist. (POSIX: when ps cannot
// run, what the last table said, if the pid still answers kill(pid, 0).)
std::optional<ProcInfo> read_proc(pid_t pid);
// Every pid currently running.
std::vector<pid_t> list_pids();
// A process exists and is not a zombie.
bool process_alive(pid_t pid);
// Every thread of pid is stopped (SIGSTOP has taken effect, not just been sent).
bool process_stopped(pid_t pid);

// Whether a process matches a name: its comm equals the name truncated to
// 15 characters, or the basename of argv[0] equals the name.
bool process_matches(const ProcInfo& p, const std::string& name);
// process_matches, or a script run by its interpreter under that name: argv[1]'s
// basename is the name ("node /usr/lib/node_modules/.bin/openclaw gateway run").
bool process_runs_script(const ProcInfo& p, const std::string& name);

// pids of processes with a TCP socket LISTENing on port (IPv4 or IPv6).
std::vector<pid_t> listening_pids(uint16_t port);
// Established TCP connections whose local port is port.
uint32_t established_connections(uint16_t port);

// 0 = not known (the POSIX build knows neither).
struct MemInfo {
  uint64_t total_kib = 0;
  uint64_t available_kib = 0;
};
MemInfo read_meminfo();
// The kernel's count of OOM kills since boot (Linux; 0 elsewhere).
uint64_t oom_kill_count();

// Total RSS of pid's descendants.
uint64_t descendants_rss_kib(pid_t pid, const std::vector<ProcInfo>& table);
std::vector<ProcInfo> process_table();

// A file descriptor that becomes readable when pid exits: a pidfd on Linux;
// on POSIX a pipe a watcher thread writes to once kill(pid, 0) fails or the
// process at pid is no longer the one watched. -1 when it cannot be watched.
int open_pid_watch(pid_t pid);
// Ends a watch open_pid_watch began.
void close_pid_watch(int fd);
// The unit of ProcInfo::cpu_ticks.
double cpu_ticks_per_second();

// The process's environment; nullopt when it cannot be read (gone, or
// another user's). Linux: the initial one (/proc/PID/environ); POSIX: what ps
// shows after the arguments, where a value's own spaces are kept only when
// the word after them does not look like NAME=.
std::optional<std::map<std::string, std::string>> read_environ(pid_t pid);
// The home directory of a user from the password database ("" if none).
std::string home_of_uid(uid_t uid);

// This boot's id (Linux: the kernel's boot_id; POSIX: when pid 1 started):
// a pid stored on disk is only meaningful within the boot it was recorded in.
std::string boot_id();

// Who a pid is: the pid, the start time that tells it from a later process
// that reuses the number, and the boot it was seen in.
struct ProcessIdentity {
  pid_t pid = 0;
  uint64_t start_ticks = 0;
  std::string boot_id;
};
// The identity of the live (non-zombie) process at pid now.
std::optional<ProcessIdentity> identify_process(pid_t pid);

// One process, held by identity (a pidfd on Linux, so the check and the
// signal cannot be split by a pid being reused; POSIX checks, then signals). Every signal gwr sends to a
// process it did not just spawn goes through one of these.
class ProcessHandle {
 public:
  // Opened only if the process at identity.pid is, once the handle is held,
  // still that identity (same start time, same boot, not a zombie).
  static std::optional<ProcessHandle> open(const ProcessIdentity& identity);
  ProcessHandle(ProcessHandle&& other) noexcept;
  ProcessHandle& operator=(ProcessHandle&& other) noexcept;
  ~ProcessHandle();
  ProcessHandle(const ProcessHandle&) = delete;
  ProcessHandle& operator=(const ProcessHandle&) = delete;

  pid_t pid() const { return identity_.pid; }
  const ProcessIdentity& identity() const { return identity_; }
  // Sends sig to this process only; false when it has exited.
  bool signal(int sig) const;
  // Waits up to timeout for it to exit; true when it has.
  bool wait_exit(std::chrono::milliseconds timeout) const;
  bool exited() const { return wait_exit(std::chrono::milliseconds(0)); }

 private:
  ProcessHandle(ProcessIdentity identity, int fd) : identity_(std::move(identity)), fd_(fd) {}
  ProcessIdentity identity_;
  int fd_ = -1;
};

// Whether pid has a TCP socket listening on port.
bool pid_listens_on(pid_t pid, uint16_t port);
// The TCP ports pid listens on (IPv4 or IPv6), sorted, without repeats.
std::vector<uint16_t> listening_ports(pid_t pid);
// Live processes in process group pgrp.
std::vector<pid_t> group_members(pid_t pgrp);

// Signals a process group that gwr started, by its leader's identity: only
// while the leader is still that process (so the group is still ours) are
// the leader and each member of its group signalled, each through a handle.
// Returns the pids signalled; empty when the leader is gone or is someone
// else now (a group without its leader cannot be told from a stranger's).
std::vector<pid_t> signal_group(const ProcessIdentity& leader, int sig);

}  // namespace gwr
