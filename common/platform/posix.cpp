// The POSIX implementation of the platform seam, the one macOS uses: the
// process table from ps, sockets from lsof, both run through the command
// runner (argv, a deadline, no shell) and read by the pure parsers in
// ps_lsof.cpp; exits seen by polling kill(pid, 0) with an identity check;
// no service-manager notify. Compiled only when GWR_PLATFORM is posix.
//
// A tool that cannot run (fork refused, a hung lsof) never reads as "the
// gateway is gone": the process table falls back to the last one ps gave,
// less what kill(pid, 0) says has exited, and the failure is logged.
#include <signal.h>
#include <unistd.h>
#ifdef __APPLE__
#include <mach-o/dyld.h>
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/log.h"
#include "common/platform/proc.h"
#include "common/platform/ps_lsof.h"
#include "common/platform/service.h"
#include "common/process.h"

extern char** environ;

namespace gwr {

namespace {

using namespace std::chrono_literals;

std::map<std::string, std::string> c_locale_env() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string kv = *e;
    const auto eq = kv.find('=');
    if (eq != std::string::npos && eq > 0) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  // Month and day names, and numbers, as the parsers read them.
  env["LC_ALL"] = "C";
  env["LANG"] = "C";
  return env;
}

struct ToolRun {
  bool ran = false;  // finished in time, whole; exit 0, or 1 with nothing found
  std::string out;
};

std::mutex g_log_mu;
std::map<std::string, std::chrono::steady_clock::time_point> g_last_logged;

void tool_failed(const std::string& tool, const CommandResult& r) {
  // Once a minute per tool: a broken ps would otherwise fill the log.
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(g_log_mu);
    auto& last = g_last_logged[tool];
    if (last != std::chrono::steady_clock::time_point{} && now - last < 60s) return;
    last = now;
  }
  log::warn("platform_tool_failed",
            {{"tool", tool}, {"outcome", r.truncated ? "output too large" : r.describe()}, {"error", r.error}});
}

ToolRun run_tool(std::vector<std::string> argv) {
  static const auto env = c_locale_env();
  RealCommandRunner runner;
  CommandSpec spec;
  spec.argv = std::move(argv);
  spec.timeout = 5s;
  spec.env = env;
  spec.max_output = 32 * 1024 * 1024;
  const auto r = runner.run(spec);
  ToolRun out;
  // ps -p and lsof both exit 1 when nothing matched (and say nothing).
  out.ran = r.started && !r.timed_out && !r.truncated && (r.exit_code == 0 || (r.exit_code == 1 && r.output.empty()));
  if (!out.ran) {
    tool_failed(spec.argv[0], r);
    return out;
  }
  out.out = r.output;
  return out;
}

bool pid_exists(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

// The last whole table ps gave: what a failed ps falls back to.
std::mutex g_table_mu;
std::vector<ProcInfo> g_last_table;

std::vector<ProcInfo> fallback_table() {
  std::vector<ProcInfo> out;
  {
    std::lock_guard<std::mutex> lock(g_table_mu);
    out = g_last_table;
  }
  out.erase(std::remove_if(out.begin(), out.end(), [](const ProcInfo& p) { return !pid_exists(p.pid); }), out.end());
  return out;
}

std::vector<std::string> lsof_argv(std::vector<std::string> selection) {
  std::vector<std::string> argv = {"lsof", "-nP", "-w"};
  argv.insert(argv.end(), selection.begin(), selection.end());
  return argv;
}

bool same_process(const ProcessIdentity& want) {
  if (!pid_exists(want.pid)) return false;
  const auto now = identify_process(want.pid);
  return now && now->start_ticks == want.start_ticks && (want.boot_id.empty() || want.boot_id == now->boot_id);
}

// One exit watch: a thread that polls the pid and writes to a pipe once it
// has exited or is no longer the process that was watched.
struct ExitWatch {
  ProcessIdentity who;
  int read_fd = -1;
  int write_fd = -1;
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::thread thread;
};

std::mutex g_watch_mu;
std::map<int, std::unique_ptr<ExitWatch>> g_watches;

void watch_loop(ExitWatch* w) {
  int rounds = 0;
  std::unique_lock<std::mutex> lock(w->mu);
  while (!w->stop) {
    // kill(pid, 0) every 100 ms is nearly free; who it is (a zombie, a
    // reused pid) takes a ps, so every 2 s.
    w->cv.wait_for(lock, 100ms, [&] { return w->stop; });
    if (w->stop) break;
    lock.unlock();
    const bool gone = !pid_exists(w->who.pid) || (++rounds % 20 == 0 && !same_process(w->who));
    lock.lock();
    if (gone) {
      const char b = 'x';
      ssize_t ignored = ::write(w->write_fd, &b, 1);
      (void)ignored;
      break;
    }
  }
}

}  // namespace

const char* platform_name() { return "posix"; }

// ps gives the start to the second: the latest it may have been, so that a
// startup grace is never cut short (it may run up to a second long).
int64_t ProcInfo::start_wall_ms() const { return static_cast<int64_t>(start_ticks) * 1000 + 999; }

double cpu_ticks_per_second() { return 100.0; }

std::vector<ProcInfo> process_table() {
  const auto run = run_tool(ps_argv());
  if (!run.ran) return fallback_table();
  size_t skipped = 0;
  auto table = parse_ps_table(run.out, &skipped);
  if (table.empty()) return fallback_table();  // ps always lists itself: nothing read is a failure
  if (skipped > 0) log::debug("ps_rows_skipped", {{"skipped", skipped}, {"read", table.size()}});
  std::lock_guard<std::mutex> lock(g_table_mu);
  g_last_table = table;
  return table;
}

std::optional<ProcInfo> read_proc(pid_t pid) {
  if (pid <= 0 || !pid_exists(pid)) return std::nullopt;
  auto argv = ps_argv();
  argv.erase(std::find(argv.begin(), argv.end(), "-A"));
  argv.push_back("-p");
  argv.push_back(std::to_string(pid));
  const auto run = run_tool(argv);
  if (run.ran) {
    for (auto& p : parse_ps_table(run.out)) {
      if (p.pid == pid) return std::move(p);
    }
    return std::nullopt;
  }
  for (auto& p : fallback_table()) {
    if (p.pid == pid) return std::move(p);
  }
  return std::nullopt;
}

std::vector<pid_t> list_pids() {
  std::vector<pid_t> out;
  for (const auto& p : process_table()) out.push_back(p.pid);
  return out;
}

bool process_alive(pid_t pid) {
  if (!pid_exists(pid)) return false;
  const auto p = read_proc(pid);
  return p && !p->zombie();
}

bool process_stopped(pid_t pid) {
  const auto p = read_proc(pid);
  return p && (p->state == 'T' || p->state == 't');
}

std::vector<pid_t> listening_pids(uint16_t port) {
  const auto run = run_tool(lsof_argv({"-iTCP:" + std::to_string(port), "-sTCP:LISTEN", "-Fp"}));
  return run.ran ? parse_lsof_pids(run.out) : std::vector<pid_t>{};
}

std::vector<uint16_t> listening_ports(pid_t pid) {
  if (pid <= 0) return {};
  const auto run = run_tool(lsof_argv({"-a", "-p", std::to_string(pid), "-iTCP", "-sTCP:LISTEN", "-Fn"}));
  std::set<uint16_t> out;
  if (run.ran) {
    for (const auto& name : parse_lsof_names(run.out)) {
      if (auto port = lsof_local_port(name)) out.insert(*port);
    }
  }
  return {out.begin(), out.end()};
}

bool pid_listens_on(pid_t pid, uint16_t port) {
  if (pid <= 0) return false;
  const auto run =
      run_tool(lsof_argv({"-a", "-p", std::to_string(pid), "-iTCP:" + std::to_string(port), "-sTCP:LISTEN", "-Fp"}));
  const auto pids = run.ran ? parse_lsof_pids(run.out) : std::vector<pid_t>{};
  return std::find(pids.begin(), pids.end(), pid) != pids.end();
}

uint32_t established_connections(uint16_t port) {
  const auto run = run_tool(lsof_argv({"-iTCP:" + std::to_string(port), "-sTCP:ESTABLISHED", "-Fn"}));
  uint32_t n = 0;
  if (run.ran) {
    // Both ends show when the client is local too: count the gateway's side.
    for (const auto& name : parse_lsof_names(run.out)) n += lsof_local_port(name) == port;
  }
  return n;
}

MemInfo read_meminfo() { return {}; }

uint64_t oom_kill_count() { return 0; }

int open_pid_watch(pid_t pid) {
  const auto who = identify_process(pid);
  if (!who) return -1;
  int fds[2];
  if (::pipe(fds) != 0) return -1;
  auto w = std::make_unique<ExitWatch>();
  w->who = *who;
  w->read_fd = fds[0];
  w->write_fd = fds[1];
  w->thread = std::thread(watch_loop, w.get());
  std::lock_guard<std::mutex> lock(g_watch_mu);
  g_watches[fds[0]] = std::move(w);
  return fds[0];
}

void close_pid_watch(int fd) {
  std::unique_ptr<ExitWatch> w;
  {
    std::lock_guard<std::mutex> lock(g_watch_mu);
    auto it = g_watches.find(fd);
    if (it == g_watches.end()) {
      if (fd >= 0) ::close(fd);
      return;
    }
    w = std::move(it->second);
    g_watches.erase(it);
  }
  {
    std::lock_guard<std::mutex> lock(w->mu);
    w->stop = true;
  }
  w->cv.notify_all();
  w->thread.join();
  ::close(w->read_fd);
  ::close(w->write_fd);
}

std::optional<std::map<std::string, std::string>> read_environ(pid_t pid) {
  // ps shows another user's environment to root only, like /proc does.
  const auto p = read_proc(pid);
  if (!p) return std::nullopt;
  std::string args;
  for (const auto& a : p->argv) args.append(args.empty() ? "" : " ").append(a);
  const auto run = run_tool(ps_environ_argv(pid));
  if (!run.ran) return std::nullopt;
  return parse_ps_environ(run.out, args);
}

std::string boot_id() {
  // When pid 1 (launchd, init) started: the same all through one boot.
  static std::mutex mu;
  static std::string cached;
  std::lock_guard<std::mutex> lock(mu);
  if (cached.empty()) {
    if (const auto init = read_proc(1)) cached = "init-started-" + std::to_string(init->start_ticks);
  }
  return cached;
}

std::optional<ProcessIdentity> identify_process(pid_t pid) {
  const auto p = read_proc(pid);
  if (!p || p->zombie()) return std::nullopt;
  return ProcessIdentity{pid, p->start_ticks, boot_id()};
}

std::optional<ProcessHandle> ProcessHandle::open(const ProcessIdentity& identity) {
  if (identity.pid <= 0) return std::nullopt;
  if (!identity.boot_id.empty() && identity.boot_id != boot_id()) return std::nullopt;  // recorded in another boot
  if (!same_process(identity)) return std::nullopt;
  return ProcessHandle(identity, -1);
}

bool ProcessHandle::signal(int sig) const {
  // No handle to the process itself: check, then signal (a window remains,
  // but only between a ps and a kill).
  if (!same_process(identity_)) return false;
  return ::kill(identity_.pid, sig) == 0;
}

bool ProcessHandle::wait_exit(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int round = 0;; ++round) {
    if (!pid_exists(identity_.pid)) return true;
    // A zombie still answers kill(pid, 0): ask ps every 250 ms, and last.
    const bool last = std::chrono::steady_clock::now() >= deadline;
    if ((round % 25 == 0 || last) && !same_process(identity_)) return true;
    if (last) return false;
    std::this_thread::sleep_for(10ms);
  }
}

ServiceNotifier::ServiceNotifier() = default;

void ServiceNotifier::notify(const std::string& /*state*/) const {}

std::string self_exe_dir(const char* argv0) {
  namespace fs = std::filesystem;
  std::error_code ec;
#ifdef __APPLE__
  char buf[PATH_MAX];
  uint32_t size = sizeof buf;
  if (_NSGetExecutablePath(buf, &size) == 0) {
    const auto p = fs::canonical(buf, ec);
    if (!ec) return p.parent_path().string();
  }
#endif
  const std::string name = argv0 != nullptr ? argv0 : "";
  if (name.find('/') != std::string::npos) {
    const auto p = fs::canonical(name, ec);
    return ec ? std::string(".") : p.parent_path().string();
  }
  if (const char* path = std::getenv("PATH"); path != nullptr && !name.empty()) {
    std::stringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      const fs::path candidate = fs::path(dir.empty() ? "." : dir) / name;
      if (::access(candidate.c_str(), X_OK) == 0) {
        const auto p = fs::canonical(candidate, ec);
        if (!ec) return p.parent_path().string();
      }
    }
  }
  return ".";
}

bool child_dies_with_parent(int /*sig*/, pid_t parent) {
  // Nothing to ask for: say only whether the parent is still there.
  return ::getppid() == parent;
}

void child_close_fds_from(int lowest) {
  const long max = ::sysconf(_SC_OPEN_MAX);
  const long limit = max > 0 ? std::min<long>(max, 65'536) : 1024;
  for (long fd = lowest; fd < limit; ++fd) ::close(static_cast<int>(fd));
}

}  // namespace gwr
