#include "ctl/watch.h"

#include <ctime>

#include "common/duration.h"
#include "common/findings.h"
#include "common/text.h"

namespace gwr::ctl {

namespace {

const char* kReset = "\033[0m";
const char* kRed = "\033[31m";
const char* kGreen = "\033[32m";
const char* kYellow = "\033[33m";
const char* kDim = "\033[2m";
const char* kBold = "\033[1m";

// Text from the daemon (findings, details, step output) on one line: it was
// redacted where it was made; here it must not carry a terminal escape.
std::string clean(const std::string& s, size_t max = 300) { return clip_end(one_line_utf8(s), max); }

std::string clock_text(int64_t ms, bool utc) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  if (utc) {
    ::gmtime_r(&t, &tm);
  } else {
    ::localtime_r(&t, &tm);
  }
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

const char* state_color(pb::GatewayState s) {
  switch (s) {
    case pb::HEALTHY: return kGreen;
    case pb::DOWN: return kRed;
    case pb::DEGRADED:
    case pb::STARTING: return kYellow;
    default: return kDim;
  }
}

std::string seconds(int64_t ms) { return format_duration(std::chrono::milliseconds(ms)); }

std::string repair_text(const pb::RepairEvent& r, const WatchOptions& o, const char** color) {
  const std::string id = "repair #" + std::to_string(r.repair_id());
  const std::string tier = r.tier() ? " tier " + std::to_string(r.tier()) : "";
  const std::string who = r.trigger() == pb::TRIGGER_MANUAL ? "asked by " + clean(r.actor(), 80) : "automatic";
  switch (r.kind()) {
    case pb::RepairEvent::STARTED: {
      const std::string why = reason_text(r.reason(), r.findings());
      return id + " started (" + who + ")" + (why.empty() ? "" : ": " + clean(why));
    }
    case pb::RepairEvent::STEP: {
      const auto& s = r.step();
      *color = s.ok() ? kDim : kYellow;
      std::string line = id + tier + "  " + clean(s.name(), 60) + (s.ok() ? " ok" : " failed") + " in " +
                         seconds(s.duration_ms());
      if (!s.detail().empty()) line += ": " + clean(s.detail());
      return line;
    }
    case pb::RepairEvent::TIER_FAILED:
      *color = kYellow;
      return id + tier + " failed" + (r.details().empty() ? "" : ": " + clean(r.details()));
    case pb::RepairEvent::FINISHED:
      *color = r.success() ? kGreen : kRed;
      return id + (r.success() ? " repaired" : " failed") + tier + " in " + seconds(r.duration_ms()) +
             (r.verified().empty() ? (r.details().empty() ? "" : ": " + clean(r.details())) : ": " + clean(r.verified()));
    case pb::RepairEvent::ESCALATION:
      *color = kRed;
      return id + ": every tier failed, a person is needed" + (r.details().empty() ? "" : ": " + clean(r.details()));
    case pb::RepairEvent::COOLDOWN_ENTERED:
      *color = kYellow;
      return "cooldown: no automatic repair until " + clock_text(r.cooldown_until_ms(), o.utc);
    case pb::RepairEvent::COOLDOWN_ENDED: return "cooldown over: automatic repairs again";
    case pb::RepairEvent::PAUSED:
      *color = kYellow;
      return "repairs paused by " + clean(r.actor(), 80) + (r.reason().empty() ? "" : ": " + clean(r.reason())) +
             (r.cooldown_until_ms() ? " (until " + clock_text(r.cooldown_until_ms(), o.utc) + ")" : "");
    case pb::RepairEvent::RESUMED:
      *color = kGreen;
      return "repairs resumed by " + clean(r.actor(), 80);
    case pb::RepairEvent::RESUMING: return id + tier + " continued after a restart of gwr";
    case pb::RepairEvent::DEFERRED:
      *color = kYellow;
      return "repair deferred: " + clean(defer_reason_text(r.defer_reason())) +
             (r.details().empty() ? "" : " (" + clean(r.details()) + ")");
    case pb::RepairEvent::RATE_LIMITED:
      *color = kYellow;
      return "repair not started: the hourly limit is reached" + (r.details().empty() ? "" : " (" + clean(r.details()) + ")");
    case pb::RepairEvent::TIER3_REJECTED:
      *color = kYellow;
      return id + " tier 3: " + std::to_string(r.rejected_lines_size()) + " line(s) of the AI's plan refused";
    default: return "";
  }
}

}  // namespace

std::optional<std::string> watch_line(const pb::Event& event, WatchState& state, const WatchOptions& o) {
  const char* color = nullptr;
  std::string text;
  switch (event.body_case()) {
    case pb::Event::kGatewayHealth: {
      const auto& h = event.gateway_health();
      // Every evaluation is published; the feed shows changes (and the first state it hears).
      if (state.seen && h.state() == state.gateway) return std::nullopt;
      const pb::GatewayState before = state.gateway;
      const bool first = !state.seen;
      state.gateway = h.state();
      state.seen = true;
      color = state_color(h.state());
      text = "gateway " + upper(gateway_state_name(h.state()));
      if (!first) text += " (was " + gateway_state_name(before) + ")";
      if (h.pid() != 0) text += ", pid " + std::to_string(h.pid());
      if (h.state() != pb::HEALTHY && h.findings_size() > 0) text += ": " + clean(describe_all(h.findings()));
      if (h.recommended_tier() != 0) text += " (tier " + std::to_string(h.recommended_tier()) + " recommended)";
      break;
    }
    case pb::Event::kRepairEvent:
      text = repair_text(event.repair_event(), o, &color);
      break;
    case pb::Event::kComponentEvent: {
      const auto& c = event.component_event();
      if (c.kind() == pb::ComponentEvent::SPAWNED && c.restarts() == 0) return std::nullopt;  // gwr starting up
      color = c.kind() == pb::ComponentEvent::SPAWNED ? kDim : kYellow;
      const std::string name = "gwr-" + clean(c.component(), 40);
      if (c.kind() == pb::ComponentEvent::SPAWNED) {
        text = name + " started again (restart " + std::to_string(c.restarts()) + ")";
      } else if (c.kind() == pb::ComponentEvent::HUNG_KILLED) {
        text = name + " stopped answering and was killed";
      } else {
        text = name + " exited" + (c.signal() ? " (signal " + std::to_string(c.signal()) + ")" : " (code " + std::to_string(c.exit_code()) + ")");
      }
      if (!c.detail().empty()) text += ": " + clean(c.detail());
      break;
    }
    case pb::Event::kAlert: {
      const auto& a = event.alert();
      color = a.cleared() ? kGreen : kRed;
      text = std::string(a.cleared() ? "alert cleared: " : "alert: ") + "gwr-" + clean(a.component(), 40) + " " +
             clean(a.detail());
      break;
    }
    case pb::Event::kShutdown:
      color = kDim;
      text = "gwr is stopping";
      break;
    default:
      return std::nullopt;  // heartbeats, config updates, reprobe requests
  }
  if (text.empty()) return std::nullopt;
  const std::string when = clock_text(event.sent_at_ms(), o.utc);
  if (!o.color || color == nullptr) return when + "  " + text;
  return std::string(kDim) + when + kReset + "  " + (color == kRed ? std::string(kBold) : std::string()) + color + text +
         kReset;
}

}  // namespace gwr::ctl
