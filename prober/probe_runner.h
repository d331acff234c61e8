// ProbeRunner: runs the blocking checks (TCP connect, HTTP GET) on their own
// threads, one per kind, so the prober's main loop keeps heartbeating and
// answering while a hung gateway makes a check wait for its timeout.
// Results come back through a queue and a wake-up pipe the loop polls.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/gateway_probe.h"
#include "gwr.pb.h"

namespace gwr::prober {

struct ProbeJob {
  pb::CheckKind kind = pb::CHECK_KIND_UNSPECIFIED;
  std::string host;
  uint16_t port = 0;
  std::string health_path;
  std::string startup_path;
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

class ProbeRunner {
 public:
  ProbeRunner();
  ~ProbeRunner();
  ProbeRunner(const ProbeRunner&) = delete;
  ProbeRunner& operator=(const ProbeRunner&) = delete;

  int notify_fd() const;
  void submit(ProbeJob job);
  std::vector<ProbeResult> drain();
  // How long the oldest unfinished job has been running (nullopt if none).
  std::optional<std::chrono::milliseconds> busy_for() const;

  // State shared with the check threads (which may outlive this object).
  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
  std::vector<std::thread> threads_;
};

}  // namespace gwr::prober
