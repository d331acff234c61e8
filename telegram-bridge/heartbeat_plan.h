// HeartbeatPlan: when to ping the owner's dead-man's switch (heartbeat.url,
// issue #17). Pure: it is told the gateway's health and the repair events,
// and says which address is due when.
//  * heartbeat.url every heartbeat.interval while the gateway serves
//    (HEALTHY or DEGRADED, as the prober said within the last 30 s); nothing
//    while it is DOWN or STARTING, or nobody says, so the check's own grace
//    turns that silence into the owner's alert;
//  * heartbeat.fail_url once for each repair whose every tier failed
//    (ESCALATION), at once;
//  * one request at a time; a failed one is not retried before the next
//    interval (no storm against a service that is down).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <vector>
#include <utility>
#include <map>
#include <deque>
#include <string>

#include "gwr.pb.h"

namespace gwr::telegram {

struct HeartbeatSettings {
  std::string url;       // "" = off
  std::string fail_url;  // resolved: "" = never
  int64_t interval_ms = 60'000;

  static HeartbeatSettings from_config(const pb::Config& config);
  bool enabled() const { return !url.empty(); }
};

struct HeartbeatPing {
  std::string url;
  bool fail = false;       // the fail address (all tiers failed)
  int64_t repair_id = 0;   // fail: which repair
  std::string gateway;     // fail: whose (each gateway numbers its repairs from 1)
};

class HeartbeatPlan {
 public:
  explicit HeartbeatPlan(HeartbeatSettings settings = {}) : settings_(std::move(settings)) {}
  void set_settings(HeartbeatSettings settings);
  const HeartbeatSettings& settings() const { return settings_; }

  // The gateways gwr watches (none: one, unnamed). The regular ping goes out
  // while every one of them serves and was heard from lately.
  void set_gateways(std::vector<std::string> names);
  void on_health(pb::GatewayState state, int64_t now_ms, const std::string& gateway = "");
  void on_repair_event(const pb::RepairEvent& event, int64_t now_ms, const std::string& gateway = "");
  // The request to send now, if any (it is then in flight until done()).
  std::optional<HeartbeatPing> take_due(int64_t now_ms);
  void done(const HeartbeatPing& ping, bool ok, int64_t now_ms);
  // When take_due may next return something (INT64_MAX: not before news).
  int64_t next_due_ms(int64_t now_ms) const;

  // Failures in a row of the regular ping (for the heartbeat of the worker and logs).
  uint32_t failures() const { return failures_; }

 private:
  bool serving(int64_t now_ms) const;

  struct Seen {
    pb::GatewayState state = pb::GATEWAY_STATE_UNKNOWN;
    int64_t at_ms = 0;
  };
  using RepairKey = std::pair<std::string, int64_t>;  // gateway, repair id

  HeartbeatSettings settings_;
  std::vector<std::string> gateways_ = {""};
  std::map<std::string, Seen> seen_;  // per gateway, its latest health
  int64_t next_ping_ms_ = 0;  // 0: as soon as it serves
  bool in_flight_ = false;
  std::deque<RepairKey> pending_fail_;  // repairs whose fail ping is due, in order
  std::set<RepairKey> failed_sent_;     // repairs whose fail ping was sent (bounded)
  uint32_t failures_ = 0;
  static constexpr int64_t kHealthFreshMs = 30'000;
};

// "https://hc-ping.com/…" -> "https://hc-ping.com/…": scheme and host only,
// for logs (the path of a check's address is its secret).
std::string url_for_logs(const std::string& url);

}  // namespace gwr::telegram
