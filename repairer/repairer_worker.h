// gwr-repairer's I/O shell: hears GatewayHealth, asks RepairPolicy what to
// do, runs repairs on a RepairRunner thread, and records every step in the
// HistoryStore, the bus and the JSON log (PRD §6.3 fields).
//
// The policy (pause, cooldown, the hourly limit) is only trusted while it
// can be read from and saved to gwr.db. When it cannot — the database is
// locked, unreadable, or its disk is full — automatic repairs stop (fail
// closed: a restart must never forget a pause or the limit), the owner is
// told once (an Alert), manual repairs still run from memory, and the
// database is retried with backoff; nothing already saved is thrown away.
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
  // actions: what a repair's steps do (real_actions() on a machine).
  explicit RepairerWorker(Tier3Factory tier3, ActionsFactory actions = real_actions())
      : tier3_factory_(std::move(tier3)), actions_factory_(std::move(actions)) {}

  // For tests: whether a repair is running, and the policy as held.
  bool repairing() const { return active_.has_value(); }
  const PolicyState& policy() const { return policy_; }

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

  // gwr.db: open it, load the policy, prove it can be written. Retried with
  // backoff until all three hold.
  void connect_store(WorkerContext& ctx);
  bool state_trusted() const { return store_ != nullptr && policy_loaded_ && policy_saved_; }
  void storage_failed(WorkerContext& ctx, pb::Alert::Kind kind, const std::string& error);
  void storage_recovered(WorkerContext& ctx);
  void recover(WorkerContext& ctx);
  void evaluate(WorkerContext& ctx);
  // The owner's Start for a channel the crash-loop breaker holds off.
  pb::Reply start_channel(WorkerContext& ctx, const std::string& actor, const std::string& channel);
  std::string pending_channel_;  // set while start_channel starts its run
  bool pending_doctor_first_ = false;  // set while an automatic repair right after an upgrade starts
  // What the last decision waits for (status: why no repair runs yet).
  pb::DeferReason last_wait_ = pb::DEFER_REASON_UNSPECIFIED;
  int64_t last_wait_until_ms_ = 0;
  // Remembers crashes the prober saw, for the breaker forecast (boot_ledger.h).
  void note_crash(const pb::GatewayHealth& h);
  // At a repair's start: the gateways it is about to stop (note_replaced_pid).
  void note_repair_targets();
  uint32_t own_exit_logged_ = 0;  // gateway_exit_was_repair said for this pid
  int64_t start_repair(WorkerContext& ctx, pb::RepairTrigger trigger, const std::string& actor,
                       const std::string& reason, uint32_t tier);
  void handle(WorkerContext& ctx, RunnerMessage& m);
  void finish(WorkerContext& ctx, const RepairOutcome& outcome);
  void emit(WorkerContext& ctx, pb::RepairEvent event);
  // Writes the policy if it changed; false (and the alert) when it could not.
  bool save_policy(WorkerContext& ctx, bool force = false);
  pb::RepairStatusReply status_reply();
  std::optional<pb::RepairSummary> find_repair(int64_t id);
  // Whether a repair has its row in gwr.db (those run from memory do not).
  bool recorded(int64_t repair_id) const;
  static constexpr int64_t kFirstUnsavedId = 1'000'000'000;
  void remember_unsaved(const pb::RepairSummary& summary);
  void update_activity(WorkerContext& ctx);
  int64_t now_ms() const;
  tier3::Tier3Context tier3_context(const pb::RepairSummary& summary);

  Tier3Factory tier3_factory_;
  ActionsFactory actions_factory_;
  Environment env_;  // the process's (from the context, at start)
  std::string store_path_;
  std::unique_ptr<HistoryStore> store_;  // null while gwr.db cannot be opened
  bool policy_loaded_ = false;           // policy_ is what gwr.db holds (or gwr.db is new)
  bool policy_saved_ = false;            // the last write of policy_ succeeded
  bool recovered_ = false;               // interrupted repairs were looked at
  bool peeked_ = false;                  // the saved policy was read read-only (gwr.db not writable)
  std::optional<pb::Alert> storage_alert_;
  int64_t next_store_retry_ms_ = 0;
  int64_t store_backoff_ms_ = 1'000;
  int64_t next_alert_republish_ms_ = 0;
  int64_t next_prune_ms_ = 0;
  // Pause/resume the owner asked for while the policy could not be loaded,
  // applied on top of the saved one once it can.
  std::optional<PolicyState> owner_pause_;
  bool withheld_noticed_ = false;        // "not repairing: state cannot be saved" said for this incident
  std::deque<pb::RepairSummary> unsaved_repairs_;  // repairs gwr.db could not record
  int64_t next_unsaved_id_ = kFirstUnsavedId;

  PolicyState policy_;
  PolicySettings settings_;
  std::optional<pb::GatewayHealth> health_;
  std::pair<uint32_t, int64_t> last_instance_{};  // the gateway last seen running: pid, process start (wall ms)
  std::deque<pb::GatewayHealth> recent_health_;  // state changes, for Tier 3's bundle
  std::unique_ptr<RepairRunner> runner_;
  std::optional<Active> active_;
  std::string saved_policy_;
};

// Kills what an interrupted step was running, if its recorded pid is still
// the same process (start time and boot id match); otherwise nothing.
void stop_interrupted_command(SystemView& system, int64_t repair_id, const pb::RepairStep& step);

// The signature of an incident: which checks failed and how, without the
// numbers that change from one occurrence to the next.
std::string incident_signature(const pb::GatewayHealth& health);

}  // namespace gwr::repairer
