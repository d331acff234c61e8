#include "supervisor/supervisor_shell.h"

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "common/bus.h"
#include "common/components.h"
#include "common/config_schema.h"
#include "common/control_port.h"
#include "common/log.h"
#include "common/version.h"

namespace gwr::supervisor {

using namespace std::chrono_literals;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return "signal " + std::to_string(sig) + " (" + ::strsignal(sig) + ")";
  }
  return "status " + std::to_string(status);
}

SupervisorShell::SupervisorShell(const SupervisorOptions& options, LoadedConfig config, const Clock& clock,
                                 WorkerLauncher& launcher, SupervisorPorts ports)
    : options_(options),
      loaded_(std::move(config)),
      clock_(clock),
      launcher_(launcher),
      ports_(std::move(ports)),
      table_(options.workers, Timings::from_config(loaded_.config), clock.steady()),
      started_(clock.steady()),
      next_watchdog_(clock.steady()),
      next_config_beacon_(clock.steady() + 5s),
      ready_deadline_(clock.steady() + 15s) {
  if (!ports_.publish) ports_.publish = [](pb::Event) {};
  if (!ports_.notify) ports_.notify = [](const std::string&) {};
}

SteadyTime SupervisorShell::tick() {
  const auto now = clock_.steady();
  for (const auto& a : table_.due(now)) spawn(a.name, now);
  for (const auto& a : table_.check_hung(now)) {
    log::error("worker_hung", {{"component", a.name}, {"worker_pid", a.pid}, {"reason", a.reason}});
    launcher_.signal(a.pid, SIGKILL);
    publish_component(pb::ComponentEvent::HUNG_KILLED, a.name, a.pid, a.reason);
  }
  if (table_.shutting_down() && !table_.all_stopped() && now >= table_.shutdown_deadline()) {
    for (const auto& a : table_.force_shutdown()) {
      log::warn("worker_kill", {{"component", a.name}, {"worker_pid", a.pid}, {"reason", a.reason}});
      launcher_.signal(a.pid, SIGKILL);
    }
  }
  if (!ready_sent_ && (table_.all_heartbeating() || now >= ready_deadline_)) {
    ready_sent_ = true;
    ports_.notify("READY=1\nSTATUS=" + status_line());
    log::info("supervisor_ready", {{"all_heartbeating", table_.all_heartbeating()}});
  }
  const auto watchdog_every = milliseconds(ports_.watchdog_interval_ms / 2);
  if (watchdog_every.count() > 0 && now >= next_watchdog_) {
    ports_.notify("WATCHDOG=1\nSTATUS=" + status_line());
    next_watchdog_ = now + watchdog_every;
  }
  if (now >= next_config_beacon_ && !table_.shutting_down()) {
    // Level-triggered: a worker that missed an update catches up here.
    pb::Event ev;
    ev.mutable_config_updated()->set_version(config_version_);
    ports_.publish(std::move(ev));
    next_config_beacon_ = now + 5s;
  }
  auto wake = std::min(table_.next_wake(now), next_config_beacon_);
  if (watchdog_every.count() > 0) wake = std::min(wake, next_watchdog_);
  return std::min(wake, now + 1s);
}

bool SupervisorShell::finished() const { return table_.shutting_down() && table_.all_stopped(); }

void SupervisorShell::on_heartbeat(const pb::Event& ev) {
  if (!ev.has_heartbeat()) return;
  const auto& hb = ev.heartbeat();
  // Only a worker's own heartbeat counts (the envelope says who sent it).
  if (hb.pid() != ev.source_pid() || hb.component() != ev.source()) return;
  const bool first = [&] {
    for (const auto& s : table_.slots()) {
      if (s.name == hb.component()) return s.pid == static_cast<pid_t>(hb.pid()) && !s.last_heartbeat;
    }
    return false;
  }();
  if (table_.on_heartbeat(hb.component(), static_cast<pid_t>(hb.pid()), hb.activity(), clock_.steady())) {
    counters_[hb.component()] = {static_cast<pid_t>(hb.pid()), hb.decode_errors(), hb.control_errors()};
    if (first) log::info("worker_ready", {{"component", hb.component()}, {"worker_pid", hb.pid()}});
  }
}

void SupervisorShell::on_exit(pid_t pid, int status) {
  const std::string how = describe_status(status);
  const auto now = clock_.steady();
  auto name = table_.on_exit(pid, how, now);
  if (!name) return;
  if (table_.shutting_down()) {
    log::info("worker_exited", {{"component", *name}, {"worker_pid", pid}, {"how", how}});
  } else {
    milliseconds delay{0};
    for (const auto& s : table_.slots()) {
      if (s.name == *name) delay = duration_cast<milliseconds>(s.spawn_at - now);
    }
    log::warn("worker_died", {{"component", *name}, {"worker_pid", pid}, {"how", how},
                              {"restart_in_ms", std::max<int64_t>(0, delay.count())}});
  }
  publish_component(pb::ComponentEvent::EXITED, *name, pid, how);
}

void SupervisorShell::on_signal(int sig) {
  if (sig == SIGHUP) {
    (void)reload("SIGHUP", "");
  } else if ((sig == SIGTERM || sig == SIGINT) && !table_.shutting_down()) {
    shutdown(std::string("signal ") + ::strsignal(sig));
  }
}

void SupervisorShell::spawn(const std::string& name, SteadyTime now) {
  // "prober.rescue" is gwr-prober for the gateway named rescue.
  const auto [base, gateway] = split_component(name);
  std::vector<std::string> argv = {options_.worker_dir + "/gwr-" + base, "--runtime-dir", loaded_.config.paths().runtime_dir()};
  if (!gateway.empty() && gateway != kMainGateway) {
    argv.emplace_back("--gateway");
    argv.push_back(gateway);
  }
  auto pid = launcher_.spawn(argv);
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

void SupervisorShell::publish_component(pb::ComponentEvent::Kind kind, const std::string& name, pid_t pid,
                                        const std::string& detail) {
  pb::Event ev;
  auto* c = ev.mutable_component_event();
  c->set_kind(kind);
  c->set_component(name);
  c->set_pid(static_cast<uint32_t>(pid));
  c->set_detail(detail);
  for (const auto& s : table_.slots()) {
    if (s.name == name) c->set_restarts(s.restarts);
  }
  ports_.publish(std::move(ev));
}

void SupervisorShell::shutdown(const std::string& reason) {
  shutdown_reason_ = reason;
  log::info("supervisor_stopping", {{"reason", reason}});
  ports_.notify("STOPPING=1\nSTATUS=stopping workers");
  pb::Event ev;
  ev.mutable_shutdown()->set_reason(reason);
  ports_.publish(std::move(ev));
  for (const auto& a : table_.begin_shutdown(clock_.steady())) launcher_.signal(a.pid, a.signal);
}

std::optional<ConfigError> SupervisorShell::reload(const std::string& why, const std::string& actor) {
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
  // Which gateways are watched decides which workers run: that changes
  // with a restart of gwr, never half-way (the running config is kept).
  auto names = [](const LoadedConfig& c) {
    std::vector<std::string> out;
    for (const auto& g : c.gateways) out.push_back(g.name);
    return out;
  };
  if (names(next) != names(loaded_)) {
    ConfigError err{"gateways", {next.config_path, 0},
                    "the list of gateways changed; restart gwr to watch the new list (the running config is kept)"};
    log::error("config_reload_rejected", {{"trigger", why}, {"error", err.describe()}});
    return err;
  }
  auto changed = config_diff(loaded_.config, next.config);
  for (size_t i = 0; i < next.gateways.size(); ++i) {
    for (auto& k : config_diff(loaded_.gateways[i].config, next.gateways[i].config)) {
      if (std::find(changed.begin(), changed.end(), k) == changed.end()) changed.push_back(std::move(k));
    }
  }
  loaded_ = std::move(next);
  log::set_secrets(config_secret_values(loaded_));
  log::set_level(loaded_.config.log().level());
  table_.set_timings(Timings::from_config(loaded_.config));
  if (changed.empty()) {
    log::info("config_reloaded", {{"trigger", why}, {"changed", changed}, {"version", config_version_}});
    return std::nullopt;
  }
  ++config_version_;
  const auto restart_keys = keys_needing_restart(changed);
  log::info("config_reloaded", {{"trigger", why}, {"actor", actor}, {"changed", changed}, {"version", config_version_}});
  if (!restart_keys.empty()) log::warn("config_restart_required", {{"keys", restart_keys}});
  pb::Event ev;
  ev.mutable_config_updated()->set_version(config_version_);
  for (const auto& k : changed) ev.mutable_config_updated()->add_changed_keys(k);
  ports_.publish(std::move(ev));
  return std::nullopt;
}

pb::Reply SupervisorShell::handle(const pb::Request& req) {
  pb::Reply reply;
  switch (req.body_case()) {
    case pb::Request::kPing: {
      reply.mutable_pong()->set_component(kSupervisor);
      reply.mutable_pong()->set_pid(static_cast<uint32_t>(ports_.self_pid));
      reply.mutable_pong()->set_version(kGwrVersion);
      break;
    }
    case pb::Request::kComponents: {
      auto* out = reply.mutable_components();
      out->set_config_version(config_version_);
      out->set_config_source(loaded_.describe_source());
      const auto now = clock_.steady();
      auto* self = out->add_components();
      self->set_name(kSupervisor);
      self->set_pid(static_cast<uint32_t>(ports_.self_pid));
      self->set_state(table_.shutting_down() ? pb::COMPONENT_STOPPING : pb::COMPONENT_RUNNING);
      self->set_uptime_ms(duration_cast<milliseconds>(now - started_).count());
      self->set_last_heartbeat_age_ms(0);
      self->set_activity("supervising " + std::to_string(table_.slots().size()) + " workers");
      if (ports_.own_errors) {
        const auto [decode, control] = ports_.own_errors();
        self->set_decode_errors(decode);
        self->set_control_errors(control);
      }
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
      const std::string& name = req.get_config().gateway();
      const pb::Config* config = &loaded_.config;
      if (!name.empty()) {
        const GatewayEntry* g = find_gateway(loaded_, name);
        if (g == nullptr) return error_reply(pb::Error::NOT_FOUND, "no gateway named \"" + name + "\" in the config");
        config = &g->config;
      }
      auto* out = reply.mutable_config();
      *out->mutable_config() = req.get_config().include_secrets() ? *config : masked_config(*config);
      if (req.get_config().include_secrets()) {
        for (auto& v : config_secret_values(*config)) out->add_secret_values(std::move(v));
      }
      for (const auto& g : loaded_.gateways) {
        auto* info = out->add_gateways();
        info->set_name(g.name);
        info->set_host(g.config.gateway().host());
        info->set_port(g.config.gateway().port());
        info->set_state_dir(g.config.gateway().state_dir());
      }
      out->set_version(config_version_);
      out->set_yaml(render_config_yaml(loaded_.config, false));
      out->set_source(loaded_.describe_source());
      for (const auto& k : loaded_.overridden_keys) out->add_overridden_keys(k);
      out->set_overrides_path(loaded_.overrides_path);
      break;
    }
    case pb::Request::kSetConfig:
      return set_config(req.set_config());
    case pb::Request::kReloadConfig: {
      // As SIGHUP: an invalid config is refused and the running one kept.
      if (auto err = reload("gwrctl reload", req.reload_config().actor())) {
        return error_reply(pb::Error::INVALID_ARGUMENT, err->describe());
      }
      auto* out = reply.mutable_components();
      out->set_config_version(config_version_);
      out->set_config_source(loaded_.describe_source());
      break;
    }
    default:
      break;  // answered "unrecognized" by the server
  }
  return reply;
}

pb::Reply SupervisorShell::set_config(const pb::SetConfigRequest& req) {
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

std::string SupervisorShell::status_line() const {
  std::string out;
  for (const auto& s : table_.slots()) {
    if (!out.empty()) out += ", ";
    out += s.name + " " + to_string(s.state);
    if (s.restarts) out += " (" + std::to_string(s.restarts) + " restarts)";
  }
  return out;
}

}  // namespace gwr::supervisor
