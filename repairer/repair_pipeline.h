// RepairPipeline: the tiers of PRD §4.2 as a sequence of steps under
// deadlines, with escalation. What a step does is behind RepairActions (real
// commands, the process table, HTTP) and what happens to its record is behind
// ProgressSink (the worker persists and publishes), so the sequencing is
// tested with fakes and a fake clock.
//
//   Tier 1: restart, verify healthy within tier1.deadline.
//   Tier 2: stop, kill what still listens on the port, sweep stale session
//           locks, doctor --fix, start, verify within tier2.deadline. Doctor
//           runs before start: what it repairs (stale locks, an unmigrated
//           session store) is what keeps a starting gateway from becoming ready.
//   Tier 3: AI diagnosis whose approved commands run, then verify.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "gwr.pb.h"

namespace gwr::repairer {

using Millis = std::chrono::milliseconds;

// A command that started: its pid (= process group) and the identity that
// tells it from a later process with the same pid (crash recovery).
struct StartedProcess {
  uint32_t pid = 0;
  uint64_t start_ticks = 0;
  std::string boot_id;
};
// Called with a command's process as soon as it runs.
using PidCallback = std::function<void(const StartedProcess& process)>;

class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  virtual void tier_started(uint32_t tier) = 0;
  // A step began (argv known; pid set for commands once they run).
  virtual void step_started(const pb::RepairStep& step) = 0;
  virtual void step_finished(const pb::RepairStep& step) = 0;
  virtual void tier_failed(uint32_t tier, const std::string& why, int64_t duration_ms) = 0;
  // Tier 3: lines of the AI's script that were rejected (the owner is told).
  virtual void plan_rejected(const std::vector<std::string>& lines, const std::string& diagnosis) = 0;
};

class RepairActions {
 public:
  virtual ~RepairActions() = default;
  // Runs one configured command (argv, no shell) with a timeout.
  virtual pb::RepairStep run_command(uint32_t tier, const std::string& name, const std::vector<std::string>& argv,
                                     Millis timeout, const PidCallback& on_pid) = 0;
  // Stops whatever of the gateway's user still listens on the gateway port.
  virtual pb::RepairStep kill_port_owners(uint32_t tier, Millis timeout) = 0;
  // Deletes stale session locks under the configured globs.
  virtual pb::RepairStep sweep_stale_locks(uint32_t tier) = 0;
  // Waits until the gateway has recovered (repairer/recovery.h: healthy,
  // started, ready or no worse than before), or the deadline passes; a
  // gateway that reports it is starting gets until start + startup_grace.
  // Up but impaired (channels held off by the crash-loop breaker): ok, with
  // `impaired` set, at once: waiting or another tier cannot change that.
  virtual pb::RepairStep verify(uint32_t tier, SteadyTime deadline, SteadyTime tier_started, Millis startup_grace) = 0;
  // Tier 3's typed actions: stale locks under these (narrower) globs only;
  // one pid, if it still holds the port as the gateway's user; a listing.
  virtual pb::RepairStep sweep_locks(uint32_t tier, const std::string& name, const std::vector<std::string>& globs) = 0;
  virtual pb::RepairStep kill_port_owner(uint32_t tier, const std::string& name, int pid, Millis timeout) = 0;
  virtual pb::RepairStep list_port_owners(uint32_t tier, const std::string& name) = 0;
  // What /readyz failed on before the incident: verify accepts these still
  // failing (named in its detail) and nothing else.
  virtual void set_not_ready_before(const std::vector<std::string>& names) { (void)names; }
  // A channel OpenClaw's crash-loop breaker holds off: started through the
  // gateway's own channels.start RPC (with the gateway token), and verified
  // by /readyz no longer holding it off.
  virtual pb::RepairStep start_channel(uint32_t tier, const std::string& channel, Millis timeout) {
    (void)timeout;
    return unsupported(tier, "channels.start", channel);
  }
  virtual pb::RepairStep verify_channel(uint32_t tier, const std::string& channel, SteadyTime deadline) {
    (void)deadline;
    return unsupported(tier, "verify", channel);
  }

 protected:
  static pb::RepairStep unsupported(uint32_t tier, const std::string& name, const std::string& what) {
    pb::RepairStep s;
    s.set_tier(tier);
    s.set_name(name);
    s.set_detail("not supported here: " + what);
    return s;
  }
};

// Tier 3 (AI diagnosis), plugged in by the worker.
class Tier3Runner {
 public:
  virtual ~Tier3Runner() = default;
  struct Result {
    bool success = false;
    std::string summary;              // the diagnosis, for the human if it failed
    std::vector<std::string> plan;    // the validated plan that ran (canonical lines)
    bool replayed = false;            // the plan was a learned one, replayed
    bool replay_failed = false;       // a learned plan was tried and did not fix it
  };
  // history: the steps tiers 1-2 took in this repair.
  virtual Result run(SteadyTime deadline, const std::vector<pb::RepairStep>& history, ProgressSink& sink,
                     const std::atomic<bool>& cancel) = 0;
};

struct PipelineSettings {
  Millis tier1_deadline{10'000};
  Millis tier2_deadline{30'000};
  Millis tier3_deadline{120'000};
  Millis command_timeout{60'000};
  Millis startup_grace{120'000};
  bool tier3_enabled = true;
  std::vector<std::string> restart, stop, start, doctor;
  // Tier 2 runs the doctor before the start (not only after a failed one):
  // a crash loop right after an upgrade (repair_policy.h).
  bool doctor_first = false;

  static PipelineSettings from_config(const pb::Config& config);
};

struct RepairOutcome {
  bool success = false;
  bool cancelled = false;
  uint32_t fixed_by_tier = 0;
  std::vector<uint32_t> tiers_tried;
  std::string details;  // what happened, for the history and the human
  std::string diagnosis;
  std::vector<std::string> plan;  // Tier 3's plan, when one ran
  bool plan_replayed = false;
  bool replay_failed = false;
  std::string verified;   // what the verification that ended it saw
  bool impaired = false;  // up, but OpenClaw's crash-loop breaker keeps channels off
  std::string started_channel;  // run_channel_start: the channel
};

class RepairPipeline {
 public:
  RepairPipeline(PipelineSettings settings, RepairActions& actions, Tier3Runner* tier3, ProgressSink& sink,
                 const Clock& clock, const std::atomic<bool>& cancel);
  // Runs tiers from start_tier up until one verifies healthy.
  RepairOutcome run(uint32_t start_tier);
  // The owner's Start button for a channel the breaker holds off: one
  // channels.start call and its verification; no tier, no escalation.
  RepairOutcome run_channel_start(const std::string& channel);

 private:
  bool run_tier1(std::vector<pb::RepairStep>& history, std::string& why);
  bool run_tier2(std::vector<pb::RepairStep>& history, std::string& why);
  // Announces, runs and records one health verification.
  pb::RepairStep verify(uint32_t tier, SteadyTime deadline, SteadyTime started, std::vector<pb::RepairStep>& history);
  pb::RepairStep command(uint32_t tier, const std::string& name, const std::vector<std::string>& argv,
                         SteadyTime deadline);
  pb::RepairStep record(pb::RepairStep step, std::vector<pb::RepairStep>& history);
  pb::RepairStep last_verify_;  // the newest successful verification

  PipelineSettings settings_;
  RepairActions& actions_;
  Tier3Runner* tier3_;
  ProgressSink& sink_;
  const Clock& clock_;
  const std::atomic<bool>& cancel_;
};

}  // namespace gwr::repairer
