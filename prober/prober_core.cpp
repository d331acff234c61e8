#include "prober/prober_core.h"

#include <algorithm>
#include <cstdio>

#include "common/config.h"
#include "common/duration.h"
#include "common/findings.h"
#include "common/strings.h"

namespace gwr::prober {

namespace {

// A port or health observation becomes the check's latest result.
template <class CheckT, class Observation>
void record(CheckT& c, const Observation& obs, int64_t wall_ms) {
  c.probed = true;
  c.at_ms = wall_ms;
  c.ok = obs.ok;
  c.latency_us = obs.latency_us;
  c.detail = obs.ok ? "" : obs.detail;
  c.cause = obs.ok ? pb::CAUSE_UNSPECIFIED : obs.cause;
  if (!obs.ok && c.consecutive_failures == 0) c.failing_since_ms = wall_ms;
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
  s.hang_after = Millis(p.health().hang_after());
  s.memory_interval = Millis(p.memory().interval());
  s.max_rss_bytes = static_cast<uint64_t>(p.memory().max_rss_mb()) << 20;
  s.hard_rss_bytes = static_cast<uint64_t>(p.memory().hard_rss_mb()) << 20;
  s.min_available_percent = p.memory().min_available_percent();
  s.memory_trend_window = Millis(p.memory().trend_window());
  s.memory_trend_horizon = Millis(p.memory().trend_horizon());
  s.startup_grace = Millis(p.startup_grace());
  s.recheck_interval = Millis(p.recheck_interval());
  s.republish_interval = Millis(p.republish_interval());
  s.channel_grace = Millis(p.readiness().channel_grace());
  s.lag_grace = Millis(p.readiness().lag_grace());
  return s;
}

ProbeSettings ProbeSettings::defaults() { return from_config(default_config({})); }

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
    c.unanswered_since_ms = 0;
    c.probed = false;
    c.ok = false;
    c.detail.clear();
    c.cause = pb::CAUSE_UNSPECIFIED;
    c.http_status = 0;
    if (!c.in_flight) c.due = now;
  }
  healthy_since_start_ = false;
  startup_ = StartupStatus::kUnknown;
  readiness_.clear();
  lag_since_ms_ = 0;
  recent_ok_latency_us_.clear();
  memory_known_ = false;
  memory_ = {};
  rss_samples_.clear();
  rss_slope_per_hour_ = 0;
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
  looked_for_ = obs.looked_for;
  if (obs.found) {
    if (obs.pid != pid_) {
      pid_ = obs.pid;
      process_start_ms_ = obs.start_wall_ms;
      instance_seen_ms_ = wall_ms;
      new_instance(now);
    }
    exited_pid_ = 0;
    seen_instead_.clear();
    c.ok = true;
    c.consecutive_failures = 0;
    c.detail = "pid " + std::to_string(obs.pid);
  } else {
    if (pid_ != 0) {
      new_instance(now);
      instance_seen_ms_ = wall_ms;
    }
    if (obs.exited) {
      exited_pid_ = obs.pid;
      oom_killed_ = obs.oom_killed;
    } else {
      // A scan after an exit keeps what the exit said (the same incident).
      seen_instead_ = obs.seen_instead;
      if (obs.oom_killed) oom_killed_ = true;
    }
    pid_ = 0;
    process_start_ms_ = 0;
    c.ok = false;
    c.cause = pb::CAUSE_UNSPECIFIED;
    if (c.consecutive_failures == 0) c.failing_since_ms = wall_ms;
    ++c.consecutive_failures;
    c.detail = exited_pid_ ? "gateway process " + std::to_string(exited_pid_) + " exited" : "gateway process not found";
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

pb::Finding::Kind readiness_kind(const std::string& name) {
  // The names OpenClaw 2026.9 gives in /readyz "failing" (OPENCLAW.md);
  // anything else is a channel id when it looks like one.
  if (name == "startup-sidecars") return pb::Finding::STARTING_REPORTED;
  if (name == "gateway-draining") return pb::Finding::DRAINING;
  if (name == "state-database" || name.rfind("agent-database:", 0) == 0) return pb::Finding::DATABASE_REFUSED;
  if (name == "plugin-reload") return pb::Finding::PLUGIN_RELOAD_FAILED;
  if (name == "internal") return pb::Finding::NOT_READY;
  return is_channel_id(name) ? pb::Finding::CHANNEL_FAILING : pb::Finding::NOT_READY;
}

void ProberCore::on_health(const HealthObservation& obs, SteadyTime now, int64_t wall_ms) {
  Check& c = check(pb::CHECK_HEALTH);
  if (stale(c, wall_ms, now)) return;
  record(c, obs, wall_ms);
  // A hang is no answer for hang_after, counted from when the first
  // unanswered GET was sent; any answer (even an error) ends the run.
  if (obs.timed_out && !obs.ok) {
    if (c.unanswered_since_ms == 0) {
      c.unanswered_since_ms = wall_ms;
      c.hang_at = now - std::chrono::duration_cast<Millis>(std::chrono::microseconds(obs.latency_us)) +
                  settings_.hang_after;
    }
  } else {
    c.unanswered_since_ms = 0;
  }
  c.http_status = obs.ok ? 0 : obs.http_status;
  if (obs.http_status > 0) {
    // An HTTP answer came through the port, so it accepts connections,
    // whatever an older port check said (a gateway that just bound it).
    Check& port = check(pb::CHECK_PORT);
    if (!port.ok && port.at_ms <= wall_ms) {
      port.probed = true;
      port.ok = true;
      port.consecutive_failures = 0;
      port.detail.clear();
      port.cause = pb::CAUSE_UNSPECIFIED;
      port.at_ms = wall_ms;
    }
  }
  if (obs.ok) {
    healthy_since_start_ = true;
    startup_ = StartupStatus::kStarted;
    std::vector<ReadinessName> now_names;
    if (obs.readiness.understood) {
      auto take = [&](pb::Finding::Kind kind, const std::string& name) {
        int64_t since = wall_ms;
        for (const auto& old : readiness_) {
          if (old.kind == kind && old.name == name) since = old.since_ms;
        }
        now_names.push_back({kind, name, since});
      };
      for (const auto& name : obs.readiness.failing) take(readiness_kind(name), name);
      for (const auto& name : obs.readiness.suppressed) take(pb::Finding::CHANNEL_SUPPRESSED, name);
      note_channels(obs.readiness, wall_ms);
      note_event_loop(obs.readiness.event_loop, wall_ms);
    } else {
      lag_since_ms_ = 0;
    }
    readiness_ = std::move(now_names);
    recent_ok_latency_us_.push_back(obs.latency_us);
    while (recent_ok_latency_us_.size() > 2) recent_ok_latency_us_.pop_front();
  } else {
    recent_ok_latency_us_.clear();
    readiness_.clear();
    if (obs.startup != StartupStatus::kUnknown) startup_ = obs.startup;
    // After a first failure, look at the lower layers at once.
    for (auto kind : {pb::CHECK_PROCESS, pb::CHECK_PORT}) {
      Check& other = check(kind);
      if (!other.in_flight) other.due = std::min(other.due, now);
    }
  }
  schedule_after(c, now);
}

void ProberCore::note_channels(const ReadinessObservation& r, int64_t wall_ms) {
  for (const auto& name : r.failing) {
    if (readiness_kind(name) != pb::Finding::CHANNEL_FAILING) continue;
    auto ep = std::find_if(channels_.begin(), channels_.end(), [&](const ChannelEpisode& e) { return e.name == name; });
    if (ep == channels_.end() || ep->last_failing_ms + kChannelGapMs < wall_ms) {
      if (ep == channels_.end()) {
        if (channels_.size() >= kMaxReadinessNames) channels_.erase(channels_.begin());
        channels_.push_back({name, wall_ms, wall_ms, 0, false});
        ep = channels_.end() - 1;
      } else {
        *ep = {name, wall_ms, wall_ms, 0, false};
      }
    }
    ep->last_failing_ms = wall_ms;
    // Past its grace: one restart is asked for, by the gateway this is; once
    // another gateway process runs (whoever restarted it), only warnings.
    if (ep->grace_pid == 0 && wall_ms - ep->since_ms >= settings_.channel_grace.count()) ep->grace_pid = pid_;
  }
  for (auto& ep : channels_) {
    if (ep.grace_pid != 0 && pid_ != 0 && pid_ != ep.grace_pid) ep.restarted = true;
  }
  std::erase_if(channels_, [&](const ChannelEpisode& e) { return e.last_failing_ms + kChannelGapMs < wall_ms; });
}

void ProberCore::note_event_loop(const EventLoopSample& e, int64_t wall_ms) {
  if (!e.known || !e.degraded) {
    lag_since_ms_ = 0;
    return;
  }
  if (lag_since_ms_ == 0) lag_since_ms_ = wall_ms;
  event_loop_ = e;
}

void ProberCore::on_memory(const MemoryObservation& obs, SteadyTime now, int64_t wall_ms) {
  Check& c = check(pb::CHECK_MEMORY);
  c.probed = true;
  c.at_ms = wall_ms;
  memory_ = obs;
  memory_known_ = true;
  // At most kTrendSamples in a window, whatever the memory interval, so the
  // slope (quadratic in the samples) stays cheap.
  const int64_t spacing = settings_.memory_trend_window.count() / kTrendSamples;
  if (rss_samples_.empty() || wall_ms - rss_samples_.back().first >= spacing) {
    rss_samples_.emplace_back(wall_ms, obs.rss_bytes);
    while (rss_samples_.front().first < wall_ms - settings_.memory_trend_window.count()) rss_samples_.pop_front();
    rss_slope_per_hour_ = rss_slope_per_hour(rss_samples_);
  }
  c.ok = obs.rss_bytes <= settings_.max_rss_bytes;
  if (!c.ok && c.consecutive_failures == 0) c.failing_since_ms = wall_ms;
  c.consecutive_failures = c.ok ? 0 : c.consecutive_failures + 1;
  c.detail = c.ok ? "" : "RSS " + megabytes_text(obs.rss_bytes, 0) + " over " + megabytes_text(settings_.max_rss_bytes, 0);
  schedule_after(c, now);
}

double rss_slope_per_hour(const std::deque<std::pair<int64_t, uint64_t>>& samples) {
  // Theil-Sen: the median of the slopes between every two samples. One jump
  // (the start's climb, a cache filling at once) is a minority of the pairs
  // and does not make a trend; a steady leak is all of them.
  std::vector<double> slopes;
  slopes.reserve(samples.size() * samples.size() / 2);
  for (size_t a = 0; a < samples.size(); ++a) {
    for (size_t b = a + 1; b < samples.size(); ++b) {
      const int64_t dt = samples[b].first - samples[a].first;
      if (dt <= 0) continue;
      slopes.push_back((static_cast<double>(samples[b].second) - static_cast<double>(samples[a].second)) /
                       static_cast<double>(dt));
    }
  }
  if (samples.size() < 3 || slopes.empty()) return 0;
  const auto mid = slopes.begin() + static_cast<std::ptrdiff_t>(slopes.size() / 2);
  std::nth_element(slopes.begin(), mid, slopes.end());
  return *mid * 3'600'000.0;  // bytes per ms -> per hour
}

ProberCore::Trend ProberCore::memory_trend(int64_t wall_ms) const {
  Trend t;
  if (rss_samples_.size() < 3) return t;
  const int64_t span = rss_samples_.back().first - rss_samples_.front().first;
  if (span * 2 < settings_.memory_trend_window.count()) return t;  // too early to say
  t.bytes_per_hour = rss_slope_per_hour_;
  const uint64_t rss = rss_samples_.back().second;
  if (t.bytes_per_hour > 0 && rss < settings_.max_rss_bytes) {
    const double hours = static_cast<double>(settings_.max_rss_bytes - rss) / t.bytes_per_hour;
    if (hours < 24.0 * 365) t.eta_ms = wall_ms + static_cast<int64_t>(hours * 3'600'000.0);
  }
  return t;
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

pb::Finding ProberCore::check_finding(const Check& c, pb::Finding::Kind kind, uint32_t threshold) const {
  pb::Finding f;
  f.set_kind(kind);
  f.set_check(c.kind);
  f.set_cause(c.cause);
  f.set_http_status(c.http_status);
  f.set_count(c.consecutive_failures);
  f.set_threshold(threshold);
  f.set_since_ms(c.failing_since_ms);
  f.set_detail(c.detail);
  return f;
}

void ProberCore::set_service_state(const ServiceState& s, int64_t wall_ms) {
  if (!s.deliberate()) {
    service_deliberate_since_ms_ = 0;
  } else if (!service_.deliberate() || service_deliberate_since_ms_ == 0) {
    service_deliberate_since_ms_ = wall_ms;
  }
  service_ = s;
}

void ProberCore::set_upgrade(const UpgradeView& v, int64_t wall_ms) {
  if (v.pid == 0) {
    upgrade_since_ms_ = 0;
  } else if (upgrade_.pid == 0) {
    upgrade_since_ms_ = wall_ms;
  }
  upgrade_ = v;
}

std::vector<pb::Finding> ProberCore::findings(int64_t wall_ms) const {
  auto out = check_findings(wall_ms);
  add_owner_findings(out);
  return out;
}

void ProberCore::add_owner_findings(std::vector<pb::Finding>& out) const {
  // A deliberate stop matters only while the gateway is not serving: a
  // gateway that runs again was started again.
  const bool failing = std::any_of(out.begin(), out.end(), [](const pb::Finding& f) { return rule_for(f).state == pb::DOWN; });
  if (failing && service_.deliberate()) {
    pb::Finding f;
    f.set_kind(pb::Finding::STOPPED_BY_SERVICE);
    f.set_subject(service_.manager);
    f.set_detail(service_.detail);
    f.set_since_ms(service_deliberate_since_ms_);
    add_finding(out, std::move(f));
  }
  if (upgrade_.pid != 0) {
    pb::Finding f;
    f.set_kind(pb::Finding::UPGRADE_RUNNING);
    f.set_value(upgrade_.pid);
    f.set_detail(upgrade_.command);
    f.set_since_ms(upgrade_since_ms_);
    add_finding(out, std::move(f));
  }
}

std::vector<pb::Finding> ProberCore::check_findings(int64_t wall_ms) const {
  std::vector<pb::Finding> out;
  auto add = [&](pb::Finding::Kind kind, double value = 0, double limit = 0, int64_t since = 0) -> pb::Finding& {
    pb::Finding f;
    f.set_kind(kind);
    f.set_value(value);
    f.set_limit(limit);
    f.set_since_ms(since);
    add_finding(out, std::move(f));
    return out.back();
  };
  const Check& proc = check(pb::CHECK_PROCESS);
  const Check& port = check(pb::CHECK_PORT);
  const Check& hc = check(pb::CHECK_HEALTH);
  if (!proc.ok) {
    if (exited_pid_ != 0) {
      add(pb::Finding::EXITED, exited_pid_, 0, instance_seen_ms_).set_check(pb::CHECK_PROCESS);
    } else {
      auto& f = add(pb::Finding::NOT_RUNNING, 0, 0, instance_seen_ms_);
      f.set_check(pb::CHECK_PROCESS);
      f.set_subject(looked_for_);
    }
    if (oom_killed_) add(pb::Finding::OOM_KILLED, 0, 0, instance_seen_ms_).set_check(pb::CHECK_PROCESS);
    for (const auto& f : seen_instead_) add_finding(out, f);
    return out;
  }
  const int64_t up_s = (wall_ms - process_start_ms_) / 1000;
  const bool port_failing = port.probed && !port.ok;
  const bool health_failing = hc.probed && !hc.ok;
  const bool port_confirmed = port_failing && port.consecutive_failures >= settings_.port_failures;
  const bool hung = health_failing && hc.unanswered_since_ms != 0 && settings_.hang_after.count() > 0 &&
                    wall_ms - hc.unanswered_since_ms >= settings_.hang_after.count();
  const bool health_confirmed = health_failing && (hc.consecutive_failures >= settings_.health_failures || hung);
  if ((port_failing || health_failing) && starting(wall_ms)) {
    const bool reported = startup_ == StartupStatus::kStarting;
    add(reported ? pb::Finding::STARTING_REPORTED : pb::Finding::STARTING, static_cast<double>(up_s),
        static_cast<double>(settings_.startup_grace.count()), process_start_ms_);
  } else if (port_confirmed || health_confirmed) {
    if (port_confirmed) add_finding(out, check_finding(port, pb::Finding::CHECK_FAILING, settings_.port_failures));
    // With the port dead, the health check can only fail the same way: the
    // port is the incident (a restart, PRD §4.1), not a second one.
    if (health_confirmed && !port_confirmed) {
      add_finding(out, check_finding(hc, pb::Finding::CHECK_FAILING, settings_.health_failures));
    }
    if (startup_ == StartupStatus::kDraining) add(pb::Finding::DRAINING);
    if (startup_ == StartupStatus::kStarting) add(pb::Finding::STUCK_STARTING, static_cast<double>(up_s));
  } else if (port_failing || health_failing) {
    // Not confirmed yet: one slow or failed answer is not an incident. What
    // made the gateway DOWN or STARTING still stands until this is settled.
    const auto previous = health_.state();
    if (previous == pb::DOWN || previous == pb::STARTING) {
      for (const auto& f : health_.findings()) {
        // The owner's intent is added afresh (add_owner_findings).
        if (f.kind() != pb::Finding::CONFIRMING && f.kind() != pb::Finding::STOPPED_BY_SERVICE &&
            f.kind() != pb::Finding::UPGRADE_RUNNING) {
          add_finding(out, f);
        }
      }
    }
    const Check& c = health_failing ? hc : port;
    add_finding(out, check_finding(c, pb::Finding::CONFIRMING,
                                   health_failing ? settings_.health_failures : settings_.port_failures));
  } else if (!hc.probed) {
    // A process we have not checked yet: just (re)started, or unknown.
    const bool young = wall_ms - process_start_ms_ < settings_.startup_grace.count();
    if (young && health_.state() != pb::GATEWAY_STATE_UNKNOWN) {
      add(pb::Finding::STARTING, static_cast<double>(up_s), static_cast<double>(settings_.startup_grace.count()),
          process_start_ms_);
    }
    add(pb::Finding::UNCHECKED, pid_, 0, instance_seen_ms_);
  } else {
    const Trend trend = memory_trend(wall_ms);
    if (memory_known_ && memory_.rss_bytes <= settings_.max_rss_bytes && trend.eta_ms != 0 &&
        settings_.memory_trend_horizon.count() > 0 && trend.eta_ms - wall_ms <= settings_.memory_trend_horizon.count()) {
      auto& g = add(pb::Finding::MEMORY_GROWING, static_cast<double>(memory_.rss_bytes),
                    static_cast<double>(settings_.max_rss_bytes));
      g.set_check(pb::CHECK_MEMORY);
      g.set_rate(trend.bytes_per_hour);
      g.set_eta_in_ms(trend.eta_ms - wall_ms);
    }
    if (memory_known_ && memory_.rss_bytes > settings_.max_rss_bytes) {
      auto& f = add(pb::Finding::HIGH_MEMORY, static_cast<double>(memory_.rss_bytes),
                    static_cast<double>(settings_.max_rss_bytes), check(pb::CHECK_MEMORY).failing_since_ms);
      f.set_check(pb::CHECK_MEMORY);
      f.set_rate(trend.bytes_per_hour);
      const bool hard = settings_.hard_rss_bytes > 0 && memory_.rss_bytes > settings_.hard_rss_bytes;
      const bool machine_short = memory_.available_percent < static_cast<double>(settings_.min_available_percent);
      if (hard || machine_short) {
        auto& m = add(pb::Finding::MEMORY_CRITICAL, hard ? static_cast<double>(memory_.rss_bytes) : memory_.available_percent,
                      hard ? static_cast<double>(settings_.hard_rss_bytes) : settings_.min_available_percent);
        m.set_check(pb::CHECK_MEMORY);
        m.set_cause(hard ? pb::CAUSE_HARD_LIMIT : pb::CAUSE_MACHINE_SHORT);
      }
    }
    for (const auto& r : readiness_) {
      pb::Finding f;
      f.set_kind(r.kind);
      f.set_check(pb::CHECK_HEALTH);
      f.set_since_ms(r.since_ms);
      f.set_subject(r.name);
      if (r.kind == pb::Finding::STARTING_REPORTED) f.set_value(static_cast<double>(up_s));
      if (r.kind == pb::Finding::CHANNEL_SUPPRESSED) {
        f.set_count(breaker_.unclean_boots);
        if (breaker_.clears_at_ms > wall_ms) f.set_eta_in_ms(breaker_.clears_at_ms - wall_ms);
        f.set_detail(breaker_.cause);
      }
      if (r.kind == pb::Finding::CHANNEL_FAILING) {
        // Since the channel began failing, across OpenClaw's own retries.
        for (const auto& ep : channels_) {
          if (ep.name != r.name) continue;
          f.set_since_ms(ep.since_ms);
          f.set_limit(static_cast<double>(settings_.channel_grace.count()));
          if (ep.grace_pid != 0 && !ep.restarted) f.set_cause(pb::CAUSE_PAST_GRACE);
          if (ep.restarted) f.set_count(1);  // restarted once since it passed its grace
        }
        if (const auto it = channel_restarts_.find(r.name); it != channel_restarts_.end()) f.set_detail(it->second);
      }
      add_finding(out, std::move(f));
    }
    if (lag_since_ms_ != 0 && wall_ms - lag_since_ms_ >= settings_.lag_grace.count()) {
      std::string why;
      for (const auto& r : event_loop_.reasons) why += (why.empty() ? "" : ", ") + r;
      auto& f = add(pb::Finding::EVENT_LOOP_LAGGING, event_loop_.delay_p99_ms, event_loop_.delay_max_ms, lag_since_ms_);
      f.set_check(pb::CHECK_HEALTH);
      f.set_rate(event_loop_.cpu_core_ratio);
      f.set_detail(why);
    }
    if (recent_ok_latency_us_.size() == 2 &&
        std::all_of(recent_ok_latency_us_.begin(), recent_ok_latency_us_.end(),
                    [&](int64_t us) { return us > settings_.slow_threshold.count() * 1000; })) {
      const int64_t slower = std::min(recent_ok_latency_us_.front(), recent_ok_latency_us_.back());
      add(pb::Finding::SLOW, static_cast<double>(slower) / 1000.0, static_cast<double>(settings_.slow_threshold.count()))
          .set_check(pb::CHECK_HEALTH);
    }
  }
  return out;
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
    const Trend trend = memory_trend(wall_ms);
    h.set_rss_growth_bytes_per_hour(trend.bytes_per_hour);
    h.set_rss_limit_eta_ms(trend.eta_ms);
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
    r->set_cause(c.cause);
    r->set_http_status(c.http_status);
    observed = std::max(observed, c.at_ms);
  }
  h.set_observed_at_ms(observed);

  // The findings, then what they mean (common/findings.h's table).
  Verdict verdict;
  if (check(pb::CHECK_PROCESS).probed) {
    auto found = findings(wall_ms);
    verdict = judge_findings(found, previous);
    for (auto& f : found) *h.add_findings() = std::move(f);
  }
  const pb::GatewayState state = verdict.state;
  h.set_state(state);
  h.set_recommended_tier(verdict.tier);
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
  // A run of unanswered GETs turns into a hang at a time of its own, while
  // the recheck may still be waiting for its answer.
  const Check& hc = check(pb::CHECK_HEALTH);
  if (hc.unanswered_since_ms != 0 && !hc.ok && hc.hang_at + Millis(10) > now) wake = std::min(wake, hc.hang_at + Millis(10));
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
  for (const auto& f : h.findings()) key += finding_identity(f) + ";";
  key += "|";
  for (const auto& c : h.checks()) key += (c.probed() ? (c.ok() ? "1" : "0") : "_");
  // The first scan after an exit that still finds no gateway is news too:
  // the repairer waits for it before taking a late-seen exit for gwr's own
  // restart (repair_policy's own_exit_seen_late).
  for (const auto& c : h.checks()) {
    if (c.kind() == pb::CHECK_PROCESS && !c.ok() && c.consecutive_failures() > 1) key += "+";
  }
  return key;
}

}  // namespace gwr::prober
