#include "prober/prober_worker.h"

#include <algorithm>

#include "common/boot_lifecycle.h"
#include "common/service_query.h"
#include "common/gateway_log.h"
#include "common/redact.h"

#include <unistd.h>

#include <random>

#include "common/log.h"
#include "common/bus.h"
#include "common/config_schema.h"
#include "common/pb_json.h"
#include "common/platform/proc.h"
#include "common/gateway_finder.h"

namespace gwr::prober {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

namespace {


}  // namespace

void ProberWorker::start(WorkerContext& ctx) {
  std::random_device rd;
  run_id_ = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(::getpid());
  clock_ = &ctx.clock();
  system_ = ctx.env().system;
  runner_ = std::make_unique<ProbeRunner>(ctx.env().http, ctx.clock(), probe_functions_);
  oom_kills_seen_ = system_->oom_kills();
  reset_core(ctx, clock_->steady());
  const auto& g = ctx.config().gateway();
  // Whether a service manager knows the gateway's unit, asked now rather
  // than when the gateway exits (see ask_service_manager).
  if (query_service_manager(*ctx.env().commands, g.service()).verdict == ServiceState::Verdict::kUnknown) {
    no_manager_until_ = clock_->steady() + 10min;
  }
  log::info("prober_watching", {{"host", g.host()},
                                {"port", g.port()},
                                {"process_match", g.process_match()},
                                {"health_path", g.health_path()},
                                {"startup_path", g.startup_path()},
                                {"readiness_path", g.readiness_path()}});
}

void ProberWorker::reset_core(WorkerContext& ctx, SteadyTime now) {
  ++generation_;
  unwatch();
  core_ = std::make_unique<ProberCore>(ProbeSettings::from_config(ctx.config()), run_id_, now);
}

void ProberWorker::on_config(WorkerContext& ctx, const std::vector<std::string>& changed) {
  if (std::find(changed.begin(), changed.end(), "gateway.service") != changed.end()) no_manager_until_ = {};
  if (restarts_worker(changed, kProber)) {
    log::info("prober_target_changed", {{"changed", changed}});
    reset_core(ctx, clock_->steady());
  } else {
    core_->update_settings(ProbeSettings::from_config(ctx.config()), clock_->steady());
  }
}

void ProberWorker::on_event(WorkerContext& /*ctx*/, const pb::Event& event) {
  if (event.has_reprobe()) {
    log::debug("reprobe_requested", {{"by", event.source()}, {"reason", event.reprobe().reason()}});
    core_->reprobe(clock_->steady());
  }
}

pb::Reply ProberWorker::on_request(WorkerContext& ctx, const pb::Request& request) {
  pb::Reply reply;
  if (request.has_probe_status()) {
    auto* out = reply.mutable_probe_status();
    *out->mutable_health() = core_->evaluate(clock_->steady(), clock_->wall_ms());
    for (const auto& h : core_->history()) *out->add_recent() = h;
    (void)ctx;
  }
  return reply;
}

void ProberWorker::watch_pid(pid_t pid) {
  if (pid == watched_pid_ && pid_fd_ >= 0) return;
  unwatch();
  pid_fd_ = system_->watch_exit(pid);
  watched_pid_ = pid;
}

void ProberWorker::unwatch() {
  if (pid_fd_ >= 0) system_->close_watch(pid_fd_);
  pid_fd_ = -1;
  watched_pid_ = 0;
}

void ProberWorker::check_process(WorkerContext& ctx, SteadyTime now) {
  const auto& g = ctx.config().gateway();
  // Stamped with when the scan began: a process that appeared during the
  // scan may have been missed, so "not found" is only known as of then.
  const int64_t began = clock_->wall_ms();
  const auto found = system_->find_gateway(gateway_spec(ctx), core_->pid(), gateway_start_ticks_, began);
  gateway_start_ticks_ = found.found ? found.start_ticks : 0;
  ProcessObservation obs;
  obs.found = found.found;
  obs.pid = found.pid;
  obs.start_wall_ms = found.start_wall_ms;
  obs.looked_for = g.process_match();
  obs.seen_instead = found.seen_instead;
  const pid_t before = core_->pid();
  if (!found.found && before != 0) {
    // The gateway it knew is gone and its exit watch has not said so yet
    // (POSIX polls; or this scan ran just before the pidfd's wakeup): it
    // exited, the same finding the watch would have made.
    const auto info = system_->process(before);
    if (!info || info->zombie()) {
      const uint64_t oom_now = system_->oom_kills();
      obs.exited = true;
      obs.pid = before;
      obs.oom_killed = oom_now > oom_kills_seen_;
      log::warn("gateway_exited", {{"gateway_pid", before}, {"oom_killed", obs.oom_killed}, {"seen_by", "process scan"}});
    }
  }
  scan_upgrades();
  core_->on_process(obs, now, began);
  if (found.found) {
    last_gateway_pid_ = found.pid;
    watch_pid(found.pid);
    if (found.pid != before) {
      log::info("gateway_found",
                {{"gateway_pid", found.pid}, {"previous_pid", before}, {"launching", found.launching}});
    }
  } else {
    unwatch();
  }
  oom_kills_seen_ = system_->oom_kills();
}

GatewaySpec ProberWorker::gateway_spec(WorkerContext& ctx) const {
  const auto& g = ctx.config().gateway();
  return GatewaySpec{g.process_match(), g.launch_match(), ctx.config().probes().startup_grace(),
                     static_cast<uint16_t>(g.port()), g.state_dir()};
}

void ProberWorker::on_gateway_exit(WorkerContext& ctx) {
  const pid_t pid = watched_pid_;
  unwatch();
  // Where exits are seen by polling (POSIX: an unreaped gateway only at the
  // identity check), a restart may already have brought up the next gateway
  // by the time this one's exit is noticed: a new instance to check, not a
  // DOWN to repair (it was: a second, automatic repair after a manual one).
  if (const auto next = system_->find_gateway(gateway_spec(ctx), 0, 0, clock_->wall_ms()); next.found && next.pid != pid) {
    log::info("gateway_replaced", {{"gateway_pid", next.pid}, {"previous_pid", pid}});
    check_process(ctx, clock_->steady());
    publish_if_needed(ctx);
    return;
  }
  const uint64_t oom_now = system_->oom_kills();
  ProcessObservation obs;
  obs.found = false;
  obs.exited = true;
  obs.pid = pid;
  obs.looked_for = ctx.config().gateway().process_match();
  obs.oom_killed = oom_now > oom_kills_seen_;
  oom_kills_seen_ = oom_now;
  log::warn("gateway_exited", {{"gateway_pid", pid}, {"oom_killed", obs.oom_killed}});
  core_->on_process(obs, clock_->steady(), clock_->wall_ms());
  publish_if_needed(ctx);
}

void ProberWorker::check_memory(WorkerContext& ctx, SteadyTime now) {
  const pid_t pid = core_->pid();
  auto info = system_->process(pid);
  if (!info || info->zombie()) {
    // Gone since the last process check: let that check say so.
    core_->reprobe(now);
    MemoryObservation empty;
    core_->on_memory(empty, now, clock_->wall_ms());
    return;
  }
  MemoryObservation obs;
  obs.rss_bytes = info->rss_kib * 1024;
  obs.children_rss_bytes = system_->descendants_rss_kib(pid) * 1024;
  const auto mem = system_->meminfo();
  if (mem.total_kib > 0) obs.available_percent = 100.0 * static_cast<double>(mem.available_kib) / static_cast<double>(mem.total_kib);
  if (last_cpu_pid_ == pid && last_cpu_at_ != SteadyTime{}) {
    const double secs = std::chrono::duration<double>(now - last_cpu_at_).count();
    const double hz = system_->clock_ticks_per_second();
    if (secs > 0 && info->cpu_ticks >= last_cpu_ticks_) {
      obs.cpu_percent = static_cast<double>(info->cpu_ticks - last_cpu_ticks_) / hz / secs * 100.0;
    }
  }
  last_cpu_pid_ = pid;
  last_cpu_ticks_ = info->cpu_ticks;
  last_cpu_at_ = now;
  obs.connections = system_->established_connections(static_cast<uint16_t>(ctx.config().gateway().port()));
  core_->on_memory(obs, now, clock_->wall_ms());
}

SteadyTime ProberWorker::on_tick(WorkerContext& ctx, SteadyTime now) {
  // A check thread stuck far past its timeout is a broken invariant: let the
  // supervisor restart us rather than report stale health.
  if (auto busy = runner_->busy_for(); busy && *busy > 90s) {
    log::error("probe_thread_stuck", {{"busy_ms", busy->count()}});
    log::flush();
    std::abort();
  }
  const auto& g = ctx.config().gateway();
  const auto& p = ctx.config().probes();
  for (auto kind : core_->take_due(now)) {
    switch (kind) {
      case pb::CHECK_PROCESS: check_process(ctx, now); break;
      case pb::CHECK_MEMORY: check_memory(ctx, now); break;
      case pb::CHECK_PORT:
        runner_->submit({.kind = pb::CHECK_PORT,
                         .host = g.host(),
                         .port = static_cast<uint16_t>(g.port()),
                         .timeout = std::chrono::milliseconds(p.port().timeout()),
                         .generation = generation_});
        break;
      case pb::CHECK_HEALTH:
        runner_->submit({.kind = pb::CHECK_HEALTH,
                         .host = g.host(),
                         .port = static_cast<uint16_t>(g.port()),
                         .health_path = g.health_path(),
                         .startup_path = g.startup_path(),
                         .readiness_path = g.readiness_path(),
                         .timeout = std::chrono::milliseconds(p.health().timeout()),
                         .generation = generation_});
        break;
      default: break;
    }
  }
  publish_if_needed(ctx);
  return core_->next_wake(clock_->steady());
}

std::vector<zmq::pollitem_t> ProberWorker::poll_items() {
  std::vector<zmq::pollitem_t> items;
  for (int fd : runner_->notify_fds()) items.push_back({nullptr, fd, ZMQ_POLLIN, 0});
  if (pid_fd_ >= 0) items.push_back({nullptr, pid_fd_, ZMQ_POLLIN, 0});
  return items;
}

void ProberWorker::on_ready(WorkerContext& ctx, size_t index) {
  if (index < 2) {
    drain_results(ctx);
  } else if (index == 2) {
    on_gateway_exit(ctx);
  }
}

void ProberWorker::drain_results(WorkerContext& ctx) {
  const auto now = clock_->steady();
  for (const auto& r : runner_->drain()) {
    if (r.generation != generation_) continue;  // a job for a previous target
    if (r.kind == pb::CHECK_PORT) {
      if (!r.port.ok) log::debug("port_check_failed", {{"detail", r.port.detail}});
      core_->on_port(r.port, now, r.started_wall_ms);
    } else {
      if (!r.health.ok) {
        log::info("health_check_failed", {{"detail", r.health.detail},
                                          {"http_status", r.health.http_status},
                                          {"latency_ms", r.health.latency_us / 1000},
                                          {"startup", to_string(r.health.startup)}});
      }
      core_->on_health(r.health, now, r.started_wall_ms);
      if (!r.health.readiness.suppressed.empty()) read_breaker(ctx, now);
      if (std::any_of(r.health.readiness.failing.begin(), r.health.readiness.failing.end(),
                      [](const std::string& n) { return readiness_kind(n) == pb::Finding::CHANNEL_FAILING; })) {
        read_channel_restarts(ctx, now);
      }
    }
  }
  publish_if_needed(ctx);
}

void ProberWorker::read_channel_restarts(WorkerContext& ctx, SteadyTime now) {
  // What OpenClaw's own health monitor last did about a failing channel, from
  // the tail of its newest log: once a minute at most, 512 KB at most.
  if (channel_log_read_ != SteadyTime{} && now - channel_log_read_ < std::chrono::seconds(60)) return;
  channel_log_read_ = now;
  const auto& g = ctx.config().gateway();
  const std::string file = newest_match({g.log_files().begin(), g.log_files().end()});
  // Only what was logged since the watched gateway started: the file is
  // shared by every gateway on the machine (a rescue gateway running beside
  // it at the same time still cannot be told apart: its lines name no port).
  const int64_t since = core_->process_start_ms() > 0 ? core_->process_start_ms() : clock_->wall_ms();
  auto reasons =
      file.empty() ? std::map<std::string, std::string>{} : channel_restart_reasons(read_tail(file, 512 * 1024), since);
  for (auto& [channel, reason] : reasons) reason = SharedRedactor::instance().redact(reason);
  log::debug("channel_restarts_read", {{"file", file}, {"channels", reasons.size()}});
  core_->set_channel_restarts(std::move(reasons));
}

void ProberWorker::read_breaker(WorkerContext& ctx, SteadyTime now) {
  // OpenClaw's own records say why and until when: read-only, twice a minute at most.
  if (breaker_read_ != SteadyTime{} && now - breaker_read_ < std::chrono::seconds(30)) return;
  breaker_read_ = now;
  const auto& dir = ctx.config().gateway().state_dir();
  const int64_t wall = clock_->wall_ms();
  const auto life = read_boot_lifecycle(dir, wall);
  BreakerView v;
  if (life.read) {
    v.unclean_boots = breaker_trip_count(life.boots, wall);
    v.clears_at_ms = breaker_clears_at(life.boots, wall);
  }
  // The crashes that tripped it are within the window before the tripped boot.
  v.cause = SharedRedactor::instance().redact(latest_crash_cause(dir, wall - 15 * 60'000));
  log::info("breaker_read", {{"unclean_boots", v.unclean_boots},
                             {"clears_at_ms", v.clears_at_ms},
                             {"cause", v.cause},
                             {"records", life.read ? "read" : life.error}});
  core_->set_breaker_view(v);
}

void ProberWorker::scan_upgrades() {
  UpgradeView up;
  // Ours or root's (a global `sudo npm i -g openclaw`): another user's
  // upgrade of their own copy is not one of this gateway.
  const uid_t me = ::getuid();
  for (const auto& p : system_->processes()) {
    if (p.uid != me && p.uid != 0) continue;
    if (auto what = upgrade_command(p.argv)) {
      up.pid = p.pid;
      up.command = *what;
      break;
    }
  }
  if (up.pid != 0 && (up.pid != upgrade_pid_)) log::info("gateway_upgrade_seen", {{"upgrade_pid", up.pid}, {"command", up.command}});
  if (up.pid == 0 && upgrade_pid_ != 0) log::info("gateway_upgrade_ended", {{"upgrade_pid", upgrade_pid_}});
  upgrade_pid_ = up.pid;
  core_->set_upgrade(up, clock_->wall_ms());
}

void ProberWorker::ask_service_manager(WorkerContext& ctx, SteadyTime now) {
  const int64_t wall = clock_->wall_ms();
  // Only a gateway that is not serving raises the question, and the answer
  // is good for two seconds (a stop in progress turns into a stop).
  if (core_->evaluate(now, wall).state() != pb::DOWN) {
    core_->set_service_state({}, wall);
    same_answers_ = 0;
    service_asked_ = SteadyTime{};  // the next DOWN asks at once
    return;
  }
  // Every 2 s while the answer changes; a gateway stopped for hours is
  // asked every 30 s (a spawn of systemctl each time).
  const auto every = same_answers_ >= 10 ? 30s : 2s;
  if (service_asked_ != SteadyTime{} && now - service_asked_ < every) return;
  service_asked_ = now;
  const auto& g = ctx.config().gateway();
  // A machine where no manager knows the unit (no systemd, no such unit) is
  // not asked again for ten minutes: a gateway's exit is reported without
  // waiting on commands that cannot answer.
  ServiceState s;
  if (now >= no_manager_until_) {
    s = query_service_manager(*ctx.env().commands, g.service());
    if (s.verdict == ServiceState::Verdict::kUnknown) no_manager_until_ = now + 10min;
  }
  if (s.verdict == ServiceState::Verdict::kUnknown && core_->pid() == 0 && last_gateway_pid_ != 0) {
    // No manager answers: OpenClaw's own boot record says whether the gateway
    // this prober saw running stopped cleanly (read-only). Only that one: a
    // clean stop gwr did not see (the machine's shutdown before a reboot) is
    // no owner's word, and with no service manager gwr is what starts it again.
    if (const auto boot = newest_boot(g.state_dir());
        boot && boot->completed_at_ms && boot->outcome == "clean_stop" &&
        boot->pid == static_cast<uint32_t>(last_gateway_pid_)) {
      s.verdict = ServiceState::Verdict::kStopped;
      s.manager = "openclaw";
      s.detail = "its boot record says pid " + std::to_string(boot->pid) + " stopped cleanly";
    }
  }
  const bool same = s.verdict == core_->service_state().verdict && s.detail == core_->service_state().detail;
  same_answers_ = same ? same_answers_ + 1 : 0;
  if (!same) {
    log::info("gateway_service_state", {{"manager", s.manager}, {"detail", s.detail}, {"deliberate", s.deliberate()},
                                        {"service", g.service()}});
  }
  core_->set_service_state(s, wall);
}

void ProberWorker::publish_if_needed(WorkerContext& ctx) {
  ask_service_manager(ctx, clock_->steady());
  auto health = core_->publishable(clock_->steady(), clock_->wall_ms());
  if (!health) return;
  std::string keys;
  for (const auto& f : health->findings()) keys += finding_key(f) + ";";
  if (health->state() != last_logged_state_ || (health->state() == pb::DOWN && keys != last_logged_reasons_)) {
    const bool bad = health->state() == pb::DOWN || health->state() == pb::DEGRADED;
    log::write(bad ? log::Level::kWarn : log::Level::kInfo, "gateway_state",
               {{"from", gateway_state_name(last_logged_state_)},
                {"to", gateway_state_name(health->state())},
                {"gateway_pid", health->pid()},
                {"reasons", describe_all(health->findings())},
                {"findings", finding_keys(health->findings())},
                {"recommended_tier", health->recommended_tier()},
                {"seq", health->seq()}});
    last_logged_state_ = health->state();
    last_logged_reasons_ = keys;
  }
  ctx.set_activity("watching " + ctx.config().gateway().host() + ":" + std::to_string(ctx.config().gateway().port()) +
                   ": " + core_->activity());
  pb::Event ev;
  *ev.mutable_gateway_health() = *health;
  ctx.publish(std::move(ev));
}

void ProberWorker::stop(WorkerContext& /*ctx*/) {
  unwatch();
  runner_.reset();
}

}  // namespace gwr::prober
