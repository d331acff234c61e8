#include "web/page.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "common/duration.h"
#include "common/findings.h"
#include "common/strings.h"
#include "common/text.h"

namespace gwr::web {

namespace {

using json = nlohmann::json;

enum class TimeForm { kMinutes, kSeconds, kIso };

std::string utc(int64_t ms, TimeForm form = TimeForm::kMinutes) {
  if (ms <= 0) return "-";
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  switch (form) {
    case TimeForm::kMinutes: std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm); break;
    case TimeForm::kSeconds: std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm); break;
    case TimeForm::kIso: std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm); break;
  }
  return buf;
}

std::string iso(int64_t ms) { return ms > 0 ? utc(ms, TimeForm::kIso) : ""; }

const char* state_color(pb::GatewayState s) {
  switch (s) {
    case pb::HEALTHY: return "#2e9e44";
    case pb::DEGRADED: return "#d9a400";
    case pb::STARTING: return "#5b8dd9";
    case pb::DOWN: return "#d2322d";
    default: return "#9aa0a6";
  }
}

std::string outcome(const pb::RepairSummary& r) {
  if (r.status() == pb::REPAIR_RUNNING) return "running";
  return r.success() ? "repaired" : "failed";
}

std::string tiers_text(const pb::RepairSummary& r) {
  std::string t;
  for (auto tier : r.tiers_tried()) t += (t.empty() ? "" : ", ") + std::to_string(tier);
  return t.empty() ? std::to_string(r.current_tier()) : t;
}

// Repairs that began inside the timeline's window, oldest first.
std::vector<pb::RepairSummary> recent_repairs(const PageData& d) {
  std::vector<pb::RepairSummary> out;
  if (!d.history) return out;
  for (const auto& r : d.history->repairs()) {
    if (r.started_at_ms() >= d.now_ms - kTimelineMs) out.push_back(r);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.started_at_ms() < b.started_at_ms(); });
  return out;
}

json repair_json(const pb::RepairSummary& r) {
  json tiers = json::array();
  for (auto t : r.tiers_tried()) tiers.push_back(t);
  return {{"id", r.id()},
          {"started_at", iso(r.started_at_ms())},
          {"finished_at", iso(r.finished_at_ms())},
          {"trigger", repair_trigger_name(r.trigger())},
          {"actor", valid_utf8(r.actor())},
          {"why", valid_utf8(reason_text(r.reason(), r.findings()))},
          {"tiers_tried", tiers},
          {"fixed_by_tier", r.fixed_by_tier()},
          {"outcome", outcome(r)},
          {"duration_ms", r.duration_ms()}};
}

}  // namespace

std::vector<Span> timeline(const std::vector<StateChange>& states, int64_t now_ms) {
  const int64_t start = now_ms - kTimelineMs;
  std::vector<Span> out;
  pb::GatewayState current = pb::GATEWAY_STATE_UNKNOWN;
  int64_t from = start;
  for (const auto& c : states) {
    if (c.at_ms > now_ms) break;
    if (c.at_ms <= start) {
      current = c.state;  // the state the window opens in
      continue;
    }
    if (c.state == current) continue;
    if (c.at_ms > from) out.push_back({from, c.at_ms, current});
    current = c.state;
    from = c.at_ms;
  }
  if (now_ms > from) out.push_back({from, now_ms, current});
  return out;
}

namespace {

json gateway_json(const std::optional<pb::GatewayHealth>& health) {
  json gw = {{"state", "unknown"}};
  if (health) {
    const auto& h = *health;
    gw = {{"state", gateway_state_name(h.state())},
          {"since", iso(h.state_since_ms())},
          {"pid", h.pid()},
          {"rss_bytes", h.rss_bytes()},
          {"rss_growth_bytes_per_hour", h.rss_growth_bytes_per_hour()},
          {"recommended_tier", h.recommended_tier()},
          {"reasons", json::array()}};
    for (const auto& f : h.findings()) gw["reasons"].push_back(valid_utf8(describe(f)));
  }
  return gw;
}

json repair_status_json(const pb::RepairStatusReply& r, int64_t now_ms) {
  return {{"paused", r.paused()},
          {"paused_until", iso(r.paused_until_ms())},
          {"in_progress", r.in_progress()},
          {"cooldown_until", r.cooldown_until_ms() > now_ms ? iso(r.cooldown_until_ms()) : ""},
          {"repairs_last_hour", r.repairs_last_hour()},
          {"max_per_hour", r.max_per_hour()},
          {"stopped_by_owner", r.stopped_by_owner()}};
}

// "on", "paused until …", "cooling down until …", with a running repair.
std::string repairs_line(const pb::RepairStatusReply& r, int64_t now_ms) {
  std::string line = r.paused() ? "paused" + (r.paused_until_ms() ? " until " + utc(r.paused_until_ms()) + " UTC" : std::string())
                     : r.cooldown_until_ms() > now_ms ? "cooling down until " + utc(r.cooldown_until_ms()) + " UTC"
                                                      : "on";
  if (r.in_progress()) line += "; a repair is running";
  return "Automatic repairs: " + line + " · " + std::to_string(r.repairs_last_hour()) + " of " +
         std::to_string(r.max_per_hour()) + " in the last hour";
}

}  // namespace

json status_document(const PageData& d) {
  json out = {{"host", d.host}, {"version", d.version}, {"generated_at", iso(d.now_ms)}};
  out["gateway"] = gateway_json(d.health);
  if (d.repair) out["repair"] = repair_status_json(*d.repair, d.now_ms);
  // Several gateways: each one's state ("gateway" and "repair" stay the first's).
  if (!d.others.empty()) {
    json all = json::array();
    json first = {{"name", d.gateway}, {"gateway", out["gateway"]}};
    if (d.repair) first["repair"] = out["repair"];
    all.push_back(first);
    for (const auto& o : d.others) {
      json one = {{"name", o.name}, {"gateway", gateway_json(o.health)}};
      if (o.repair) one["repair"] = repair_status_json(*o.repair, d.now_ms);
      all.push_back(one);
    }
    out["gateways"] = all;
  }
  return out;
}

json history_document(const PageData& d) {
  json out = {{"host", d.host}, {"generated_at", iso(d.now_ms)}, {"window_days", 7}};
  json spans = json::array();
  for (const auto& s : timeline(d.states, d.now_ms)) {
    spans.push_back({{"from", iso(s.from_ms)}, {"to", iso(s.to_ms)}, {"state", gateway_state_name(s.state)}});
  }
  out["timeline"] = spans;
  json incidents = json::array();
  for (const auto& r : recent_repairs(d)) incidents.push_back(repair_json(r));
  out["incidents"] = incidents;
  json stats = json::array();
  if (d.stats) {
    for (const auto& w : d.stats->windows()) {
      json tiers = json::array();
      for (const auto& t : w.tiers()) {
        tiers.push_back({{"tier", t.tier()}, {"attempts", t.attempts()}, {"fixes", t.fixes()}, {"avg_duration_ms", t.avg_duration_ms()}});
      }
      stats.push_back({{"window", w.name()},
                       {"repairs", w.repairs()},
                       {"succeeded", w.succeeded()},
                       {"failed", w.failed()},
                       {"success_rate", w.success_rate()},
                       {"avg_duration_ms", w.avg_duration_ms()},
                       {"escalations", w.escalations()},
                       {"tiers", tiers}});
    }
  }
  out["stats"] = stats;
  json rss = json::array();
  for (const auto& s : d.rss) {
    if (s.at_ms >= d.now_ms - kTimelineMs) rss.push_back({{"at", iso(s.at_ms)}, {"bytes", s.bytes}});
  }
  out["rss"] = rss;
  return out;
}

std::string page_html(const PageData& d) {
  const pb::GatewayState state = d.health ? d.health->state() : pb::GATEWAY_STATE_UNKNOWN;
  std::string h;
  h.reserve(16 * 1024);
  h += "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
       "<meta http-equiv=\"refresh\" content=\"30\"><title>gwr: " +
       html_escape(d.host) +
       "</title><style>"
       "body{font-family:system-ui,sans-serif;margin:1em auto;max-width:52em;padding:0 .8em;color:#202124}"
       "h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.4em}"
       "#state{display:inline-block;padding:.2em .7em;border-radius:.3em;color:#fff;font-weight:bold}"
       "table{border-collapse:collapse;width:100%;font-size:.9em}td,th{border-bottom:1px solid #ddd;padding:.3em;text-align:left}"
       "svg{width:100%;height:auto}.muted{color:#5f6368;font-size:.85em}.ok{color:#2e9e44}.bad{color:#d2322d}"
       ".wrap{overflow-x:auto}"
       "</style></head><body>";
  if (d.others.empty()) {
    h += "<h1>OpenClaw gateway on " + html_escape(d.host) + "</h1>";
  } else {
    h += "<h1>OpenClaw gateways on " + html_escape(d.host) + "</h1>";
    // Every gateway's state first: a page that showed only the first would
    // look healthy while another is down.
    h += "<table id=\"gateways\"><tr><th>gateway</th><th>state</th><th>since</th><th>repairs</th></tr>";
    auto row = [&](const std::string& name, const std::optional<pb::GatewayHealth>& health,
                   const std::optional<pb::RepairStatusReply>& repair) {
      const pb::GatewayState st = health ? health->state() : pb::GATEWAY_STATE_UNKNOWN;
      h += "<tr><td>" + html_escape(name) + "</td><td><span id=\"state-" + html_escape(name) +
           "\" style=\"color:" + std::string(state_color(st)) + ";font-weight:bold\">" +
           html_escape(gateway_state_name(st)) + "</span>";
      if (health) {
        for (const auto& f : health->findings()) h += "<br><span class=\"muted\">" + html_escape(describe(f)) + "</span>";
      }
      h += "</td><td>" + (health && health->state_since_ms() > 0 ? utc(health->state_since_ms()) + " UTC" : std::string("-")) +
           "</td><td>" + (repair ? html_escape(repairs_line(*repair, d.now_ms)) : std::string("-")) + "</td></tr>";
    };
    row(d.gateway, d.health, d.repair);
    for (const auto& o : d.others) row(o.name, o.health, o.repair);
    h += "</table><h2>" + html_escape(d.gateway) + "</h2>";
  }
  h += "<p><span id=\"state\" style=\"background:" + std::string(state_color(state)) + "\">" +
       html_escape(gateway_state_name(state)) + "</span>";
  if (d.health && d.health->state_since_ms() > 0) {
    h += " <span class=\"muted\">since " + utc(d.health->state_since_ms()) + " UTC (" +
         human_duration(d.now_ms - d.health->state_since_ms()) + ")</span>";
  }
  h += "</p>";
  if (d.health && d.health->findings_size() > 0) {
    h += "<ul id=\"reasons\">";
    for (const auto& f : d.health->findings()) h += "<li>" + html_escape(describe(f)) + "</li>";
    h += "</ul>";
  }
  if (d.repair) h += "<p id=\"repairs\">" + html_escape(repairs_line(*d.repair, d.now_ms)) + "</p>";

  // The timeline: 7 days as 700 units, one rect per span, incidents as marks.
  const int64_t start = d.now_ms - kTimelineMs;
  auto x = [&](int64_t ms) { return static_cast<double>(std::clamp<int64_t>(ms - start, 0, kTimelineMs)) * 700.0 / kTimelineMs; };
  char num[64];
  h += "<h2>Last 7 days</h2><svg id=\"timeline\" viewBox=\"-6 0 712 46\" role=\"img\" aria-label=\"gateway states, last 7 days\">";
  for (const auto& s : timeline(d.states, d.now_ms)) {
    std::snprintf(num, sizeof num, "%.2f", x(s.from_ms));
    std::string rect = "<rect y=\"4\" height=\"22\" x=\"" + std::string(num) + "\" width=\"";
    std::snprintf(num, sizeof num, "%.2f", std::max(0.3, x(s.to_ms) - x(s.from_ms)));
    rect += std::string(num) + "\" fill=\"" + state_color(s.state) + "\"><title>" + html_escape(gateway_state_name(s.state)) +
            " " + utc(s.from_ms) + " – " + utc(s.to_ms) + " UTC</title></rect>";
    h += rect;
  }
  const auto repairs = recent_repairs(d);
  for (const auto& r : repairs) {
    std::snprintf(num, sizeof num, "%.2f", x(r.started_at_ms()));
    h += "<circle cy=\"36\" r=\"4\" cx=\"" + std::string(num) + "\" fill=\"" + (r.success() ? "#2e9e44" : "#d2322d") +
         "\"><title>repair #" + std::to_string(r.id()) + " " + outcome(r) + "</title></circle>";
  }
  for (int day = 0; day <= 7; ++day) {
    std::snprintf(num, sizeof num, "%d", day * 100);
    h += "<line y1=\"26\" y2=\"30\" stroke=\"#999\" x1=\"" + std::string(num) + "\" x2=\"" + num + "\"/>";
  }
  h += "</svg><p class=\"muted\">" + utc(start) + " – " + utc(d.now_ms) +
       " UTC · <span style=\"color:#2e9e44\">■</span> healthy <span style=\"color:#d9a400\">■</span> degraded "
       "<span style=\"color:#5b8dd9\">■</span> starting <span style=\"color:#d2322d\">■</span> down "
       "<span style=\"color:#9aa0a6\">■</span> not watched · ● a repair</p>";

  h += "<h2>Incidents</h2>";
  if (repairs.empty()) {
    h += "<p id=\"incidents\" class=\"muted\">No repair in the last 7 days.</p>";
  } else {
    h += "<div class=\"wrap\"><table id=\"incidents\"><tr><th>#</th><th>started (UTC)</th><th>why</th><th>tiers</th>"
         "<th>outcome</th><th>took</th></tr>";
    for (auto it = repairs.rbegin(); it != repairs.rend(); ++it) {
      const auto& r = *it;
      h += "<tr id=\"repair-" + std::to_string(r.id()) + "\"><td>" + std::to_string(r.id()) + "</td><td>" +
           utc(r.started_at_ms()) + "</td><td>" + html_escape(clip_end(reason_text(r.reason(), r.findings()), 160)) +
           (r.trigger() == pb::TRIGGER_MANUAL ? " <span class=\"muted\">(by " + html_escape(clip_end(r.actor(), 60)) + ")</span>" : "") +
           "</td><td>" + tiers_text(r) + "</td><td class=\"" + (r.success() ? "ok" : "bad") + "\">" + outcome(r) +
           (r.fixed_by_tier() ? " by tier " + std::to_string(r.fixed_by_tier()) : "") + "</td><td>" +
           (r.finished_at_ms() > 0 ? human_duration(r.duration_ms()) : "-") + "</td></tr>";
    }
    h += "</table></div>";
  }

  h += "<h2>Repair statistics</h2>";
  if (d.stats && d.stats->windows_size() > 0) {
    h += "<div class=\"wrap\"><table id=\"stats\"><tr><th></th><th>repairs</th><th>succeeded</th><th>success rate</th>"
         "<th>average time</th><th>by tier (fixes / attempts)</th></tr>";
    for (const auto& w : d.stats->windows()) {
      std::snprintf(num, sizeof num, "%.0f%%", w.success_rate() * 100.0);
      std::string tiers;
      for (const auto& t : w.tiers()) {
        tiers += (tiers.empty() ? "" : ", ") + std::string("tier ") + std::to_string(t.tier()) + ": " + std::to_string(t.fixes()) +
                 "/" + std::to_string(t.attempts());
      }
      h += "<tr><td>" + html_escape(w.name()) + "</td><td>" + std::to_string(w.repairs()) + "</td><td>" +
           std::to_string(w.succeeded()) + "</td><td>" + (w.repairs() ? std::string(num) : "-") + "</td><td>" +
           (w.repairs() ? human_duration(w.avg_duration_ms()) : "-") + "</td><td>" + (tiers.empty() ? "-" : tiers) + "</td></tr>";
    }
    h += "</table></div>";
  } else {
    h += "<p class=\"muted\">Not known: the repairer did not answer.</p>";
  }

  h += "<h2>Gateway memory (RSS)</h2>";
  std::vector<RssSample> rss;
  for (const auto& s : d.rss) {
    if (s.at_ms >= start) rss.push_back(s);
  }
  if (rss.size() >= 2) {
    uint64_t top = 1;
    for (const auto& s : rss) top = std::max(top, s.bytes);
    std::string points;
    for (const auto& s : rss) {
      std::snprintf(num, sizeof num, "%.1f,%.1f ", x(s.at_ms), 96.0 - static_cast<double>(s.bytes) * 90.0 / static_cast<double>(top));
      points += num;
    }
    h += "<svg id=\"rss\" viewBox=\"-6 0 712 100\" role=\"img\" aria-label=\"gateway RSS, last 7 days\">"
         "<polyline fill=\"none\" stroke=\"#5b8dd9\" stroke-width=\"1.5\" points=\"" + points + "\"/></svg>";
    h += "<p class=\"muted\">now " + megabytes_text(rss.back().bytes, 1) + ", highest " + megabytes_text(top, 1);
    if (d.health && d.health->rss_growth_bytes_per_hour() != 0) {
      std::snprintf(num, sizeof num, "%+.1f MB/h", d.health->rss_growth_bytes_per_hour() / (1024.0 * 1024.0));
      h += ", trend " + std::string(num);
    }
    h += "</p>";
  } else {
    h += "<p class=\"muted\">Not enough samples yet (one every 10 minutes).</p>";
  }
  h += "<footer class=\"muted\"><p>gwr " + html_escape(d.version) + " · " + utc(d.now_ms, TimeForm::kSeconds) +
       " UTC · <a href=\"/api/status\">/api/status</a> · <a href=\"/api/history\">/api/history</a> · "
       "<a href=\"/metrics\">/metrics</a></p></footer></body></html>\n";
  return h;
}

}  // namespace gwr::web
