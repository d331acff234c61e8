#include "prober/prober_core.h"

#include <algorithm>
#include <cstdio>

#include "common/duration.h"
#include "common/pb_json.h"
#include "common/strings.h"

namespace gwr::prober {

namespace {

std::string ms_text(int64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f ms", static_cast<double>(us) / 1000.0);
  return buf;
}

// A port or health observation becomes the check's latest result.
template <class CheckT, class Observation>
void record(CheckT& c, const Observation& obs, int64_t wall_ms) {
  c.probed = true;
  c.at_ms = wall_ms;
  c.ok = obs.ok;
  c.latency_us = obs.latency_us;
  c.detail = obs.ok ? "" : obs.detail;
  c.consecutive_failures = obs.ok ? 0 : c.consecutive_failures + 1;
}

}  // namespace

ProbeSettings ProbeSettings::from_config(const pb::Config& c) {
  ProbeSettings s;
  const auto& p = c.probes();
  s.process_interval = Millis(p.process().interval());
  s.port_interval = Millis(p.port().interval());
  s.port_timeout = Millis(p.port().timeout());
  s.port_failures = p.port().failures();
  s.health_interval = Millis(p.health().interval());
  s.health_timeout = Millis(p.health().timeout());
  s.health_failures = p.health().failures();
  s.slow_threshold = Millis(p.health().slow_threshold());
  s.memory_interval = Millis(p.memory().interval());
  s.max_rss_bytes = static_cast<uint64_t>(p.memory().max_rss_mb()) << 20;
  s.hard_rss_bytes = static_cast<uint64_t>(p.memory().hard_rss_mb()) << 20;
  s.min_available_percent = p.memory().min_available_percent();
  s.startup_grace = Millis(p.startup_grace());
  s.recheck_interval = Millis(p.recheck_interval());
  s.republish_interval = Millis(p.republish_interval());
  return s;
}

ProberCore::ProberCore(const ProbeSettings& settings, uint64_t run_id, SteadyTime now)
    : settings_(settings), run_id_(run_id) {
  const pb::CheckKind kinds[] = {pb::CHECK_PROCESS, pb::CHECK_PORT, pb::CHECK_HEALTH, pb::CHECK_MEMORY};
  for (size_t i = 0; i < 4; ++i) {
    checks_[i].kind = kinds[i];
    checks_[i].due = now;
  }
  health_.set_state(pb::GATEWAY_STATE_UNKNOWN);
  health_.set_prober_run_id(run_id_);
}

void ProberCore::update_settings(const ProbeSettings& settings, SteadyTime now) {
  settings_ = settings;
  reprobe(now);
}

void ProberCore::reprobe(SteadyTime now) {
  for (auto& c : checks_) c.due = std::min(c.due, now);
}

Millis ProberCore::interval(pb::CheckKind kind) const {
  Millis base{0};
  switch (kind) {
    case pb::CHECK_PROCESS: base = settings_.process_interval; break;
    case pb::CHECK_PORT: base = settings_.port_interval; break;
    case pb::CHECK_HEALTH: base = settings_.health_interval; break;
    case pb::CHECK_MEMORY: base = settings_.memory_interval; break;
    default: base = Millis(1000);
  }
  if (quick_cadence() && kind != pb::CHECK_MEMORY) {
    // While the gateway is down or starting, watch it closely so recovery
    // is seen as soon as it happens.
    return std::min(base, std::max(settings_.recheck_interval, Millis(1000)));
  }
  return base;
}

bool ProberCore::quick_cadence() const {
  const auto s = health_.state();
  return s == pb::DOWN || s == pb::STARTING || s == pb::GATEWAY_STATE_UNKNOWN;
}

void ProberCore::schedule_after(Check& c, SteadyTime now) {
  c.in_flight = false;
  uint32_t threshold = 1;
  if (c.kind == pb::CHECK_PORT) threshold = settings_.port_failures;
  if (c.kind == pb::CHECK_HEALTH) threshold = settings_.health_failures;
  const bool confirming = !c.ok && c.consecutive_failures < threshold;
  c.due = now + (confirming ? settings_.recheck_interval : interval(c.kind));
}

void ProberCore::new_instance(SteadyTime now) {
  for (auto kind : {pb::CHECK_PORT, pb::CHECK_HEALTH, pb::CHECK_MEMORY}) {
    Check& c = check(kind);
    c.consecutive_failures = 0;
    c.probed = false;
    c.ok = false;
    c.detail.clear();
    if (!c.in_flight) c.due = now;
  }
  healthy_since_start_ = false;
  startup_ = StartupStatus::kUnknown;
  recent_ok_latency_us_.clear();
  memory_known_ = false;
  memory_ = {};
  oom_killed_ = false;
}

std::vector<pb::CheckKind> ProberCore::take_due(SteadyTime now) {
  std::vector<pb::CheckKind> out;
  for (auto& c : checks_) {
    if (c.in_flight || c.due > now) continue;
    if (c.kind == pb::CHECK_MEMORY && pid_ == 0) continue;
    c.in_flight = true;
    out.push_back(c.kind);
  }
  return out;
}

void ProberCore::on_process(const ProcessObservation& obs, SteadyTime now, int64_t wall_ms) {
  Check& c = check(pb::CHECK_PROCESS);
  c.probed = true;
  c.at_ms = wall_ms;
  if (obs.found) {
    if (obs.pid != pid_) {
      pid_ = obs.pid;
      process_start_ms_ = obs.start_wall_ms;
      instance_seen_ms_ = wall_ms;
      new_instance(now);
    }
    c.ok = true;
    c.consecutive_failures = 0;
    c.detail = obs.detail.empty() ? "pid " + std::to_string(obs.pid) : obs.detail;
  } else {
    if (pid_ != 0) {
      new_instance(now);
      instance_seen_ms_ = wall_ms;
    }
    pid_ = 0;
    process_start_ms_ = 0;
    oom_killed_ = obs.oom_killed;
    c.ok = false;
    ++c.consecutive_failures;
    c.detail = obs.detail.empty() ? "gateway process not found" : obs.detail;
  }
  schedule_after(c, now);
}

bool ProberCore::stale(Check& c, int64_t started_ms, SteadyTime now) {
  if (started_ms >= instance_seen_ms_) return false;
  // Began before the current gateway process was found: it says nothing
  // about this one. Probe it again instead.
  c.in_flight = false;
  c.due = now;
  return true;
}

void ProberCore::on_port(const PortObservation& obs, SteadyTime now, int64_t wall_ms) {
  Check& c = check(pb::CHECK_PORT);
  if (stale(c, wall_ms, now)) return;
  if (!obs.ok && wall_ms < c.at_ms && c.ok) {
    // Began before a newer sign that the port accepts connections (an HTTP
    // answer): it no longer says anything.
    schedule_after(c, now);
    return;
  }
  record(c, obs, wall_ms);
  schedule_after(c, now);
  if (!obs.ok) {
    // Cross-check: is the process still there?
    Check& p = check(pb::CHECK_PROCESS);
    if (!p.in_flight) p.due = std::min(p.due, now);
  }
}

void ProberCore::on_health(const HealthObservation& obs, SteadyTime now, int64_t wall_ms) {
  Check& c = check(pb::CHECK_HEALTH);
  if (stale(c, wall_ms, now)) return;
  record(c, obs, wall_ms);
  if (obs.http_status > 0) {
    // An HTTP answer came through the port, so it accepts connections,
    // whatever an older port check said (a gateway that just bound it).
    Check& port = check(pb::CHECK_PORT);
    if (!port.ok && port.at_ms <= wall_ms) {
      port.probed = true;
      port.ok = true;
      port.consecutive_failures = 0;
      port.detail.clear();
      port.at_ms = wall_ms;
    }
  }
  if (obs.ok) {
    healthy_since_start_ = true;
    startup_ = StartupStatus::kStarted;
    recent_ok_latency_us_.push_back(obs.latency_us);
    while (recent_ok_latency_us_.size() > 2) recent_ok_latency_us_.pop_front();
  } else {
    recent_ok_latency_us_.clear();
    if (obs.startup != StartupStatus::kUnknown) startup_ = obs.startup;
    // After a first failure, look at the lower layers at once.
    for (auto kind : {pb::CHECK_PROCESS, pb::CHECK_PORT}) {
      Check& other = check(kind);
      if (!other.in_flight) other.due = std::min(other.due, now);
    }
  }
  schedule_after(c, now);
}

void ProberCore::on_memory(const MemoryObservation& obs, SteadyTime now, int64_t wall_ms) {
  Check& c = check(pb::CHECK_MEMORY);
  c.probed = true;
  c.at_ms = wall_ms;
  memory_ = obs;
  memory_known_ = true;
  c.ok = obs.rss_bytes <= settings_.max_rss_bytes;
  c.consecutive_failures = c.ok ? 0 : c.consecutive_failures + 1;
  c.detail = c.ok ? "" : "RSS " + megabytes_text(obs.rss_bytes, 0) + " over " + megabytes_text(settings_.max_rss_bytes, 0);
  schedule_after(c, now);
}

bool ProberCore::starting(int64_t wall_ms) const {
  if (pid_ == 0) return false;
  const int64_t uptime = wall_ms - process_start_ms_;
  if (startup_ == StartupStatus::kStarting) {
    return uptime < settings_.startup_grace.count() * settings_.stuck_starting_factor;
  }
  if (startup_ == StartupStatus::kStarted || healthy_since_start_) return false;
  return uptime < settings_.startup_grace.count();
}

const pb::GatewayHealth& ProberCore::evaluate(SteadyTime /*now*/, int64_t wall_ms) {
  const pb::GatewayState previous = health_.state();
  pb::GatewayHealth h;
  h.set_prober_run_id(run_id_);
  h.set_pid(static_cast<uint32_t>(pid_));
  h.set_uptime_ms(pid_ ? std::max<int64_t>(0, wall_ms - process_start_ms_) : 0);
  if (pid_ && memory_known_) {
    h.set_rss_bytes(memory_.rss_bytes);
    h.set_children_rss_bytes(memory_.children_rss_bytes);
    h.set_cpu_percent(memory_.cpu_percent);
    h.set_connections(memory_.connections);
    h.set_busy(memory_.cpu_percent >= settings_.busy_cpu_percent);
  }
  h.set_oom_killed(oom_killed_);
  int64_t observed = 0;
  for (const auto& c : checks_) {
    auto* r = h.add_checks();
    r->set_kind(c.kind);
    r->set_ok(c.ok);
    r->set_probed(c.probed);
    r->set_latency_us(c.latency_us);
    r->set_detail(c.detail);
    r->set_at_ms(c.at_ms);
    r->set_consecutive_failures(c.consecutive_failures);
    observed = std::max(observed, c.at_ms);
  }
  h.set_observed_at_ms(observed);

  const Check& proc = check(pb::CHECK_PROCESS);
  const Check& port = check(pb::CHECK_PORT);
  const Check& hc = check(pb::CHECK_HEALTH);
  pb::GatewayState state = pb::GATEWAY_STATE_UNKNOWN;
  uint32_t tier = 0;
  if (!proc.probed) {
    state = pb::GATEWAY_STATE_UNKNOWN;
  } else if (!proc.ok) {
    state = pb::DOWN;
    h.add_reasons(proc.detail);
    tier = 1;
    if (oom_killed_) {
      h.add_reasons("the kernel's OOM killer ended it: memory is running out");
      tier = 2;
    }
  } else {
    const bool port_failing = port.probed && !port.ok;
    const bool health_failing = hc.probed && !hc.ok;
    const bool port_confirmed = port_failing && port.consecutive_failures >= settings_.port_failures;
    const bool health_confirmed = health_failing && hc.consecutive_failures >= settings_.health_failures;
    if ((port_failing || health_failing) && starting(wall_ms)) {
      state = pb::STARTING;
      const int64_t up_s = (wall_ms - process_start_ms_) / 1000;
      h.add_reasons(startup_ == StartupStatus::kStarting
                        ? "starting: the gateway reports it is still starting (up " + std::to_string(up_s) + "s)"
                        : "starting: up " + std::to_string(up_s) + "s, within the startup grace of " +
                              format_duration(settings_.startup_grace));
    } else if (port_confirmed || health_confirmed) {
      state = pb::DOWN;
      if (port_confirmed) {
        h.add_reasons("port not accepting connections: " + port.detail + " (" +
                      std::to_string(port.consecutive_failures) + " checks in a row)");
        tier = 1;
      }
      if (health_confirmed) {
        h.add_reasons("health check failing: " + hc.detail + " (" + std::to_string(hc.consecutive_failures) +
                      " checks in a row)");
        if (tier == 0) tier = 2;
      }
      if (startup_ == StartupStatus::kDraining) h.add_reasons("the gateway reports it is draining (shutting down)");
      if (startup_ == StartupStatus::kStarting) h.add_reasons("stuck starting for longer than it should take");
    } else if (port_failing || health_failing) {
      // Not confirmed yet: one slow or failed answer is not an incident.
      state = previous;
      if (previous == pb::DOWN || previous == pb::STARTING) {
        for (const auto& r : health_.reasons()) h.add_reasons(r);
        tier = health_.recommended_tier();
      }
      const Check& f = health_failing ? hc : port;
      const uint32_t threshold = health_failing ? settings_.health_failures : settings_.port_failures;
      h.add_reasons(std::string("confirming: ") + check_kind_name(f.kind) + " check failed " +
                    std::to_string(f.consecutive_failures) + " of " + std::to_string(threshold) + ": " + f.detail);
    } else if (!hc.probed) {
      // A process we have not checked yet: just (re)started, or unknown.
      const bool young = wall_ms - process_start_ms_ < settings_.startup_grace.count();
      state = previous == pb::GATEWAY_STATE_UNKNOWN ? pb::GATEWAY_STATE_UNKNOWN
              : young                               ? pb::STARTING
                                                    : previous;
      h.add_reasons("new gateway process " + std::to_string(pid_) + ", not checked yet");
    } else {
      state = pb::HEALTHY;
      if (memory_known_ && memory_.rss_bytes > settings_.max_rss_bytes) {
        state = pb::DEGRADED;
        h.add_reasons("high memory: RSS " + megabytes_text(memory_.rss_bytes, 0) + " over the " +
                      megabytes_text(settings_.max_rss_bytes, 0) + " threshold");
        const bool hard = settings_.hard_rss_bytes > 0 && memory_.rss_bytes > settings_.hard_rss_bytes;
        const bool machine_short = memory_.available_percent < static_cast<double>(settings_.min_available_percent);
        if (hard || machine_short) {
          tier = 2;
          h.add_reasons(hard ? "memory critical: over the hard limit of " + megabytes_text(settings_.hard_rss_bytes, 0)
                             : "memory critical: the machine has only " +
                                   std::to_string(static_cast<int>(memory_.available_percent)) + "% available");
        }
      }
      if (recent_ok_latency_us_.size() == 2 &&
          std::all_of(recent_ok_latency_us_.begin(), recent_ok_latency_us_.end(),
                      [&](int64_t us) { return us > settings_.slow_threshold.count() * 1000; })) {
        state = pb::DEGRADED;
        h.add_reasons("slow health answers: " + ms_text(recent_ok_latency_us_.front()) + ", " +
                      ms_text(recent_ok_latency_us_.back()) + " (threshold " + format_duration(settings_.slow_threshold) +
                      ")");
      }
    }
  }
  h.set_state(state);
  h.set_recommended_tier(state == pb::DOWN || state == pb::DEGRADED ? tier : 0);
  if (state != previous || health_.state_since_ms() == 0) {
    h.set_state_since_ms(wall_ms);
  } else {
    h.set_state_since_ms(health_.state_since_ms());
  }
  h.set_seq(health_.seq());
  const bool changed_state = state != previous;
  health_ = std::move(h);
  if (changed_state) {
    history_.push_back(health_);
    while (history_.size() > 50) history_.pop_front();
  }
  return health_;
}

std::optional<pb::GatewayHealth> ProberCore::publishable(SteadyTime now, int64_t wall_ms) {
  evaluate(now, wall_ms);
  if (health_.state() == pb::GATEWAY_STATE_UNKNOWN && !check(pb::CHECK_PROCESS).probed) return std::nullopt;
  const std::string key = health_key(health_);
  if (ever_published_ && key == published_key_ && now - last_publish_ < settings_.republish_interval) {
    return std::nullopt;
  }
  health_.set_seq(++seq_);
  published_key_ = key;
  last_publish_ = now;
  ever_published_ = true;
  return health_;
}

SteadyTime ProberCore::next_wake(SteadyTime now) const {
  SteadyTime wake = now + std::chrono::seconds(60);
  for (const auto& c : checks_) {
    if (c.in_flight) continue;
    if (c.kind == pb::CHECK_MEMORY && pid_ == 0) continue;
    wake = std::min(wake, c.due);
  }
  if (ever_published_) wake = std::min(wake, last_publish_ + settings_.republish_interval);
  return std::max(wake, now);
}

std::string ProberCore::activity() const {
  std::string s;
  switch (health_.state()) {
    case pb::HEALTHY: s = "gateway healthy"; break;
    case pb::STARTING: s = "gateway starting"; break;
    case pb::DEGRADED: s = "gateway degraded"; break;
    case pb::DOWN: s = "gateway DOWN"; break;
    default: s = "gateway state unknown"; break;
  }
  if (pid_) s += ", pid " + std::to_string(pid_);
  return s;
}

std::string health_key(const pb::GatewayHealth& h) {
  std::string key = std::to_string(h.state()) + "|" + std::to_string(h.pid()) + "|" +
                    std::to_string(h.recommended_tier()) + "|" + (h.busy() ? "b" : "-") + "|";
  for (const auto& r : h.reasons()) key += r + ";";
  key += "|";
  for (const auto& c : h.checks()) key += (c.probed() ? (c.ok() ? "1" : "0") : "_");
  return key;
}

}  // namespace gwr::prober
