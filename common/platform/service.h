// What a process asks of the platform about itself: telling its service
// manager it is ready (systemd's notify socket on Linux; launchd has none),
// where its own executable is, and dying with its parent. One seam with a
// Linux implementation (linux.cpp, notify_linux.cpp) and a POSIX one
// (posix.cpp) that macOS uses; the build picks one (GWR_PLATFORM).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace gwr {

// "linux" or "posix": which implementation this build carries.
const char* platform_name();

// sd_notify without libsystemd: a datagram to $NOTIFY_SOCKET. Disabled when
// not run by systemd (launchd, a terminal) and on the POSIX build.
class ServiceNotifier {
 public:
  ServiceNotifier();  // reads NOTIFY_SOCKET and WATCHDOG_USEC
  bool enabled() const { return !socket_path_.empty(); }
  // 0 when the service manager set no watchdog.
  int64_t watchdog_interval_ms() const { return watchdog_ms_; }
  void notify(const std::string& state) const;  // "READY=1", "STATUS=...", "WATCHDOG=1"

 private:
  std::string socket_path_;
  int64_t watchdog_ms_ = 0;
};

// The directory holding this executable (for spawning sibling binaries).
// argv0 is what main() was given: the POSIX build resolves it (against PATH
// when it has no slash) where the system cannot say.
std::string self_exe_dir(const char* argv0);

// In a forked child, before exec (async-signal-safe): ask to receive sig
// when the parent dies. Linux: PR_SET_PDEATHSIG, and false (the child should
// _exit) when the parent is already gone. POSIX has no such request: true,
// and long-lived children watch getppid() themselves (common/worker.cpp).
bool child_dies_with_parent(int sig, pid_t parent);
// In a forked child, before exec: closes every descriptor from lowest up
// (close_range on Linux; one by one up to the descriptor limit elsewhere).
void child_close_fds_from(int lowest);

}  // namespace gwr
