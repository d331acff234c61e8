#include "repairer/stale_lock_sweeper.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "common/platform/stat_time.h"
#include "common/text.h"

namespace gwr::repairer {

std::optional<LockOwner> lock_owner(const std::optional<ProcInfo>& process) {
  if (!process) return std::nullopt;
  return LockOwner{process->zombie(), process->start_wall_ms(), process->comm_text()};
}

std::string SweepReport::summary() const {
  std::string out;
  if (removed.empty()) {
    out = "no stale locks";
  } else {
    out = "removed " + std::to_string(removed.size()) + " stale lock(s)";
  }
  if (!kept.empty()) out += ", kept " + std::to_string(kept.size()) + " held by live owners";
  if (!skipped.empty()) out += ", skipped " + std::to_string(skipped.size()) + " (symlink or not a file)";
  if (!errors.empty()) out += ", " + std::to_string(errors.size()) + " error(s)";
  return out;
}

namespace {

std::vector<std::string> split(const std::string& glob) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : glob) {
    if (c == '/') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

struct Walker {
  const std::vector<std::string>& segments;
  int64_t grace_ms;
  int64_t now_ms;
  SweepReport& report;

  void walk(int dir_fd, size_t depth, const std::string& rel) {
    const int dup_fd = ::dup(dir_fd);
    if (dup_fd < 0) return;
    DIR* d = ::fdopendir(dup_fd);
    if (d == nullptr) {
      ::close(dup_fd);
      return;
    }
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      if (::fnmatch(segments[depth].c_str(), name.c_str(), FNM_PERIOD) == 0) names.push_back(name);
      if (names.size() > 100'000) break;
    }
    ::closedir(d);
    const bool last = depth + 1 == segments.size();
    for (const auto& name : names) {
      const std::string path = rel.empty() ? name : rel + "/" + name;
      struct stat st {};
      if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (S_ISLNK(st.st_mode)) {
        report.skipped.push_back(path + ": symlink, not followed");
        continue;
      }
      if (!last) {
        if (!S_ISDIR(st.st_mode)) continue;
        const int sub = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) continue;
        walk(sub, depth + 1, path);
        ::close(sub);
        continue;
      }
      if (!S_ISREG(st.st_mode)) {
        report.skipped.push_back(path + ": not a regular file");
        continue;
      }
      judge_and_remove(dir_fd, name, path, st);
    }
  }

  void judge_and_remove(int dir_fd, const std::string& name, const std::string& path, const struct stat& st) {
    std::string content;
    const int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0) {
      char buf[4096];
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) content.assign(buf, static_cast<size_t>(n));
      ::close(fd);
    }
    const int64_t mtime_ms = stat_mtime_ms(st);
    const auto verdict = judge_lock(content, mtime_ms, now_ms, grace_ms, [](pid_t pid) { return lock_owner(read_proc(pid)); });
    if (!verdict.stale) {
      report.kept.push_back(path + ": " + verdict.why);
      return;
    }
    // Re-check it is still the same regular file before unlinking.
    struct stat again {};
    if (::fstatat(dir_fd, name.c_str(), &again, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(again.st_mode) ||
        again.st_ino != st.st_ino) {
      report.skipped.push_back(path + ": changed while being inspected");
      return;
    }
    if (::unlinkat(dir_fd, name.c_str(), 0) != 0) {
      report.errors.push_back(path + ": " + std::strerror(errno));
      return;
    }
    report.removed.push_back(path + ": " + verdict.why);
  }
};

}  // namespace

SweepReport sweep_stale_locks(const std::string& state_dir, const std::vector<std::string>& globs,
                              int64_t unreadable_grace_ms, int64_t now_ms) {
  SweepReport report;
  std::vector<std::vector<std::string>> patterns;
  for (const auto& glob : globs) {
    const auto segments = split(glob);
    bool safe = !segments.empty() && glob[0] != '/';
    for (const auto& s : segments) safe &= s != ".." && s != "." && s.find("**") == std::string::npos;
    if (!safe) {
      report.errors.push_back(glob + ": refused (escapes the state dir)");
      continue;
    }
    patterns.push_back(segments);
  }
  const int root = ::open(state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) {
    if (errno != ENOENT) report.errors.push_back(state_dir + ": " + std::strerror(errno));
    return report;
  }
  for (const auto& segments : patterns) {
    Walker w{segments, unreadable_grace_ms, now_ms, report};
    w.walk(root, 0, "");
  }
  ::close(root);
  // File names are whatever bytes someone chose: the report carries them as text.
  for (auto* list : {&report.removed, &report.kept, &report.skipped, &report.errors}) {
    for (auto& line : *list) line = valid_utf8(line);
  }
  return report;
}

}  // namespace gwr::repairer
