// The outbox's manners towards Telegram: a token bucket per chat (about one
// message a second, a small burst) and one for the bot (about 25 a second),
// retry_after obeyed to the millisecond, exponential backoff while Telegram
// is unreachable, and 400s treated as final for the message that caused them.
// Pure: every call takes `now` (wall-clock ms, since retry times are
// persisted with the outbox rows).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "telegram-bridge/api_result.h"

namespace gwr::telegram {

class TokenBucket {
 public:
  TokenBucket(double rate_per_s, double burst) : rate_(rate_per_s), burst_(burst), tokens_(burst) {}
  // When a token is (or was) available; `now` when one is available already.
  int64_t ready_at(int64_t now_ms);
  // Takes one token; the bucket may go negative when called early.
  void take(int64_t now_ms);

 private:
  void refill(int64_t now_ms);
  double rate_;
  double burst_;
  double tokens_;
  int64_t last_ms_ = -1;
};

// Doubles from `initial` up to `max`; reset on success.
class Backoff {
 public:
  Backoff(int64_t initial_ms, int64_t max_ms) : initial_ms_(initial_ms), max_ms_(max_ms) {}
  // The delay before the next attempt, and doubles the one after it.
  int64_t next_delay_ms();
  void reset() { next_ms_ = 0; }
  bool active() const { return next_ms_ != 0; }

 private:
  int64_t initial_ms_;
  int64_t max_ms_;
  int64_t next_ms_ = 0;
};

struct RateSettings {
  double per_chat_rate = 1.0;   // messages per second to one chat, sustained
  double per_chat_burst = 3.0;  // messages a chat may get at once
  double global_rate = 25.0;    // requests per second for the whole bot
  double global_burst = 25.0;
};

// The earliest moment a request to a chat may go: its bucket, the bot's
// bucket, a 429's retry_after for that chat, and the unreachable backoff.
class SendGate {
 public:
  explicit SendGate(RateSettings settings = {}) : settings_(settings), global_(settings.global_rate, settings.global_burst) {}
  int64_t ready_at(int64_t chat_id, int64_t now_ms);
  // A request to chat_id is going out now.
  void on_attempt(int64_t chat_id, int64_t now_ms);
  // No request to chat_id before until_ms (429 retry_after).
  void block_chat(int64_t chat_id, int64_t until_ms);
  // No request to anyone before until_ms (unreachable, token rejected).
  void block_all(int64_t until_ms) { all_blocked_until_ = until_ms; }
  void unblock_all() { all_blocked_until_ = 0; }
  int64_t all_blocked_until() const { return all_blocked_until_; }

 private:
  TokenBucket& bucket(int64_t chat_id);
  RateSettings settings_;
  TokenBucket global_;
  std::map<int64_t, TokenBucket> chats_;
  std::map<int64_t, int64_t> chat_blocked_until_;
  int64_t all_blocked_until_ = 0;
};

// What to do with an outbox row after an attempt.
struct SendDecision {
  enum class Verdict {
    kDone,   // delivered (or an edit already in place)
    kRetry,  // try again at retry_at_ms
    kDrop,   // never going to work: log and drop it
  };
  Verdict verdict = Verdict::kDone;
  int64_t retry_at_ms = 0;
  Failure failure = Failure::kNone;
  bool block_chat = false;  // the retry time applies to every message to this chat (429)
  bool block_all = false;   // ... to every message (unreachable, token rejected)
};

// Decides after a sendMessage/editMessageText attempt. `unreachable` and
// `unauthorized` are the backoffs shared by every send.
SendDecision decide_send(const ApiResult& result, int64_t now_ms, Backoff& unreachable, Backoff& unauthorized);

// What the getUpdates poller does after a poll: when to poll again.
struct PollDecision {
  Failure failure = Failure::kNone;
  int64_t retry_at_ms = 0;  // == now for an immediate next poll
};
PollDecision decide_poll(const ApiResult& result, int64_t now_ms, Backoff& unreachable, Backoff& unauthorized);

// Backoff constants, named for the log and the tests.
inline constexpr int64_t kUnreachableInitialMs = 1'000;
inline constexpr int64_t kUnreachableMaxMs = 60'000;
inline constexpr int64_t kUnauthorizedInitialMs = 120'000;
inline constexpr int64_t kUnauthorizedMaxMs = 900'000;
inline constexpr int64_t kConflictBackoffMs = 30'000;
inline constexpr int64_t kPermanentPollBackoffMs = 60'000;

}  // namespace gwr::telegram
