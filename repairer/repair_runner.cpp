#include "repairer/repair_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include "common/clock.h"
#include "common/http_client.h"
#include "common/process.h"
#include "repairer/repair_actions.h"

namespace gwr::repairer {

class RepairRunner::Sink final : public ProgressSink {
 public:
  explicit Sink(RepairRunner& runner) : runner_(runner) {}
  void tier_started(uint32_t tier) override { runner_.post({RunnerMessage::Kind::kTierStarted, tier, {}, {}, 0, {}}); }
  void step_started(const pb::RepairStep& step) override {
    runner_.post({RunnerMessage::Kind::kStepStarted, step.tier(), step, {}, 0, {}});
  }
  void step_finished(const pb::RepairStep& step) override {
    runner_.post({RunnerMessage::Kind::kStepFinished, step.tier(), step, {}, 0, {}});
  }
  void tier_failed(uint32_t tier, const std::string& why, int64_t duration_ms) override {
    runner_.post({RunnerMessage::Kind::kTierFailed, tier, {}, why, duration_ms, {}});
  }
  void plan_rejected(const std::vector<std::string>& lines, const std::string& diagnosis) override {
    RunnerMessage m{RunnerMessage::Kind::kPlanRejected, 3, {}, diagnosis, 0, {}};
    m.rejected_lines = lines;
    runner_.post(std::move(m));
  }

 private:
  RepairRunner& runner_;
};

RepairRunner::RepairRunner(pb::Config config, uint32_t start_tier, bool verify_first, Tier3Factory tier3,
                           tier3::Tier3Context context) {
  int fds[2];
  if (::pipe(fds) != 0) std::abort();
  for (int fd : fds) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  pipe_r_ = fds[0];
  pipe_w_ = fds[1];
  thread_ = std::thread([this, config = std::move(config), start_tier, verify_first, tier3 = std::move(tier3),
                         context = std::move(context)] { run(config, start_tier, verify_first, tier3, context); });
}

RepairRunner::~RepairRunner() {
  cancel();
  if (thread_.joinable()) thread_.join();
  ::close(pipe_r_);
  ::close(pipe_w_);
}

void RepairRunner::cancel() {
  // The command runner sees the flag within 50 ms and kills the running
  // command's group itself, before reaping it.
  cancel_ = true;
}

void RepairRunner::post(RunnerMessage m) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(m));
  }
  const char b = 1;
  ssize_t ignored = ::write(pipe_w_, &b, 1);
  (void)ignored;
}

std::vector<RunnerMessage> RepairRunner::drain() {
  char buf[64];
  while (::read(pipe_r_, buf, sizeof buf) > 0) {
  }
  std::lock_guard lock(mu_);
  std::vector<RunnerMessage> out(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
  queue_.clear();
  return out;
}

void RepairRunner::run(pb::Config config, uint32_t start_tier, bool verify_first, Tier3Factory tier3,
                       tier3::Tier3Context context) {
  const Clock& clock = SystemClock::instance();
  RealCommandRunner commands;
  CurlHttpClient http;
  RealRepairActions actions(ActionSettings::from_config(config), commands, http, clock, cancel_);
  Sink sink(*this);
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
      post({RunnerMessage::Kind::kDone, start_tier, {}, {}, 0, outcome});
      return;
    }
  }
  auto t3 = tier3 ? tier3(config, actions, context) : nullptr;
  RepairPipeline pipeline(PipelineSettings::from_config(config), actions, t3.get(), sink, clock, cancel_);
  outcome = pipeline.run(start_tier);
  post({RunnerMessage::Kind::kDone, 0, {}, {}, 0, outcome});
}

}  // namespace gwr::repairer
