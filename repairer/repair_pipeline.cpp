#include "repairer/repair_pipeline.h"

#include <algorithm>

#include "common/duration.h"

namespace gwr::repairer {

namespace {

std::vector<std::string> argv_of(const google::protobuf::RepeatedPtrField<std::string>& f) {
  return {f.begin(), f.end()};
}

int64_t ms_between(SteadyTime a, SteadyTime b) {
  return std::chrono::duration_cast<Millis>(b - a).count();
}

}  // namespace

PipelineSettings PipelineSettings::from_config(const pb::Config& c) {
  PipelineSettings s;
  s.tier1_deadline = Millis(c.repair().tier1().deadline());
  s.tier2_deadline = Millis(c.repair().tier2().deadline());
  s.tier3_deadline = Millis(c.repair().tier3().deadline());
  s.command_timeout = Millis(c.repair().command_timeout());
  s.startup_grace = Millis(c.probes().startup_grace());
  s.tier3_enabled = c.repair().tier3().enabled();
  const auto& cmd = c.gateway().commands();
  s.restart = argv_of(cmd.restart());
  s.stop = argv_of(cmd.stop());
  s.start = argv_of(cmd.start());
  s.doctor = argv_of(cmd.doctor());
  return s;
}

RepairPipeline::RepairPipeline(PipelineSettings settings, RepairActions& actions, Tier3Runner* tier3,
                               ProgressSink& sink, const Clock& clock, const std::atomic<bool>& cancel)
    : settings_(std::move(settings)), actions_(actions), tier3_(tier3), sink_(sink), clock_(clock), cancel_(cancel) {}

pb::RepairStep RepairPipeline::record(pb::RepairStep step, std::vector<pb::RepairStep>& history) {
  sink_.step_finished(step);
  history.push_back(step);
  return step;
}

pb::RepairStep RepairPipeline::command(uint32_t tier, const std::string& name, const std::vector<std::string>& argv,
                                       SteadyTime deadline) {
  const Millis left = std::chrono::duration_cast<Millis>(deadline - clock_.steady());
  const Millis timeout = std::max(Millis(1000), std::min(settings_.command_timeout, left));
  pb::RepairStep announced;
  announced.set_tier(tier);
  announced.set_name(name);
  for (const auto& a : argv) announced.add_argv(a);
  announced.set_started_at_ms(clock_.wall_ms());
  sink_.step_started(announced);
  return actions_.run_command(tier, name, argv, timeout, [&](const StartedProcess& p) {
    announced.set_pid(p.pid);
    announced.set_pid_start_ticks(p.start_ticks);
    announced.set_boot_id(p.boot_id);
    sink_.step_started(announced);
  });
}

bool RepairPipeline::run_tier1(std::vector<pb::RepairStep>& history, std::string& why) {
  const SteadyTime started = clock_.steady();
  const SteadyTime deadline = started + settings_.tier1_deadline;
  const auto restart = record(command(1, "restart", settings_.restart, deadline), history);
  if (!restart.ok()) {
    why = "restart command failed: " + restart.detail();
    return false;
  }
  if (cancel_) return false;
  const auto v = verify(1, deadline, started, history);
  if (!v.ok()) why = v.detail();
  return v.ok();
}

pb::RepairStep RepairPipeline::verify(uint32_t tier, SteadyTime deadline, SteadyTime started,
                                      std::vector<pb::RepairStep>& history) {
  pb::RepairStep announced;
  announced.set_tier(tier);
  announced.set_name("verify");
  announced.set_started_at_ms(clock_.wall_ms());
  sink_.step_started(announced);
  auto step = record(actions_.verify(tier, deadline, started, settings_.startup_grace), history);
  if (step.ok()) last_verify_ = step;
  return step;
}

// Two passes. The deep clean (stop, kill whatever holds the port, sweep
// stale locks, start) fixes what is around the gateway and takes seconds.
// Only if the gateway still does not come back, and a doctor command is set,
// the second pass lets OpenClaw's doctor repair its own state (half a minute
// or more on a small machine, and it may rewrite its config) and restarts it.
bool RepairPipeline::run_tier2(std::vector<pb::RepairStep>& history, std::string& why) {
  const SteadyTime started = clock_.steady();
  SteadyTime deadline = started + settings_.tier2_deadline;
  // A failed stop is recorded but not fatal: the port owners are killed next.
  record(command(2, "stop", settings_.stop, deadline), history);
  if (cancel_) return false;
  {
    pb::RepairStep s;
    s.set_tier(2);
    s.set_name("kill_port_owners");
    s.set_started_at_ms(clock_.wall_ms());
    sink_.step_started(s);
    const Millis left = std::max(Millis(500), std::chrono::duration_cast<Millis>(deadline - clock_.steady()));
    const Millis budget = std::min(left, Millis(5000));
    const SteadyTime before = clock_.steady();
    record(actions_.kill_port_owners(2, budget), history);
    // Waiting out a gateway that lingers after the stop, or OpenClaw's
    // crash-loop window before a kill, is not the start's time to lose.
    const auto took = std::chrono::duration_cast<Millis>(clock_.steady() - before);
    if (took > budget) deadline += took - budget;
  }
  if (cancel_) return false;
  {
    pb::RepairStep s;
    s.set_tier(2);
    s.set_name("sweep_stale_locks");
    s.set_started_at_ms(clock_.wall_ms());
    sink_.step_started(s);
    record(actions_.sweep_stale_locks(2), history);
  }
  if (cancel_) return false;
  const bool doctor_ran = settings_.doctor_first && !settings_.doctor.empty();
  if (doctor_ran) {
    // Bounded by the command timeout, which the start's deadline does not pay for.
    const SteadyTime before = clock_.steady();
    record(command(2, "doctor", settings_.doctor, before + settings_.command_timeout), history);
    deadline += clock_.steady() - before;
    if (cancel_) return false;
  }
  if (clock_.steady() >= deadline) {
    why = "deadline of " + format_duration(settings_.tier2_deadline) + " passed before the gateway was started";
  } else if (const auto start = record(command(2, "start", settings_.start, deadline), history); !start.ok()) {
    why = "start command failed: " + start.detail();
  } else {
    if (cancel_) return false;
    const auto v = verify(2, deadline, started, history);
    if (v.ok()) return true;
    why = v.detail();
  }
  if (cancel_ || settings_.doctor.empty() || doctor_ran) return false;

  // Second pass: doctor (bounded by the command timeout), then a restart
  // that gets a tier 2 deadline of its own.
  record(command(2, "doctor", settings_.doctor, clock_.steady() + settings_.command_timeout), history);
  if (cancel_) return false;
  const SteadyTime again = clock_.steady();
  const SteadyTime again_deadline = again + settings_.tier2_deadline;
  const auto restart = record(command(2, "restart", settings_.restart, again_deadline), history);
  if (cancel_) return false;
  if (!restart.ok()) {
    why += "; after doctor, restart command failed: " + restart.detail();
    return false;
  }
  const auto v = verify(2, again_deadline, again, history);
  if (!v.ok()) why += "; after doctor: " + v.detail();
  return v.ok();
}

RepairOutcome RepairPipeline::run_channel_start(const std::string& channel) {
  RepairOutcome out;
  out.started_channel = channel;
  std::vector<pb::RepairStep> history;
  out.tiers_tried.push_back(1);
  sink_.tier_started(1);
  const SteadyTime started = clock_.steady();
  pb::RepairStep announced;
  announced.set_tier(1);
  announced.set_name("channels.start");
  announced.set_started_at_ms(clock_.wall_ms());
  sink_.step_started(announced);
  const auto call = record(actions_.start_channel(1, channel, settings_.command_timeout), history);
  std::string why;
  if (!call.ok()) {
    why = "channels.start failed: " + call.detail();
  } else if (!cancel_) {
    pb::RepairStep v;
    v.set_tier(1);
    v.set_name("verify");
    v.set_started_at_ms(clock_.wall_ms());
    sink_.step_started(v);
    const auto verified = record(actions_.verify_channel(1, channel, clock_.steady() + settings_.tier1_deadline), history);
    if (verified.ok()) {
      out.success = true;
      out.fixed_by_tier = 1;
      out.verified = verified.detail();
      out.details = "channel " + channel + " started: " + verified.detail();
      return out;
    }
    why = verified.detail();
  }
  if (cancel_) {
    out.cancelled = true;
    out.details = "cancelled: the repairer is stopping";
    return out;
  }
  sink_.tier_failed(1, why, ms_between(started, clock_.steady()));
  out.details = "channel " + channel + " not started; " + why;
  return out;
}

RepairOutcome RepairPipeline::run(uint32_t start_tier) {
  RepairOutcome out;
  std::vector<pb::RepairStep> history;
  const uint32_t last_tier = settings_.tier3_enabled && tier3_ != nullptr ? 3 : 2;
  start_tier = std::clamp<uint32_t>(start_tier, 1, last_tier);
  std::vector<std::string> failures;
  for (uint32_t tier = start_tier; tier <= last_tier; ++tier) {
    if (cancel_) {
      out.cancelled = true;
      out.details = "cancelled: the repairer is stopping";
      return out;
    }
    out.tiers_tried.push_back(tier);
    sink_.tier_started(tier);
    const SteadyTime started = clock_.steady();
    std::string why;
    bool ok = false;
    if (tier == 1) {
      ok = run_tier1(history, why);
    } else if (tier == 2) {
      ok = run_tier2(history, why);
    } else {
      auto r = tier3_->run(started + settings_.tier3_deadline, history, sink_, cancel_);
      ok = r.success;
      out.diagnosis = r.summary;
      out.plan = r.plan;
      out.plan_replayed = r.replayed;
      out.replay_failed = r.replay_failed;
      if (!ok) why = r.summary.empty() ? "AI diagnosis did not fix it" : r.summary;
    }
    if (cancel_ && !ok) {
      out.cancelled = true;
      out.details = "cancelled: the repairer is stopping";
      return out;
    }
    if (ok) {
      out.success = true;
      out.fixed_by_tier = tier;
      out.verified = last_verify_.detail();
      out.impaired = last_verify_.impaired();
      out.details = (out.impaired ? "gateway up again after tier " : "gateway healthy again after tier ") +
                    std::to_string(tier) + (out.verified.empty() ? "" : ": " + out.verified);
      return out;
    }
    const int64_t took = ms_between(started, clock_.steady());
    sink_.tier_failed(tier, why, took);
    failures.push_back("tier " + std::to_string(tier) + ": " + why);
  }
  out.details = "all tiers failed";
  for (const auto& f : failures) out.details += "; " + f;
  return out;
}

}  // namespace gwr::repairer
