// The outbox's manners on a fake clock: token buckets, retry_after, backoff, 400s.
#include <gtest/gtest.h>

#include "telegram-bridge/send_policy.h"
#include "tests/support/test_support.h"

namespace gwr::telegram {
namespace {

using gwr::testing::FakeClock;
using namespace std::chrono_literals;

ApiResult api_error(int code, const std::string& description, int64_t retry_after = 0) {
  ApiResult r;
  r.kind = ApiResult::Kind::kApiError;
  r.http_status = code;
  r.error_code = code;
  r.description = description;
  r.retry_after_s = retry_after;
  return r;
}

ApiResult transport_error() {
  ApiResult r;
  r.kind = ApiResult::Kind::kTransport;
  r.description = "Couldn't connect to server";
  return r;
}

TEST(ApiResult, ParsesTheBotApiShapes) {
  HttpResponse ok{200, R"({"ok":true,"result":{"message_id":5}})", "", false, false, false, 0};
  auto r = parse_api_response(ok);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.result["message_id"], 5);

  HttpResponse limited{429, R"({"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}})",
                       "", false, false, false, 0};
  r = parse_api_response(limited);
  EXPECT_EQ(r.kind, ApiResult::Kind::kApiError);
  EXPECT_EQ(r.error_code, 429);
  EXPECT_EQ(r.retry_after_s, 7);
  EXPECT_EQ(classify(r), Failure::kRateLimited);

  HttpResponse html{502, "<html><body>Bad Gateway</body></html>", "", false, false, false, 0};
  r = parse_api_response(html);
  EXPECT_EQ(r.kind, ApiResult::Kind::kBadResponse);
  EXPECT_EQ(classify(r), Failure::kUnreachable);

  HttpResponse garbage{200, "{\"ok\":tru", "", false, false, false, 0};
  EXPECT_EQ(parse_api_response(garbage).kind, ApiResult::Kind::kBadResponse);
  HttpResponse wrong_types{200, R"({"ok":"yes","result":1})", "", false, false, false, 0};
  EXPECT_EQ(parse_api_response(wrong_types).kind, ApiResult::Kind::kBadResponse);

  HttpResponse refused;
  refused.error = "Failed to connect to 127.0.0.1 port 9: Connection refused";
  refused.connect_failed = true;
  r = parse_api_response(refused);
  EXPECT_EQ(r.kind, ApiResult::Kind::kTransport);
  EXPECT_EQ(classify(r), Failure::kUnreachable);
}

TEST(ApiResult, ClassifiesFailures) {
  EXPECT_EQ(classify(api_error(400, "Bad Request: message is not modified: specified new message content")),
            Failure::kNotModified);
  EXPECT_EQ(classify(api_error(400, "Bad Request: can't parse entities")), Failure::kPermanent);
  EXPECT_EQ(classify(api_error(400, "Bad Request: message to edit not found")), Failure::kPermanent);
  EXPECT_EQ(classify(api_error(403, "Forbidden: bot was blocked by the user")), Failure::kPermanent);
  EXPECT_EQ(classify(api_error(401, "Unauthorized")), Failure::kUnauthorized);
  EXPECT_EQ(classify(api_error(409, "Conflict: terminated by other getUpdates request")), Failure::kConflict);
  EXPECT_EQ(classify(api_error(500, "Internal Server Error")), Failure::kUnreachable);
  EXPECT_EQ(classify(api_error(404, "Not Found")), Failure::kUnreachable);  // a wrong base URL: keep the message
}

TEST(TokenBucket, BurstThenSteadyRate) {
  FakeClock clock;
  TokenBucket b(1.0, 3.0);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(b.ready_at(clock.wall_ms()), clock.wall_ms());
    b.take(clock.wall_ms());
  }
  EXPECT_EQ(b.ready_at(clock.wall_ms()), clock.wall_ms() + 1000);
  clock.advance(999ms);
  EXPECT_GT(b.ready_at(clock.wall_ms()), clock.wall_ms());
  clock.advance(1ms);
  EXPECT_EQ(b.ready_at(clock.wall_ms()), clock.wall_ms());
  b.take(clock.wall_ms());
  clock.advance(1h);  // refills only up to the burst
  for (int i = 0; i < 3; ++i) b.take(clock.wall_ms());
  EXPECT_GT(b.ready_at(clock.wall_ms()), clock.wall_ms());
}

TEST(SendGate, PerChatRateAndGlobalRate) {
  FakeClock clock;
  SendGate gate(RateSettings{1.0, 3.0, 25.0, 25.0});
  const int64_t t0 = clock.wall_ms();
  // 10 messages to one chat: 3 at once, then one a second.
  std::vector<int64_t> sent;
  int64_t now = t0;
  for (int i = 0; i < 10; ++i) {
    now = gate.ready_at(42, now);
    gate.on_attempt(42, now);
    sent.push_back(now - t0);
  }
  EXPECT_EQ(sent, (std::vector<int64_t>{0, 0, 0, 1000, 2000, 3000, 4000, 5000, 6000, 7000}));
  // 40 chats at once: the bot-wide bucket spreads them to 25 a second.
  SendGate wide(RateSettings{1.0, 3.0, 25.0, 25.0});
  int at_once = 0;
  for (int chat = 0; chat < 40; ++chat) {
    const int64_t ready = wide.ready_at(chat, t0);
    if (ready == t0) ++at_once;
    wide.on_attempt(chat, ready);
  }
  EXPECT_EQ(at_once, 25);
}

TEST(SendGate, RetryAfterIsHonouredExactlyForThatChat) {
  FakeClock clock;
  SendGate gate;
  Backoff unreachable(kUnreachableInitialMs, kUnreachableMaxMs), unauthorized(kUnauthorizedInitialMs, kUnauthorizedMaxMs);
  const int64_t now = clock.wall_ms();
  const auto d = decide_send(api_error(429, "Too Many Requests: retry after 7", 7), now, unreachable, unauthorized);
  EXPECT_EQ(d.verdict, SendDecision::Verdict::kRetry);
  EXPECT_EQ(d.retry_at_ms, now + 7000);
  EXPECT_TRUE(d.block_chat);
  EXPECT_FALSE(d.block_all);
  gate.block_chat(42, d.retry_at_ms);
  EXPECT_EQ(gate.ready_at(42, now), now + 7000);
  EXPECT_EQ(gate.ready_at(42, now + 6999), now + 7000);
  EXPECT_EQ(gate.ready_at(42, now + 7000), now + 7000);
  EXPECT_EQ(gate.ready_at(43, now), now);  // other chats are not held back
}

TEST(SendGate, UnreachableBacksOffExponentiallyToAMinuteAndResetsOnSuccess) {
  FakeClock clock;
  Backoff unreachable(kUnreachableInitialMs, kUnreachableMaxMs), unauthorized(kUnauthorizedInitialMs, kUnauthorizedMaxMs);
  std::vector<int64_t> delays;
  for (int i = 0; i < 9; ++i) {
    const int64_t now = clock.wall_ms();
    const auto d = decide_send(transport_error(), now, unreachable, unauthorized);
    EXPECT_EQ(d.verdict, SendDecision::Verdict::kRetry);
    EXPECT_TRUE(d.block_all);
    delays.push_back(d.retry_at_ms - now);
    clock.advance(std::chrono::milliseconds(d.retry_at_ms - now));
  }
  EXPECT_EQ(delays, (std::vector<int64_t>{1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000}));
  ApiResult ok;
  ok.kind = ApiResult::Kind::kOk;
  EXPECT_EQ(decide_send(ok, clock.wall_ms(), unreachable, unauthorized).verdict, SendDecision::Verdict::kDone);
  EXPECT_EQ(decide_send(transport_error(), clock.wall_ms(), unreachable, unauthorized).retry_at_ms - clock.wall_ms(), 1000);
  // 5xx counts as unreachable too.
  EXPECT_EQ(decide_send(api_error(502, "Bad Gateway"), clock.wall_ms(), unreachable, unauthorized).retry_at_ms -
                clock.wall_ms(),
            2000);
}

TEST(SendGate, BadRequestsAreFinalForTheMessageAndNotModifiedIsSuccess) {
  FakeClock clock;
  Backoff unreachable(kUnreachableInitialMs, kUnreachableMaxMs), unauthorized(kUnauthorizedInitialMs, kUnauthorizedMaxMs);
  const int64_t now = clock.wall_ms();
  EXPECT_EQ(decide_send(api_error(400, "Bad Request: can't parse entities"), now, unreachable, unauthorized).verdict,
            SendDecision::Verdict::kDrop);
  EXPECT_EQ(decide_send(api_error(400, "Bad Request: message is not modified"), now, unreachable, unauthorized).verdict,
            SendDecision::Verdict::kDone);
  const auto d = decide_send(api_error(401, "Unauthorized"), now, unreachable, unauthorized);
  EXPECT_EQ(d.verdict, SendDecision::Verdict::kRetry);
  EXPECT_GE(d.retry_at_ms - now, 60'000);  // minutes, never a spin
}

TEST(PollPolicy, ConflictUnauthorizedAndOutages) {
  FakeClock clock;
  Backoff unreachable(kUnreachableInitialMs, kUnreachableMaxMs), unauthorized(kUnauthorizedInitialMs, kUnauthorizedMaxMs);
  const int64_t now = clock.wall_ms();
  auto d = decide_poll(api_error(409, "Conflict: can't use getUpdates method while webhook is active"), now, unreachable,
                       unauthorized);
  EXPECT_EQ(d.failure, Failure::kConflict);
  EXPECT_EQ(d.retry_at_ms, now + kConflictBackoffMs);
  d = decide_poll(api_error(401, "Unauthorized"), now, unreachable, unauthorized);
  EXPECT_EQ(d.retry_at_ms, now + kUnauthorizedInitialMs);
  d = decide_poll(api_error(401, "Unauthorized"), now, unreachable, unauthorized);
  EXPECT_EQ(d.retry_at_ms, now + 2 * kUnauthorizedInitialMs);
  d = decide_poll(api_error(429, "Too Many Requests", 3), now, unreachable, unauthorized);
  EXPECT_EQ(d.retry_at_ms, now + 3000);
  d = decide_poll(transport_error(), now, unreachable, unauthorized);
  EXPECT_EQ(d.retry_at_ms, now + 1000);
  ApiResult ok;
  ok.kind = ApiResult::Kind::kOk;
  d = decide_poll(ok, now, unreachable, unauthorized);
  EXPECT_EQ(d.retry_at_ms, now);
}

}  // namespace
}  // namespace gwr::telegram
