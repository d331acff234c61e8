#include "common/proc.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_map>

namespace gwr {

namespace {

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return {};
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int64_t boot_time_ms() {
  static int64_t cached = [] {
    std::ifstream f("/proc/stat");
    std::string line;
    while (std::getline(f, line)) {
      if (line.rfind("btime ", 0) == 0) return static_cast<int64_t>(std::stoll(line.substr(6))) * 1000;
    }
    return int64_t{0};
  }();
  return cached;
}

bool is_number(const char* s) {
  if (*s == '\0') return false;
  for (; *s; ++s) {
    if (!std::isdigit(static_cast<unsigned char>(*s))) return false;
  }
  return true;
}

// Socket inodes from /proc/net/tcp{,6} rows matching a predicate.
std::set<uint64_t> socket_inodes(uint16_t port, int wanted_state) {
  std::set<uint64_t> out;
  for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream f(path);
    std::string line;
    std::getline(f, line);  // header
    while (std::getline(f, line)) {
      std::istringstream ss(line);
      std::string sl, local, remote, st, queues, tr, retr, uid, timeout, inode;
      if (!(ss >> sl >> local >> remote >> st >> queues >> tr >> retr >> uid >> timeout >> inode)) continue;
      const auto colon = local.rfind(':');
      if (colon == std::string::npos) continue;
      const unsigned long lport = std::stoul(local.substr(colon + 1), nullptr, 16);
      const int state = static_cast<int>(std::stoul(st, nullptr, 16));
      if (lport == port && state == wanted_state) out.insert(std::stoull(inode));
    }
  }
  return out;
}

constexpr int kTcpEstablished = 0x01;
constexpr int kTcpListen = 0x0A;

}  // namespace

int64_t ProcInfo::start_wall_ms() const {
  const long hz = ::sysconf(_SC_CLK_TCK);
  return boot_time_ms() + static_cast<int64_t>(start_ticks * 1000 / static_cast<uint64_t>(hz > 0 ? hz : 100));
}

std::string ProcInfo::cmdline() const {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    out += a;
  }
  return out;
}

std::optional<ProcInfo> read_proc(pid_t pid) {
  const std::string base = "/proc/" + std::to_string(pid);
  const std::string stat = read_all(base + "/stat");
  if (stat.empty()) return std::nullopt;
  ProcInfo p;
  p.pid = pid;
  const auto lp = stat.find('(');
  const auto rp = stat.rfind(')');
  if (lp == std::string::npos || rp == std::string::npos || rp + 2 >= stat.size()) return std::nullopt;
  p.comm = stat.substr(lp + 1, rp - lp - 1);
  std::istringstream ss(stat.substr(rp + 2));
  std::vector<std::string> f;
  std::string tok;
  while (ss >> tok) f.push_back(tok);
  // f[0] is field 3 (state).
  if (f.size() < 20) return std::nullopt;
  p.state = f[0][0];
  p.ppid = static_cast<pid_t>(std::stol(f[1]));
  p.cpu_ticks = std::stoull(f[11]) + std::stoull(f[12]);
  p.start_ticks = std::stoull(f[19]);
  const std::string cmd = read_all(base + "/cmdline");
  size_t start = 0;
  for (size_t i = 0; i < cmd.size(); ++i) {
    if (cmd[i] == '\0') {
      p.argv.push_back(cmd.substr(start, i - start));
      start = i + 1;
    }
  }
  if (start < cmd.size()) p.argv.push_back(cmd.substr(start));
  std::ifstream status(base + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Uid:", 0) == 0) {
      std::istringstream us(line.substr(4));
      unsigned long real = 0;
      us >> real;
      p.uid = static_cast<uid_t>(real);
    } else if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream rs(line.substr(6));
      rs >> p.rss_kib;
    }
  }
  return p;
}

std::vector<pid_t> list_pids() {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    if (is_number(e->d_name)) out.push_back(static_cast<pid_t>(std::atol(e->d_name)));
  }
  ::closedir(d);
  return out;
}

bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  auto p = read_proc(pid);
  return p && !p->zombie();
}

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

std::vector<pid_t> listening_pids(uint16_t port) {
  std::vector<pid_t> out;
  const auto inodes = socket_inodes(port, kTcpListen);
  if (inodes.empty()) return out;
  for (pid_t pid : list_pids()) {
    const std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* d = ::opendir(fd_dir.c_str());
    if (d == nullptr) continue;
    bool found = false;
    while (dirent* e = ::readdir(d)) {
      if (!is_number(e->d_name)) continue;
      char target[64];
      const std::string link = fd_dir + "/" + e->d_name;
      const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
      if (n <= 0) continue;
      target[n] = '\0';
      if (std::strncmp(target, "socket:[", 8) != 0) continue;
      const uint64_t inode = std::strtoull(target + 8, nullptr, 10);
      if (inodes.count(inode)) {
        found = true;
        break;
      }
    }
    ::closedir(d);
    if (found) out.push_back(pid);
  }
  return out;
}

uint32_t established_connections(uint16_t port) {
  return static_cast<uint32_t>(socket_inodes(port, kTcpEstablished).size());
}

MemInfo read_meminfo() {
  MemInfo m;
  std::ifstream f("/proc/meminfo");
  std::string key;
  uint64_t value = 0;
  std::string unit;
  while (f >> key >> value) {
    std::getline(f, unit);
    if (key == "MemTotal:") m.total_kib = value;
    if (key == "MemAvailable:") m.available_kib = value;
  }
  return m;
}

uint64_t oom_kill_count() {
  std::ifstream f("/proc/vmstat");
  std::string key;
  uint64_t value = 0;
  while (f >> key >> value) {
    if (key == "oom_kill") return value;
  }
  return 0;
}

std::vector<ProcInfo> process_table() {
  std::vector<ProcInfo> out;
  for (pid_t pid : list_pids()) {
    if (auto p = read_proc(pid)) out.push_back(std::move(*p));
  }
  return out;
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

int open_pid_watch(pid_t pid) {
#if defined(__linux__) && defined(SYS_pidfd_open)
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  return fd < 0 ? -1 : static_cast<int>(fd);
#else
  (void)pid;
  return -1;
#endif
}

}  // namespace gwr
