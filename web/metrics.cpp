#include "web/metrics.h"

#include <charconv>
#include <cmath>

#include "common/findings.h"
#include "common/text.h"

namespace gwr::web {

namespace {

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // The shortest text that reads back as the same double ("0.005", not "0.0050000000000000001").
  char buf[40];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string number(uint64_t v) { return std::to_string(v); }

void family(std::string& out, const std::string& name, const char* type, const std::string& help) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void sample(std::string& out, const std::string& name, const std::string& labels, const std::string& value) {
  out += name;
  if (!labels.empty()) out += "{" + labels + "}";
  out += " " + value + "\n";
}

const char* check_label(pb::CheckKind k) {
  switch (k) {
    case pb::CHECK_PROCESS: return "process";
    case pb::CHECK_PORT: return "port";
    case pb::CHECK_HEALTH: return "health";
    case pb::CHECK_MEMORY: return "memory";
    default: return "unknown";
  }
}

// A repair's trigger as a label value (never empty).
std::string trigger_label(pb::RepairTrigger t) {
  const std::string name = repair_trigger_name(t);
  return name.empty() ? "unknown" : name;
}

// Probe latencies: 1 ms .. 10 s (the health timeout is 2 s by default).
std::vector<double> probe_bounds() { return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}; }

// A gauge family read off one part of each gateway's state (its health,
// its repairer's status); a gateway whose part is unknown has no sample.
template <class Part>
struct Gauge {
  const char* name;
  const char* help;
  std::string (*value)(const Part&);
};

const Gauge<pb::GatewayHealth> kHealthGauges[] = {
    {"gwr_gateway_state_since_timestamp_seconds", "When the gateway entered its current state.",
     [](const pb::GatewayHealth& h) { return number(static_cast<double>(h.state_since_ms()) / 1000.0); }},
    {"gwr_gateway_resident_memory_bytes", "Resident memory of the gateway process (0 when none runs).",
     [](const pb::GatewayHealth& h) { return number(h.rss_bytes()); }},
    {"gwr_gateway_children_resident_memory_bytes", "Resident memory of the gateway's descendants.",
     [](const pb::GatewayHealth& h) { return number(h.children_rss_bytes()); }},
    {"gwr_gateway_resident_memory_growth_bytes_per_second",
     "The gateway's RSS trend over probes.memory.trend_window (0 until known).",
     [](const pb::GatewayHealth& h) { return number(h.rss_growth_bytes_per_hour() / 3600.0); }},
    {"gwr_gateway_recommended_tier", "The repair tier the prober recommends (0: none).",
     [](const pb::GatewayHealth& h) { return number(static_cast<uint64_t>(h.recommended_tier())); }},
};

const Gauge<pb::RepairStatusReply> kRepairGauges[] = {
    {"gwr_repair_running", "1 while a repair runs.",
     [](const pb::RepairStatusReply& r) { return std::string(r.in_progress() ? "1" : "0"); }},
    {"gwr_repairs_paused", "1 while automatic repairs are paused.",
     [](const pb::RepairStatusReply& r) { return std::string(r.paused() ? "1" : "0"); }},
    {"gwr_repair_cooldown_until_timestamp_seconds", "Until when automatic repairs cool down (0: no cooldown).",
     [](const pb::RepairStatusReply& r) { return number(static_cast<double>(r.cooldown_until_ms()) / 1000.0); }},
    {"gwr_repairs_last_hour", "Automatic repairs in the last sliding hour.",
     [](const pb::RepairStatusReply& r) { return number(static_cast<uint64_t>(r.repairs_last_hour())); }},
    {"gwr_repairs_per_hour_limit", "repair.max_per_hour.",
     [](const pb::RepairStatusReply& r) { return number(static_cast<uint64_t>(r.max_per_hour())); }},
    {"gwr_repair_consecutive_failures", "Repairs in a row whose every tier failed.",
     [](const pb::RepairStatusReply& r) { return number(static_cast<uint64_t>(r.consecutive_failures())); }},
    {"gwr_repair_state_unsaved", "1 while the repairer cannot keep its state (automatic repairs stop).",
     [](const pb::RepairStatusReply& r) { return std::string(r.state_unsaved() ? "1" : "0"); }},
};

}  // namespace

std::string label_value(const std::string& text) {
  std::string out;
  for (char c : valid_utf8(text)) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return "\"" + out + "\"";
}

void Histogram::observe(double v) {
  if (!std::isfinite(v)) return;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (v <= bounds_[i]) {
      ++counts_[i];
      break;
    }
  }
  sum_ += v;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  const std::string sep = labels.empty() ? "" : labels + ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    sample(out, name + "_bucket", sep + "le=\"" + number(bounds_[i]) + "\"", number(cumulative));
  }
  sample(out, name + "_bucket", sep + "le=\"+Inf\"", number(count_));
  sample(out, name + "_sum", labels, number(sum_));
  sample(out, name + "_count", labels, number(count_));
}

Metrics::Gateway::Gateway() : repair_seconds({1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800}) {
  for (auto k : {pb::CHECK_PORT, pb::CHECK_HEALTH}) {
    probe_seconds.emplace(k, Histogram(probe_bounds()));
    probe_failures[k] = 0;
  }
}

void Metrics::set_gateways(const std::vector<std::string>& names) {
  for (const auto& n : names) (void)of(n);
}

Metrics::Gateway& Metrics::of(const std::string& name) {
  if (name.empty() && !gateways_.empty()) return gateways_.front();
  for (auto& g : gateways_) {
    if (g.name == name) return g;
  }
  gateways_.emplace_back().name = name.empty() ? "main" : name;
  return gateways_.back();
}

void Metrics::on_health(const pb::GatewayHealth& h, const std::string& gateway) {
  Gateway& g = of(gateway);
  // Each published health repeats the last result of every check: a probe
  // is counted once, when its time is new.
  for (const auto& c : h.checks()) {
    auto it = g.probe_seconds.find(c.kind());
    if (it == g.probe_seconds.end() || !c.probed() || c.at_ms() == 0) continue;
    auto& last = g.last_probe_at[c.kind()];
    if (c.at_ms() == last) continue;
    last = c.at_ms();
    if (c.ok()) {
      it->second.observe(static_cast<double>(c.latency_us()) / 1e6);
    } else {
      ++g.probe_failures[c.kind()];
    }
  }
  g.health = h;
}

void Metrics::on_repair_event(const pb::RepairEvent& e, const std::string& gateway) {
  Gateway& g = of(gateway);
  if (e.kind() == pb::RepairEvent::STARTED) {
    ++g.repairs_started[trigger_label(e.trigger())];
    return;
  }
  if (e.kind() != pb::RepairEvent::FINISHED || e.repair_id() == 0) return;
  if (!g.finished.insert(e.repair_id()).second) return;
  while (g.finished.size() > 1000) g.finished.erase(g.finished.begin());
  ++g.repairs[std::to_string(e.tier()) + "|" + trigger_label(e.trigger()) + "|" + (e.success() ? "success" : "failure")];
  g.repair_seconds.observe(static_cast<double>(e.duration_ms()) / 1000.0);
}

std::string Metrics::render(const std::string& version) const {
  std::string out;
  out.reserve(8192);
  family(out, "gwr_build_info", "gauge", "gwr's version (always 1).");
  sample(out, "gwr_build_info", "version=" + label_value(version), "1");

  // One gateway: its series as ever; several: each with gateway="NAME",
  // every family's samples together.
  std::vector<Gateway> none(gateways_.empty() ? 1 : 0);
  const std::vector<Gateway>& all = gateways_.empty() ? none : gateways_;
  const bool several = all.size() > 1;
  auto labels = [&](const Gateway& g, const std::string& more = "") {
    std::string l = several ? "gateway=" + label_value(g.name) : "";
    if (!more.empty()) l += (l.empty() ? "" : ",") + more;
    return l;
  };
  auto any = [&](auto pred) {
    for (const auto& g : all) {
      if (pred(g)) return true;
    }
    return false;
  };

  family(out, "gwr_gateway_up", "gauge", "1 while the gateway serves (healthy or degraded), else 0.");
  for (const auto& g : all) {
    const pb::GatewayState state = g.health ? g.health->state() : pb::GATEWAY_STATE_UNKNOWN;
    sample(out, "gwr_gateway_up", labels(g), state == pb::HEALTHY || state == pb::DEGRADED ? "1" : "0");
  }
  family(out, "gwr_gateway_state", "gauge", "The gateway's state as gwr-prober sees it: 1 for the current one.");
  for (const auto& g : all) {
    const pb::GatewayState state = g.health ? g.health->state() : pb::GATEWAY_STATE_UNKNOWN;
    for (auto s : {pb::GATEWAY_STATE_UNKNOWN, pb::HEALTHY, pb::STARTING, pb::DEGRADED, pb::DOWN}) {
      sample(out, "gwr_gateway_state", labels(g, "state=" + label_value(gateway_state_name(s))), s == state ? "1" : "0");
    }
  }
  // Each gauge a family, a sample per gateway whose part is known.
  auto gauges = [&](const auto& table, auto part) {
    if (!any([&](const Gateway& g) { return (g.*part).has_value(); })) return;
    for (const auto& gauge : table) {
      family(out, gauge.name, "gauge", gauge.help);
      for (const auto& g : all) {
        if ((g.*part).has_value()) sample(out, gauge.name, labels(g), gauge.value(*(g.*part)));
      }
    }
  };
  gauges(kHealthGauges, &Gateway::health);

  family(out, "gwr_probe_duration_seconds", "histogram", "Time of the successful port and health probes.");
  for (const auto& g : all) {
    for (const auto& [kind, h] : g.probe_seconds) {
      h.render(out, "gwr_probe_duration_seconds", labels(g, std::string("check=\"") + check_label(kind) + "\""));
    }
  }
  family(out, "gwr_probe_failures_total", "counter", "Failed port and health probes.");
  for (const auto& g : all) {
    for (const auto& [kind, n] : g.probe_failures) {
      sample(out, "gwr_probe_failures_total", labels(g, std::string("check=\"") + check_label(kind) + "\""), number(n));
    }
  }

  family(out, "gwr_repairs_started_total", "counter", "Repairs started, by trigger.");
  for (const auto& g : all) {
    for (const char* t : {"auto", "manual"}) {
      const auto it = g.repairs_started.find(t);
      sample(out, "gwr_repairs_started_total", labels(g, std::string("trigger=\"") + t + "\""),
             number(it == g.repairs_started.end() ? uint64_t{0} : it->second));
    }
  }
  family(out, "gwr_repairs_total", "counter", "Repairs finished, by the tier they ended at, trigger and outcome.");
  for (const auto& g : all) {
    for (const auto& [key, n] : g.repairs) {
      const size_t a = key.find('|'), b = key.rfind('|');
      sample(out, "gwr_repairs_total",
             labels(g, "tier=\"" + key.substr(0, a) + "\",trigger=\"" + key.substr(a + 1, b - a - 1) + "\",outcome=\"" +
                           key.substr(b + 1) + "\""),
             number(n));
    }
  }
  family(out, "gwr_repair_duration_seconds", "histogram", "Time of finished repairs, from start to outcome.");
  for (const auto& g : all) g.repair_seconds.render(out, "gwr_repair_duration_seconds", labels(g));

  gauges(kRepairGauges, &Gateway::repair_status);

  if (components_) {
    family(out, "gwr_component_up", "gauge", "1 while a gwr process runs and heartbeats.");
    for (const auto& c : components_->components()) {
      sample(out, "gwr_component_up", "component=" + label_value(c.name()), c.state() == pb::COMPONENT_RUNNING ? "1" : "0");
    }
    family(out, "gwr_component_restarts_total", "counter", "Restarts of each gwr process by the supervisor.");
    for (const auto& c : components_->components()) {
      sample(out, "gwr_component_restarts_total", "component=" + label_value(c.name()), number(static_cast<uint64_t>(c.restarts())));
    }
  }

  if (notify_ && notify_->channels_size() > 0) {
    family(out, "gwr_notifications_pending", "gauge", "Notifications waiting to be sent, per channel.");
    for (const auto& c : notify_->channels()) {
      sample(out, "gwr_notifications_pending", "channel=" + label_value(c.name()), number(static_cast<uint64_t>(c.queued())));
    }
    family(out, "gwr_notification_channel_state", "gauge", "Each channel's state: 1 for the current one.");
    for (const auto& c : notify_->channels()) {
      for (auto s : {pb::ChannelStatus::IDLE, pb::ChannelStatus::OK, pb::ChannelStatus::RETRYING, pb::ChannelStatus::REJECTED}) {
        sample(out, "gwr_notification_channel_state",
               "channel=" + label_value(c.name()) + ",state=\"" + channel_state_name(s) + "\"", c.state() == s ? "1" : "0");
      }
    }
  }
  return out;
}

}  // namespace gwr::web
