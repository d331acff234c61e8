// The Linux implementation of the platform seam: /proc, pidfd,
// PR_SET_PDEATHSIG, close_range. Compiled only when GWR_PLATFORM is linux.
#include "common/platform/proc.h"
#include "common/platform/service.h"

#include <dirent.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <thread>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_map>

#include "common/text.h"

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

// inode -> local port of every TCP socket (IPv4 and IPv6) in a state, from
// /proc/net/tcp{,6}.
std::map<uint64_t, uint16_t> tcp_sockets(int wanted_state) {
  std::map<uint64_t, uint16_t> out;
  for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream f(path);
    std::string line;
    std::getline(f, line);  // header
    while (std::getline(f, line)) {
      std::istringstream ss(line);
      std::string sl, local, remote, st, queues, tr, retr, uid, timeout, inode;
      if (!(ss >> sl >> local >> remote >> st >> queues >> tr >> retr >> uid >> timeout >> inode)) continue;
      const auto colon = local.rfind(':');
      if (colon == std::string::npos || static_cast<int>(std::stoul(st, nullptr, 16)) != wanted_state) continue;
      out[std::stoull(inode)] = static_cast<uint16_t>(std::stoul(local.substr(colon + 1), nullptr, 16));
    }
  }
  return out;
}

// Inodes of the sockets on port in a state.
std::set<uint64_t> socket_inodes(uint16_t port, int wanted_state) {
  std::set<uint64_t> out;
  for (const auto& [inode, local_port] : tcp_sockets(wanted_state)) {
    if (local_port == port) out.insert(inode);
  }
  return out;
}

// The inodes of the sockets pid has open.
std::vector<uint64_t> sockets_of(pid_t pid) {
  std::vector<uint64_t> out;
  const std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = ::opendir(fd_dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    if (!is_number(e->d_name)) continue;
    char target[64];
    const std::string link = fd_dir + "/" + e->d_name;
    const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    if (std::strncmp(target, "socket:[", 8) == 0) out.push_back(std::strtoull(target + 8, nullptr, 10));
  }
  ::closedir(d);
  return out;
}

constexpr int kTcpEstablished = 0x01;
constexpr int kTcpListen = 0x0A;

}  // namespace

int64_t ProcInfo::start_wall_ms() const {
  const long hz = ::sysconf(_SC_CLK_TCK);
  return boot_time_ms() + static_cast<int64_t>(start_ticks * 1000 / static_cast<uint64_t>(hz > 0 ? hz : 100));
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
  p.pgrp = static_cast<pid_t>(std::stol(f[2]));
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

bool process_stopped(pid_t pid) {
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(tasks.c_str());
  if (d == nullptr) return false;
  bool all = true;
  while (dirent* e = ::readdir(d)) {
    if (!is_number(e->d_name)) continue;
    const std::string stat = read_all(tasks + "/" + e->d_name + "/stat");
    const auto rp = stat.rfind(')');
    if (rp == std::string::npos || rp + 2 >= stat.size() || (stat[rp + 2] != 'T' && stat[rp + 2] != 't')) all = false;
  }
  ::closedir(d);
  return all;
}

bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  auto p = read_proc(pid);
  return p && !p->zombie();
}


namespace {

// Whether one of pid's open files is a socket among inodes.
bool holds_socket(pid_t pid, const std::set<uint64_t>& inodes) {
  const auto held = sockets_of(pid);
  return std::any_of(held.begin(), held.end(), [&](uint64_t inode) { return inodes.count(inode) > 0; });
}

}  // namespace

std::vector<pid_t> listening_pids(uint16_t port) {
  std::vector<pid_t> out;
  const auto inodes = socket_inodes(port, kTcpListen);
  if (inodes.empty()) return out;
  for (pid_t pid : list_pids()) {
    if (holds_socket(pid, inodes)) out.push_back(pid);
  }
  return out;
}

std::vector<uint16_t> listening_ports(pid_t pid) {
  const auto listening = tcp_sockets(kTcpListen);
  std::set<uint16_t> out;
  if (listening.empty()) return {};
  for (uint64_t inode : sockets_of(pid)) {
    if (auto it = listening.find(inode); it != listening.end()) out.insert(it->second);
  }
  return {out.begin(), out.end()};
}

bool pid_listens_on(pid_t pid, uint16_t port) {
  const auto inodes = socket_inodes(port, kTcpListen);
  return !inodes.empty() && holds_socket(pid, inodes);
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


int open_pid_watch(pid_t pid) {
#ifdef SYS_pidfd_open
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  return fd < 0 ? -1 : static_cast<int>(fd);
#else
  (void)pid;
  return -1;
#endif
}

void close_pid_watch(int fd) {
  if (fd >= 0) ::close(fd);
}

double cpu_ticks_per_second() {
  const long hz = ::sysconf(_SC_CLK_TCK);
  return static_cast<double>(hz > 0 ? hz : 100);
}

std::optional<std::map<std::string, std::string>> read_environ(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  if (!f.good() && !f.eof()) return std::nullopt;
  const std::string all = ss.str();
  std::map<std::string, std::string> env;
  size_t start = 0;
  while (start < all.size()) {
    size_t end = all.find('\0', start);
    if (end == std::string::npos) end = all.size();
    const std::string kv = all.substr(start, end - start);
    const auto eq = kv.find('=');
    if (eq != std::string::npos && eq > 0) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
    start = end + 1;
  }
  return env;
}


std::string boot_id() {
  static const std::string cached = [] {
    std::string id = read_all("/proc/sys/kernel/random/boot_id");
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    return id;
  }();
  return cached;
}

std::optional<ProcessIdentity> identify_process(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  const auto p = read_proc(pid);
  if (!p || p->zombie()) return std::nullopt;
  return ProcessIdentity{pid, p->start_ticks, boot_id()};
}

namespace {

bool same_process(const ProcessIdentity& want) {
  const auto now = identify_process(want.pid);
  return now && now->start_ticks == want.start_ticks && (want.boot_id.empty() || want.boot_id == now->boot_id);
}

}  // namespace

std::optional<ProcessHandle> ProcessHandle::open(const ProcessIdentity& identity) {
  if (identity.pid <= 0) return std::nullopt;
  if (!identity.boot_id.empty() && identity.boot_id != boot_id()) return std::nullopt;  // recorded in another boot
  int fd = -1;
#ifdef SYS_pidfd_open
  const long r = ::syscall(SYS_pidfd_open, identity.pid, 0);
  if (r < 0 && errno != ENOSYS) return std::nullopt;  // gone
  fd = r < 0 ? -1 : static_cast<int>(r);
#endif
  // Held (by fd) first, checked second: the pid cannot change hands in between.
  if (!same_process(identity)) {
    if (fd >= 0) ::close(fd);
    return std::nullopt;
  }
  return ProcessHandle(identity, fd);
}


bool ProcessHandle::signal(int sig) const {
#ifdef SYS_pidfd_send_signal
  if (fd_ >= 0) return ::syscall(SYS_pidfd_send_signal, fd_, sig, nullptr, 0) == 0;
#endif
  // No pidfd in this kernel: check, then signal (a window remains, but only
  // between two system calls).
  if (!same_process(identity_)) return false;
  return ::kill(identity_.pid, sig) == 0;
}

bool ProcessHandle::wait_exit(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (fd_ >= 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      const int rc = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
      if (rc > 0) return true;
      if (rc == 0) {
        // A pidfd turns readable when the process exits; a zombie that its
        // parent has not reaped yet counts as gone too.
        return !same_process(identity_);
      }
      if (errno != EINTR) return !same_process(identity_);
      continue;
    }
    if (!same_process(identity_)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}



const char* platform_name() { return "linux"; }

std::string self_exe_dir(const char* /*argv0*/) {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : p.parent_path().string();
}

bool child_dies_with_parent(int sig, pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, sig);
  return ::getppid() == parent;
}

void child_close_fds_from(int lowest) {
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, lowest, ~0U, 0) == 0) return;
#endif
  const long max = ::sysconf(_SC_OPEN_MAX);
  for (long fd = lowest; fd < (max > 0 ? max : 1024); ++fd) ::close(static_cast<int>(fd));
}

}  // namespace gwr
