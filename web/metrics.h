// Metrics: what gwr knows, in the Prometheus text exposition format (issue
// #17, part 3), for gwr-web's /metrics. Pure: told the bus's gateway health
// and repair events and the components' answers, it renders the page.
// Names follow Prometheus's conventions: the gwr_ prefix, base units
// (seconds, bytes), _total for counters, one HELP and TYPE per family.
// Counters count from this process's start (Prometheus's rate() and
// increase() take resets in their stride).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gwr.pb.h"

namespace gwr::web {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size(), 0) {}
  void observe(double v);
  // The _bucket, _sum and _count lines of one series; `labels` without braces ("check=\"port\"").
  void render(std::string& out, const std::string& name, const std::string& labels) const;
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bound, not cumulative
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  // gateway: the event's gateway name; "" is the first (a one-gateway gwr's).
  // With several gateways every gateway series carries gateway="NAME".
  void on_health(const pb::GatewayHealth& health, const std::string& gateway = "");
  void on_repair_event(const pb::RepairEvent& event, const std::string& gateway = "");
  // The last answers (nullopt: the component did not answer).
  void set_repair_status(std::optional<pb::RepairStatusReply> status, const std::string& gateway = "") {
    of(gateway).repair_status = std::move(status);
  }
  void set_components(std::optional<pb::ComponentsReply> components) { components_ = std::move(components); }
  void set_notify(std::optional<pb::NotifyStatusReply> notify) { notify_ = std::move(notify); }
  // The gateways gwr watches, in config order (their series come in this order).
  void set_gateways(const std::vector<std::string>& names);

  std::string render(const std::string& version) const;

 private:
  struct Gateway {
    Gateway();
    std::string name;
    std::optional<pb::GatewayHealth> health;
    std::map<pb::CheckKind, int64_t> last_probe_at;        // per check: the probe already counted
    std::map<pb::CheckKind, Histogram> probe_seconds;
    std::map<pb::CheckKind, uint64_t> probe_failures;
    std::map<std::string, uint64_t> repairs;               // "tier|trigger|outcome" -> count
    std::map<std::string, uint64_t> repairs_started;       // trigger -> count
    Histogram repair_seconds;
    std::set<int64_t> finished;                            // repair ids counted (bounded)
    std::optional<pb::RepairStatusReply> repair_status;
  };
  Gateway& of(const std::string& name);
  std::vector<Gateway> gateways_;  // at least one once anything is known
  std::optional<pb::ComponentsReply> components_;
  std::optional<pb::NotifyStatusReply> notify_;
};

// A label value as the exposition format quotes it (backslash, quote, newline).
std::string label_value(const std::string& text);

}  // namespace gwr::web
