#include "telegram-bridge/access_policy.h"

#include <algorithm>

namespace gwr::telegram {

AccessPolicy AccessPolicy::from_config(const pb::TelegramConfig& config) {
  AccessPolicy p;
  p.chat_id = config.chat_id();
  p.allowed_user_ids.assign(config.allowed_user_ids().begin(), config.allowed_user_ids().end());
  return p;
}

Access AccessPolicy::check(int64_t chat, int64_t user) const {
  if (chat_id == 0 || chat != chat_id) return Access::kNone;
  if (!allowed_user_ids.empty()) {
    const bool listed = std::find(allowed_user_ids.begin(), allowed_user_ids.end(), user) != allowed_user_ids.end();
    return listed ? Access::kFull : Access::kNone;
  }
  return group() ? Access::kReadOnly : Access::kFull;
}


AuditLimiter::Verdict AuditLimiter::check(int64_t chat_id, int64_t user_id, int64_t now_ms) {
  if (senders_.size() > 10'000) senders_.clear();  // a botnet of strangers must not grow memory
  Sender& s = senders_[{chat_id, user_id}];
  if (now_ms - window_start_ms_ >= 60'000) {
    window_start_ms_ = now_ms;
    window_count_ = 0;
  }
  const bool sender_due = s.last_ms == 0 || now_ms - s.last_ms >= interval_ms_;
  if (!sender_due || window_count_ >= global_per_minute_) {
    ++s.suppressed;
    return {};
  }
  ++window_count_;
  Verdict v{true, s.suppressed};
  s.last_ms = now_ms;
  s.suppressed = 0;
  return v;
}

}  // namespace gwr::telegram
