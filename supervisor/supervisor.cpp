#include "supervisor/supervisor.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <thread>

#include <zmq.hpp>

#include "common/bus.h"
#include "common/components.h"
#include "common/config_schema.h"
#include "common/control.h"
#include "common/duration.h"
#include "common/log.h"
#include "common/process.h"
#include "common/runtime_dir.h"
#include "common/platform/service.h"
#include "common/signals.h"
#include "common/version.h"
#include "repairer/tier3/allowlist_loader.h"
#include "supervisor/supervisor_shell.h"
#include "supervisor/worker_table.h"

namespace gwr::supervisor {

using namespace std::chrono_literals;
using std::chrono::duration_cast;
using std::chrono::milliseconds;
using Steady = std::chrono::steady_clock;

namespace {

// The XSUB/XPUB proxy, on its own thread with its own sockets.
class BusProxy {
 public:
  BusProxy(zmq::context_t& ctx, const std::string& runtime_dir) : ctx_(ctx), runtime_dir_(runtime_dir) {
    frontend_.emplace(ctx_, zmq::socket_type::xsub);
    backend_.emplace(ctx_, zmq::socket_type::xpub);
    control_pull_.emplace(ctx_, zmq::socket_type::pair);
    control_push_.emplace(ctx_, zmq::socket_type::pair);
    frontend_->set(zmq::sockopt::linger, 0);
    backend_->set(zmq::sockopt::linger, 0);
    frontend_->set(zmq::sockopt::maxmsgsize, int64_t{4} * 1024 * 1024);
    frontend_->set(zmq::sockopt::rcvhwm, 20000);
    backend_->set(zmq::sockopt::sndhwm, 20000);
    frontend_->bind(bus_in_endpoint(runtime_dir));
    backend_->bind(bus_out_endpoint(runtime_dir));
    ::chmod(ipc_path(bus_in_endpoint(runtime_dir)).c_str(), 0600);
    ::chmod(ipc_path(bus_out_endpoint(runtime_dir)).c_str(), 0600);
    control_pull_->bind("inproc://bus-proxy-control");
    control_push_->connect("inproc://bus-proxy-control");
    thread_ = std::thread([this] {
      try {
        zmq::proxy_steerable(*frontend_, *backend_, zmq::socket_ref(), *control_pull_);
      } catch (const zmq::error_t& e) {
        if (e.num() != ETERM) log::error("bus_proxy_failed", {{"error", e.what()}});
      }
      frontend_.reset();
      backend_.reset();
      control_pull_.reset();
    });
  }
  ~BusProxy() {
    try {
      control_push_->send(zmq::str_buffer("TERMINATE"), zmq::send_flags::none);
    } catch (const zmq::error_t&) {
    }
    if (thread_.joinable()) thread_.join();
    control_push_.reset();
    std::error_code ec;
    std::filesystem::remove(ipc_path(bus_in_endpoint(runtime_dir_)), ec);
    std::filesystem::remove(ipc_path(bus_out_endpoint(runtime_dir_)), ec);
  }

 private:
  zmq::context_t& ctx_;
  std::string runtime_dir_;
  std::optional<zmq::socket_t> frontend_, backend_, control_pull_, control_push_;
  std::thread thread_;
};

// Starts gwr-<name> processes that die with the supervisor.
class ProcessLauncher final : public WorkerLauncher {
 public:
  Result<pid_t> spawn(const std::vector<std::string>& argv) override {
    SpawnOptions opts;
    opts.argv = argv;
    opts.die_with_parent = true;
    return spawn_process(opts);
  }
  void signal(pid_t pid, int sig) override { ::kill(pid, sig); }
};

// The supervisor's I/O: the bus proxy, its sockets and signals around the
// SupervisorShell, which decides.
int drive(const SupervisorOptions& options, LoadedConfig config) {
  const std::string runtime_dir = config.config.paths().runtime_dir();
  zmq::context_t zctx(1);
  SignalPipe signals({SIGTERM, SIGINT, SIGHUP, SIGCHLD});
  ::signal(SIGPIPE, SIG_IGN);
  BusProxy proxy(zctx, runtime_dir);
  BusPublisher bus(zctx, runtime_dir, kSupervisor);
  BusSubscriber sub(zctx, runtime_dir, {"heartbeat"});
  ControlServer control(zctx, control_endpoint(runtime_dir, kSupervisor));
  ServiceNotifier notifier;
  ProcessLauncher launcher;
  SupervisorPorts ports;
  ports.publish = [&](pb::Event ev) { bus.publish(std::move(ev)); };
  ports.notify = [&](const std::string& state) { notifier.notify(state); };
  ports.watchdog_interval_ms = notifier.watchdog_interval_ms();
  ports.own_errors = [&] { return std::pair<uint64_t, uint64_t>{sub.dropped(), control.malformed()}; };
  ports.self_pid = ::getpid();
  SupervisorShell shell(options, std::move(config), SystemClock::instance(), launcher, ports);

  log::info("supervisor_started", {{"version", kGwrVersion},
                                   {"config", shell.config().describe_source()},
                                   {"runtime_dir", runtime_dir},
                                   {"workers", options.workers}});
  notifier.notify("STATUS=starting workers");
  auto handler = [&](const pb::Request& req) { return shell.handle(req); };
  auto reap = [&] {
    // SIGCHLD can coalesce: reap everything that has exited.
    while (true) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) return;
      shell.on_exit(pid, status);
    }
  };
  while (true) {
    const SteadyTime wake = shell.tick();
    if (shell.finished()) break;
    std::vector<zmq::pollitem_t> items = {
        {sub.socket().handle(), 0, ZMQ_POLLIN, 0},
        {control.socket().handle(), 0, ZMQ_POLLIN, 0},
        {nullptr, signals.fd(), ZMQ_POLLIN, 0},
    };
    auto wait = duration_cast<milliseconds>(wake - Steady::now());
    if (wait < 0ms) wait = 0ms;
    try {
      zmq::poll(items.data(), items.size(), wait);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) log::warn("poll_failed", {{"error", e.what()}});
      continue;
    }
    if (items[2].revents & ZMQ_POLLIN) {
      for (int s : signals.drain()) {
        if (s == SIGCHLD) {
          reap();
        } else {
          shell.on_signal(s);
        }
      }
    }
    if (items[0].revents & ZMQ_POLLIN) {
      while (auto ev = sub.receive()) shell.on_heartbeat(*ev);
    }
    if (items[1].revents & ZMQ_POLLIN) control.serve_pending(handler);
    reap();  // costs one syscall
  }
  log::info("supervisor_stopped", {{"reason", shell.shutdown_reason()}});
  notifier.notify("STOPPING=1");
  return 0;
}

}  // namespace

std::vector<std::string> worker_names(const LoadedConfig& config) {
  std::vector<std::string> names;
  for (const auto& g : config.gateways) {
    names.push_back(gateway_component(kProber, g.name));
    names.push_back(gateway_component(kRepairer, g.name));
  }
  names.emplace_back(kTelegramBridge);
  // gwr-web only when asked for: the default footprint does not grow. A
  // change of http.listen takes effect when gwr restarts (RELOAD_RESTART_GWR).
  if (!config.config.http().listen().empty()) names.emplace_back(kWeb);
  if (config.config.fleet().role() == "hub" || config.config.fleet().role() == "node") names.emplace_back(kFleet);
  return names;
}

std::optional<ConfigError> check_allowlist(const LoadedConfig& config) {
  std::vector<std::pair<std::string, std::string>> paths = {{"repair.allowlist", config.config.repair().allowlist()}};
  for (const auto& g : config.gateways) {
    if (g.config.repair().allowlist() != config.config.repair().allowlist()) {
      paths.emplace_back("gateways[" + g.name + "].repair.allowlist", g.config.repair().allowlist());
    }
  }
  for (const auto& [key, path] : paths) {
    auto allowlist = tier3::load_allowlist(path);
    if (allowlist) continue;
    auto it = config.origins.find(key);
    return ConfigError{key, it != config.origins.end() ? it->second : ConfigOrigin{config.config_path.empty() ? "built-in defaults" : config.config_path, 0},
                       allowlist.message()};
  }
  return std::nullopt;
}

int run_supervisor(const SupervisorOptions& options, LoadedConfig config) {
  const auto& paths = config.config.paths();
  if (auto st = ensure_private_dir(paths.runtime_dir()); !st) {
    log::error("runtime_dir_unusable", {{"path", paths.runtime_dir()}, {"error", st.message()}});
    return 1;
  }
  auto lock = InstanceLock::acquire(paths.runtime_dir() + "/supervisor.lock");
  if (!lock) {
    log::error("already_running", {{"error", lock.message()}});
    return 1;
  }
  remove_stale_sockets(paths.runtime_dir());
  for (const auto& dir : {paths.state_dir(), paths.log_dir()}) {
    if (auto st = ensure_private_dir(dir); !st) {
      log::error("directory_unusable", {{"path", dir}, {"error", st.message()}});
      return 1;
    }
  }
  return drive(options, std::move(config));
}

}  // namespace gwr::supervisor
