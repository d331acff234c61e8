// HistoryStore: the repairer's SQLite database (paths.state_dir/gwr.db):
// every repair with its steps, the repair events behind /logs, and the
// policy state, so restarts and power loss lose nothing. Main thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/sqlite.h"
#include "gwr.pb.h"
#include "repairer/repair_policy.h"

namespace gwr::repairer {

class HistoryStore {
 public:
  static Result<std::unique_ptr<HistoryStore>> open(const std::string& path);
  // The saved policy of a database that cannot be opened for writing, read
  // without changing anything (nullopt when even that fails).
  static std::optional<PolicyState> peek_policy(const std::string& path);

  // The saved policy; nullopt when none was ever saved (a new database). An
  // error when it cannot be read or makes no sense: the caller must then
  // not repair automatically (fail closed), never fall back to defaults.
  Result<std::optional<PolicyState>> load_policy();
  // Copies the WAL into the main file where it can (never waits, never fails
  // a caller): what a read of the file alone finds is then up to date.
  void checkpoint();
  Status save_policy(const PolicyState& state);

  // A new repair row, status "running"; returns its id.
  Result<int64_t> create_repair(const pb::RepairSummary& repair);
  Status set_current_tier(int64_t repair_id, uint32_t tier, const std::vector<uint32_t>& tiers_tried);
  // Inserts or updates the step identified by (repair_id, step_index).
  Status save_step(int64_t repair_id, int step_index, const pb::RepairStep& step, bool running);
  Status finish_repair(int64_t repair_id, const pb::RepairSummary& outcome);

  std::optional<pb::RepairSummary> get_repair(int64_t repair_id, bool with_steps = true);
  std::vector<pb::RepairSummary> recent_repairs(uint32_t limit);
  // Repairs still marked running (the repairer died during them).
  std::vector<pb::RepairSummary> running_repairs();
  // Marks the steps that were running when the repairer died; returns them.
  std::vector<pb::RepairStep> interrupt_running_steps(int64_t repair_id);
  int next_step_index(int64_t repair_id);

  Status add_event(const pb::RepairEvent& event);
  std::vector<pb::RepairEvent> recent_events(uint32_t limit);

  pb::StatsReply stats(int64_t now_ms);

  // Self-learning (PRD goal 4): what fixed each incident signature.
  struct Learned {
    std::string signature;
    std::string description;
    uint32_t seen = 0;
    int64_t last_seen_ms = 0;
    uint32_t attempts[4] = {0, 0, 0, 0};  // per tier (index 1..3)
    uint32_t fixes[4] = {0, 0, 0, 0};
    std::vector<std::string> plan;        // a validated Tier 3 plan that worked
    uint32_t plan_successes = 0;
    uint32_t plan_failures = 0;
  };
  std::optional<Learned> learned(const std::string& signature);
  struct Outcome {
    std::string signature;
    std::string description;
    std::vector<uint32_t> tiers_tried;
    uint32_t fixed_by_tier = 0;
    std::vector<std::string> plan;   // the plan that fixed it (tier 3)
    bool plan_replayed = false;
    bool replay_failed = false;
  };
  Status record_outcome(const Outcome& outcome, int64_t now_ms);
  std::vector<pb::LearnedPattern> learned_patterns(uint32_t limit);

  // Writes and removes about as much as a repair records (64 KiB, in two
  // commits), to tell a database that can be written from one that only
  // seems to (a full disk still fits a tiny update).
  Status probe_write();

  // Retention: repairs finished before now - max_age_ms, and all but the
  // newest max_repairs, are deleted with their steps and events; learned
  // patterns are capped at max_learned (least recently seen go first). A
  // running repair is never deleted. Returns how many repairs went.
  Result<int64_t> prune(int64_t now_ms, int64_t max_age_ms, uint32_t max_repairs, uint32_t max_learned);

  // For transactions spanning several calls.
  Database& db() { return *db_; }

 private:
  explicit HistoryStore(std::unique_ptr<Database> db) : db_(std::move(db)) {}
  // Brings a database of any older gwr up to this one's schema, in one
  // transaction (learned patterns re-keyed, not lost).
  Status migrate();
  Status migrate_signatures();
  Status migrate_policy();
  Status put_learned(const Learned& l);
  pb::RepairSummary row_to_summary(Statement& st);

  std::unique_ptr<Database> db_;
};

}  // namespace gwr::repairer
