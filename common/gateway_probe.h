// The gateway's cheap checks, shared by the prober (detection) and the
// repairer (verifying a repair): a TCP connect and GET of the health and
// startup endpoints. Each returns an observation and never blocks longer
// than its timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/http_client.h"
#include "gwr.pb.h"

namespace gwr {

enum class StartupStatus {
  kUnknown,       // not asked, or the answer made no sense
  kNotSupported,  // 404: a gateway older than 2026.8
  kStarting,      // 503 "starting"
  kDraining,      // 503 "draining": shutting down
  kStarted,       // 200 "started"
};
const char* to_string(StartupStatus s);

struct PortObservation {
  bool ok = false;
  int64_t latency_us = 0;
  pb::Cause cause = pb::CAUSE_UNSPECIFIED;  // how it failed
  std::string detail;  // for people: "connection refused", "timeout after 1s"
};

// What the gateway's /readyz says (OpenClaw >= 2026.3; details only to a
// loopback caller): the names it fails on and the channels its crash-loop
// breaker keeps off. Outside text: names are valid UTF-8, at most 64 bytes,
// at most kMaxReadinessNames of each.
struct EventLoopSample {
  bool known = false;  // /readyz carried an "eventLoop" object with a boolean "degraded"
  bool degraded = false;
  std::vector<std::string> reasons;  // event_loop_delay, event_loop_utilization, cpu
  double delay_p99_ms = 0;
  double delay_max_ms = 0;
  double utilization = 0;
  double cpu_core_ratio = 0;
};

struct ReadinessObservation {
  bool understood = false;  // a JSON object with a boolean "ready" (false: not asked, or not its JSON)
  bool ready = false;
  std::vector<std::string> failing;
  std::vector<std::string> suppressed;
  EventLoopSample event_loop;
};
inline constexpr size_t kMaxReadinessNames = 16;

// Pure: a /readyz answer as gwr reads it. Anything but a JSON object with a
// boolean "ready" (a 404 from an older gateway, the Control UI's HTML that
// unknown paths answer with, garbage) is not understood and says nothing.
ReadinessObservation parse_readiness(int http_status, const std::string& body);

struct HealthObservation {
  bool ok = false;
  int64_t latency_us = 0;
  int http_status = 0;
  bool timed_out = false;
  bool refused = false;
  pb::Cause cause = pb::CAUSE_UNSPECIFIED;  // how it failed
  std::string detail;  // for people: why it is not ok
  StartupStatus startup = StartupStatus::kUnknown;
  ReadinessObservation readiness;  // asked only when health is ok
};

// GET http://host:port/path (the readiness endpoint) and parse_readiness.
ReadinessObservation probe_readiness(HttpClient& http, const std::string& host, uint16_t port, const std::string& path,
                                     std::chrono::milliseconds timeout);

// TCP connect to host:port (every address it resolves to), with a timeout.
PortObservation probe_port(const std::string& host, uint16_t port, std::chrono::milliseconds timeout);

// GET http://host:port/path; healthy means 200 with a JSON body whose "ok" is
// true (or "status" is "live"/"ok"). When it is not healthy and startup_path
// is set, also asks startup_path to tell "starting" from "down".
HealthObservation probe_health(HttpClient& http, const std::string& host, uint16_t port, const std::string& path,
                               const std::string& startup_path, std::chrono::milliseconds timeout);

// "http://127.0.0.1:18789", bracketing IPv6 literals.
std::string gateway_base_url(const std::string& host, uint16_t port);

}  // namespace gwr
