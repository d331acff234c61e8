// RealTier3Runner: Tier 3 end to end. Replays a validated plan learned for
// this incident if there is one; otherwise collects the diagnostic bundle,
// asks the AI engine, validates every line of its script against the
// allowlist, runs the approved typed actions through the same RepairActions
// as tiers 1-2, and verifies. Nothing the model writes reaches a shell.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/http_client.h"
#include "common/process.h"
#include "repairer/repair_pipeline.h"
#include "repairer/tier3/ai_engine.h"
#include "repairer/tier3/plan_validator.h"

namespace gwr::tier3 {

// What the repairer knows about this incident, handed to Tier 3.
struct Tier3Context {
  std::string signature;
  std::string reasons;
  std::vector<pb::GatewayHealth> health_history;
  std::vector<std::string> learned_plan;  // canonical lines; empty when none
  // Not Tier 3's alone: what the repair's verification tolerates (recovery.h).
  std::vector<std::string> not_ready_before;
  // Not a tiered repair: the owner's Start for this channel (channels.start).
  std::string start_channel;
  // Not Tier 3's either: right after an upgrade, Tier 2 runs OpenClaw's
  // doctor before it starts the gateway (repair_pipeline.h).
  bool doctor_first = false;
};

// The instructions sent to the model (the allowlist rendered into them).
std::string build_instructions(const pb::Config& config, const Allowlist& allowlist, const std::string& tiers_summary,
                               const std::string& fence_marker);

class RealTier3Runner final : public repairer::Tier3Runner {
 public:
  RealTier3Runner(pb::Config config, Tier3Context context, repairer::RepairActions& actions,
                  std::unique_ptr<AiEngine> engine, const Clock& clock);
  Result run(SteadyTime deadline, const std::vector<pb::RepairStep>& history, repairer::ProgressSink& sink,
             const std::atomic<bool>& cancel) override;

 private:
  // Runs the plan's actions, then verifies; true when healthy again.
  bool execute(const PlanVerdict& plan, SteadyTime deadline, SteadyTime started, repairer::ProgressSink& sink,
               const std::atomic<bool>& cancel);
  pb::RepairStep announce(repairer::ProgressSink& sink, const std::string& name);
  void finish(repairer::ProgressSink& sink, pb::RepairStep step);

  pb::Config config_;
  Tier3Context context_;
  repairer::RepairActions& actions_;
  std::unique_ptr<AiEngine> engine_;
  const Clock& clock_;
  RealCommandRunner commands_;
  Allowlist allowlist_;
};

}  // namespace gwr::tier3
