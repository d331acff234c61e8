// What the kernel knows about processes and sockets, read from /proc (Linux).
// The prober uses it to find and measure the gateway; the repairer to find
// who holds the gateway's port and whether a lock's owner is alive.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gwr {

struct ProcInfo {
  pid_t pid = 0;
  pid_t ppid = 0;
  char state = '?';             // R S D Z T ...
  std::string comm;             // kernel name, at most 15 characters
  std::vector<std::string> argv;
  uint64_t start_ticks = 0;     // since boot, in clock ticks (field 22 of stat)
  uid_t uid = 0;
  uint64_t rss_kib = 0;
  uint64_t cpu_ticks = 0;       // utime + stime

  bool zombie() const { return state == 'Z' || state == 'X'; }
  // Wall-clock start time in ms since the epoch.
  int64_t start_wall_ms() const;
  std::string cmdline() const;  // argv joined by spaces
};

// Reads one process; nullopt when it does not exist.
std::optional<ProcInfo> read_proc(pid_t pid);
// Every pid currently in /proc.
std::vector<pid_t> list_pids();
// A process exists and is not a zombie.
bool process_alive(pid_t pid);

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

struct MemInfo {
  uint64_t total_kib = 0;
  uint64_t available_kib = 0;
};
MemInfo read_meminfo();
// The kernel's count of OOM kills since boot (/proc/vmstat oom_kill).
uint64_t oom_kill_count();

// Total RSS of pid's descendants.
uint64_t descendants_rss_kib(pid_t pid, const std::vector<ProcInfo>& table);
std::vector<ProcInfo> process_table();

// A file descriptor that becomes readable when pid exits (pidfd on Linux);
// -1 when the kernel cannot do it.
int open_pid_watch(pid_t pid);

}  // namespace gwr
