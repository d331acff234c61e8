#include "repairer/repair_runner.h"

#include <cstdlib>

#include "common/log.h"
#include "common/process.h"
#include "repairer/repair_actions.h"

namespace gwr::repairer {

namespace {

using RunnerActor = Actor<NoMessage, RunnerMessage>;

class Sink final : public ProgressSink {
 public:
  explicit Sink(RunnerActor::Self& self) : self_(self) {}
  void tier_started(uint32_t tier) override { self_.post({RunnerMessage::Kind::kTierStarted, tier, {}, {}, 0, {}}); }
  void step_started(const pb::RepairStep& step) override {
    self_.post({RunnerMessage::Kind::kStepStarted, step.tier(), step, {}, 0, {}});
  }
  void step_finished(const pb::RepairStep& step) override {
    self_.post({RunnerMessage::Kind::kStepFinished, step.tier(), step, {}, 0, {}});
  }
  void tier_failed(uint32_t tier, const std::string& why, int64_t duration_ms) override {
    self_.post({RunnerMessage::Kind::kTierFailed, tier, {}, why, duration_ms, {}});
  }
  void plan_rejected(const std::vector<std::string>& lines, const std::string& diagnosis) override {
    RunnerMessage m{RunnerMessage::Kind::kPlanRejected, 3, {}, diagnosis, 0, {}};
    m.rejected_lines = lines;
    self_.post(std::move(m));
  }

 private:
  RunnerActor::Self& self_;
};

void run(RunnerActor::Self& self, const Environment& env, const ActionsFactory& make_actions, const pb::Config& config,
         uint32_t start_tier, bool verify_first, const Tier3Factory& tier3, const tier3::Tier3Context& context) {
  const Clock& clock = *env.clock;
  // The stop flag is the cancel: the command runner sees it within 50 ms
  // and kills the running command's group itself, before reaping it.
  auto owned = make_actions(config, env, self.stop_flag());
  RepairActions& actions = *owned;
  actions.set_not_ready_before(context.not_ready_before);
  self.ready();
  Sink sink(self);
  RepairOutcome outcome;
  if (verify_first) {
    // Resumed after a restart: the interrupted tier may already have worked.
    pb::RepairStep announced;
    announced.set_tier(start_tier);
    announced.set_name("verify");
    sink.step_started(announced);
    const auto now = clock.steady();
    const auto step = actions.verify(start_tier, now + std::chrono::seconds(3), now, Millis(0));
    sink.step_finished(step);
    if (step.ok()) {
      outcome.success = true;
      outcome.fixed_by_tier = start_tier;
      outcome.tiers_tried.push_back(start_tier);
      outcome.details = "gateway healthy after the repairer restarted during tier " + std::to_string(start_tier);
      self.post({RunnerMessage::Kind::kDone, start_tier, {}, {}, 0, outcome});
      return;
    }
  }
  if (!context.start_channel.empty()) {
    RepairPipeline pipeline(PipelineSettings::from_config(config), actions, nullptr, sink, clock, self.stop_flag());
    outcome = pipeline.run_channel_start(context.start_channel);
    self.post({RunnerMessage::Kind::kDone, 0, {}, {}, 0, outcome});
    return;
  }
  auto t3 = tier3 ? tier3(config, actions, context, env) : nullptr;
  auto settings = PipelineSettings::from_config(config);
  settings.doctor_first = context.doctor_first;
  RepairPipeline pipeline(std::move(settings), actions, t3.get(), sink, clock, self.stop_flag());
  outcome = pipeline.run(start_tier);
  self.post({RunnerMessage::Kind::kDone, 0, {}, {}, 0, outcome});
}

}  // namespace

ActionsFactory real_actions() {
  return [](const pb::Config& config, const Environment& env, const std::atomic<bool>& cancel) {
    return std::make_unique<RealRepairActions>(ActionSettings::from_config(config), *env.commands, env.http(), *env.clock,
                                               cancel);
  };
}

RepairRunner::RepairRunner(const Environment& env, ActionsFactory actions, pb::Config config, uint32_t start_tier,
                           bool verify_first, Tier3Factory tier3, tier3::Tier3Context context) {
  RunnerActor::Options o;
  o.name = "repair";
  // What it says after a cancel still lands: the owner drains it on stop.
  o.drop_after_stop = false;
  auto actor = RunnerActor::start(o, [env, actions = std::move(actions), config = std::move(config), start_tier,
                                      verify_first, tier3 = std::move(tier3),
                                      context = std::move(context)](RunnerActor::Self& self) {
    run(self, env, actions, config, start_tier, verify_first, tier3, context);
  });
  if (!actor) {
    log::error("repair_thread_failed", {{"error", actor.message()}});
    log::flush();
    std::abort();  // the supervisor restarts the repairer, which resumes the repair
  }
  actor_ = std::move(*actor);
}

RepairRunner::~RepairRunner() {
  actor_->signal_stop();
  actor_->join();
}

}  // namespace gwr::repairer
