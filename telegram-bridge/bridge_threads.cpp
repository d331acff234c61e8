#include "telegram-bridge/bridge_threads.h"

#include <algorithm>

#include "common/clock.h"
#include "common/http_client.h"
#include "common/log.h"
#include "telegram-bridge/bot_api.h"
#include "telegram-bridge/bridge_store.h"
#include "telegram-bridge/command_handler.h"
#include "telegram-bridge/html_text.h"
#include "telegram-bridge/messages.h"
#include "telegram-bridge/send_policy.h"
#include "telegram-bridge/update_parser.h"

namespace gwr::telegram {

namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

// The steady time when the clock's wall time reaches wall_ms.
SteadyClock::time_point steady_at(const Clock& clock, int64_t wall_ms) {
  const int64_t delta = std::max<int64_t>(0, wall_ms - clock.wall_ms());
  return SteadyClock::now() + std::chrono::milliseconds(delta);
}

// A thread's database: opened on the thread, retried while it cannot be.
std::unique_ptr<BridgeStore> open_store(BridgeShared& shared, const std::string& path, const char* thread) {
  Backoff backoff(1'000, 30'000);
  while (!shared.stopping()) {
    auto store = BridgeStore::open(path);
    if (store) {
      (*store)->tune_for_latency();  // see there: durable across a crash, checkpoints by the main thread
      return std::move(*store);
    }
    const int64_t delay = backoff.next_delay_ms();
    log::error("telegram_store_unavailable", {{"thread", thread}, {"path", path}, {"error", store.message()},
                                              {"retry_in_ms", delay}});
    shared.wait(SteadyClock::now() + std::chrono::milliseconds(delay), shared.seen(), false);
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Sender

class Sender {
 public:
  Sender(std::shared_ptr<BridgeShared> shared, ThreadSettings settings)
      : shared_(std::move(shared)), settings_(std::move(settings)) {}

  void run() {
    store_ = open_store(*shared_, settings_.db_path, "sender");
    if (!store_) return;
    auto http = settings_.http();
    BotApi api(*http, settings_.api_base_url, settings_.bot_token);
    api_ = &api;
    if (const int64_t n = store_->requeue_interrupted(settings_.clock->wall_ms()); n > 0) {
      // The previous process died mid-send: those rows go again (at least once).
      log::warn("telegram_outbox_recovered", {{"requeued", n}});
    }
    BridgeShared::Seen seen = shared_->seen();
    while (!shared_->stopping()) {
      const BridgeShared::Seen now_seen = shared_->seen();
      if (now_seen.reachable != seen.reachable) {
        // The poller got through: whatever waited only for the backoff goes now.
        gate_.unblock_all();
        unreachable_.reset();
        (void)store_->clear_unreachable_waits();
      }
      seen = now_seen;
      const int64_t now = settings_.clock->wall_ms();
      flush_unrecorded(now);
      auto heads = store_->queue_heads(skip_ids());
      // What telegram.db could not take goes after what it holds, per chat.
      for (const auto& u : shared_->unsaved_heads()) {
        if (std::any_of(heads.begin(), heads.end(), [&](const OutboxRow& r) { return r.chat_id == u.chat_id; })) continue;
        OutboxRow row;
        row.id = u.id;
        row.chat_id = u.chat_id;
        row.message = u.message;
        row.state = "queued";
        row.attempts = u.attempts;
        row.next_attempt_at_ms = u.next_attempt_at_ms;
        row.created_at_ms = u.created_at_ms;
        heads.push_back(std::move(row));
      }
      const OutboxRow* best = nullptr;
      int64_t best_ready = 0;
      for (const auto& row : heads) {
        int64_t ready = std::max(row.next_attempt_at_ms, gate_.ready_at(row.chat_id, now));
        if (auto g = retry_at_.find(row.id); g != retry_at_.end()) ready = std::max(ready, g->second);
        if (!best || ready < best_ready) {
          best = &row;
          best_ready = ready;
        }
      }
      if (!best) {
        if (problem_) set_status(ThreadState::kIdle, "", 0);
        shared_->wait(SteadyClock::now() + 30s, seen, true);
        continue;
      }
      if (best_ready > now) {
        shared_->wait(steady_at(*settings_.clock, best_ready), seen, true);
        continue;
      }
      try {
        deliver(*best);
      } catch (const std::exception& e) {
        // A row that makes the sender throw would block the queue for good.
        log::error("telegram_send_dropped", {{"outbox_id", best->id}, {"error", e.what()}});
        dropped(*best, e.what(), settings_.clock->wall_ms());
      }
    }
  }

 private:
  void set_status(ThreadState state, const std::string& detail, int64_t retry_at) {
    problem_ = state != ThreadState::kIdle && state != ThreadState::kSending;
    shared_->set_sender({state, detail, retry_at});
  }

  // The message id a thread's edit or reply refers to; nullopt when it must wait.
  std::optional<int64_t> thread_message(const OutboxRow& row) {
    const auto inc = store_->incident(row.message.incident);
    if (inc && inc->message_id != 0 && inc->chat_id == row.chat_id) return inc->message_id;
    if (auto t = shared_->thread(row.message.incident); t && t->first == row.chat_id) return t->second;
    if (store_->opener_pending(row.message.incident) || shared_->unsaved_opener_pending(row.message.incident)) {
      return std::nullopt;
    }
    return 0;
  }

  // --- The outbox's bookkeeping, in telegram.db or, while it cannot be
  // written (a full disk), in memory: a row sent whose "sent" cannot be
  // recorded must not be sent again, and one waiting for a retry must wait.
  static bool in_memory(const OutboxRow& row) { return row.id < 0; }

  std::set<int64_t> skip_ids() const {
    std::set<int64_t> out;
    for (const auto& [id, u] : unrecorded_) out.insert(id);
    return out;
  }

  void store_failed(const char* op, const OutboxRow& row, const Status& st) {
    if (!store_trouble_) {
      log::error("telegram_store_failed", {{"op", op}, {"outbox_id", row.id}, {"error", st.message()},
                                           {"effect", "kept in memory until telegram.db can be written again"}});
    }
    store_trouble_ = true;
  }

  void attempt(const OutboxRow& row, int64_t now) {
    if (in_memory(row)) return;
    if (auto st = store_->mark_sending(row.id, row.attempts + 1, now); !st) store_failed("mark_sending", row, st);
  }

  void sent(const OutboxRow& row, int64_t message_id, int64_t now) {
    retry_at_.erase(row.id);
    if (row.message.opens_incident && !row.message.incident.empty() && message_id != 0) {
      shared_->remember_thread(row.message.incident, row.chat_id, message_id);
    }
    if (in_memory(row)) {
      shared_->unsaved_done(row.id);
    } else if (auto st = store_->mark_sent(row, message_id, now); !st) {
      store_failed("mark_sent", row, st);
      unrecorded_[row.id] = {row, message_id, false};
    }
  }

  void retry(const OutboxRow& row, int64_t at_ms, const std::string& reason, const std::string& error, int64_t now) {
    if (in_memory(row)) {
      shared_->unsaved_retry(row.id, at_ms);
    } else if (auto st = store_->requeue(row.id, at_ms, reason, error, now); !st) {
      store_failed("requeue", row, st);
      retry_at_[row.id] = at_ms;
    } else {
      retry_at_.erase(row.id);
    }
  }

  void dropped(const OutboxRow& row, const std::string& error, int64_t now) {
    retry_at_.erase(row.id);
    if (in_memory(row)) {
      shared_->unsaved_done(row.id);
    } else if (auto st = store_->mark_dropped(row.id, error, now); !st) {
      store_failed("mark_dropped", row, st);
      unrecorded_[row.id] = {row, 0, true};
    }
  }

  // Records what could not be recorded before, once telegram.db takes it.
  void flush_unrecorded(int64_t now) {
    if (unrecorded_.empty() && !store_trouble_) return;
    for (auto it = unrecorded_.begin(); it != unrecorded_.end();) {
      const auto& u = it->second;
      const Status st = u.dropped ? store_->mark_dropped(u.row.id, "dropped", now) : store_->mark_sent(u.row, u.message_id, now);
      if (!st) return;
      it = unrecorded_.erase(it);
    }
    if (store_trouble_ && shared_->unsaved_count() == 0) {
      store_trouble_ = false;
      log::info("telegram_store_writable", {{"effect", "the outbox is recorded in telegram.db again"}});
    }
  }

  void deliver(const OutboxRow& head) {
    int64_t now = settings_.clock->wall_ms();
    OutboxRow row = head;
    // A thread's first message is claimed (state 'sending') before its
    // payload is read: an edit queued while it was waiting is merged into it
    // (BridgeStore::enqueue), and one queued from now on is a row of its
    // own. Read before the claim, a burst of events (a node's outbox, a
    // catch-up) could merge its final state into a payload already on its
    // way, and that edit was lost.
    const bool claimed = !in_memory(row) && row.message.opens_incident;
    if (claimed) {
      attempt(row, now);
      if (auto fresh = store_->row(row.id)) row.message = fresh->message;
    }
    const Outgoing& m = row.message;
    json params = outbox_payload(m);
    params["chat_id"] = row.chat_id;
    int64_t target = 0;
    if (m.kind == Outgoing::Kind::kEdit) {
      target = m.edit_message_id;
      if (target == 0) {
        const auto t = thread_message(row);
        if (!t) {
          retry(row, now + 500, "waiting", "waiting for the thread's first message", now);
          return;
        }
        if (*t == 0) {
          log::warn("telegram_send_dropped", {{"method", m.method()}, {"outbox_id", row.id}, {"chat_id", row.chat_id},
                                              {"error", "the thread's first message was never delivered"}});
          dropped(row, "the thread's first message was never delivered", now);
          return;
        }
        target = *t;
      }
      params["message_id"] = target;
    } else {
      int64_t reply_to = m.reply_to;
      if (m.reply_to_incident) {
        const auto t = thread_message(row);
        if (!t) {
          retry(row, now + 500, "waiting", "waiting for the thread's first message", now);
          return;
        }
        reply_to = *t;  // 0: the thread never got a message; this one stands alone
      }
      if (reply_to != 0) params["reply_parameters"] = {{"message_id", reply_to}, {"allow_sending_without_reply", true}};
      if (now - row.created_at_ms > 60'000) {
        // Late news is labelled as such: the owner reads it against the clock.
        params["text"] = fit_html(m.text + "\n<i>⏱ delayed: queued at " + clock_time_seconds(row.created_at_ms) + "</i>");
      }
    }
    gate_.on_attempt(row.chat_id, now);
    if (!claimed) attempt(row, now);
    set_status(ThreadState::kSending, "", 0);
    const auto t0 = SteadyClock::now();
    shared_->set_in_call(BridgeShared::Role::kSender, true);
    const ApiResult r = api_->call(m.method(), params, 15s);
    shared_->set_in_call(BridgeShared::Role::kSender, false);
    const auto latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count();
    now = settings_.clock->wall_ms();
    const bool was_unreachable = unreachable_.active() || gate_.all_blocked_until() != 0;
    const SendDecision d = decide_send(r, now, unreachable_, unauthorized_);
    switch (d.verdict) {
      case SendDecision::Verdict::kDone: {
        int64_t mid = target;
        if (r.ok() && r.result.is_object()) {
          const auto it = r.result.find("message_id");
          if (it != r.result.end() && it->is_number_integer()) mid = it->get<int64_t>();
        }
        sent(row, mid, now);
        log::info("telegram_send", {{"method", m.method()}, {"outbox_id", row.id}, {"chat_id", row.chat_id},
                                    {"message_id", mid}, {"attempt", row.attempts + 1}, {"latency_ms", latency_ms},
                                    {"not_modified", d.failure == Failure::kNotModified}});
        gate_.unblock_all();
        if (was_unreachable) {
          log::info("telegram_reachable", {{"thread", "sender"}});
          shared_->notify_reachable();
        }
        set_status(ThreadState::kIdle, "", 0);
        break;
      }
      case SendDecision::Verdict::kRetry: {
        const int64_t retry_in = d.retry_at_ms - now;
        const std::string reason = d.failure == Failure::kRateLimited ? "rate_limited" : "unreachable";
        retry(row, d.retry_at_ms, reason, r.describe(), now);
        if (d.block_chat) gate_.block_chat(row.chat_id, d.retry_at_ms);
        if (d.block_all) gate_.block_all(d.retry_at_ms);
        if (d.failure == Failure::kRateLimited) {
          log::warn("telegram_rate_limited", {{"method", m.method()}, {"outbox_id", row.id}, {"chat_id", row.chat_id},
                                              {"retry_after", r.retry_after_s}});
          set_status(ThreadState::kRateLimited, r.describe(), d.retry_at_ms);
        } else if (d.failure == Failure::kUnauthorized) {
          log::error("telegram_token_rejected", {{"method", m.method()}, {"outbox_id", row.id},
                                                 {"error", "bot token rejected (401): check telegram.bot_token"},
                                                 {"retry_in_ms", retry_in}});
          set_status(ThreadState::kTokenRejected, r.describe(), d.retry_at_ms);
        } else {
          log::warn("telegram_send_failed", {{"method", m.method()}, {"outbox_id", row.id}, {"chat_id", row.chat_id},
                                             {"error", r.describe()}, {"retry_in_ms", retry_in}});
          set_status(ThreadState::kUnreachable, r.describe(), d.retry_at_ms);
        }
        break;
      }
      case SendDecision::Verdict::kDrop:
        dropped(row, r.describe(), now);
        log::warn("telegram_send_dropped", {{"method", m.method()}, {"outbox_id", row.id}, {"chat_id", row.chat_id},
                                            {"error", r.describe()}});
        set_status(ThreadState::kIdle, "", 0);
        break;
    }
  }

  std::shared_ptr<BridgeShared> shared_;
  ThreadSettings settings_;
  std::unique_ptr<BridgeStore> store_;
  BotApi* api_ = nullptr;
  SendGate gate_;
  Backoff unreachable_{kUnreachableInitialMs, kUnreachableMaxMs};
  Backoff unauthorized_{kUnauthorizedInitialMs, kUnauthorizedMaxMs};
  bool problem_ = false;
  // While telegram.db cannot be written: rows sent (or dropped) whose state
  // is not recorded yet, and retry times the database could not take.
  struct Unrecorded {
    OutboxRow row;
    int64_t message_id = 0;
    bool dropped = false;
  };
  std::map<int64_t, Unrecorded> unrecorded_;
  std::map<int64_t, int64_t> retry_at_;
  bool store_trouble_ = false;
};

// ---------------------------------------------------------------------------------------------
// Poller

class Poller {
 public:
  Poller(std::shared_ptr<BridgeShared> shared, ThreadSettings settings)
      : shared_(std::move(shared)), settings_(std::move(settings)) {}

  void run() {
    store_ = open_store(*shared_, settings_.db_path, "poller");
    if (!store_) return;
    auto http = settings_.http();
    BotApi api(*http, settings_.api_base_url, settings_.bot_token);
    api_ = &api;
    if (!identify()) return;
    last_update_id_ = store_->last_update_id();
    int64_t commands_due = settings_.clock->wall_ms();
    int limit = kBatchLimit;
    bool failing = false;
    while (!shared_->stopping()) {
      if (commands_due != 0 && settings_.clock->wall_ms() >= commands_due) {
        shared_->set_in_call(BridgeShared::Role::kPoller, true);
        const ApiResult r = api_->call("setMyCommands", {{"commands", bot_commands()}}, 10s);
        shared_->set_in_call(BridgeShared::Role::kPoller, false);
        if (shared_->stopping()) break;
        if (r.ok()) {
          commands_due = 0;
          log::info("telegram_commands_set", {{"count", bot_commands().size()}});
        } else {
          commands_due = settings_.clock->wall_ms() + 60'000;
          log::warn("telegram_commands_failed", {{"error", r.describe()}});
        }
      }
      const int64_t timeout_s = std::max<int64_t>(1, settings_.poll_timeout_ms / 1000);
      const json params = {{"offset", last_update_id_ + 1},
                           {"timeout", timeout_s},
                           {"limit", limit},
                           {"allowed_updates", json::array({"message", "callback_query"})}};
      const auto polled_at = SteadyClock::now();
      shared_->set_in_call(BridgeShared::Role::kPoller, true);
      ApiResult r = api_->call("getUpdates", params, std::chrono::seconds(timeout_s + 15), size_t{16} << 20);
      shared_->set_in_call(BridgeShared::Role::kPoller, false);
      if (shared_->stopping()) break;  // what arrived is not acknowledged: it is handled after the restart
      if (r.ok() && !r.result.is_array()) {
        r.kind = ApiResult::Kind::kBadResponse;
        r.description = "getUpdates result is not an array";
      }
      const int64_t now = settings_.clock->wall_ms();
      const PollDecision d = decide_poll(r, now, unreachable_, unauthorized_);
      if (d.failure == Failure::kNone) {
        if (failing) {
          failing = false;
          log::info("telegram_reachable", {{"thread", "poller"}});
          shared_->notify_reachable();
        }
        limit = kBatchLimit;
        shared_->set_poller({ThreadState::kPolling, "", 0});
        if (r.result.empty() && SteadyClock::now() - polled_at < 500ms) {
          // A server that ignores the long-poll timeout must not make this a busy loop.
          shared_->wait(SteadyClock::now() + 1s, shared_->seen(), false, false);
          continue;
        }
        const bool progress = handle_batch(r.result);
        if (!progress && !r.result.empty()) {
          // Updates that cannot be acknowledged: do not spin on them.
          const int64_t delay = unreachable_.next_delay_ms();
          log::warn("telegram_poll_no_progress", {{"updates", r.result.size()}, {"retry_in_ms", delay}});
          shared_->wait(SteadyClock::now() + std::chrono::milliseconds(delay), shared_->seen(), false, false);
        }
        continue;
      }
      failing = true;
      if (r.kind == ApiResult::Kind::kBadResponse) limit = 1;  // one oversized or broken update at a time
      report_failure("getUpdates", r, d, now);
      // Only an outage ends early when the sender gets through; a conflict,
      // a rejected token or a retry_after is waited out.
      shared_->wait(steady_at(*settings_.clock, d.retry_at_ms), shared_->seen(), false, d.failure == Failure::kUnreachable);
    }
  }

 private:
  static constexpr int kBatchLimit = 20;

  void report_failure(const char* method, const ApiResult& r, const PollDecision& d, int64_t now) {
    const int64_t retry_in = d.retry_at_ms - now;
    switch (d.failure) {
      case Failure::kConflict:
        log::warn("telegram_conflict",
                  {{"method", method},
                   {"error", r.describe()},
                   {"explanation",
                    "Telegram lets only one consumer read this bot's updates: either a webhook is set for the bot "
                    "(remove it with the Bot API method deleteWebhook; gwr does not do that for you) or another "
                    "process polls getUpdates with the same token (stop it)"},
                   {"retry_in_ms", retry_in}});
        shared_->set_poller({ThreadState::kConflict, r.describe(), d.retry_at_ms});
        break;
      case Failure::kUnauthorized:
        log::error("telegram_token_rejected", {{"method", method},
                                               {"error", "bot token rejected (401): check telegram.bot_token"},
                                               {"retry_in_ms", retry_in}});
        shared_->set_poller({ThreadState::kTokenRejected, r.describe(), d.retry_at_ms});
        break;
      case Failure::kRateLimited:
        log::warn("telegram_rate_limited", {{"method", method}, {"retry_after", r.retry_after_s}});
        shared_->set_poller({ThreadState::kRateLimited, r.describe(), d.retry_at_ms});
        break;
      default:
        log::warn("telegram_poll_failed", {{"method", method}, {"error", r.describe()}, {"retry_in_ms", retry_in}});
        shared_->set_poller({ThreadState::kUnreachable, r.describe(), d.retry_at_ms});
        break;
    }
  }

  // getMe: who this bot is (its @username makes /cmd@bot work in groups).
  bool identify() {
    while (!shared_->stopping()) {
      shared_->set_in_call(BridgeShared::Role::kPoller, true);
      ApiResult r = api_->call("getMe", json::object(), 10s);
      shared_->set_in_call(BridgeShared::Role::kPoller, false);
      if (shared_->stopping()) return false;
      if (r.ok()) {
        const auto u = r.result.is_object() ? r.result.find("username") : r.result.end();
        if (r.result.is_object() && u != r.result.end() && u->is_string()) {
          username_ = u->get<std::string>();
          shared_->set_bot_username(username_);
          log::info("telegram_bot_ready", {{"username", username_}});
          shared_->set_poller({ThreadState::kPolling, "", 0});
          return true;
        }
        r.kind = ApiResult::Kind::kBadResponse;
        r.description = "getMe has no username";
      }
      const int64_t now = settings_.clock->wall_ms();
      const PollDecision d = decide_poll(r, now, unreachable_, unauthorized_);
      report_failure("getMe", r, d, now);
      shared_->wait(steady_at(*settings_.clock, d.retry_at_ms), shared_->seen(), false, d.failure == Failure::kUnreachable);
    }
    return false;
  }

  bool handle_batch(const json& updates) {
    std::vector<ParsedUpdate> parsed;
    for (const auto& u : updates) {
      ParsedUpdate p = parse_update(u, username_);
      if (!p.has_update_id) {
        log::warn("telegram_update_skipped", {{"reason", p.reason}});
        continue;
      }
      if (p.update_id <= last_update_id_) continue;  // already handled
      parsed.push_back(std::move(p));
    }
    std::stable_sort(parsed.begin(), parsed.end(),
                     [](const ParsedUpdate& a, const ParsedUpdate& b) { return a.update_id < b.update_id; });
    bool progress = false;
    for (const auto& p : parsed) {
      if (shared_->stopping()) break;
      if (p.update_id <= last_update_id_) continue;  // a duplicate within the batch
      bool ok = false;
      try {
        ok = handle_update(p);
      } catch (const std::exception& e) {
        // A poison update must not come back after every restart: acknowledge it.
        log::error("telegram_update_failed", {{"update_id", p.update_id}, {"error", e.what()}});
        ok = commit(p, {}, "");
      }
      if (!ok) break;
      progress = true;
    }
    return progress;
  }

  // The update is handled: its replies are queued and its id acknowledged, in
  // one transaction. When telegram.db cannot be written (a full disk), the
  // replies are kept in memory and the update counts as handled anyway: the
  // owner still gets an answer, and a command is never carried out again
  // because its acknowledgement could not be saved.
  bool commit(const ParsedUpdate& p, const std::vector<Outgoing>& messages, const std::string& marker) {
    const int64_t now = settings_.clock->wall_ms();
    std::string failed, error;
    {
      Transaction tx(store_->db());
      if (!tx.ok()) {
        failed = "begin";
        error = tx.begin_status().message();
      }
      for (size_t i = 0; failed.empty() && i < messages.size(); ++i) {
        if (auto id = store_->enqueue(p.chat_id, messages[i], now); !id) {
          failed = "enqueue";
          error = id.message();
        }
      }
      if (failed.empty()) {
        if (auto st = store_->set_last_update_id(p.update_id); !st) {
          failed = "offset";
          error = st.message();
        }
      }
      if (failed.empty() && !marker.empty()) (void)store_->delete_marker(marker);
      if (failed.empty()) {
        if (auto st = tx.commit(); !st) {
          failed = "commit";
          error = st.message();
        }
      }
    }
    if (!failed.empty()) {
      log::error("telegram_store_failed", {{"op", failed}, {"update_id", p.update_id}, {"error", error},
                                           {"effect", "the answer is sent from memory; the update counts as handled"}});
      for (const auto& m : messages) shared_->keep_unsaved(p.chat_id, m, now);
    }
    last_update_id_ = p.update_id;
    if (!messages.empty()) shared_->notify_outbox();
    return true;
  }

  bool handle_update(const ParsedUpdate& p) {
    const int64_t now = settings_.clock->wall_ms();
    if (p.kind == ParsedUpdate::Kind::kIgnored) {
      log::debug("telegram_update", {{"update_id", p.update_id}, {"ignored", p.reason}});
      return commit(p, {}, "");
    }
    const bool is_command = p.kind == ParsedUpdate::Kind::kCommand;
    const std::string what = is_command ? "/" + p.command : "the " + p.callback_data + " button";
    const Access access = shared_->access().check(p.chat_id, p.user_id);
    if (access == Access::kNone) {
      // Strangers get nothing back, not even a callback answer; the owner gets an audit line.
      const auto v = audit_.check(p.chat_id, p.user_id, now);
      if (v.log) {
        log::warn("telegram_unauthorized", {{"update_id", p.update_id},
                                            {"chat_id", p.chat_id},
                                            {"user_id", p.user_id},
                                            {"username", p.username},
                                            {"command", clip(is_command ? p.command : p.callback_data, 32)},
                                            {"suppressed_since_last", v.suppressed}});
      }
      return commit(p, {}, "");
    }
    log::debug("telegram_update", {{"update_id", p.update_id}, {"kind", is_command ? "command" : "callback"}});
    const auto t0 = SteadyClock::now();
    CommandContext ctx;
    ctx.chat_id = p.chat_id;
    ctx.user_id = p.user_id;
    ctx.username = p.username;
    ctx.message_id = p.message_id;
    ctx.message_date = p.message_date;
    ctx.now_ms = now;
    const bool changes = is_command ? CommandHandler::command_changes_something(p.command, p.args)
                                    : CommandHandler::callback_changes_something(p.callback_data);
    if (access == Access::kReadOnly && changes) {
      // A group without telegram.allowed_user_ids: every member is "in the
      // owner's chat", so nothing that changes something may run.
      if (!is_command) {
        shared_->set_in_call(BridgeShared::Role::kPoller, true);
        (void)api_->call("answerCallbackQuery", {{"callback_query_id", p.callback_id}, {"text", "Not allowed here"}}, 5s);
        shared_->set_in_call(BridgeShared::Role::kPoller, false);
        if (shared_->stopping()) return false;
      }
      const auto refusal = CommandHandler::read_only_refusal(what, ctx);
      log::warn("telegram_command", {{"command", is_command ? p.command : "button:" + p.callback_data},
                                     {"user_id", p.user_id},
                                     {"chat_id", p.chat_id},
                                     {"update_id", p.update_id},
                                     {"outcome", refusal.outcome}});
      return commit(p, refusal.messages, "");
    }
    const bool side_effect = is_command ? CommandHandler::command_has_side_effect(p.command, p.args)
                                        : CommandHandler::callback_has_side_effect(p.callback_data);
    const std::string marker = side_effect ? "update:" + std::to_string(p.update_id) : "";
    const std::string confirm = !is_command && split_button(p.callback_data).first == button::kRepairConfirm
                                    ? "confirm:" + std::to_string(p.chat_id) + ":" + std::to_string(p.message_id)
                                    : "";
    const bool interrupted = side_effect && store_->marker(marker).has_value();
    const bool used = !confirm.empty() && !interrupted && store_->marker(confirm).has_value();
    if (!is_command) {
      const std::string ack = used ? "Already confirmed" : interrupted ? "Checking…" : CommandHandler::callback_ack(p.callback_data);
      shared_->set_in_call(BridgeShared::Role::kPoller, true);
      const ApiResult r = api_->call("answerCallbackQuery", {{"callback_query_id", p.callback_id}, {"text", ack}}, 5s);
      shared_->set_in_call(BridgeShared::Role::kPoller, false);
      if (!r.ok()) log::debug("telegram_callback_answer_failed", {{"update_id", p.update_id}, {"error", r.describe()}});
      if (shared_->stopping()) return false;
    }
    CommandResult result;
    if (interrupted) {
      // The previous process died while this ran: it may or may not have happened.
      result = CommandHandler::interrupted(what, ctx);
    } else if (used) {
      result.outcome = "confirmation already used";
    } else {
      if (side_effect) {
        Transaction tx(store_->db());
        (void)store_->put_marker(marker, "in_progress", now);
        if (!confirm.empty()) (void)store_->put_marker(confirm, "used", now);
        if (auto st = tx.commit(); !st) {
          // Carried out anyway: the owner asked, and it must not wait for a
          // disk. Only its crash-safety marker is missing.
          log::error("telegram_store_failed", {{"op", "marker"}, {"update_id", p.update_id}, {"error", st.message()},
                                               {"effect", "carried out without its in-progress marker"}});
        }
      }
      auto port = settings_.control_port();
      CommandHandler handler(*port);
      handler.set_gateways(settings_.gateways);
      handler.set_fleet_hub(settings_.fleet_hub);
      result = is_command ? handler.handle_command(p.command, p.args, ctx) : handler.handle_callback(p.callback_data, ctx);
    }
    // Stopping: the sockets may have been torn down under the handler. Leave
    // the update unacknowledged; the next process handles it (or, with a
    // marker, says it may have run).
    if (shared_->stopping()) return false;
    const auto handled = SteadyClock::now();
    const bool ok = commit(p, result.messages, marker);
    const auto us = [](auto d) { return std::chrono::duration_cast<std::chrono::microseconds>(d).count(); };
    log::info("telegram_command", {{"command", is_command ? p.command : "button:" + p.callback_data},
                                   {"user_id", p.user_id},
                                   {"chat_id", p.chat_id},
                                   {"update_id", p.update_id},
                                   {"outcome", result.outcome},
                                   {"handler_us", us(handled - t0)},
                                   {"commit_us", us(SteadyClock::now() - handled)}});
    return ok;
  }

  std::shared_ptr<BridgeShared> shared_;
  ThreadSettings settings_;
  std::unique_ptr<BridgeStore> store_;
  BotApi* api_ = nullptr;
  std::string username_;
  int64_t last_update_id_ = 0;
  AuditLimiter audit_;
  Backoff unreachable_{kUnreachableInitialMs, kUnreachableMaxMs};
  Backoff unauthorized_{kUnauthorizedInitialMs, kUnauthorizedMaxMs};
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// BridgeShared

void BridgeShared::notify_outbox() {
  {
    std::lock_guard lock(mu_);
    ++seen_.outbox;
  }
  cv_.notify_all();
}

void BridgeShared::notify_reachable() {
  {
    std::lock_guard lock(mu_);
    ++seen_.reachable;
  }
  cv_.notify_all();
}

void BridgeShared::request_stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

bool BridgeShared::stopping() const {
  std::lock_guard lock(mu_);
  return stop_;
}

BridgeShared::Seen BridgeShared::seen() const {
  std::lock_guard lock(mu_);
  return seen_;
}

bool BridgeShared::wait(SteadyClock::time_point deadline, Seen seen, bool wake_on_outbox, bool wake_on_reachable) {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, deadline, [&] {
    return stop_ || (wake_on_reachable && seen_.reachable != seen.reachable) ||
           (wake_on_outbox && seen_.outbox != seen.outbox);
  });
  return !stop_;
}

void BridgeShared::keep_unsaved(int64_t chat_id, const Outgoing& message, int64_t now_ms) {
  {
    std::lock_guard lock(mu_);
    if (unsaved_.size() >= 1000) unsaved_.erase(unsaved_.begin());  // bounded: the oldest go first
    Unsaved u;
    u.id = next_unsaved_id_--;
    u.chat_id = chat_id;
    u.message = message;
    u.created_at_ms = now_ms;
    unsaved_.push_back(std::move(u));
    ++seen_.outbox;
  }
  cv_.notify_all();
}

std::vector<BridgeShared::Unsaved> BridgeShared::unsaved_heads() const {
  std::lock_guard lock(mu_);
  std::vector<Unsaved> out;
  for (const auto& u : unsaved_) {
    if (std::none_of(out.begin(), out.end(), [&](const Unsaved& o) { return o.chat_id == u.chat_id; })) out.push_back(u);
  }
  return out;
}

void BridgeShared::unsaved_done(int64_t id) {
  std::lock_guard lock(mu_);
  unsaved_.erase(std::remove_if(unsaved_.begin(), unsaved_.end(), [&](const Unsaved& u) { return u.id == id; }),
                 unsaved_.end());
}

void BridgeShared::unsaved_retry(int64_t id, int64_t at_ms) {
  std::lock_guard lock(mu_);
  for (auto& u : unsaved_) {
    if (u.id == id) {
      u.next_attempt_at_ms = at_ms;
      ++u.attempts;
    }
  }
}

size_t BridgeShared::unsaved_count() const {
  std::lock_guard lock(mu_);
  return unsaved_.size();
}

void BridgeShared::remember_thread(const std::string& incident, int64_t chat_id, int64_t message_id) {
  std::lock_guard lock(mu_);
  if (threads_.size() > 1000) threads_.clear();
  threads_[incident] = {chat_id, message_id};
}

std::optional<std::pair<int64_t, int64_t>> BridgeShared::thread(const std::string& incident) const {
  std::lock_guard lock(mu_);
  auto it = threads_.find(incident);
  if (it == threads_.end()) return std::nullopt;
  return it->second;
}

bool BridgeShared::unsaved_opener_pending(const std::string& incident) const {
  std::lock_guard lock(mu_);
  return std::any_of(unsaved_.begin(), unsaved_.end(),
                     [&](const Unsaved& u) { return u.message.opens_incident && u.message.incident == incident; });
}

AccessPolicy BridgeShared::access() const {
  std::lock_guard lock(mu_);
  return access_;
}

void BridgeShared::set_access(AccessPolicy access) {
  std::lock_guard lock(mu_);
  access_ = std::move(access);
}

const char* thread_state_text(ThreadState state) {
  switch (state) {
    case ThreadState::kStarting: return "connecting to Telegram";
    case ThreadState::kIdle: return "idle";
    case ThreadState::kSending: return "sending";
    case ThreadState::kPolling: return "polling";
    case ThreadState::kUnreachable: return "Telegram unreachable";
    case ThreadState::kRateLimited: return "rate limited";
    case ThreadState::kTokenRejected: return "bot token rejected (401)";
    case ThreadState::kConflict: return "conflict (409): a webhook or another poller uses this token";
  }
  return "?";
}

void BridgeShared::set_poller(ThreadStatus status) {
  std::lock_guard lock(mu_);
  poller_ = std::move(status);
}

void BridgeShared::set_sender(ThreadStatus status) {
  std::lock_guard lock(mu_);
  sender_ = std::move(status);
}

ThreadStatus BridgeShared::poller() const {
  std::lock_guard lock(mu_);
  return poller_;
}

ThreadStatus BridgeShared::sender() const {
  std::lock_guard lock(mu_);
  return sender_;
}

void BridgeShared::set_bot_username(std::string username) {
  std::lock_guard lock(mu_);
  username_ = std::move(username);
}

std::string BridgeShared::bot_username() const {
  std::lock_guard lock(mu_);
  return username_;
}

void BridgeShared::set_in_call(Role role, bool in) {
  {
    std::lock_guard lock(mu_);
    (role == Role::kPoller ? poller_in_call_ : sender_in_call_) = in;
  }
  cv_.notify_all();
}

void BridgeShared::thread_started(Role role) {
  std::lock_guard lock(mu_);
  (role == Role::kPoller ? poller_running_ : sender_running_) = true;
}

void BridgeShared::thread_exited(Role role) {
  {
    std::lock_guard lock(mu_);
    (role == Role::kPoller ? poller_running_ : sender_running_) = false;
  }
  cv_.notify_all();
}

bool BridgeShared::running(Role role) const {
  std::lock_guard lock(mu_);
  return role == Role::kPoller ? poller_running_ : sender_running_;
}

bool BridgeShared::quiescent() const {
  std::lock_guard lock(mu_);
  return !sender_running_ && (!poller_running_ || poller_in_call_);
}

bool BridgeShared::settled() const {
  std::lock_guard lock(mu_);
  return (!sender_running_ || sender_in_call_) && (!poller_running_ || poller_in_call_);
}

bool BridgeShared::wait_settled(SteadyClock::time_point deadline) {
  std::unique_lock lock(mu_);
  return cv_.wait_until(lock, deadline, [&] {
    return (!sender_running_ || sender_in_call_) && (!poller_running_ || poller_in_call_);
  });
}

// ---------------------------------------------------------------------------------------------
// BridgeThreads

BridgeThreads::BridgeThreads(ThreadSettings settings, AccessPolicy access)
    : shared_(std::make_shared<BridgeShared>(std::move(access))) {
  // Each thread holds its own reference to the shared state and settings, so
  // it may outlive this object when it has to be abandoned.
  auto start = [&](BridgeShared::Role role, const char* name, auto run) {
    shared_->thread_started(role);
    ThreadActor::Options o;
    o.name = std::string("telegram ") + name;
    auto actor = ThreadActor::start(o, [shared = shared_, settings, role, name, run](ThreadActor::Self& self) {
      self.ready();
      try {
        run(shared, settings);
      } catch (const std::exception& e) {
        log::error("telegram_thread_failed", {{"thread", name}, {"error", e.what()}});
        log::flush();
        std::abort();  // a broken invariant: the supervisor restarts the process
      }
      shared->thread_exited(role);
    });
    if (!actor) {
      log::error("telegram_thread_failed", {{"thread", name}, {"error", actor.message()}});
      log::flush();
      std::abort();
    }
    return std::move(*actor);
  };
  poller_ = start(BridgeShared::Role::kPoller, "poller",
                  [](const std::shared_ptr<BridgeShared>& shared, const ThreadSettings& s) { Poller(shared, s).run(); });
  sender_ = start(BridgeShared::Role::kSender, "sender",
                  [](const std::shared_ptr<BridgeShared>& shared, const ThreadSettings& s) { Sender(shared, s).run(); });
}

BridgeThreads::~BridgeThreads() {
  if (poller_ || sender_) (void)stop(std::chrono::milliseconds(1000));
}

void BridgeThreads::signal_stop() { shared_->request_stop(); }

bool BridgeThreads::quiescent() { return shared_->quiescent(); }

bool BridgeThreads::stop(std::chrono::milliseconds budget) {
  shared_->request_stop();
  // A thread blocked in a Telegram call holds no socket and commits nothing
  // once it sees the stop: no reason to wait for Telegram's answer. A thread
  // in the middle of a command or a database write is given the budget.
  (void)shared_->wait_settled(SteadyClock::now() + budget);
  bool clean = true;
  auto finish = [&](std::unique_ptr<ThreadActor>& t, const char* name) {
    if (!t) return;
    // Settled: it has exited (joined now) or is blocked in a call (left).
    if (!t->stop(std::chrono::milliseconds(50))) {
      log::info("telegram_thread_left", {{"thread", name}, {"reason", "blocked in a Telegram call; it ends when the call returns"}});
      clean = false;
    }
    t.reset();
  };
  finish(poller_, "poller");
  finish(sender_, "sender");
  return clean;
}

}  // namespace gwr::telegram
