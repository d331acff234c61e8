// A file's modification time from struct stat. POSIX.1-2008 names the field
// st_mtim (Linux); macOS has it as st_mtimespec.
#pragma once

#include <sys/stat.h>

#include <cstdint>

namespace gwr {

// Milliseconds since the epoch, cut toward zero as the seconds and the
// nanoseconds are each.
inline int64_t stat_mtime_ms(const struct stat& st) {
#ifdef __APPLE__
  const struct timespec& t = st.st_mtimespec;
#else
  const struct timespec& t = st.st_mtim;
#endif
  return static_cast<int64_t>(t.tv_sec) * 1000 + t.tv_nsec / 1'000'000;
}

}  // namespace gwr
