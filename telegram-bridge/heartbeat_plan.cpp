#include "telegram-bridge/heartbeat_plan.h"

#include <algorithm>

#include <limits>

namespace gwr::telegram {

HeartbeatSettings HeartbeatSettings::from_config(const pb::Config& c) {
  HeartbeatSettings s;
  s.url = c.heartbeat().url();
  s.interval_ms = c.heartbeat().interval();
  const std::string& fail = c.heartbeat().fail_url();
  if (fail == "auto") {
    s.fail_url = s.url.empty() ? "" : (s.url.back() == '/' ? s.url.substr(0, s.url.size() - 1) : s.url) + "/fail";
  } else {
    s.fail_url = fail;
  }
  return s;
}

void HeartbeatPlan::set_settings(HeartbeatSettings settings) {
  if (settings.url != settings_.url) next_ping_ms_ = 0;  // a new check hears from us at once
  settings_ = std::move(settings);
}

void HeartbeatPlan::set_gateways(std::vector<std::string> names) {
  gateways_ = names.empty() ? std::vector<std::string>{""} : std::move(names);
}

void HeartbeatPlan::on_health(pb::GatewayState state, int64_t now_ms, const std::string& gateway) {
  seen_[gateways_.size() == 1 ? gateways_.front() : gateway] = {state, now_ms};
}

void HeartbeatPlan::on_repair_event(const pb::RepairEvent& e, int64_t /*now_ms*/, const std::string& gateway) {
  if (e.kind() != pb::RepairEvent::ESCALATION || settings_.fail_url.empty()) return;
  const RepairKey key{gateway, e.repair_id()};
  // The same escalation again (catch-up, a restart): once.
  if (failed_sent_.count(key) != 0) return;
  if (std::find(pending_fail_.begin(), pending_fail_.end(), key) != pending_fail_.end()) return;
  pending_fail_.push_back(key);
}

bool HeartbeatPlan::serving(int64_t now_ms) const {
  // Every gateway serves and was heard from lately: a prober that went
  // silent stops the pings as a gateway that went down does.
  for (const auto& g : gateways_) {
    const auto it = seen_.find(g);
    if (it == seen_.end()) return false;
    const auto& s = it->second;
    if (!(s.state == pb::HEALTHY || s.state == pb::DEGRADED) || now_ms - s.at_ms > kHealthFreshMs) return false;
  }
  return true;
}

std::optional<HeartbeatPing> HeartbeatPlan::take_due(int64_t now_ms) {
  if (!settings_.enabled() || in_flight_) return std::nullopt;
  if (!pending_fail_.empty()) {
    in_flight_ = true;
    return HeartbeatPing{settings_.fail_url, true, pending_fail_.front().second, pending_fail_.front().first};
  }
  if (!serving(now_ms) || now_ms < next_ping_ms_) return std::nullopt;
  in_flight_ = true;
  return HeartbeatPing{settings_.url, false, 0, ""};
}

void HeartbeatPlan::done(const HeartbeatPing& ping, bool ok, int64_t now_ms) {
  in_flight_ = false;
  if (ping.fail) {
    // Once, whether it arrived or not: an unreachable service is not hammered,
    // and the regular pings have stopped anyway while the gateway is down.
    const RepairKey key{ping.gateway, ping.repair_id};
    failed_sent_.insert(key);
    while (failed_sent_.size() > 100) failed_sent_.erase(failed_sent_.begin());
    pending_fail_.erase(std::remove(pending_fail_.begin(), pending_fail_.end(), key), pending_fail_.end());
    return;
  }
  failures_ = ok ? 0 : failures_ + 1;
  next_ping_ms_ = now_ms + settings_.interval_ms;
}

int64_t HeartbeatPlan::next_due_ms(int64_t now_ms) const {
  if (!settings_.enabled() || in_flight_) return std::numeric_limits<int64_t>::max();
  if (!pending_fail_.empty()) return now_ms;
  if (!serving(now_ms)) return std::numeric_limits<int64_t>::max();
  return std::max(now_ms, next_ping_ms_);
}

std::string url_for_logs(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return "(not a URL)";
  const auto path = url.find_first_of("/?#", scheme + 3);
  std::string host = url.substr(0, path);
  // user:password@host: never the credentials.
  if (const auto at = host.find('@', scheme + 3); at != std::string::npos) host = host.substr(0, scheme + 3) + host.substr(at + 1);
  return path == std::string::npos ? host : host + "/…";
}

}  // namespace gwr::telegram
