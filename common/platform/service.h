// sd_notify without libsystemd: a datagram to $NOTIFY_SOCKET. A no-op when
// not run by systemd (launchd, a terminal).
#pragma once

#include <cstdint>
#include <string>

namespace gwr {

class SdNotifier {
 public:
  SdNotifier();  // reads NOTIFY_SOCKET and WATCHDOG_USEC
  bool enabled() const { return !socket_path_.empty(); }
  // 0 when systemd set no watchdog.
  int64_t watchdog_interval_ms() const { return watchdog_ms_; }
  void notify(const std::string& state) const;  // "READY=1", "STATUS=...", "WATCHDOG=1"

 private:
  std::string socket_path_;
  int64_t watchdog_ms_ = 0;
};

}  // namespace gwr
