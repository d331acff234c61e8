// BridgeStore: the bridge's SQLite state (paths.state_dir/telegram.db), one
// connection per thread, WAL.
//   outbox     every message and edit, in order: queued -> sending -> sent,
//              or dropped; retried rows carry next_attempt_at
//   incidents  a thread key ("repair:12") -> chat and message id of its first
//              message, plus the planner's view of the incident
//   poll_state the last handled update_id
//   warnings   active 🟡 warnings and when they were last sent
//   markers    side-effecting commands in flight ("update:<id>") and used
//              repair confirmations ("confirm:<chat>:<message>")
//   seen_events repair events already turned into messages
//   meta       small values (planner state, the event watermark)
// The token is never written here.
//
// Delivery is at least once: a row is marked "sending" before its HTTP call
// and "sent" with its message_id after. A crash in between leaves it
// "sending", and the next start queues it again; if Telegram had accepted it
// just before the crash, that one message is delivered twice. The window is
// one HTTP round trip; closing it would need an idempotency key the Bot API
// does not offer.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "common/sqlite.h"
#include "telegram-bridge/notification_planner.h"
#include "telegram-bridge/outgoing.h"

namespace gwr::telegram {

struct OutboxRow {
  int64_t id = 0;
  int64_t chat_id = 0;
  Outgoing message;          // text and keyboard come from the payload
  std::string state;         // queued|sending|sent|dropped
  int64_t attempts = 0;
  int64_t next_attempt_at_ms = 0;
  int64_t created_at_ms = 0;
  int64_t message_id = 0;    // Telegram's, once sent
};

struct IncidentRow {
  std::string key;
  int64_t chat_id = 0;
  int64_t message_id = 0;    // of the thread's first message; 0 until it is sent
};

class BridgeStore {
 public:
  // Opens (creating) the database and its schema.
  static Result<std::unique_ptr<BridgeStore>> open(const std::string& path);
  Database& db() { return *db_; }

  // --- Outbox ---------------------------------------------------------------------------------
  // Queues a message for chat_id. An edit of a thread whose first message is
  // still queued rewrites that message instead; an edit of a thread that
  // already has an edit queued replaces it (the latest state wins).
  Result<int64_t> enqueue(int64_t chat_id, const Outgoing& message, int64_t now_ms);
  // The oldest queued row of each chat (rows of one chat go out in order),
  // leaving out the ids in skip (sent already, but not recorded as such).
  std::vector<OutboxRow> queue_heads(const std::set<int64_t>& skip = {});
  // One row as it is now (an opener's payload takes the edits queued after it).
  std::optional<OutboxRow> row(int64_t id);
  Status mark_sending(int64_t id, int64_t attempts, int64_t now_ms);
  // Sent: records Telegram's message_id and, for a thread's first message, the thread's.
  Status mark_sent(const OutboxRow& row, int64_t message_id, int64_t now_ms);
  // Back to the queue; `reason` is "unreachable" or "rate_limited".
  Status requeue(int64_t id, int64_t next_attempt_at_ms, const std::string& reason, const std::string& error,
                 int64_t now_ms);
  Status mark_dropped(int64_t id, const std::string& error, int64_t now_ms);
  // Rows a dead process left "sending" go back to the queue; returns how many.
  int64_t requeue_interrupted(int64_t now_ms);
  // Telegram is reachable again: rows waiting only for the unreachable backoff may go now.
  Status clear_unreachable_waits();
  int64_t count_pending();
  // A thread's first message is still queued or being sent.
  bool opener_pending(const std::string& incident);
  std::vector<OutboxRow> rows(const std::string& state = "");  // for tests and diagnostics

  // --- Incidents ------------------------------------------------------------------------------
  std::optional<IncidentRow> incident(const std::string& key);
  // The planner's view of an incident, serialized (a PlannerIncident; 1.0 wrote JSON).
  Status save_incident_state(const std::string& key, const std::string& state, int64_t now_ms);
  Status forget_incident_state(const std::string& key);
  std::vector<std::string> incident_states();
  // The same with each incident's key ("repair:12", "rescue/repair:3").
  std::vector<std::pair<std::string, std::string>> incident_states_by_key();

  // --- Warnings -------------------------------------------------------------------------------
  Status save_warning(const Warning& warning);
  Status delete_warning(const std::string& key);
  std::vector<Warning> warnings();

  // --- Poll state, markers, seen events, meta -------------------------------------------------
  int64_t last_update_id();
  Status set_last_update_id(int64_t update_id);
  std::optional<std::string> marker(const std::string& key);
  Status put_marker(const std::string& key, const std::string& state, int64_t now_ms);
  Status delete_marker(const std::string& key);
  bool seen_event(const std::string& key);
  Status add_seen_event(const std::string& key, int64_t at_ms);
  std::optional<std::string> meta(const std::string& key);
  Status set_meta(const std::string& key, const std::string& value);
  // Bytes (a serialized message), stored as they are.
  std::optional<std::string> meta_blob(const std::string& key);
  Status set_meta_blob(const std::string& key, const std::string& bytes);

  // Drops delivered rows, seen events and markers past their use.
  void prune(int64_t now_ms);
  // For the poller's and the sender's connections, whose commits are on the
  // path of every reply: no checkpoints inside their commits (the main thread
  // runs them) and no fsync per commit (synchronous=NORMAL). A commit still
  // survives a crash of the process; only a power loss or kernel crash within
  // about a second of it can undo it (then a command is answered again or
  // not at all, and a notification is rebuilt from the repairer's log, which
  // the main thread's FULL-sync connection keeps track of).
  void tune_for_latency();
  // Copies the write-ahead log into the database without blocking writers.
  void checkpoint();

 private:
  explicit BridgeStore(std::unique_ptr<Database> db) : db_(std::move(db)) {}
  Status migrate();
  std::unique_ptr<Database> db_;
};

// The JSON stored for a message: what the Bot API call needs besides the chat and targets.
nlohmann::json outbox_payload(const Outgoing& message);

}  // namespace gwr::telegram
