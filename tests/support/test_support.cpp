#include "tests/support/test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/bus.h"
#include "common/platform/proc.h"
#include "common/process.h"

extern char** environ;

#ifndef GWR_BIN_DIR
#error "GWR_BIN_DIR must be defined by CMake"
#endif

namespace gwr::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string bin_path(const std::string& name) { return std::string(GWR_BIN_DIR) + "/" + name; }
std::string fake_path(const std::string& name) { return std::string(GWR_FAKES_DIR) + "/" + name; }
std::string source_path(const std::string& rel) { return std::string(GWR_SOURCE_DIR) + "/" + rel; }

TempDir::TempDir() {
  char tmpl[] = "/tmp/gwrt-XXXXXX";
  const char* p = ::mkdtemp(tmpl);
  if (p == nullptr) std::abort();
  path_ = p;
}

TempDir::~TempDir() {
  if (std::getenv("GWR_TEST_KEEP") != nullptr) {
    std::fprintf(stderr, "keeping %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::vector<std::string> in_new_session(const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  if (::access("/usr/bin/setsid", X_OK) == 0) {
    out = {"/usr/bin/setsid"};
  } else {
    out = {"/usr/bin/perl", "-MPOSIX", "-e",
           "defined(POSIX::setsid()) or die \"setsid: $!\\n\"; exec { $ARGV[0] } @ARGV or die \"exec: $!\\n\""};
  }
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

Process Process::start(const std::vector<std::string>& argv, const std::map<std::string, std::string>& extra_env,
                       const std::string& output_file) {
  SpawnOptions opts;
  opts.argv = argv;
  opts.die_with_parent = true;
  opts.stdout_path = output_file;
  if (!extra_env.empty()) {
    std::map<std::string, std::string> env;
    for (char** e = environ; e && *e; ++e) {
      std::string kv(*e);
      auto eq = kv.find('=');
      if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : extra_env) env[k] = v;
    opts.env = env;
  }
  auto pid = spawn_process(opts);
  if (!pid) {
    ADD_FAILURE() << "cannot start " << argv[0] << ": " << pid.message();
    return Process();
  }
  Process p;
  p.pid_ = *pid;
  return p;
}

Process::Process(Process&& other) noexcept : pid_(other.pid_), status_(other.status_) { other.pid_ = 0; }
Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = other.pid_;
    status_ = other.status_;
    other.pid_ = 0;
  }
  return *this;
}

Process::~Process() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
}

bool Process::running() {
  if (pid_ <= 0 || status_) return false;
  int st = 0;
  const pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = st;
    return false;
  }
  return true;
}

void Process::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
  return status_;
}

::testing::AssertionResult wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                                      const std::string& what) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + timeout;
  while (true) {
    if (condition()) return ::testing::AssertionSuccess();
    if (std::chrono::steady_clock::now() >= deadline) {
      return ::testing::AssertionFailure() << "timed out after " << timeout.count() << " ms waiting for: " << what;
    }
    std::this_thread::sleep_for(10ms);
  }
}

int free_tcp_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

bool pid_alive(pid_t pid) { return pid > 0 && ::kill(pid, 0) == 0 && gwr::process_alive(pid); }

::testing::AssertionResult stop_process(pid_t pid, std::chrono::milliseconds timeout) {
  if (pid <= 0 || ::kill(pid, SIGSTOP) != 0) return ::testing::AssertionFailure() << "cannot SIGSTOP pid " << pid;
  return wait_until([&] { return gwr::process_stopped(pid); }, timeout,
                    "every thread of pid " + std::to_string(pid) + " stopped");
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& content) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  std::ofstream f(path, std::ios::trunc);
  f << content;
}

std::vector<nlohmann::json> read_json_lines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

std::vector<std::string> files_containing(const std::string& dir, const std::string& needle) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    std::error_code ec2;
    if (!it->is_regular_file(ec2)) continue;
    if (read_file(it->path().string()).find(needle) != std::string::npos) out.push_back(it->path().string());
  }
  return out;
}

std::vector<pid_t> pids_named(const std::string& name) {
  std::vector<pid_t> out;
  for (const auto& p : gwr::process_table()) {
    if (p.argv.empty() || p.zombie()) continue;
    const std::string& argv0 = p.argv[0];
    if (argv0.size() >= name.size() && argv0.compare(argv0.size() - name.size(), name.size(), name) == 0) {
      out.push_back(p.pid);
    }
  }
  return out;
}

CommandOutput run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  RealCommandRunner runner;
  CommandSpec spec;
  spec.argv = argv;
  spec.timeout = timeout;
  spec.max_output = 1 << 20;
  auto r = runner.run(spec);
  return {r.started ? r.exit_code : -1, r.output};
}

Daemon::Daemon(const std::string& extra_yaml, const std::map<std::string, std::string>& env) : env_(env) {
  config_path_ = dir_ / "gwr.yaml";
  std::string yaml = "paths:\n  runtime_dir: " + runtime_dir() + "\n  state_dir: " + state_dir() +
                     "\n  log_dir: " + log_dir() + "\n" + extra_yaml;
  write_file(config_path_, yaml);
}

Daemon::~Daemon() {
  if (supervisor_.running()) {
    supervisor_.signal(SIGTERM);
    if (!supervisor_.wait(15s)) supervisor_.signal(SIGKILL);
  }
  supervisor_.wait(5s);
  zctx_.shutdown();
}

::testing::AssertionResult Daemon::start(std::chrono::milliseconds timeout) {
  supervisor_ = Process::start({bin_path("gwr-supervisor"), "--config", config_path_}, env_, dir_ / "stderr.log");
  if (supervisor_.pid() <= 0) return ::testing::AssertionFailure() << "gwr-supervisor did not start";
  return wait_all_heartbeating(timeout);
}

::testing::AssertionResult Daemon::stop(std::chrono::milliseconds timeout) {
  if (!supervisor_.running()) return ::testing::AssertionSuccess();
  supervisor_.signal(SIGTERM);
  if (!supervisor_.wait(timeout)) return ::testing::AssertionFailure() << "gwr-supervisor did not exit on SIGTERM";
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult Daemon::wait_all_heartbeating(std::chrono::milliseconds timeout) {
  return wait_until(
      [&] {
        auto c = components();
        if (!c || c->components_size() < 4) return false;
        for (const auto& comp : c->components()) {
          if (comp.state() != pb::COMPONENT_RUNNING || comp.last_heartbeat_age_ms() < 0) return false;
        }
        return true;
      },
      timeout, "all gwr components running and heartbeating");
}

Result<pb::Reply> Daemon::call(const std::string& component, const pb::Request& request,
                               std::chrono::milliseconds timeout) {
  ControlClient client(zctx_, control_endpoint(runtime_dir(), component), "test");
  return client.call(request, timeout, 0);
}

std::optional<pb::ComponentsReply> Daemon::components() {
  pb::Request req;
  req.mutable_components();
  auto r = call(kSupervisor, req, 500ms);
  if (!r || !r->has_components()) return std::nullopt;
  return r->components();
}

std::map<std::string, pid_t> Daemon::worker_pids() {
  std::map<std::string, pid_t> out;
  if (auto c = components()) {
    for (const auto& comp : c->components()) out[comp.name()] = static_cast<pid_t>(comp.pid());
  }
  return out;
}

CommandOutput Daemon::gwrctl(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {bin_path("gwrctl"), "--config", config_path_};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, timeout);
}

std::optional<bool> Daemon::repair_in_progress(std::chrono::milliseconds timeout) {
  const auto j = nlohmann::json::parse(gwrctl({"status", "--json"}, timeout).output, nullptr, false);
  if (!j.is_object() || !j.contains("repair") || !j["repair"].contains("in_progress") ||
      !j["repair"]["in_progress"].is_boolean()) {
    return std::nullopt;
  }
  return j["repair"]["in_progress"].get<bool>();
}

}  // namespace gwr::testing
