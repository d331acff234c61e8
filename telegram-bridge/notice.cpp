#include "telegram-bridge/notice.h"

#include <algorithm>
#include <cmath>

#include "common/duration.h"
#include "common/findings.h"
#include "common/text.h"

namespace gwr::telegram {

namespace {

using json = nlohmann::json;

// Text from the daemon on one line, bounded.
std::string line(const std::string& s, size_t max = 400) { return clip_end(one_line_utf8(s), max); }

std::string where(const NoticeSource& s) {
  std::string w = "gateway " + s.gateway;
  if (!s.host.empty()) w += " on " + s.host;
  return w;
}

Notice base(const pb::RepairEvent& e, const std::string& key, std::string event, Severity severity) {
  Notice n;
  n.key = key;
  n.event = std::move(event);
  n.severity = severity;
  n.at_ms = e.at_ms();
  n.repair_id = e.repair_id();
  n.tier = e.tier();
  n.trigger = repair_trigger_name(e.trigger());
  n.actor = line(e.actor(), 80);
  n.duration_ms = e.duration_ms();
  n.tiers_tried.assign(e.tiers_tried().begin(), e.tiers_tried().end());
  return n;
}

std::string repair_label(const pb::RepairEvent& e) { return "repair #" + std::to_string(e.repair_id()); }

}  // namespace

const char* severity_name(Severity s) {
  switch (s) {
    case Severity::kInfo: return "info";
    case Severity::kWarning: return "warning";
    case Severity::kCritical: return "critical";
  }
  return "info";
}

const char* channel_name(Channel c) {
  switch (c) {
    case Channel::kNtfy: return "ntfy";
    case Channel::kDiscord: return "discord";
    case Channel::kWebhook: return "webhook";
  }
  return "?";
}

std::string notice_key(const pb::RepairEvent& e) {
  return "r:" + std::to_string(e.at_ms()) + ":" + std::to_string(static_cast<int>(e.kind())) + ":" +
         std::to_string(e.repair_id());
}

std::optional<Notice> notice_for(const pb::RepairEvent& e, const std::string& key, const NoticeSource& src) {
  const std::string who = e.trigger() == pb::TRIGGER_MANUAL ? "asked by " + line(e.actor(), 80) : "automatic";
  switch (e.kind()) {
    case pb::RepairEvent::STARTED: {
      Notice n = base(e, key, "repair_started", e.trigger() == pb::TRIGGER_MANUAL ? Severity::kInfo : Severity::kWarning);
      const std::string why = reason_text(e.reason(), e.findings());
      n.title = "Gateway " + repair_label(e) + " started";
      n.text = where(src) + (why.empty() ? "" : ": " + line(why)) + " (" + who + ", tier " + std::to_string(e.tier()) + ")";
      return n;
    }
    case pb::RepairEvent::FINISHED: {
      // A failure is told by the ESCALATION that follows it.
      if (!e.success()) return std::nullopt;
      Notice n = base(e, key, "repair_succeeded", e.impaired() ? Severity::kWarning : Severity::kInfo);
      n.outcome = "repaired";
      n.title = "Gateway repaired (" + repair_label(e) + ", tier " + std::to_string(e.tier()) + ", " +
                human_duration(e.duration_ms()) + ")";
      n.text = where(src) + (e.verified().empty() ? "" : ": " + line(e.verified()));
      if (e.impaired()) n.text += "; OpenClaw's crash-loop breaker still keeps channels off";
      return n;
    }
    case pb::RepairEvent::ESCALATION: {
      Notice n = base(e, key, "repair_escalated", Severity::kCritical);
      n.outcome = "failed";
      n.title = "Gateway still down: every repair tier failed (" + repair_label(e) + ")";
      n.text = where(src) + (e.details().empty() ? "" : ": " + line(e.details()));
      if (!e.diagnosis().empty()) n.text += "\nDiagnosis: " + line(e.diagnosis());
      n.text += "\nA person is needed; automatic repairs cool down.";
      return n;
    }
    case pb::RepairEvent::COOLDOWN_ENTERED: {
      Notice n = base(e, key, "cooldown_started", Severity::kWarning);
      const int64_t left = e.cooldown_until_ms() - e.at_ms();
      n.title = "Automatic repairs cool down" + (left > 0 ? " for " + human_duration(left) : std::string());
      n.text = where(src) + (e.details().empty() ? "" : ": " + line(e.details()));
      return n;
    }
    case pb::RepairEvent::COOLDOWN_ENDED: {
      Notice n = base(e, key, "cooldown_ended", Severity::kInfo);
      n.title = "Automatic repairs are on again (cooldown over)";
      n.text = where(src);
      return n;
    }
    case pb::RepairEvent::PAUSED: {
      Notice n = base(e, key, "paused", Severity::kWarning);
      const int64_t left = e.cooldown_until_ms() - e.at_ms();
      n.title = "Automatic repairs paused" + (e.cooldown_until_ms() > 0 && left > 0 ? " for " + human_duration(left) : "");
      n.text = where(src) + ": by " + line(e.actor(), 80) + (e.reason().empty() ? "" : ": " + line(e.reason()));
      return n;
    }
    case pb::RepairEvent::RESUMED: {
      Notice n = base(e, key, "resumed", Severity::kInfo);
      n.title = "Automatic repairs resumed";
      n.text = where(src) + ": by " + line(e.actor(), 80);
      return n;
    }
    case pb::RepairEvent::DEFERRED: {
      Notice n = base(e, key, "repair_deferred", Severity::kWarning);
      n.title = "Gateway repair waits: " + line(defer_reason_text(e.defer_reason()), 120);
      const std::string why = describe_all(e.findings(), true);
      n.text = where(src) + (why.empty() ? "" : ": " + line(why)) + (e.details().empty() ? "" : " (" + line(e.details()) + ")");
      return n;
    }
    case pb::RepairEvent::RATE_LIMITED: {
      Notice n = base(e, key, "repair_rate_limited", Severity::kCritical);
      n.title = "Gateway repair not started: the hourly limit is reached";
      n.text = where(src) + (e.details().empty() ? "" : ": " + line(e.details()));
      return n;
    }
    case pb::RepairEvent::TIER3_REJECTED: {
      Notice n = base(e, key, "ai_plan_refused", Severity::kWarning);
      n.title = "AI repair plan refused in part (" + repair_label(e) + ")";
      n.text = std::to_string(e.rejected_lines_size()) + " line(s) of the AI's plan were not run: not on the allowlist";
      return n;
    }
    default: return std::nullopt;
  }
}

std::optional<Notice> notice_for(const pb::Alert& a, int64_t now_ms, const NoticeSource& src) {
  Notice n;
  n.key = "alert:" + std::to_string(static_cast<int>(a.kind())) + ":" + line(a.component(), 40) + ":" +
          (a.kind() == pb::Alert::NODE_SILENT ? line(a.topic(), 20) + ":" : "") + std::to_string(a.since_ms()) +
          (a.cleared() ? ":cleared" : "");
  n.at_ms = now_ms;
  n.event = a.cleared() ? "alert_cleared" : "alert";
  switch (a.kind()) {
    case pb::Alert::STATE_NOT_SAVED:
    case pb::Alert::STATE_UNREADABLE:
      n.severity = a.cleared() ? Severity::kInfo : Severity::kCritical;
      n.title = a.cleared() ? "gwr can keep its repair state again: automatic repairs are back"
                            : std::string("gwr cannot ") + (a.kind() == pb::Alert::STATE_NOT_SAVED ? "save" : "read") +
                                  " its repair state: automatic repairs are stopped";
      break;
    case pb::Alert::UNDECODABLE_MESSAGES:
      n.severity = a.cleared() ? Severity::kInfo : Severity::kWarning;
      n.title = a.cleared() ? "gwr's " + line(a.component(), 40) + " understands its messages again"
                            : "gwr's " + line(a.component(), 40) + " receives messages it cannot read";
      break;
    case pb::Alert::NODE_SILENT:
      n.severity = a.cleared() ? Severity::kInfo : Severity::kCritical;
      n.title = a.cleared() ? "gwr node " + line(a.topic(), 20) + " is heard from again"
                            : "gwr node " + line(a.topic(), 20) + " is silent: nothing watches its gateways if it is down";
      break;
    default: return std::nullopt;
  }
  n.text = where(src) + (a.detail().empty() ? "" : ": " + line(a.detail()));
  return n;
}

json notice_json(const Notice& n) {
  return {{"key", n.key},         {"event", n.event},     {"severity", severity_name(n.severity)},
          {"title", n.title},     {"text", n.text},       {"at_ms", n.at_ms},
          {"repair_id", n.repair_id}, {"tier", n.tier},   {"trigger", n.trigger},
          {"actor", n.actor},     {"outcome", n.outcome}, {"duration_ms", n.duration_ms},
          {"tiers_tried", n.tiers_tried}};
}

std::optional<Notice> notice_from_json(const json& j) {
  if (!j.is_object()) return std::nullopt;
  try {
    Notice n;
    n.key = j.at("key").get<std::string>();
    n.event = j.at("event").get<std::string>();
    const std::string sev = j.value("severity", "info");
    n.severity = sev == "critical" ? Severity::kCritical : sev == "warning" ? Severity::kWarning : Severity::kInfo;
    n.title = j.at("title").get<std::string>();
    n.text = j.value("text", "");
    n.at_ms = j.value("at_ms", int64_t{0});
    n.repair_id = j.value("repair_id", int64_t{0});
    n.tier = j.value("tier", 0u);
    n.trigger = j.value("trigger", "");
    n.actor = j.value("actor", "");
    n.outcome = j.value("outcome", "");
    n.duration_ms = j.value("duration_ms", int64_t{0});
    n.tiers_tried = j.value("tiers_tried", std::vector<uint32_t>{});
    if (n.key.empty() || n.event.empty() || n.title.empty()) return std::nullopt;
    return n;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::vector<ChannelTarget> channel_targets(const pb::Config& c) {
  return {{Channel::kNtfy, c.notify().ntfy().url(), c.notify().ntfy().token()},
          {Channel::kDiscord, c.notify().discord().webhook_url(), ""},
          {Channel::kWebhook, c.notify().webhook().url(), c.notify().webhook().token()}};
}

namespace {

// Discord reads Markdown and mentions in `content`: text from the daemon is
// shown as written.
std::string discord_inert(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (char ch : s) {
    if (std::string_view("\\*_~`|>#[]()<@:-").find(ch) != std::string_view::npos) out += '\\';
    out += ch;
  }
  return out;
}

// ntfy publishes JSON to its root: "https://ntfy.sh/topic" -> root + topic.
std::pair<std::string, std::string> ntfy_root_and_topic(const std::string& url) {
  std::string u = url.substr(0, url.find_first_of("?#"));
  while (!u.empty() && u.back() == '/') u.pop_back();
  const size_t slash = u.rfind('/');
  if (slash == std::string::npos) return {u, ""};
  return {u.substr(0, slash + 1), u.substr(slash + 1)};
}

int ntfy_priority(Severity s) {
  switch (s) {
    case Severity::kCritical: return 5;
    case Severity::kWarning: return 4;
    case Severity::kInfo: return 3;
  }
  return 3;
}

}  // namespace

HttpRequest channel_request(const Notice& n, const NoticeSource& src, const ChannelTarget& t) {
  HttpRequest req;
  req.method = "POST";
  req.timeout = std::chrono::seconds(10);
  req.max_response_bytes = 16 * 1024;
  req.use_proxy = true;  // the internet, like Telegram
  req.headers.push_back("Content-Type: application/json");
  if (!t.token.empty() && t.channel != Channel::kDiscord) req.headers.push_back("Authorization: Bearer " + t.token);
  const std::string host_title = (src.host.empty() ? std::string() : src.host + ": ") + n.title;
  switch (t.channel) {
    case Channel::kNtfy: {
      const auto [root, topic] = ntfy_root_and_topic(t.url);
      req.url = root;
      json tags = json::array();
      tags.push_back(n.severity == Severity::kCritical ? "rotating_light"
                     : n.outcome == "repaired"         ? "white_check_mark"
                     : n.severity == Severity::kWarning ? "warning"
                                                        : "information_source");
      req.body = json{{"topic", topic},
                      {"title", clip_end(host_title, 250)},
                      {"message", clip_end(n.text, 3800)},
                      {"priority", ntfy_priority(n.severity)},
                      {"tags", tags}}
                     .dump();
      break;
    }
    case Channel::kDiscord: {
      req.url = t.url;
      // 2000 characters at most; bytes bound characters from above.
      std::string content = "**" + discord_inert(clip_end(host_title, 250)) + "**\n" + discord_inert(n.text);
      req.body = json{{"content", clip_end(content, 1900)},
                      {"username", "gwr"},
                      {"allowed_mentions", {{"parse", json::array()}}}}
                     .dump();
      break;
    }
    case Channel::kWebhook: {
      req.url = t.url;
      json body = {{"schema", "gwr.notification.v1"},
                   {"id", n.key},
                   {"event", n.event},
                   {"severity", severity_name(n.severity)},
                   {"title", n.title},
                   {"text", n.text},
                   {"at_ms", n.at_ms},
                   {"host", src.host},
                   {"gateway", src.gateway}};
      if (n.repair_id != 0) {
        body["repair"] = {{"id", n.repair_id},          {"tier", n.tier},
                          {"trigger", n.trigger},       {"actor", n.actor},
                          {"outcome", n.outcome},       {"duration_ms", n.duration_ms},
                          {"tiers_tried", n.tiers_tried}};
      }
      req.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
      break;
    }
  }
  return req;
}

Delivery judge_delivery(const HttpResponse& r, int64_t attempts, int64_t now_ms) {
  Delivery d;
  // 1 s, 2 s, 4 s ... 5 min.
  const int64_t backoff = std::min<int64_t>(300'000, int64_t{1'000} << std::clamp<int64_t>(attempts, 0, 9));
  if (!r.completed()) {
    d.verdict = Delivery::Verdict::kRetry;
    d.retry_at_ms = now_ms + backoff;
    d.detail = r.timed_out ? "no answer within 10s" : r.error;
    return d;
  }
  const int s = r.status;
  d.detail = "HTTP " + std::to_string(s);
  if (s >= 200 && s < 300) {
    d.verdict = Delivery::Verdict::kSent;
    d.detail.clear();
    return d;
  }
  if (s == 429) {
    int64_t wait = std::max<int64_t>(backoff, 30'000);
    const json j = json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("retry_after") && j["retry_after"].is_number()) {
      const double secs = j["retry_after"].get<double>();
      if (std::isfinite(secs)) wait = static_cast<int64_t>(std::clamp(secs, 1.0, 3600.0) * 1000.0);
    }
    d.verdict = Delivery::Verdict::kRetry;
    d.retry_at_ms = now_ms + wait;
    d.detail += " (rate-limited)";
    return d;
  }
  if (s == 408 || s == 425 || s >= 500) {
    d.verdict = Delivery::Verdict::kRetry;
    d.retry_at_ms = now_ms + backoff;
    return d;
  }
  if (s == 401 || s == 403 || s == 404 || (s >= 300 && s < 400) || s < 200) {
    d.verdict = Delivery::Verdict::kRefused;
    d.retry_at_ms = now_ms + std::max<int64_t>(backoff, 300'000);
    d.detail += s == 401 || s == 403 ? " (check the token)"
                : s == 404          ? " (check the address)"
                : s >= 300 && s < 400 ? " (a redirect: use the address it points to)"
                                    : "";
    return d;
  }
  d.verdict = Delivery::Verdict::kDropped;
  return d;
}

double SendBudget::tokens_at(int64_t now_ms) const {
  if (at_ms_ == 0 || now_ms <= at_ms_) return tokens_;
  return std::min(kBurst, tokens_ + static_cast<double>(now_ms - at_ms_) / static_cast<double>(kRefillMs));
}

int64_t SendBudget::next_ms(int64_t now_ms) const {
  const double t = tokens_at(now_ms);
  if (t >= 1.0) return now_ms;
  return now_ms + static_cast<int64_t>(std::ceil((1.0 - t) * static_cast<double>(kRefillMs)));
}

void SendBudget::spend(int64_t now_ms) {
  tokens_ = std::max(0.0, tokens_at(now_ms) - 1.0);
  at_ms_ = now_ms;
}

}  // namespace gwr::telegram
