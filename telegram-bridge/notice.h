// Notifications for the channels beside Telegram (issue #17): ntfy, a Discord
// webhook and a generic JSON webhook. Pure: a repair event or an alert in, a
// channel-neutral Notice out; a Notice and a channel's address in, the HTTP
// request out; the channel's answer in, what to do with the notice out.
//  * which events are news: a repair started, repaired, every tier failed,
//    cooldowns, pauses and resumes, deferrals, the hourly limit, refused AI
//    plan lines, alerts and their end (steps and single tier failures are
//    Telegram's thread only);
//  * text from the daemon was redacted where it was made; here it is put on
//    one line, cut at a character boundary to the channel's limit, and made
//    inert where the channel would read markup (Discord mentions, Markdown);
//  * delivery: 2xx sent; 429 waits as asked; 5xx, 408 and no answer retry
//    with backoff; 401/403/404 (a wrong address or token) keep the notice and
//    retry slowly until the owner fixes the config; another 4xx refuses this
//    one notice (it is dropped, logged).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/http_client.h"
#include "gwr.pb.h"

namespace gwr::telegram {

enum class Severity { kInfo, kWarning, kCritical };
const char* severity_name(Severity s);

struct Notice {
  std::string key;        // the same event gives the same key (deduplication)
  std::string event;      // repair_started, repair_succeeded, repair_escalated, ... (README)
  Severity severity = Severity::kInfo;
  std::string title;      // one line
  std::string text;       // plain text, one or a few lines
  int64_t at_ms = 0;
  int64_t repair_id = 0;  // 0: not about one repair
  uint32_t tier = 0;
  std::string trigger;    // auto | manual | ""
  std::string actor;
  std::string outcome;    // repaired | failed | "" (repair events that end one)
  int64_t duration_ms = 0;
  std::vector<uint32_t> tiers_tried;
};

// Where the notice comes from, for its text ("gateway 127.0.0.1:18789 on host").
struct NoticeSource {
  std::string host;       // this machine's name
  std::string gateway;    // host:port of the watched gateway
};

// An event's identity for the channels: its kind, repair and time (the bus's
// copy and the repairer log's may differ in their bytes, not in these).
std::string notice_key(const pb::RepairEvent& event);

// The notice for an event, or nullopt when it is not news for these channels.
// `key` deduplicates (notice_key).
std::optional<Notice> notice_for(const pb::RepairEvent& event, const std::string& key, const NoticeSource& source);
std::optional<Notice> notice_for(const pb::Alert& alert, int64_t now_ms, const NoticeSource& source);

nlohmann::json notice_json(const Notice& n);
// nullopt when the stored text is not a notice (it is then dropped, said so).
std::optional<Notice> notice_from_json(const nlohmann::json& j);

enum class Channel { kNtfy, kDiscord, kWebhook };
const char* channel_name(Channel c);

struct ChannelTarget {
  Channel channel = Channel::kNtfy;
  std::string url;        // "" = off
  std::string token;      // ntfy, webhook: Authorization: Bearer
  bool enabled() const { return !url.empty(); }
};
// The three channels as the config sets them (disabled ones included).
std::vector<ChannelTarget> channel_targets(const pb::Config& config);

// The request that delivers `n` on the channel. The body is bounded by each
// channel's own limit (ntfy 4096 bytes, Discord 2000 characters).
HttpRequest channel_request(const Notice& n, const NoticeSource& source, const ChannelTarget& target);

// What a channel's answer means for the notice it was about.
struct Delivery {
  enum class Verdict {
    kSent,
    kRetry,     // keep it; try again at retry_at_ms (rate-limited, unreachable, server error)
    kRefused,   // keep it; the channel refuses us (401/403/404): retry slowly, the owner must act
    kDropped,   // this notice is refused for itself (400, 413, ...): drop it
  };
  Verdict verdict = Verdict::kSent;
  int64_t retry_at_ms = 0;
  std::string detail;     // for people and logs ("HTTP 404", "connection refused"); never the address
};
// attempts: how many times this notice was tried before (0 on the first).
// A 429 waits the body's retry_after (Discord's, in seconds) if it says one.
Delivery judge_delivery(const HttpResponse& response, int64_t attempts, int64_t now_ms);

// Notices older than this are no longer news when they could not be sent.
constexpr int64_t kNoticeMaxAgeMs = 24 * 3'600'000LL;
// At most this many notices wait per channel; the oldest go first.
constexpr int64_t kNoticeQueueLimit = 500;
// Each channel's pace: a burst of 3 (a repair's "started" and "repaired"
// go out at once), then one a second (under Discord's 5 per 2 s per webhook
// and ntfy.sh's per-visitor limits; gwr's notices are few).
class SendBudget {
 public:
  static constexpr double kBurst = 3;
  static constexpr int64_t kRefillMs = 1'000;
  // When the next request may go (now_ms or later).
  int64_t next_ms(int64_t now_ms) const;
  void spend(int64_t now_ms);

 private:
  double tokens_at(int64_t now_ms) const;
  double tokens_ = kBurst;
  int64_t at_ms_ = 0;  // when tokens_ was counted
};

}  // namespace gwr::telegram
