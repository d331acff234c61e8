// gwr-repairer's I/O shell: hears GatewayHealth, asks RepairPolicy what to
// do, runs repairs on a RepairRunner thread, and records every step in the
// HistoryStore, the bus and the JSON log (PRD §6.3 fields).
#pragma once

#include <deque>
#include <memory>
#include <optional>

#include "common/worker.h"
#include "repairer/history_store.h"
#include "repairer/repair_policy.h"
#include "repairer/repair_runner.h"

namespace gwr::repairer {

class RepairerWorker final : public Worker {
 public:
  explicit RepairerWorker(Tier3Factory tier3) : tier3_factory_(std::move(tier3)) {}

  std::vector<std::string> topics() const override { return {"gateway_health"}; }
  void start(WorkerContext& ctx) override;
  void on_config(WorkerContext& ctx, const std::vector<std::string>& changed) override;
  void on_event(WorkerContext& ctx, const pb::Event& event) override;
  pb::Reply on_request(WorkerContext& ctx, const pb::Request& request) override;
  SteadyTime on_tick(WorkerContext& ctx, SteadyTime now) override;
  std::vector<zmq::pollitem_t> poll_items() override;
  void on_ready(WorkerContext& ctx, size_t index) override;
  void stop(WorkerContext& ctx) override;

 private:
  struct Active {
    pb::RepairSummary summary;
    int step_index = -1;
    bool step_running = false;
    pb::RepairStep current;
  };

  void recover(WorkerContext& ctx);
  void evaluate(WorkerContext& ctx);
  int64_t start_repair(WorkerContext& ctx, pb::RepairTrigger trigger, const std::string& actor,
                       const std::string& reason, uint32_t tier);
  void handle(WorkerContext& ctx, RunnerMessage& m);
  void finish(WorkerContext& ctx, const RepairOutcome& outcome);
  void emit(WorkerContext& ctx, pb::RepairEvent event);
  void save_policy();
  pb::RepairStatusReply status_reply();
  void update_activity(WorkerContext& ctx);
  int64_t now_ms() const;
  tier3::Tier3Context tier3_context(const pb::RepairSummary& summary);

  Tier3Factory tier3_factory_;
  std::unique_ptr<HistoryStore> store_;
  PolicyState policy_;
  PolicySettings settings_;
  std::optional<pb::GatewayHealth> health_;
  std::deque<pb::GatewayHealth> recent_health_;  // state changes, for Tier 3's bundle
  std::unique_ptr<RepairRunner> runner_;
  std::optional<Active> active_;
  std::string saved_policy_;
};

// The signature of an incident: which checks failed and how, without the
// numbers that change from one occurrence to the next.
std::string incident_signature(const pb::GatewayHealth& health);

}  // namespace gwr::repairer
