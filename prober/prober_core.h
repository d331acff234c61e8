// ProberCore: the prober's pure core. It is told what each check observed
// and when, keeps per-check state (consecutive failures, schedule), and
// turns them into typed findings; what the findings mean (the state and
// the recommended tier) is common/findings.h's table. It decides which check is due
// next, including the quick re-probe after a failure. No I/O, no clock of
// its own: every call takes `now`.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/gateway_probe.h"
#include "common/service_state.h"
#include "gwr.pb.h"

namespace gwr::prober {

using Millis = std::chrono::milliseconds;

// The probes.* keys (their defaults are in their declarations, gwr.proto:
// defaults() reads them), and two constants that are not keys.
struct ProbeSettings {
  Millis process_interval{};
  Millis port_interval{};
  Millis port_timeout{};
  uint32_t port_failures = 0;
  Millis health_interval{};
  Millis health_timeout{};
  uint32_t health_failures = 0;
  Millis slow_threshold{};
  Millis hang_after{};
  Millis memory_interval{};
  uint64_t max_rss_bytes = 0;
  uint64_t hard_rss_bytes = 0;
  uint32_t min_available_percent = 0;
  Millis memory_trend_window{};
  Millis memory_trend_horizon{};
  Millis startup_grace{};
  Millis recheck_interval{};
  Millis republish_interval{};
  Millis channel_grace{};
  Millis lag_grace{};
  // A gateway reporting "starting" longer than startup_grace times this is stuck.
  uint32_t stuck_starting_factor = 5;
  // CPU use at or above this marks the gateway busy (serving users).
  double busy_cpu_percent = 10.0;

  static ProbeSettings from_config(const pb::Config& config);
  // The built-in config's.
  static ProbeSettings defaults();
};

struct ProcessObservation {
  bool found = false;
  pid_t pid = 0;           // found: the gateway; exited: the one that exited
  int64_t start_wall_ms = 0;
  std::string looked_for;  // the process name searched for
  std::vector<pb::Finding> seen_instead;  // when not found: other gateways, a port holder, ...
  bool exited = false;     // seen exiting through the pid watch
  bool oom_killed = false; // the kernel's OOM killer took it
};

struct MemoryObservation {
  uint64_t rss_bytes = 0;
  uint64_t children_rss_bytes = 0;
  double available_percent = 100.0;  // of the machine's memory
  double cpu_percent = 0.0;          // of one core, since the previous sample
  uint32_t connections = 0;          // established to the gateway port
};

// What OpenClaw's own records say about its tripped crash-loop breaker
// (read by the worker, common/boot_lifecycle.h).
struct BreakerView {
  uint32_t unclean_boots = 0;
  int64_t clears_at_ms = 0;  // wall clock; 0: not known
  std::string cause;         // the newest crash's stability bundle, for people
};

// An upgrade of the gateway seen running in the process table.
struct UpgradeView {
  pid_t pid = 0;            // 0: none runs
  std::string command;      // upgrade_command()'s description
};

class ProberCore {
 public:
  void set_breaker_view(const BreakerView& v) { breaker_ = v; }
  // What the gateway's service manager says (asked while the gateway is
  // gone or failing): a deliberate stop is reported beside the failure, from
  // when it was first seen so.
  void set_service_state(const ServiceState& s, int64_t wall_ms);
  // Whether an upgrade of the gateway runs (the worker scans the process table).
  void set_upgrade(const UpgradeView& v, int64_t wall_ms);
  const ServiceState& service_state() const { return service_; }
  // Channel id -> the reason of OpenClaw's last restart of it (its log).
  void set_channel_restarts(std::map<std::string, std::string> reasons) { channel_restarts_ = std::move(reasons); }
  ProberCore(const ProbeSettings& settings, uint64_t run_id, SteadyTime now);

  void update_settings(const ProbeSettings& settings, SteadyTime now);

  // Checks whose time has come, marked in flight until their result arrives.
  std::vector<pb::CheckKind> take_due(SteadyTime now);
  // Every check due at once (a reprobe request, a config change).
  void reprobe(SteadyTime now);

  void on_process(const ProcessObservation& obs, SteadyTime now, int64_t wall_ms);
  // started_ms: when the check began. A check that began before the current
  // gateway process was found describes its predecessor and is dropped.
  void on_port(const PortObservation& obs, SteadyTime now, int64_t started_ms);
  void on_health(const HealthObservation& obs, SteadyTime now, int64_t started_ms);
  void on_memory(const MemoryObservation& obs, SteadyTime now, int64_t wall_ms);

  // The current health if it should be published now: it changed, or the
  // republish interval has passed. Evaluates first.
  std::optional<pb::GatewayHealth> publishable(SteadyTime now, int64_t wall_ms);
  // Evaluates and returns the current health without publishing.
  const pb::GatewayHealth& evaluate(SteadyTime now, int64_t wall_ms);
  const pb::GatewayHealth& current() const { return health_; }
  // State changes, oldest first (bounded).
  const std::deque<pb::GatewayHealth>& history() const { return history_; }
  pid_t pid() const { return pid_; }
  int64_t process_start_ms() const { return process_start_ms_; }
  SteadyTime next_wake(SteadyTime now) const;
  // A short description of what the prober does, for heartbeats.
  std::string activity() const;

 private:
  struct Check {
    pb::CheckKind kind;
    bool probed = false;
    bool ok = false;
    uint32_t consecutive_failures = 0;
    int64_t latency_us = 0;
    pb::Cause cause = pb::CAUSE_UNSPECIFIED;
    int http_status = 0;
    std::string detail;
    int64_t at_ms = 0;
    int64_t failing_since_ms = 0;  // wall clock of the first failure in a row
    // Health: when the first of an unbroken run of unanswered GETs (time-outs)
    // was sent, and the steady time at which that run becomes a hang.
    int64_t unanswered_since_ms = 0;
    SteadyTime hang_at{};
    SteadyTime due{};
    bool in_flight = false;
  };

  Check& check(pb::CheckKind kind) { return checks_[static_cast<size_t>(kind) - 1]; }
  const Check& check(pb::CheckKind kind) const { return checks_[static_cast<size_t>(kind) - 1]; }
  Millis interval(pb::CheckKind kind) const;
  bool quick_cadence() const;
  void schedule_after(Check& c, SteadyTime now);
  void new_instance(SteadyTime now);
  bool starting(int64_t wall_ms) const;
  bool stale(Check& c, int64_t started_ms, SteadyTime now);
  // What the checks say, as findings (the state and tier follow from
  // common/findings.h's table).
  std::vector<pb::Finding> findings(int64_t wall_ms) const;
  pb::Finding check_finding(const Check& c, pb::Finding::Kind kind, uint32_t threshold) const;

  ProbeSettings settings_;
  uint64_t run_id_;
  std::array<Check, 4> checks_;
  pid_t pid_ = 0;
  int64_t process_start_ms_ = 0;
  int64_t instance_seen_ms_ = 0;  // when the current pid (or its absence) was first observed
  bool oom_killed_ = false;
  pid_t exited_pid_ = 0;                      // the gateway seen exiting (until another is found)
  std::vector<pb::Finding> seen_instead_;     // what the last process check saw instead of the gateway
  std::string looked_for_;
  bool healthy_since_start_ = false;
  StartupStatus startup_ = StartupStatus::kUnknown;
  // The gateway's own readiness while /health is fine: each name it fails
  // on or suppresses, with when it was first seen.
  struct ReadinessName {
    pb::Finding::Kind kind;
    std::string name;
    int64_t since_ms;
  };
  std::vector<ReadinessName> readiness_;
  // A failing channel's episode: OpenClaw's own monitor retries it (its
  // /readyz says ready between tries), so gaps under kChannelGapMs are
  // forgiven. Kept across gateway restarts: still failing after one is the
  // same episode, and gets no second restart.
  struct ChannelEpisode {
    std::string name;
    int64_t since_ms;
    int64_t last_failing_ms;
    pid_t grace_pid;  // the gateway process when the grace ran out (0: not yet)
    bool restarted;   // another gateway process runs since then
  };
  static constexpr int64_t kChannelGapMs = 10 * 60'000;
  std::vector<ChannelEpisode> channels_;
  BreakerView breaker_;
  ServiceState service_;
  int64_t service_deliberate_since_ms_ = 0;
  UpgradeView upgrade_;
  int64_t upgrade_since_ms_ = 0;
  // The owner's intent, beside what the checks found (issue #20).
  void add_owner_findings(std::vector<pb::Finding>& out) const;
  std::vector<pb::Finding> check_findings(int64_t wall_ms) const;
  std::map<std::string, std::string> channel_restarts_;
  void note_channels(const ReadinessObservation& r, int64_t wall_ms);
  // Since when /readyz's eventLoop says degraded without a break (0: it does not).
  int64_t lag_since_ms_ = 0;
  EventLoopSample event_loop_;
  void note_event_loop(const EventLoopSample& e, int64_t wall_ms);
  std::deque<int64_t> recent_ok_latency_us_;
  MemoryObservation memory_;
  bool memory_known_ = false;
  // RSS samples (wall ms, bytes) of the current instance, the trend window long.
  std::deque<std::pair<int64_t, uint64_t>> rss_samples_;
  double rss_slope_per_hour_ = 0;
  static constexpr int64_t kTrendSamples = 60;
  struct Trend {
    double bytes_per_hour = 0;  // 0: not known (too few samples, or too short a span)
    int64_t eta_ms = 0;         // when it reaches max_rss_bytes (0: not growing toward it)
  };
  Trend memory_trend(int64_t wall_ms) const;
  pb::GatewayHealth health_;
  uint64_t seq_ = 0;
  std::string published_key_;
  SteadyTime last_publish_{};
  bool ever_published_ = false;
  std::deque<pb::GatewayHealth> history_;
};

// The trend of RSS over time, in bytes per hour (pure): the median of the
// slopes between every two samples (Theil-Sen), so one jump is no trend.
double rss_slope_per_hour(const std::deque<std::pair<int64_t, uint64_t>>& samples);

// Which finding a name in /readyz's "failing" list is (pure; unknown names
// that look like a channel id are channels, others NOT_READY).
pb::Finding::Kind readiness_kind(const std::string& name);

// A key that changes when anything a consumer acts on changes (the state,
// the pid, the tier, and which findings are there, not their figures).
std::string health_key(const pb::GatewayHealth& h);

}  // namespace gwr::prober
