// gwr-repairer: turns an unhealthy gateway back into a healthy one, safely.
#include "common/environment.h"
#include "common/http_client.h"
#include "common/worker.h"
#include "repairer/repairer_worker.h"
#include "repairer/tier3/tier3_runner.h"

namespace {

// Tier 3 with the engine the config names; it owns the engine's I/O.
class Tier3WithEngine final : public gwr::repairer::Tier3Runner {
 public:
  Tier3WithEngine(const gwr::pb::Config& config, gwr::repairer::RepairActions& actions,
                  const gwr::tier3::Tier3Context& context, const gwr::Environment& env)
      : http_(env.http()), inner_(config, context, actions, gwr::tier3::make_engine(config, *env.commands, *http_), *env.clock) {}
  Result run(gwr::SteadyTime deadline, const std::vector<gwr::pb::RepairStep>& history,
             gwr::repairer::ProgressSink& sink, const std::atomic<bool>& cancel) override {
    return inner_.run(deadline, history, sink, cancel);
  }

 private:
  std::unique_ptr<gwr::HttpClient> http_;
  gwr::tier3::RealTier3Runner inner_;
};

}  // namespace

int main(int argc, char** argv) {
  // libcurl for everything, loaded at the first request (an idle repairer never
  // maps it). Not SplitHttpClient: a faster plain-http verification widens a
  // race between a manual restart's end and the old gateway's exit (see #16's note).
  gwr::RealEnvironment env([] { return std::make_unique<gwr::CurlHttpClient>(); });
  gwr::repairer::RepairerWorker worker(
      [](const gwr::pb::Config& config, gwr::repairer::RepairActions& actions, const gwr::tier3::Tier3Context& context,
         const gwr::Environment& e) -> std::unique_ptr<gwr::repairer::Tier3Runner> {
        return std::make_unique<Tier3WithEngine>(config, actions, context, e);
      });
  return gwr::run_worker("repairer", worker, argc, argv, env.env());
}
