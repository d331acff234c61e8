// systemd's notify protocol, for the Linux build.
#include "common/platform/service.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace gwr {

ServiceNotifier::ServiceNotifier() {
  if (const char* s = std::getenv("NOTIFY_SOCKET"); s != nullptr && *s != '\0') socket_path_ = s;
  if (const char* w = std::getenv("WATCHDOG_USEC"); w != nullptr) {
    const long long usec = std::atoll(w);
    bool ours = true;
    if (const char* p = std::getenv("WATCHDOG_PID"); p != nullptr) ours = std::atoll(p) == ::getpid();
    if (usec > 0 && ours) watchdog_ms_ = usec / 1000;
  }
}

void ServiceNotifier::notify(const std::string& state) const {
  if (socket_path_.empty()) return;
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string path = socket_path_;
  socklen_t len = 0;
  if (path[0] == '@') {  // abstract namespace
    path[0] = '\0';
  }
  if (path.size() >= sizeof(addr.sun_path)) {
    ::close(fd);
    return;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  ssize_t ignored = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len);
  (void)ignored;
  ::close(fd);
}

}  // namespace gwr
