// The scenario most repair tests share: a fake openclaw service on a free
// port, a gwr daemon watching it with fast probes and Tier 3 off, and a bus
// watcher on health, repair events and alerts.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/gateway_fakes.h"

namespace gwr::testing {

// probes: fast enough for a test, and repair: with short tier deadlines and
// Tier 3 off; the repair: section is last, so more repair keys may follow.
std::string fast_probes_and_repair_yaml();

class RepairScenario : public ::testing::Test {
 protected:
  void SetUp() override;
  // The daemon's config; `more` is appended after the repair: section (so it
  // may add repair keys, indented, or whole sections).
  std::string yaml(const std::string& more = "") const;
  // Starts the service healthy and the daemon, and waits for HEALTHY.
  void start(const std::string& more = "");
  // (Re)subscribes the bus watcher (after a daemon restart).
  void watch();
  std::optional<pb::RepairEvent> wait_repair(pb::RepairEvent::Kind kind, std::chrono::milliseconds timeout,
                                             const std::function<bool(const pb::RepairEvent&)>& extra = nullptr);
  int count(pb::RepairEvent::Kind kind) const;
  std::vector<pb::Alert> alerts(pb::Alert::Kind kind) const;
  // `gwrctl ARGS --json`, expected to succeed.
  nlohmann::json gwrctl_json(const std::vector<std::string>& args);
  nlohmann::json status() { return gwrctl_json({"status"}); }
  bool calls_contain(const std::string& needle) const;
  // Whether a process's log has a line with this event.
  bool log_has(const std::string& process, const std::string& event) const;

  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<FakeOpenclaw> service_;
  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<BusWatcher> bus_;
};

}  // namespace gwr::testing
