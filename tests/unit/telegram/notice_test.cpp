// The channels beside Telegram (issue #17, part 2): which events are news,
// what each channel receives, what each answer means, and the queue in
// notify.db (order, deduplication, the limit).
#include "telegram-bridge/notice.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/text.h"
#include "telegram-bridge/notice_store.h"
#include "tests/support/test_support.h"

namespace gwr::telegram {
namespace {

using json = nlohmann::json;
using gwr::testing::TempDir;

const NoticeSource kSource{"pi5", "127.0.0.1:18789"};

pb::RepairEvent event(pb::RepairEvent::Kind kind, int64_t id = 7) {
  pb::RepairEvent e;
  e.set_kind(kind);
  e.set_repair_id(id);
  e.set_tier(1);
  e.set_trigger(pb::TRIGGER_AUTO);
  e.set_at_ms(1'800'000'000'000);
  return e;
}

TEST(NoticeTest, TheNewsOfAnIncidentAndNotItsSteps) {
  auto started = event(pb::RepairEvent::STARTED);
  auto* f = started.add_findings();
  f->set_kind(pb::Finding::EXITED);
  f->set_value(4242);
  auto n = notice_for(started, "k1", kSource);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->event, "repair_started");
  EXPECT_EQ(n->severity, Severity::kWarning);
  EXPECT_NE(n->text.find("gateway 127.0.0.1:18789 on pi5"), std::string::npos) << n->text;
  EXPECT_NE(n->text.find("4242"), std::string::npos) << n->text;

  auto done = event(pb::RepairEvent::FINISHED);
  done.set_success(true);
  done.set_duration_ms(2300);
  done.set_verified("answers /health, ready");
  n = notice_for(done, "k2", kSource);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->event, "repair_succeeded");
  EXPECT_EQ(n->outcome, "repaired");
  EXPECT_NE(n->title.find("tier 1"), std::string::npos) << n->title;

  // A failure is told once, by the escalation that follows it.
  done.set_success(false);
  EXPECT_FALSE(notice_for(done, "k3", kSource));
  n = notice_for(event(pb::RepairEvent::ESCALATION), "k4", kSource);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->severity, Severity::kCritical);
  EXPECT_EQ(n->outcome, "failed");

  EXPECT_FALSE(notice_for(event(pb::RepairEvent::STEP), "k5", kSource));
  EXPECT_FALSE(notice_for(event(pb::RepairEvent::TIER_FAILED), "k6", kSource));
  for (auto kind : {pb::RepairEvent::COOLDOWN_ENTERED, pb::RepairEvent::COOLDOWN_ENDED, pb::RepairEvent::PAUSED,
                    pb::RepairEvent::RESUMED, pb::RepairEvent::DEFERRED, pb::RepairEvent::RATE_LIMITED,
                    pb::RepairEvent::TIER3_REJECTED}) {
    EXPECT_TRUE(notice_for(event(kind), "k", kSource)) << kind;
  }
}

TEST(NoticeTest, AlertsAndTheirEnd) {
  pb::Alert a;
  a.set_kind(pb::Alert::STATE_NOT_SAVED);
  a.set_component("repairer");
  a.set_since_ms(5);
  a.set_detail("disk full");
  auto n = notice_for(a, 10, kSource);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->severity, Severity::kCritical);
  a.set_cleared(true);
  auto c = notice_for(a, 20, kSource);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->event, "alert_cleared");
  EXPECT_NE(c->key, n->key);  // both are sent
}

TEST(NoticeTest, EachChannelGetsItsOwnShapeAndNothingFromTheDaemonIsMarkup) {
  auto e = event(pb::RepairEvent::PAUSED);
  e.set_actor("telegram:1");
  e.set_reason("@everyone **now** [click](http://evil) <@123> €\nsecond line");
  auto n = notice_for(e, "key-1", kSource);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->text.find('\n'), std::string::npos) << "daemon text stays on one line";

  // ntfy: JSON to the server's root, the topic inside.
  auto r = channel_request(*n, kSource, {Channel::kNtfy, "https://ntfy.example/sub/my-topic", "tk_secret"});
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, "https://ntfy.example/sub/");
  auto body = json::parse(r.body);
  EXPECT_EQ(body["topic"], "my-topic");
  EXPECT_EQ(body["priority"], 4);
  EXPECT_NE(body["title"].get<std::string>().find("pi5: Automatic repairs paused"), std::string::npos);
  EXPECT_NE(std::find(r.headers.begin(), r.headers.end(), "Authorization: Bearer tk_secret"), r.headers.end());

  // Discord: no mention pings, Markdown shown as written, within 2000 characters.
  r = channel_request(*n, kSource, {Channel::kDiscord, "https://discord.example/api/webhooks/1/abc", ""});
  body = json::parse(r.body);
  EXPECT_EQ(body["allowed_mentions"]["parse"], json::array());
  const std::string content = body["content"];
  EXPECT_NE(content.find("\\*\\*now\\*\\*"), std::string::npos) << content;
  EXPECT_NE(content.find("\\[click\\]"), std::string::npos) << content;
  EXPECT_NE(content.find("€"), std::string::npos);
  for (const auto& h : r.headers) EXPECT_EQ(h.find("Authorization"), std::string::npos) << h;

  // Webhook: the documented schema.
  r = channel_request(*n, kSource, {Channel::kWebhook, "http://127.0.0.1:9/hook", "wh"});
  body = json::parse(r.body);
  EXPECT_EQ(body["schema"], "gwr.notification.v1");
  EXPECT_EQ(body["id"], "key-1");
  EXPECT_EQ(body["event"], "paused");
  EXPECT_EQ(body["host"], "pi5");
  EXPECT_EQ(body["gateway"], "127.0.0.1:18789");
  EXPECT_EQ(body["repair"]["id"], 7);
}

TEST(NoticeTest, HugeTextIsCutAtACharacterWithinEachLimit) {
  auto e = event(pb::RepairEvent::ESCALATION);
  std::string huge;
  for (int i = 0; i < 3000; ++i) huge += "€*";
  e.set_details(huge);
  e.set_diagnosis(huge);
  auto n = notice_for(e, "k", kSource);
  ASSERT_TRUE(n);
  for (auto ch : {Channel::kNtfy, Channel::kDiscord, Channel::kWebhook}) {
    auto r = channel_request(*n, kSource, {ch, "https://x.example/t", ""});
    auto body = json::parse(r.body);  // valid JSON, valid UTF-8
    if (ch == Channel::kDiscord) {
      EXPECT_LE(body["content"].get<std::string>().size(), 2000u);
    }
    if (ch == Channel::kNtfy) {
      EXPECT_LE(body["message"].get<std::string>().size(), 4096u);
    }
    EXPECT_TRUE(is_valid_utf8(r.body));
  }
}

TEST(NoticeTest, WhatEachAnswerMeans) {
  const int64_t now = 1'000'000;
  auto answer = [](int status, std::string body = "") {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
  };
  EXPECT_EQ(judge_delivery(answer(200), 0, now).verdict, Delivery::Verdict::kSent);
  EXPECT_EQ(judge_delivery(answer(204), 0, now).verdict, Delivery::Verdict::kSent);
  // Discord's retry_after, in seconds; absurd values are bounded.
  auto d = judge_delivery(answer(429, R"({"retry_after": 2.5})"), 0, now);
  EXPECT_EQ(d.verdict, Delivery::Verdict::kRetry);
  EXPECT_EQ(d.retry_at_ms, now + 2500);
  EXPECT_EQ(judge_delivery(answer(429, R"({"retry_after": 1e308})"), 0, now).retry_at_ms, now + 3'600'000);
  EXPECT_EQ(judge_delivery(answer(429, "not json"), 0, now).retry_at_ms, now + 30'000);
  // Server errors and no answer back off, 1 s doubling to 5 min.
  EXPECT_EQ(judge_delivery(answer(502), 0, now).retry_at_ms, now + 1'000);
  EXPECT_EQ(judge_delivery(answer(502), 3, now).retry_at_ms, now + 8'000);
  EXPECT_EQ(judge_delivery(answer(502), 40, now).retry_at_ms, now + 300'000);
  HttpResponse down;
  down.error = "connection refused";
  d = judge_delivery(down, 0, now);
  EXPECT_EQ(d.verdict, Delivery::Verdict::kRetry);
  EXPECT_EQ(d.detail, "connection refused");
  // A wrong address or token keeps the notice for when it is fixed.
  for (int s : {401, 403, 404, 301}) {
    d = judge_delivery(answer(s), 0, now);
    EXPECT_EQ(d.verdict, Delivery::Verdict::kRefused) << s;
    EXPECT_GE(d.retry_at_ms, now + 300'000) << s;
  }
  // This one notice is refused for itself.
  EXPECT_EQ(judge_delivery(answer(400), 0, now).verdict, Delivery::Verdict::kDropped);
  EXPECT_EQ(judge_delivery(answer(413), 0, now).verdict, Delivery::Verdict::kDropped);
}

TEST(NoticeTest, ABurstOfThreeThenOneASecond) {
  SendBudget b;
  int64_t now = 1'000'000;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(b.next_ms(now), now) << i;
    b.spend(now);
  }
  EXPECT_EQ(b.next_ms(now), now + 1'000);
  now += 400;
  EXPECT_EQ(b.next_ms(now), now + 600);
  now += 600;
  b.spend(now);
  EXPECT_EQ(b.next_ms(now), now + 1'000);
  // Quiet for long, the burst is back, never more.
  now += 60'000;
  for (int i = 0; i < 3; ++i) b.spend(now);
  EXPECT_EQ(b.next_ms(now), now + 1'000);
}

TEST(NoticeStoreTest, InOrderOncePerChannelAndBounded) {
  TempDir dir;
  auto store = NoticeStore::open(dir.path() + "/notify.db");
  ASSERT_TRUE(store) << store.message();
  auto& s = **store;
  auto n = *notice_for(event(pb::RepairEvent::STARTED, 1), "a", kSource);
  ASSERT_TRUE(*s.enqueue("ntfy", n, 100));
  EXPECT_FALSE(*s.enqueue("ntfy", n, 101)) << "the same event twice is queued once";
  ASSERT_TRUE(*s.enqueue("discord", n, 101)) << "each channel has its own queue";
  auto m = *notice_for(event(pb::RepairEvent::ESCALATION, 1), "b", kSource);
  ASSERT_TRUE(*s.enqueue("ntfy", m, 102));
  auto head = s.head("ntfy");
  ASSERT_TRUE(head && head->notice);
  EXPECT_EQ(head->notice->key, "a");
  ASSERT_TRUE(s.retry(head->id, 5000));
  head = s.head("ntfy");
  EXPECT_EQ(head->attempts, 1);
  EXPECT_EQ(head->next_attempt_at_ms, 5000);
  ASSERT_TRUE(s.done("ntfy", *head, 200));
  EXPECT_EQ(s.head("ntfy")->notice->key, "b");
  // Delivered, the catch-up's copy of the same event is not queued again.
  EXPECT_FALSE(*s.enqueue("ntfy", n, 300));
  EXPECT_EQ(s.queued("ntfy"), 1);
  EXPECT_EQ(s.queued("discord"), 1);

  // Past the limit the oldest go.
  int64_t evicted_total = 0;
  for (int i = 0; i < kNoticeQueueLimit + 5; ++i) {
    auto x = n;
    x.key = "bulk-" + std::to_string(i);
    int64_t evicted = 0;
    ASSERT_TRUE(*s.enqueue("webhook", x, 400 + i, &evicted));
    evicted_total += evicted;
  }
  EXPECT_EQ(s.queued("webhook"), kNoticeQueueLimit);
  EXPECT_EQ(evicted_total, 5);
  EXPECT_EQ(s.head("webhook")->notice->key, "bulk-5");
  auto first = n;
  first.key = "bulk-0";
  EXPECT_FALSE(*s.enqueue("webhook", first, 2000)) << "an evicted notice is not queued again";

  // A channel's start is remembered: events before it are not news for it.
  EXPECT_EQ(s.since("ntfy", 1000), 1000);
  EXPECT_EQ(s.since("ntfy", 2000), 1000);
}

TEST(NoticeStoreTest, ARowThatIsNotANoticeIsSaidSo) {
  TempDir dir;
  auto store = NoticeStore::open(dir.path() + "/notify.db");
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->db().exec(
      "INSERT INTO notices(channel, key, notice, created_at) VALUES('ntfy', 'x', '{not json', 1)"));
  auto head = (*store)->head("ntfy");
  ASSERT_TRUE(head);
  EXPECT_FALSE(head->notice);
}

}  // namespace
}  // namespace gwr::telegram
