#include "telegram-bridge/channel_sender.h"

#include <algorithm>
#include <stdexcept>

#include "common/log.h"
#include "common/redact.h"
#include "telegram-bridge/heartbeat_plan.h"
#include "telegram-bridge/notice_store.h"

namespace gwr::telegram {

namespace {

using namespace std::chrono_literals;

// The thread's loop: what it keeps between requests.
class Drain {
 public:
  Drain(ChannelSenderSettings s, std::unique_ptr<NoticeStore> store)
      : s_(std::move(s)), store_(std::move(store)), client_(s_.http()), name_(channel_name(s_.target.channel)) {
    status_.set_name(name_);
    status_.set_state(pb::ChannelStatus::IDLE);
    // A (re)start is a new chance for what waits (the supervisor's restart
    // backoff keeps that from becoming a storm).
    (void)store_->retry_now(name_);
  }

  // Sends what is due; returns when to look again (steady time).
  std::chrono::steady_clock::time_point work() {
    const auto far = std::chrono::steady_clock::now() + 60s;
    for (;;) {
      const int64_t now = s_.clock->wall_ms();
      status_.set_queued(static_cast<uint32_t>(store_->queued(name_)));
      auto q = store_->head(name_);
      if (!q) {
        if (status_.state() == pb::ChannelStatus::RETRYING || status_.state() == pb::ChannelStatus::REJECTED) {
          status_.set_state(pb::ChannelStatus::OK);
        }
        status_.set_retry_at_ms(0);
        return far;
      }
      if (!q->notice) {
        log::error("notice_dropped", {{"channel", name_}, {"reason", "the stored notice cannot be read"}});
        (void)store_->drop(q->id);
        status_.set_dropped(status_.dropped() + 1);
        continue;
      }
      if (now - q->created_at_ms > kNoticeMaxAgeMs) {
        log::warn("notice_dropped", {{"channel", name_}, {"notice", q->notice->event}, {"key", q->notice->key},
                                     {"reason", "not delivered within a day: no longer news"}});
        (void)store_->done(name_, *q, now);
        status_.set_dropped(status_.dropped() + 1);
        continue;
      }
      const int64_t due = std::max(q->next_attempt_at_ms, budget_.next_ms(now));
      if (due > now) return std::chrono::steady_clock::now() + std::chrono::milliseconds(due - now);
      send(*q, now);
    }
  }

  void retarget(ChannelTarget t) {
    s_.target = std::move(t);
    (void)store_->retry_now(name_);
    status_.set_state(pb::ChannelStatus::IDLE);
    status_.clear_detail();
    log::info("notify_channel_changed", {{"channel", name_}, {"address", url_for_logs(s_.target.url)}});
  }

  const pb::ChannelStatus& status() const { return status_; }

 private:
  void send(const QueuedNotice& q, int64_t now) {
    const HttpRequest req = channel_request(*q.notice, s_.source, s_.target);
    budget_.spend(now);
    const HttpResponse r = client_->send(req);
    last_sent_at_ = s_.clock->wall_ms();
    Delivery d = judge_delivery(r, q.attempts, last_sent_at_);
    // An error may quote what was sent (a URL with its token): redacted.
    d.detail = SharedRedactor::instance().redact(d.detail);
    for (const auto& secret : {s_.target.url, s_.target.token}) {
      if (secret.empty()) continue;
      for (size_t at = d.detail.find(secret); at != std::string::npos; at = d.detail.find(secret)) {
        d.detail.replace(at, secret.size(), "…");
      }
    }
    log::Fields f = {{"channel", name_},
                     {"notice", q.notice->event},
                     {"key", q.notice->key},
                     {"attempt", q.attempts + 1},
                     {"http_status", r.status},
                     {"latency_ms", r.latency_us / 1000},
                     {"waited_ms", last_sent_at_ - q.notice->at_ms}};
    switch (d.verdict) {
      case Delivery::Verdict::kSent:
        if (auto st = store_->done(name_, q, last_sent_at_); !st) {
          log::error("notice_store_failed", {{"channel", name_}, {"error", st.message()}});
        }
        status_.set_state(pb::ChannelStatus::OK);
        status_.clear_detail();
        status_.set_last_sent_ms(last_sent_at_);
        status_.set_retry_at_ms(0);
        status_.set_sent(status_.sent() + 1);
        log::info("notice_sent", f);
        break;
      case Delivery::Verdict::kRetry:
      case Delivery::Verdict::kRefused: {
        (void)store_->retry(q.id, d.retry_at_ms);
        const bool refused = d.verdict == Delivery::Verdict::kRefused;
        status_.set_state(refused ? pb::ChannelStatus::REJECTED : pb::ChannelStatus::RETRYING);
        status_.set_detail(d.detail);
        status_.set_retry_at_ms(d.retry_at_ms);
        f["error"] = d.detail;
        f["retry_in_ms"] = d.retry_at_ms - last_sent_at_;
        log::warn(refused ? "notice_refused" : "notice_not_sent", f);
        break;
      }
      case Delivery::Verdict::kDropped:
        (void)store_->done(name_, q, last_sent_at_);
        status_.set_dropped(status_.dropped() + 1);
        status_.set_detail(d.detail + ": a notice was refused and dropped");
        f["error"] = d.detail;
        log::error("notice_dropped", f);
        break;
    }
  }

  ChannelSenderSettings s_;
  std::unique_ptr<NoticeStore> store_;
  std::unique_ptr<HttpClient> client_;
  std::string name_;
  pb::ChannelStatus status_;
  int64_t last_sent_at_ = 0;
  SendBudget budget_;
};

}  // namespace

ChannelSender::ChannelSender(Channel channel, std::unique_ptr<SenderActor> actor)
    : channel_(channel), actor_(std::move(actor)) {
  status_.set_name(channel_name(channel));
  status_.set_state(pb::ChannelStatus::IDLE);
}

ChannelSender::~ChannelSender() { (void)stop(0ms); }

Result<std::unique_ptr<ChannelSender>> ChannelSender::start(ChannelSenderSettings settings) {
  const Channel channel = settings.target.channel;
  auto actor = SenderActor::start(
      {std::string(channel_name(channel)) + " sender"}, [settings = std::move(settings)](SenderActor::Self& self) mutable {
        // Its own connection, opened on this thread; short lock waits (the
        // main loop's enqueue commits in microseconds).
        auto store = NoticeStore::open(settings.db_path, 2s);
        if (!store) throw std::runtime_error("notify.db: " + store.message());
        Drain drain(std::move(settings), std::move(*store));
        self.ready();
        auto next = drain.work();
        self.post(drain.status());
        while (!self.stopping()) {
          auto command = self.receive_until(next);
          if (self.stopping()) break;
          if (command && command->target) drain.retarget(*command->target);
          next = drain.work();
          self.post(drain.status());
        }
      });
  if (!actor) return actor.error();
  return std::unique_ptr<ChannelSender>(new ChannelSender(channel, std::move(*actor)));
}

void ChannelSender::wake() { actor_->send(Command{}); }

void ChannelSender::retarget(ChannelTarget target) { actor_->send(Command{std::move(target)}); }

int ChannelSender::notify_fd() const { return actor_->notify_fd(); }

const pb::ChannelStatus& ChannelSender::status() {
  for (auto& s : actor_->drain()) status_ = std::move(s);
  return status_;
}

bool ChannelSender::stop(std::chrono::milliseconds budget) { return actor_ ? actor_->stop(budget) : true; }

}  // namespace gwr::telegram
