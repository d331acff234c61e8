// RepairRunner: runs one repair's pipeline on its own thread, so the
// repairer's main loop keeps heartbeating, answering gwrctl and hearing
// health while commands run. Progress comes back as messages through a
// queue and a wake-up pipe; the main thread persists and publishes them.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

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

// Creates the Tier 3 runner for a repair (or nullptr when there is none).
using Tier3Factory = std::function<std::unique_ptr<Tier3Runner>(const pb::Config&, RepairActions&,
                                                                 const tier3::Tier3Context&)>;

class RepairRunner {
 public:
  // verify_first: a repair resumed after a restart first checks whether the
  // gateway is already healthy before re-running its tier.
  RepairRunner(pb::Config config, uint32_t start_tier, bool verify_first, Tier3Factory tier3,
               tier3::Tier3Context context);
  ~RepairRunner();
  RepairRunner(const RepairRunner&) = delete;
  RepairRunner& operator=(const RepairRunner&) = delete;

  int notify_fd() const { return pipe_r_; }
  std::vector<RunnerMessage> drain();
  // Stops between steps; the running command's process group is killed.
  void cancel();

 private:
  class Sink;
  void run(pb::Config config, uint32_t start_tier, bool verify_first, Tier3Factory tier3,
           tier3::Tier3Context context);
  void post(RunnerMessage m);

  std::mutex mu_;
  std::deque<RunnerMessage> queue_;
  std::atomic<bool> cancel_{false};
  int pipe_r_ = -1;
  int pipe_w_ = -1;
  std::thread thread_;
};

}  // namespace gwr::repairer
