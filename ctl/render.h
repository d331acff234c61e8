// gwrctl's output: pure functions from replies to text (tables for people)
// and JSON (for scripts). No sockets here, so they are unit-tested.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "gwr.pb.h"

namespace gwr::ctl {

// What `gwrctl status` gathered; a part is absent when its component did not answer.
struct StatusParts {
  std::optional<pb::ProbeStatusReply> probe;
  std::string probe_error;
  std::optional<pb::RepairStatusReply> repair;
  std::string repair_error;
  pb::ComponentsReply components;
  std::optional<pb::NotifyStatusReply> notify;  // the channels (the bridge's word)
  int64_t now_ms = 0;
  // Several gateways: whose probe and repair these are, and whether this
  // part also shows what is shared (channels, components).
  std::string gateway_name;
  bool show_shared = true;
};


nlohmann::json status_json(const StatusParts& parts);
std::string status_text(const StatusParts& parts);
// Several gateways: one part each (the shared sections from the last).
nlohmann::json status_json(const std::vector<StatusParts>& parts);
std::string status_text(const std::vector<StatusParts>& parts);

nlohmann::json repair_json(const pb::RepairSummary& repair);
std::string repair_text(const pb::RepairSummary& repair, int64_t now_ms);
std::string step_text(const pb::RepairStep& step);

nlohmann::json history_json(const pb::HistoryReply& history);
std::string history_text(const pb::HistoryReply& history, int64_t now_ms);

nlohmann::json stats_json(const pb::StatsReply& stats);
std::string stats_text(const pb::StatsReply& stats);

nlohmann::json logs_json(const pb::LogsReply& logs);
std::string logs_text(const pb::LogsReply& logs);
std::string repair_event_text(const pb::RepairEvent& event);

// "3s", "5m12s", "2h3m", "4d2h": compact, for ages and durations.
// Local "HH:MM:SS" today, "MM-DD HH:MM" otherwise.
std::string clock_time(int64_t wall_ms, int64_t now_ms);

}  // namespace gwr::ctl
