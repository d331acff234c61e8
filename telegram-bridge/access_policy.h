// Who may command the bot, and how strangers are audited without letting
// them flood the log. Pure: decisions take `now`.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gwr.pb.h"

namespace gwr::telegram {

// What a sender may do.
enum class Access {
  kNone,      // a stranger (another chat, or a user not on the list): nothing, not even an answer
  kReadOnly,  // a member of the owner's group while no users are listed: status, logs, history
  kFull,      // everything
};

struct AccessPolicy {
  int64_t chat_id = 0;                    // the owner's chat (telegram.chat_id)
  std::vector<int64_t> allowed_user_ids;  // empty: see check()

  static AccessPolicy from_config(const pb::TelegramConfig& config);
  // Group and channel ids are negative; a private chat's id is its user's.
  bool group() const { return chat_id < 0; }
  // Only the configured chat; in it, the allowed users if any are listed.
  // With none listed, a private chat is its owner's alone (full access), but
  // in a group every member is someone else: read-only until the owner sets
  // telegram.allowed_user_ids.
  Access check(int64_t chat, int64_t user) const;
  bool allows(int64_t chat, int64_t user) const { return check(chat, user) != Access::kNone; }
};


// Rate limit for the "telegram_unauthorized" audit line: at most one line per
// (chat, user) per interval and a global cap per minute; what was held back
// is counted and reported with the next line that goes out.
class AuditLimiter {
 public:
  struct Verdict {
    bool log = false;
    uint64_t suppressed = 0;  // lines held back for this sender since its last line
  };
  explicit AuditLimiter(int64_t per_sender_interval_ms = 60'000, int global_per_minute = 20)
      : interval_ms_(per_sender_interval_ms), global_per_minute_(global_per_minute) {}
  Verdict check(int64_t chat_id, int64_t user_id, int64_t now_ms);

 private:
  struct Sender {
    int64_t last_ms = 0;
    uint64_t suppressed = 0;
  };
  int64_t interval_ms_;
  int global_per_minute_;
  std::map<std::pair<int64_t, int64_t>, Sender> senders_;
  int64_t window_start_ms_ = 0;
  int window_count_ = 0;
};

}  // namespace gwr::telegram
