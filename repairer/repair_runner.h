// RepairRunner: runs one repair's pipeline on its own actor
// (common/actor.h), so the repairer's main loop keeps heartbeating,
// answering gwrctl and hearing health while commands run. Progress comes
// back as messages through the actor's fd; the main thread persists and
// publishes them. Commands, HTTP and time come from the Environment.
#pragma once

#include <memory>
#include <vector>

#include "common/actor.h"
#include "common/environment.h"
#include "gwr.pb.h"
#include "repairer/repair_pipeline.h"
#include "repairer/tier3/tier3_runner.h"

namespace gwr::repairer {

struct RunnerMessage {
  enum class Kind { kTierStarted, kStepStarted, kStepFinished, kTierFailed, kPlanRejected, kDone };
  Kind kind;
  uint32_t tier = 0;
  pb::RepairStep step;
  std::string why;
  int64_t duration_ms = 0;
  RepairOutcome outcome;
  std::vector<std::string> rejected_lines;  // kPlanRejected
};

// Creates what a repair's steps do (the real one acts on the machine;
// tests script it). cancel: the repair's stop flag.
using ActionsFactory = std::function<std::unique_ptr<RepairActions>(const pb::Config&, const Environment&,
                                                                     const std::atomic<bool>& cancel)>;
// RealRepairActions over the environment's commands, HTTP and clock.
ActionsFactory real_actions();

// Creates the Tier 3 runner for a repair (or nullptr when there is none).
using Tier3Factory = std::function<std::unique_ptr<Tier3Runner>(const pb::Config&, RepairActions&,
                                                                 const tier3::Tier3Context&, const Environment&)>;

class RepairRunner {
 public:
  // verify_first: a repair resumed after a restart first checks whether the
  // gateway is already healthy before re-running its tier.
  RepairRunner(const Environment& env, ActionsFactory actions, pb::Config config, uint32_t start_tier, bool verify_first,
               Tier3Factory tier3, tier3::Tier3Context context);
  // Cancels and waits: a repair never runs on behind its owner's back.
  ~RepairRunner();
  RepairRunner(const RepairRunner&) = delete;
  RepairRunner& operator=(const RepairRunner&) = delete;

  int notify_fd() const { return actor_->notify_fd(); }
  std::vector<RunnerMessage> drain() { return actor_->drain(); }
  // Stops between steps; the running command's process group is killed.
  void cancel() { actor_->signal_stop(); }

 private:
  std::unique_ptr<Actor<NoMessage, RunnerMessage>> actor_;
};

}  // namespace gwr::repairer
