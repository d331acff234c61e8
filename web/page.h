// The status page and its JSON (issue #17, part 4), pure: what gwr-web
// gathered in, documents out.
//  * `/`: one read-only HTML page, readable on a phone: the gateway's state
//    and why, a 7-day timeline of states with each incident (tiers,
//    outcome, time to recover), the repair statistics of /history, the RSS
//    trend; drawn as inline SVG, no script, no external resource, every
//    outside word escaped (served with a strict Content-Security-Policy);
//  * `/api/status` and `/api/history`: the same data as JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gwr.pb.h"

namespace gwr::web {

// A state the gateway entered, as gwr-web recorded it.
struct StateChange {
  int64_t at_ms = 0;
  pb::GatewayState state = pb::GATEWAY_STATE_UNKNOWN;
};

struct RssSample {
  int64_t at_ms = 0;
  uint64_t bytes = 0;
};

// Several gateways: another gateway's state (the page's detail is the first's).
struct OtherGateway {
  std::string name;
  std::optional<pb::GatewayHealth> health;
  std::optional<pb::RepairStatusReply> repair;
};

struct PageData {
  int64_t now_ms = 0;
  std::string host;
  std::string version;
  std::string gateway;               // the first gateway's name, when there are several
  std::vector<OtherGateway> others;  // the rest, in config order
  std::optional<pb::GatewayHealth> health;
  std::optional<pb::RepairStatusReply> repair;
  std::optional<pb::HistoryReply> history;  // newest first, as the repairer answers
  std::optional<pb::StatsReply> stats;
  std::vector<StateChange> states;  // oldest first
  std::vector<RssSample> rss;       // oldest first
};

constexpr int64_t kTimelineMs = 7 * 24 * 3'600'000LL;

// The timeline's spans within [now - 7 days, now]: each state from when it
// began (or the window's start) to the next change (or now). A time before
// the first record is "unknown".
struct Span {
  int64_t from_ms = 0;
  int64_t to_ms = 0;
  pb::GatewayState state = pb::GATEWAY_STATE_UNKNOWN;
};
std::vector<Span> timeline(const std::vector<StateChange>& states, int64_t now_ms);

nlohmann::json status_document(const PageData& d);
nlohmann::json history_document(const PageData& d);
std::string page_html(const PageData& d);

}  // namespace gwr::web
