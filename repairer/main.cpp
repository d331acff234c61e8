// gwr-repairer: turns an unhealthy gateway back into a healthy one, safely.
#include "common/worker.h"
#include "repairer/repairer_worker.h"

namespace {

// Tier 3 (AI diagnosis) is not part of this build yet; it says so in the
// history instead of pretending.
class Tier3NotBuilt final : public gwr::repairer::Tier3Runner {
 public:
  Result run(gwr::SteadyTime, const std::vector<gwr::pb::RepairStep>&, gwr::repairer::ProgressSink& sink,
             const std::atomic<bool>&) override {
    gwr::pb::RepairStep step;
    step.set_tier(3);
    step.set_name("diagnose");
    step.set_ok(false);
    step.set_exit_code(-1);
    step.set_detail("AI diagnosis (Tier 3) is not available in this build");
    sink.step_started(step);
    sink.step_finished(step);
    return {false, step.detail()};
  }
};

}  // namespace

int main(int argc, char** argv) {
  gwr::repairer::RepairerWorker worker([](const gwr::pb::Config&) -> std::unique_ptr<gwr::repairer::Tier3Runner> {
    return std::make_unique<Tier3NotBuilt>();
  });
  return gwr::run_worker("repairer", worker, argc, argv);
}
