// `gwrctl watch`: a live feed of what gwr sees and does, read from the bus as
// it happens (issue #17, part 5): state changes, repair steps and outcomes,
// pauses, deferrals, component restarts and alerts, one line each, the way
// `journalctl -f` reads. The renderer is pure: an event in, a line (or none) out.
#pragma once

#include <optional>
#include <string>

#include "gwr.pb.h"

namespace gwr::ctl {

struct WatchOptions {
  bool color = false;     // ANSI colours (on a terminal)
  bool utc = false;       // times in UTC instead of local time
};

// What the feed remembers between events: the gateway's state, so that only
// its changes are shown (the prober publishes every evaluation).
struct WatchState {
  pb::GatewayState gateway = pb::GATEWAY_STATE_UNKNOWN;
  bool seen = false;      // a state has been shown
  uint64_t prober_run = 0;
};

// The line for one bus event ("12:03:04  DOWN ← healthy  no process named
// openclaw-gateway is running"), or nullopt for what the feed does not show
// (heartbeats, repeats of the same state, internal messages).
std::optional<std::string> watch_line(const pb::Event& event, WatchState& state, const WatchOptions& options);

}  // namespace gwr::ctl
