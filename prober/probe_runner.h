// ProbeRunner: runs the blocking checks (TCP connect, HTTP GET) on their own
// actors (common/actor.h), one per kind, so the prober's main loop keeps
// heartbeating and answering while a hung gateway makes a check wait for its
// timeout. Results come back through the actors' fds, which the loop polls.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/actor.h"
#include "common/clock.h"
#include "common/gateway_probe.h"
#include "common/http_client.h"
#include "gwr.pb.h"

namespace gwr::prober {

struct ProbeJob {
  pb::CheckKind kind = pb::CHECK_KIND_UNSPECIFIED;
  std::string host;
  uint16_t port = 0;
  std::string health_path;
  std::string startup_path;
  std::string readiness_path;  // "" = do not ask
  std::chrono::milliseconds timeout{1000};
  uint64_t generation = 0;
};

struct ProbeResult {
  pb::CheckKind kind = pb::CHECK_KIND_UNSPECIFIED;
  int64_t started_wall_ms = 0;  // when the check began: what it observed is that moment's gateway
  PortObservation port;
  HealthObservation health;
  uint64_t generation = 0;
};

// How a check is carried out (the real one connects and GETs; tests answer).
struct ProbeFunctions {
  std::function<PortObservation(const ProbeJob&)> port;
  std::function<HealthObservation(HttpClient&, const ProbeJob&)> health;
  static ProbeFunctions real();
};

class ProbeRunner {
 public:
  // http: one client per check thread.
  ProbeRunner(std::function<std::unique_ptr<HttpClient>()> http, const Clock& clock,
              ProbeFunctions checks = ProbeFunctions::real());
  ~ProbeRunner();
  ProbeRunner(const ProbeRunner&) = delete;
  ProbeRunner& operator=(const ProbeRunner&) = delete;

  // The fds to poll: readable when results are waiting.
  std::vector<int> notify_fds() const;
  void submit(ProbeJob job);
  std::vector<ProbeResult> drain();
  // How long the oldest unfinished job has been running (nullopt if none).
  std::optional<std::chrono::milliseconds> busy_for() const;

 private:
  using CheckActor = Actor<ProbeJob, ProbeResult>;
  struct Busy {
    mutable std::mutex mu;
    std::optional<SteadyTime> port_started, health_started;
  };
  const Clock& clock_;
  std::shared_ptr<Busy> busy_ = std::make_shared<Busy>();
  std::unique_ptr<CheckActor> port_;
  std::unique_ptr<CheckActor> health_;
};

}  // namespace gwr::prober
