// NoticeStore: paths.state_dir/notify.db, the outbox of the channels beside
// Telegram (notice.h). One queue per channel, in order; a notice is queued
// once per channel (its key), and once done with (delivered, or given up
// on) it is remembered for two days so that the catch-up from the
// repairer's log does not queue it again.
// One connection per thread: the bridge's main loop enqueues, each channel's
// sender takes its own queue. Never a channel's address or token.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/sqlite.h"
#include "telegram-bridge/notice.h"

namespace gwr::telegram {

struct QueuedNotice {
  int64_t id = 0;
  std::optional<Notice> notice;  // nullopt: the stored text is not a notice
  int64_t created_at_ms = 0;
  int64_t attempts = 0;
  int64_t next_attempt_at_ms = 0;
};

class NoticeStore {
 public:
  // busy: how long a statement waits for another connection's lock.
  static Result<std::unique_ptr<NoticeStore>> open(const std::string& path,
                                                   std::chrono::milliseconds busy = std::chrono::seconds(2));
  Database& db() { return *db_; }

  // Queues `n` for `channel` unless it is queued or was delivered there
  // already. True when it was queued now. Past kNoticeQueueLimit the oldest
  // queued notices of the channel go (their number is returned in `evicted`).
  Result<bool> enqueue(const std::string& channel, const Notice& n, int64_t now_ms, int64_t* evicted = nullptr);
  std::optional<QueuedNotice> head(const std::string& channel);
  // Done with a notice: delivered, or given up on (refused for itself, too
  // old). Either way it is not queued again (the catch-up would otherwise
  // bring it back every minute).
  Status done(const std::string& channel, const QueuedNotice& q, int64_t now_ms);
  Status drop(int64_t id);
  Status retry(int64_t id, int64_t at_ms);
  // A channel's queue tries again at once (its address or token changed).
  Status retry_now(const std::string& channel);
  int64_t queued(const std::string& channel);
  // When a channel was first seen configured: events before it are not news for it.
  int64_t since(const std::string& channel, int64_t now_ms);
  // Forgets delivery marks older than two days.
  void prune(int64_t now_ms);

 private:
  explicit NoticeStore(std::unique_ptr<Database> db) : db_(std::move(db)) {}
  std::unique_ptr<Database> db_;
};

}  // namespace gwr::telegram
