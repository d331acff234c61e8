// Time to recover (issue 4): kill -9 of the gateway -> healthy again, with
// Tier 1 and with Tier 2, against the fake gateway and fake openclaw CLI,
// reported as the overhead over the fake gateway's own start time
// (target < 500 ms of overhead; PRD budgets 10 s / 30 s).
//
//   build/bench/recovery [runs=20]
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "bench/bench_util.h"
#include "common/gateway_probe.h"
#include "common/proc.h"
#include "common/http_client.h"
#include "tests/support/gateway_fakes.h"

using namespace std::chrono_literals;
using namespace gwr::testing;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// Polls /health every 2 ms until it answers healthy.
bool wait_healthy(int port, std::chrono::milliseconds timeout) {
  gwr::CurlHttpClient http;
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (gwr::probe_health(http, "127.0.0.1", static_cast<uint16_t>(port), "/health", "", 200ms).ok) return true;
    std::this_thread::sleep_for(2ms);
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 20;
  TempDir dir;
  const int port = free_tcp_port();
  FakeOpenclaw service(dir.path(), port, "NAME=openclaw-gatewa\n");

  // The gateway's own start time: the service manager starting it until healthy.
  std::vector<double> own_ms;
  for (int i = 0; i < runs; ++i) {
    (void)service.run({"gateway", "stop", "--force"});
    const auto t0 = Clock::now();
    (void)service.run({"gateway", "start"});
    if (wait_healthy(port, 10s)) own_ms.push_back(ms_since(t0));
  }

  Daemon d("gateway:\n  port: " + std::to_string(port) + "\n  process_match: openclaw-gateway\n" +
           service.commands_yaml() + "repair:\n  max_per_hour: 60\n  tier3: {enabled: false}\n");
  if (!d.start()) return 1;
  BusWatcher bus(d.runtime_dir(), {"gateway_health", "repair_event"});
  auto settle = [&] {
    bus.clear();
    (void)bus.wait_health([](const gwr::pb::GatewayHealth& h) { return h.state() == gwr::pb::HEALTHY; }, 20s);
    std::this_thread::sleep_for(300ms);
  };
  auto measure = [&](std::vector<double>& out) {
    settle();
    const pid_t pid = service.gateway_pid();
    bus.clear();
    const auto t0 = Clock::now();
    ::kill(pid, SIGKILL);
    // Healthy again as the owner sees it: the gateway answers /health.
    while (gwr::process_alive(pid)) std::this_thread::sleep_for(1ms);
    if (wait_healthy(port, 40s)) out.push_back(ms_since(t0));
    (void)bus.wait_for([](const gwr::pb::Event& e) {
      return e.has_repair_event() && e.repair_event().kind() == gwr::pb::RepairEvent::FINISHED;
    }, 40s);
  };
  std::vector<double> tier1_ms;
  for (int i = 0; i < runs; ++i) measure(tier1_ms);
  // Tier 2: the restart command fails at once, so tier 2 does the work
  // (stop, kill port owners, sweep locks, start, verify).
  service.set_switch("fail-restart");
  std::vector<double> tier2_ms;
  for (int i = 0; i < runs; ++i) measure(tier2_ms);
  service.clear_switch("fail-restart");

  using gwr::bench::percentile;
  const double own = percentile(own_ms, 50);
  std::printf("## Recovery (kill -9 -> /health answers again), fake gateway + fake openclaw CLI\n\nmachine: %s\n\n",
              gwr::bench::machine_summary().c_str());
  std::printf("| path | runs | median | p99 | overhead over own start (median) |\n|---|---|---|---|---|\n");
  std::printf("| gateway's own start (CLI start -> healthy) | %zu | %.1f ms | %.1f ms | - |\n", own_ms.size(), own,
              percentile(own_ms, 99));
  std::printf("| Tier 1 (restart) | %zu | %.1f ms | %.1f ms | %.1f ms |\n", tier1_ms.size(), percentile(tier1_ms, 50),
              percentile(tier1_ms, 99), percentile(tier1_ms, 50) - own);
  std::printf("| Tier 2 (failed restart, then stop/kill/sweep/start) | %zu | %.1f ms | %.1f ms | %.1f ms |\n",
              tier2_ms.size(), percentile(tier2_ms, 50), percentile(tier2_ms, 99), percentile(tier2_ms, 50) - own);
  return 0;
}
