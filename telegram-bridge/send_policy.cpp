#include "telegram-bridge/send_policy.h"

#include <algorithm>
#include <cmath>

namespace gwr::telegram {

void TokenBucket::refill(int64_t now_ms) {
  if (last_ms_ < 0) {
    last_ms_ = now_ms;
    return;
  }
  if (now_ms > last_ms_) {
    tokens_ = std::min(burst_, tokens_ + rate_ * static_cast<double>(now_ms - last_ms_) / 1000.0);
    last_ms_ = now_ms;
  }
}

int64_t TokenBucket::ready_at(int64_t now_ms) {
  refill(now_ms);
  if (tokens_ >= 1.0) return now_ms;
  return now_ms + static_cast<int64_t>(std::ceil((1.0 - tokens_) / rate_ * 1000.0));
}

void TokenBucket::take(int64_t now_ms) {
  refill(now_ms);
  tokens_ -= 1.0;
}

int64_t Backoff::next_delay_ms() {
  const int64_t d = next_ms_ == 0 ? initial_ms_ : next_ms_;
  next_ms_ = std::min(max_ms_, d * 2);
  return std::min(d, max_ms_);
}

TokenBucket& SendGate::bucket(int64_t chat_id) {
  auto it = chats_.find(chat_id);
  if (it == chats_.end()) {
    it = chats_.emplace(chat_id, TokenBucket(settings_.per_chat_rate, settings_.per_chat_burst)).first;
  }
  return it->second;
}

int64_t SendGate::ready_at(int64_t chat_id, int64_t now_ms) {
  int64_t t = std::max(bucket(chat_id).ready_at(now_ms), global_.ready_at(now_ms));
  t = std::max(t, all_blocked_until_);
  const auto blocked = chat_blocked_until_.find(chat_id);
  if (blocked != chat_blocked_until_.end()) t = std::max(t, blocked->second);
  return t;
}

void SendGate::on_attempt(int64_t chat_id, int64_t now_ms) {
  bucket(chat_id).take(now_ms);
  global_.take(now_ms);
}

void SendGate::block_chat(int64_t chat_id, int64_t until_ms) {
  auto& b = chat_blocked_until_[chat_id];
  b = std::max(b, until_ms);
}

SendDecision decide_send(const ApiResult& result, int64_t now_ms, Backoff& unreachable, Backoff& unauthorized) {
  SendDecision d;
  d.failure = classify(result);
  switch (d.failure) {
    case Failure::kNone:
    case Failure::kNotModified:
      unreachable.reset();
      unauthorized.reset();
      d.verdict = SendDecision::Verdict::kDone;
      break;
    case Failure::kPermanent:
      // Telegram answered, so it is reachable; only this message is wrong.
      unreachable.reset();
      d.verdict = SendDecision::Verdict::kDrop;
      break;
    case Failure::kRateLimited:
      unreachable.reset();
      d.verdict = SendDecision::Verdict::kRetry;
      // Exactly what Telegram asked for; a 429 without it gets the 1 s floor.
      d.retry_at_ms = now_ms + std::max<int64_t>(result.retry_after_s, 1) * 1000;
      d.block_chat = true;
      break;
    case Failure::kUnauthorized:
      d.verdict = SendDecision::Verdict::kRetry;
      d.retry_at_ms = now_ms + unauthorized.next_delay_ms();
      d.block_all = true;
      break;
    case Failure::kConflict:
    case Failure::kUnreachable:
      d.verdict = SendDecision::Verdict::kRetry;
      d.retry_at_ms = now_ms + unreachable.next_delay_ms();
      d.block_all = true;
      break;
  }
  return d;
}

PollDecision decide_poll(const ApiResult& result, int64_t now_ms, Backoff& unreachable, Backoff& unauthorized) {
  PollDecision d;
  d.failure = classify(result);
  switch (d.failure) {
    case Failure::kNone:
    case Failure::kNotModified:
      unreachable.reset();
      unauthorized.reset();
      d.retry_at_ms = now_ms;
      break;
    case Failure::kRateLimited:
      unreachable.reset();
      d.retry_at_ms = now_ms + std::max<int64_t>(result.retry_after_s, 1) * 1000;
      break;
    case Failure::kUnauthorized:
      d.retry_at_ms = now_ms + unauthorized.next_delay_ms();
      break;
    case Failure::kConflict:
      unreachable.reset();
      d.retry_at_ms = now_ms + kConflictBackoffMs;
      break;
    case Failure::kPermanent:
      unreachable.reset();
      d.retry_at_ms = now_ms + kPermanentPollBackoffMs;
      break;
    case Failure::kUnreachable:
      d.retry_at_ms = now_ms + unreachable.next_delay_ms();
      break;
  }
  return d;
}

}  // namespace gwr::telegram
