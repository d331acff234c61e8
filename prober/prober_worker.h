// gwr-prober's I/O shell: feeds ProberCore with what the process table, an exit watch, TCP and
// HTTP say about the gateway, and publishes its GatewayHealth on the bus.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/worker.h"
#include "prober/probe_runner.h"
#include "prober/prober_core.h"

namespace gwr::prober {

class ProberWorker final : public Worker {
 public:
  // checks: how a port or health check is made (tests replace the network).
  explicit ProberWorker(ProbeFunctions checks = ProbeFunctions::real()) : probe_functions_(std::move(checks)) {}
  // For tests: whether the gateway's exit is being watched.
  int watched_fd() const { return pid_fd_; }
  std::vector<std::string> topics() const override { return {"reprobe"}; }
  void start(WorkerContext& ctx) override;
  void on_config(WorkerContext& ctx, const std::vector<std::string>& changed) override;
  void on_event(WorkerContext& ctx, const pb::Event& event) override;
  pb::Reply on_request(WorkerContext& ctx, const pb::Request& request) override;
  SteadyTime on_tick(WorkerContext& ctx, SteadyTime now) override;
  std::vector<zmq::pollitem_t> poll_items() override;
  void on_ready(WorkerContext& ctx, size_t index) override;
  void stop(WorkerContext& ctx) override;

 private:
  void reset_core(WorkerContext& ctx, SteadyTime now);
  GatewaySpec gateway_spec(WorkerContext& ctx) const;
  void check_process(WorkerContext& ctx, SteadyTime now);
  void check_memory(WorkerContext& ctx, SteadyTime now);
  void on_gateway_exit(WorkerContext& ctx);
  void watch_pid(pid_t pid);
  void unwatch();
  void publish_if_needed(WorkerContext& ctx);
  void drain_results(WorkerContext& ctx);

  ProbeFunctions probe_functions_;
  const Clock* clock_ = nullptr;
  SystemView* system_ = nullptr;
  std::unique_ptr<ProberCore> core_;
  SteadyTime breaker_read_{};
  SteadyTime channel_log_read_{};
  void read_channel_restarts(WorkerContext& ctx, SteadyTime now);
  void read_breaker(WorkerContext& ctx, SteadyTime now);
  // The owner's intent (issue #20): upgrades in the process table, and
  // whether the service manager stopped the gateway on purpose.
  void scan_upgrades();
  void ask_service_manager(WorkerContext& ctx, SteadyTime now);
  SteadyTime service_asked_{};
  int same_answers_ = 0;  // the service manager said the same this many times in a row
  SteadyTime no_manager_until_{};  // no manager knew gateway.service when last asked
  pid_t last_gateway_pid_ = 0;
  pid_t upgrade_pid_ = 0;
  std::unique_ptr<ProbeRunner> runner_;
  uint64_t run_id_ = 0;
  uint64_t generation_ = 0;
  int pid_fd_ = -1;
  pid_t watched_pid_ = 0;
  uint64_t gateway_start_ticks_ = 0;  // of core_->pid(): tells it from a later process with that pid
  uint64_t oom_kills_seen_ = 0;
  uint64_t last_cpu_ticks_ = 0;
  SteadyTime last_cpu_at_{};
  pid_t last_cpu_pid_ = 0;
  pb::GatewayState last_logged_state_ = pb::GATEWAY_STATE_UNKNOWN;
  std::string last_logged_reasons_;
};

}  // namespace gwr::prober
