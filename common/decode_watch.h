// DecodeWatch: notices when a process keeps receiving bus messages it cannot
// decode on a topic, so that it says so loudly instead of quietly going
// blind (a repairer that cannot read GatewayHealth repairs nothing). Pure:
// every call takes `now`; the caller publishes what it returns.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gwr.pb.h"

namespace gwr {

class DecodeWatch {
 public:
  struct Settings {
    uint32_t threshold = 3;            // this many undecodable messages ...
    int64_t window_ms = 60'000;        // ... within this long raise the alert
    int64_t clear_after_ms = 120'000;  // no drop for this long clears it
  };
  explicit DecodeWatch(std::string component) : DecodeWatch(std::move(component), Settings{}) {}
  DecodeWatch(std::string component, Settings settings)
      : component_(std::move(component)), settings_(settings) {}

  // A message on `topic` did not decode. Returns the alert when this drop
  // raises it (once per episode).
  std::vector<pb::Alert> on_drop(const std::string& topic, int64_t now_ms);
  // Alerts that cleared (no drop for clear_after_ms).
  std::vector<pb::Alert> on_tick(int64_t now_ms);
  // The alerts raised and not yet cleared, for republishing.
  std::vector<pb::Alert> active() const;

 private:
  struct Topic {
    std::vector<int64_t> recent;  // drop times within the window
    uint64_t total = 0;
    bool raised = false;
    int64_t since_ms = 0;
    int64_t last_ms = 0;
  };
  pb::Alert alert(const std::string& topic, const Topic& t, bool cleared) const;

  std::string component_;
  Settings settings_;
  std::map<std::string, Topic> topics_;
};

}  // namespace gwr
