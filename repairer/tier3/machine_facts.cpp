#include "repairer/tier3/machine_facts.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "common/clock.h"
#include "common/platform/proc.h"
#include "common/platform/stat_time.h"
#include "repairer/stale_lock_sweeper.h"

namespace gwr::tier3 {

MachineFacts::MachineFacts(const pb::Config& config)
    : port_(static_cast<uint16_t>(config.gateway().port())),
      state_dir_(config.gateway().state_dir()),
      globs_(config.repair().tier2().stale_lock_globs().begin(), config.repair().tier2().stale_lock_globs().end()),
      unreadable_grace_ms_(config.repair().tier2().unreadable_lock_grace()) {
  const char* h = std::getenv("HOME");
  home_ = h != nullptr ? h : "/root";
}

bool MachineFacts::is_port_owner(long pid) const {
  const auto owners = listening_pids(port_);
  if (std::find(owners.begin(), owners.end(), static_cast<pid_t>(pid)) == owners.end()) return false;
  const auto p = read_proc(static_cast<pid_t>(pid));
  return p && !p->zombie() && p->uid == ::geteuid() && pid != ::getpid() && pid != ::getppid();
}

ValidationFacts::Lock MachineFacts::lock(const std::string& relative_path) const {
  Lock out;
  int dir = ::open(state_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return out;
  std::string rest = relative_path;
  while (true) {
    const auto slash = rest.find('/');
    const std::string part = rest.substr(0, slash);
    if (part.empty() || part == "." || part == "..") break;
    struct stat st {};
    if (::fstatat(dir, part.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) break;
    if (slash == std::string::npos) {
      if (!S_ISREG(st.st_mode)) break;  // symlinks and others are not locks we touch
      std::string content;
      const int fd = ::openat(dir, part.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
      if (fd >= 0) {
        char buf[4096];
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) content.assign(buf, static_cast<size_t>(n));
        ::close(fd);
      }
      const int64_t mtime = stat_mtime_ms(st);
      const auto j = repairer::judge_lock(content, mtime, SystemClock::instance().wall_ms(), unreadable_grace_ms_,
                                          [](pid_t pid) { return repairer::lock_owner(read_proc(pid)); });
      out.exists = true;
      out.stale = j.stale;
      out.why = j.why;
      break;
    }
    if (!S_ISDIR(st.st_mode)) break;
    const int next = ::openat(dir, part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    ::close(dir);
    dir = next;
    if (dir < 0) return out;
    rest = rest.substr(slash + 1);
  }
  ::close(dir);
  return out;
}

}  // namespace gwr::tier3
