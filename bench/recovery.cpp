// Time to recover (issue 4): kill -9 of the gateway -> healthy again, with
// Tier 1 and with Tier 2, against the fake gateway and fake openclaw CLI,
// reported as the overhead over the fake gateway's own start time
// (target < 500 ms of overhead; PRD budgets 10 s / 30 s).
//
//   build/bench/recovery [runs=20]
// Exits non-zero when a run failed (the gateway not healthy in time); a table
// row whose runs all failed reads n/a.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "bench/bench_util.h"
#include "common/gateway_probe.h"
#include "common/platform/proc.h"
#include "common/http_client.h"
#include "tests/support/gateway_fakes.h"

using namespace std::chrono_literals;
using namespace gwr::testing;
using Clock = std::chrono::steady_clock;
using gwr::bench::ms_since;

namespace {

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

  gwr::bench::Runs outcomes("recovery");
  // The gateway's own start time: the service manager starting it until healthy.
  std::vector<double> own_ms;
  for (int i = 0; i < runs; ++i) {
    (void)service.run({"gateway", "stop", "--force"});
    const auto t0 = Clock::now();
    (void)service.run({"gateway", "start"});
    if (wait_healthy(port, 10s)) {
      own_ms.push_back(ms_since(t0));
      outcomes.ok();
    } else {
      outcomes.fail("own start: not healthy within 10 s");
    }
  }

  Daemon d("gateway:\n  port: " + std::to_string(port) + "\n  process_match: openclaw-gateway\n" +
           service.commands_yaml() + "repair:\n  max_per_hour: 60\n  tier3: {enabled: false}\n");
  if (auto started = d.start(); !started) {
    std::fprintf(stderr, "daemon did not start: %s\n", started.message());
    outcomes.setup_failed("the daemon did not start");
    return outcomes.finish();
  }
  BusWatcher bus(d.runtime_dir(), {"gateway_health", "repair_event"});
  auto settle = [&] {
    bus.clear();
    (void)bus.wait_health([](const gwr::pb::GatewayHealth& h) { return h.state() == gwr::pb::HEALTHY; }, 20s);
    std::this_thread::sleep_for(300ms);
  };
  auto measure = [&](std::vector<double>& out, const std::string& tier) {
    settle();
    const pid_t pid = service.gateway_pid();
    if (pid <= 0) {  // kill(0) would hit our own process group
      outcomes.fail(tier + ": no gateway pid to kill");
      return;
    }
    bus.clear();
    const auto t0 = Clock::now();
    ::kill(pid, SIGKILL);
    // Healthy again as the owner sees it: the gateway answers /health.
    while (gwr::process_alive(pid)) std::this_thread::sleep_for(1ms);
    if (wait_healthy(port, 40s)) {
      out.push_back(ms_since(t0));
      outcomes.ok();
    } else {
      outcomes.fail(tier + ": not healthy within 40 s");
    }
    (void)bus.wait_for([](const gwr::pb::Event& e) {
      return e.has_repair_event() && e.repair_event().kind() == gwr::pb::RepairEvent::FINISHED;
    }, 40s);
  };
  std::vector<double> tier1_ms;
  for (int i = 0; i < runs; ++i) measure(tier1_ms, "Tier 1");
  // Tier 2: the restart command fails at once, so tier 2 does the work
  // (stop, kill port owners, sweep locks, start, verify).
  service.set_switch("fail-restart");
  std::vector<double> tier2_ms;
  for (int i = 0; i < runs; ++i) measure(tier2_ms, "Tier 2");
  service.clear_switch("fail-restart");

  using gwr::bench::difference;
  using gwr::bench::format_stat;
  using gwr::bench::percentile_of;
  using gwr::bench::stat_ms;
  const auto own = percentile_of(own_ms, 50);
  auto overhead = [&](const std::vector<double>& v) {
    return format_stat(difference(percentile_of(v, 50), own), 1, " ms");
  };
  std::printf("## Recovery (kill -9 -> /health answers again), fake gateway + fake openclaw CLI\n\nmachine: %s\n\n",
              gwr::bench::machine_summary().c_str());
  std::printf("| path | runs | median | p99 | overhead over own start (median) |\n|---|---|---|---|---|\n");
  std::printf("| gateway's own start (CLI start -> healthy) | %zu | %s | %s | - |\n", own_ms.size(),
              stat_ms(own_ms, 50).c_str(), stat_ms(own_ms, 99).c_str());
  std::printf("| Tier 1 (restart) | %zu | %s | %s | %s |\n", tier1_ms.size(), stat_ms(tier1_ms, 50).c_str(),
              stat_ms(tier1_ms, 99).c_str(), overhead(tier1_ms).c_str());
  std::printf("| Tier 2 (failed restart, then stop/kill/sweep/start) | %zu | %s | %s | %s |\n", tier2_ms.size(),
              stat_ms(tier2_ms, 50).c_str(), stat_ms(tier2_ms, 99).c_str(), overhead(tier2_ms).c_str());
  return outcomes.finish();
}
