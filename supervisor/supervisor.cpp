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
#include "common/config_schema.h"
#include "common/control.h"
#include "common/duration.h"
#include "common/log.h"
#include "common/process.h"
#include "common/runtime_dir.h"
#include "common/sd_notify.h"
#include "common/signals.h"
#include "common/version.h"
#include "repairer/tier3/allowlist_loader.h"
#include "supervisor/worker_table.h"

namespace gwr::supervisor {

using namespace std::chrono_literals;
using std::chrono::duration_cast;
using std::chrono::milliseconds;
using Steady = std::chrono::steady_clock;

namespace {

Timings timings_from(const pb::Config& c) { return Timings::from_config(c); }

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return "signal " + std::to_string(sig) + " (" + ::strsignal(sig) + ")";
  }
  return "status " + std::to_string(status);
}

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

class Supervisor {
 public:
  Supervisor(const SupervisorOptions& options, LoadedConfig config)
      : options_(options), loaded_(std::move(config)), zctx_(1),
        table_(options.workers, timings_from(loaded_.config), Steady::now()) {}

  int run() {
    const auto& paths = loaded_.config.paths();
    SignalPipe signals({SIGTERM, SIGINT, SIGHUP, SIGCHLD});
    ::signal(SIGPIPE, SIG_IGN);

    BusProxy proxy(zctx_, paths.runtime_dir());
    BusPublisher bus(zctx_, paths.runtime_dir(), kSupervisor);
    BusSubscriber sub(zctx_, paths.runtime_dir(), {"heartbeat"});
    ControlServer control(zctx_, control_endpoint(paths.runtime_dir(), kSupervisor));
    bus_ = &bus;
    sub_ = &sub;
    control_ = &control;

    log::info("supervisor_started", {{"version", kGwrVersion},
                                     {"config", loaded_.describe_source()},
                                     {"runtime_dir", paths.runtime_dir()},
                                     {"workers", options_.workers}});
    notifier_.notify("STATUS=starting workers");

    const auto watchdog_every = milliseconds(notifier_.watchdog_interval_ms() / 2);
    auto next_watchdog = Steady::now();
    auto next_config_beacon = Steady::now() + 5s;
    bool ready_sent = false;
    const auto ready_deadline = Steady::now() + 15s;
    int exit_code = 0;

    auto handler = [&](const pb::Request& req) { return handle(req); };

    while (true) {
      auto now = Steady::now();
      for (const auto& a : table_.due(now)) spawn(a.name, now);
      for (const auto& a : table_.check_hung(now)) {
        log::error("worker_hung", {{"component", a.name}, {"worker_pid", a.pid}, {"reason", a.reason}});
        ::kill(a.pid, SIGKILL);
        publish_component(pb::ComponentEvent::HUNG_KILLED, a.name, a.pid, a.reason);
      }
      if (table_.shutting_down()) {
        if (table_.all_stopped()) break;
        if (now >= table_.shutdown_deadline()) {
          for (const auto& a : table_.force_shutdown()) {
            log::warn("worker_kill", {{"component", a.name}, {"worker_pid", a.pid}, {"reason", a.reason}});
            ::kill(a.pid, SIGKILL);
          }
        }
      }
      if (!ready_sent && (table_.all_heartbeating() || now >= ready_deadline)) {
        ready_sent = true;
        notifier_.notify("READY=1\nSTATUS=" + status_line());
        log::info("supervisor_ready", {{"all_heartbeating", table_.all_heartbeating()}});
      }
      if (watchdog_every.count() > 0 && now >= next_watchdog) {
        notifier_.notify("WATCHDOG=1\nSTATUS=" + status_line());
        next_watchdog = now + watchdog_every;
      }
      if (now >= next_config_beacon && !table_.shutting_down()) {
        // Level-triggered: a worker that missed an update catches up here.
        pb::Event ev;
        ev.mutable_config_updated()->set_version(config_version_);
        bus.publish(std::move(ev));
        next_config_beacon = now + 5s;
      }

      std::vector<zmq::pollitem_t> items = {
          {sub.socket().handle(), 0, ZMQ_POLLIN, 0},
          {control.socket().handle(), 0, ZMQ_POLLIN, 0},
          {nullptr, signals.fd(), ZMQ_POLLIN, 0},
      };
      auto wake = table_.next_wake(now);
      if (watchdog_every.count() > 0) wake = std::min(wake, next_watchdog);
      wake = std::min(wake, next_config_beacon);
      auto wait = duration_cast<milliseconds>(wake - Steady::now());
      if (wait < 0ms) wait = 0ms;
      if (wait > 1000ms) wait = 1000ms;
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
          } else if (s == SIGHUP) {
            reload("SIGHUP", "");
          } else if ((s == SIGTERM || s == SIGINT) && !table_.shutting_down()) {
            shutdown(std::string("signal ") + ::strsignal(s));
          }
        }
      }
      if (items[0].revents & ZMQ_POLLIN) {
        while (auto ev = sub.receive()) {
          if (!ev->has_heartbeat()) continue;
          const auto& hb = ev->heartbeat();
          if (hb.pid() != ev->source_pid() || hb.component() != ev->source()) continue;
          const bool first = [&] {
            for (const auto& s : table_.slots()) {
              if (s.name == hb.component()) return s.pid == static_cast<pid_t>(hb.pid()) && !s.last_heartbeat;
            }
            return false;
          }();
          if (table_.on_heartbeat(hb.component(), static_cast<pid_t>(hb.pid()), hb.activity(), Steady::now())) {
            counters_[hb.component()] = {static_cast<pid_t>(hb.pid()), hb.decode_errors(), hb.control_errors()};
            if (first) log::info("worker_ready", {{"component", hb.component()}, {"worker_pid", hb.pid()}});
          }
        }
      }
      if (items[1].revents & ZMQ_POLLIN) control.serve_pending(handler);
      reap();  // SIGCHLD can coalesce; reaping here costs one syscall
    }

    log::info("supervisor_stopped", {{"reason", shutdown_reason_}});
    notifier_.notify("STOPPING=1");
    bus_ = nullptr;
    sub_ = nullptr;
    control_ = nullptr;
    return exit_code;
  }

 private:
  void spawn(const std::string& name, SteadyTime now) {
    SpawnOptions opts;
    opts.argv = {options_.worker_dir + "/gwr-" + name, "--runtime-dir", loaded_.config.paths().runtime_dir()};
    opts.die_with_parent = true;
    auto pid = spawn_process(opts);
    if (!pid) {
      table_.on_spawn_failed(name, pid.message(), now);
      log::error("worker_spawn_failed", {{"component", name}, {"error", pid.message()}});
      return;
    }
    table_.on_spawned(name, *pid, now);
    uint32_t restarts = 0;
    for (const auto& s : table_.slots()) {
      if (s.name == name) restarts = s.restarts;
    }
    log::info("worker_spawned", {{"component", name}, {"worker_pid", *pid}, {"restarts", restarts}});
    publish_component(pb::ComponentEvent::SPAWNED, name, *pid, "");
  }

  void reap() {
    while (true) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) return;
      const std::string how = describe_status(status);
      auto name = table_.on_exit(pid, how, Steady::now());
      if (!name) continue;
      const bool expected = table_.shutting_down();
      if (expected) {
        log::info("worker_exited", {{"component", *name}, {"worker_pid", pid}, {"how", how}});
      } else {
        milliseconds delay{0};
        for (const auto& s : table_.slots()) {
          if (s.name == *name) delay = duration_cast<milliseconds>(s.spawn_at - Steady::now());
        }
        log::warn("worker_died", {{"component", *name}, {"worker_pid", pid}, {"how", how},
                                  {"restart_in_ms", std::max<int64_t>(0, delay.count())}});
      }
      publish_component(pb::ComponentEvent::EXITED, *name, pid, how);
    }
  }

  void publish_component(pb::ComponentEvent::Kind kind, const std::string& name, pid_t pid, const std::string& detail) {
    if (bus_ == nullptr) return;
    pb::Event ev;
    auto* c = ev.mutable_component_event();
    c->set_kind(kind);
    c->set_component(name);
    c->set_pid(static_cast<uint32_t>(pid));
    c->set_detail(detail);
    for (const auto& s : table_.slots()) {
      if (s.name == name) c->set_restarts(s.restarts);
    }
    bus_->publish(std::move(ev));
  }

  void shutdown(const std::string& reason) {
    shutdown_reason_ = reason;
    log::info("supervisor_stopping", {{"reason", reason}});
    notifier_.notify("STOPPING=1\nSTATUS=stopping workers");
    if (bus_ != nullptr) {
      pb::Event ev;
      ev.mutable_shutdown()->set_reason(reason);
      bus_->publish(std::move(ev));
    }
    for (const auto& a : table_.begin_shutdown(Steady::now())) ::kill(a.pid, a.signal);
  }

  // Re-reads every config source; a bad config is reported and the running one kept.
  std::optional<ConfigError> reload(const std::string& why, const std::string& actor) {
    auto result = load_config(options_.load);
    if (auto* err = std::get_if<ConfigError>(&result)) {
      log::error("config_reload_rejected", {{"trigger", why}, {"error", err->describe()}});
      return *err;
    }
    LoadedConfig next = std::get<LoadedConfig>(std::move(result));
    if (auto err = check_allowlist(next)) {
      log::error("config_reload_rejected", {{"trigger", why}, {"error", err->describe()}});
      return *err;
    }
    const auto changed = config_diff(loaded_.config, next.config);
    loaded_ = std::move(next);
    log::set_secrets(config_secret_values(loaded_.config));
    log::set_level(loaded_.config.log().level());
    table_.set_timings(timings_from(loaded_.config));
    if (changed.empty()) {
      log::info("config_reloaded", {{"trigger", why}, {"changed", changed}, {"version", config_version_}});
      return std::nullopt;
    }
    ++config_version_;
    const auto restart_keys = keys_needing_restart(changed);
    log::info("config_reloaded", {{"trigger", why}, {"actor", actor}, {"changed", changed}, {"version", config_version_}});
    if (!restart_keys.empty()) log::warn("config_restart_required", {{"keys", restart_keys}});
    if (bus_ != nullptr) {
      pb::Event ev;
      ev.mutable_config_updated()->set_version(config_version_);
      for (const auto& k : changed) ev.mutable_config_updated()->add_changed_keys(k);
      bus_->publish(std::move(ev));
    }
    return std::nullopt;
  }

  pb::Reply handle(const pb::Request& req) {
    pb::Reply reply;
    switch (req.body_case()) {
      case pb::Request::kPing: {
        reply.mutable_pong()->set_component(kSupervisor);
        reply.mutable_pong()->set_pid(static_cast<uint32_t>(::getpid()));
        reply.mutable_pong()->set_version(kGwrVersion);
        break;
      }
      case pb::Request::kComponents: {
        auto* out = reply.mutable_components();
        out->set_config_version(config_version_);
        out->set_config_source(loaded_.describe_source());
        const auto now = Steady::now();
        auto* self = out->add_components();
        self->set_name(kSupervisor);
        self->set_pid(static_cast<uint32_t>(::getpid()));
        self->set_state(table_.shutting_down() ? pb::COMPONENT_STOPPING : pb::COMPONENT_RUNNING);
        self->set_uptime_ms(duration_cast<milliseconds>(now - started_).count());
        self->set_last_heartbeat_age_ms(0);
        self->set_activity("supervising " + std::to_string(table_.slots().size()) + " workers");
        if (sub_ != nullptr) self->set_decode_errors(sub_->dropped());
        if (control_ != nullptr) self->set_control_errors(control_->malformed());
        for (const auto& s : table_.slots()) {
          auto* c = out->add_components();
          c->set_name(s.name);
          c->set_pid(static_cast<uint32_t>(s.pid));
          c->set_state(component_state(s.state));
          c->set_restarts(s.restarts);
          c->set_uptime_ms(s.state == SlotState::kRunning ? duration_cast<milliseconds>(now - s.started_at).count() : 0);
          c->set_last_heartbeat_age_ms(s.last_heartbeat ? duration_cast<milliseconds>(now - *s.last_heartbeat).count()
                                                        : -1);
          c->set_activity(s.activity);
          c->set_last_exit(s.last_exit);
          if (auto it = counters_.find(s.name); it != counters_.end() && it->second.pid == s.pid && s.pid != 0) {
            c->set_decode_errors(it->second.decode_errors);
            c->set_control_errors(it->second.control_errors);
          }
        }
        break;
      }
      case pb::Request::kGetConfig: {
        auto* out = reply.mutable_config();
        *out->mutable_config() =
            req.get_config().include_secrets() ? loaded_.config : masked_config(loaded_.config);
        out->set_version(config_version_);
        out->set_yaml(render_config_yaml(loaded_.config, false));
        out->set_source(loaded_.describe_source());
        for (const auto& k : loaded_.overridden_keys) out->add_overridden_keys(k);
        out->set_overrides_path(loaded_.overrides_path);
        break;
      }
      case pb::Request::kSetConfig:
        return set_config(req.set_config());
      default:
        break;  // answered "unrecognized" by the server
    }
    return reply;
  }

  pb::Reply set_config(const pb::SetConfigRequest& req) {
    const std::string& key = req.key();
    if (!is_config_key(key)) return error_reply(pb::Error::INVALID_ARGUMENT, "unknown config key \"" + key + "\"");
    if (!is_runtime_settable(key)) {
      return error_reply(pb::Error::INVALID_ARGUMENT,
                         key + " cannot be changed at run time; edit the config file and send SIGHUP");
    }
    const std::string path = overrides_path_for(loaded_.config);
    std::map<std::string, std::string> overrides;
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
      auto current = read_overrides(path);
      if (!current) return error_reply(pb::Error::INTERNAL, current.message());
      overrides = *current;
    }
    const auto previous = overrides;
    if (req.reset()) {
      overrides.erase(key);
    } else {
      // Validate the candidate before touching the file.
      pb::Config candidate = loaded_.config;
      if (auto err = set_config_value(candidate, key, req.value(), {"config set", 0})) {
        return error_reply(pb::Error::INVALID_ARGUMENT, err->describe());
      }
      if (auto err = validate_config(candidate)) return error_reply(pb::Error::INVALID_ARGUMENT, err->describe());
      overrides[key] = *get_config_value(candidate, key, true);
    }
    if (auto st = write_overrides(path, overrides); !st) return error_reply(pb::Error::INTERNAL, st.message());
    if (auto err = reload("config set", req.actor())) {
      (void)write_overrides(path, previous);
      return error_reply(pb::Error::INVALID_ARGUMENT, err->describe());
    }
    pb::Reply reply;
    auto* out = reply.mutable_set_config();
    out->set_key(key);
    out->set_value(*get_config_value(loaded_.config, key));
    out->set_version(config_version_);
    log::info("config_set", {{"key", key}, {"value", out->value()}, {"actor", req.actor()}, {"reset", req.reset()}});
    return reply;
  }

  std::string status_line() const {
    std::string out;
    for (const auto& s : table_.slots()) {
      if (!out.empty()) out += ", ";
      out += s.name + " " + to_string(s.state);
      if (s.restarts) out += " (" + std::to_string(s.restarts) + " restarts)";
    }
    return out;
  }

  const SupervisorOptions& options_;
  LoadedConfig loaded_;
  zmq::context_t zctx_;
  WorkerTable table_;
  SdNotifier notifier_;
  BusPublisher* bus_ = nullptr;
  BusSubscriber* sub_ = nullptr;
  ControlServer* control_ = nullptr;
  // What each worker's heartbeats say it could not decode (per process).
  struct Counters {
    pid_t pid = 0;
    uint64_t decode_errors = 0;
    uint64_t control_errors = 0;
  };
  std::map<std::string, Counters> counters_;
  uint64_t config_version_ = 1;
  std::string shutdown_reason_;
  SteadyTime started_ = Steady::now();
};

}  // namespace

std::optional<ConfigError> check_allowlist(const LoadedConfig& config) {
  const std::string& path = config.config.repair().allowlist();
  auto allowlist = tier3::load_allowlist(path);
  if (allowlist) return std::nullopt;
  auto it = config.origins.find("repair.allowlist");
  return ConfigError{"repair.allowlist", it != config.origins.end() ? it->second : ConfigOrigin{"built-in defaults", 0},
                     allowlist.message()};
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
  int rc = 1;
  {
    Supervisor supervisor(options, std::move(config));
    rc = supervisor.run();
  }
  return rc;
}

}  // namespace gwr::supervisor
