// Detection figures for gwr-prober (issue 3):
//  * kill -9 of the gateway -> DOWN GatewayHealth on the bus (target p99 < 100 ms);
//  * a hang (health endpoint stops answering, TCP still accepted) -> DOWN with
//    the default probe settings (target < 10 s from the first failed probe);
//  * the prober's CPU per hour at default intervals.
//
//   build/bench/detection [kills=60] [hangs=5]
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "bench/bench_util.h"
#include "tests/support/gateway_fakes.h"

using namespace std::chrono_literals;
using namespace gwr::testing;
using Clock = std::chrono::steady_clock;

namespace {
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }
}  // namespace

int main(int argc, char** argv) {
  const int kills = argc > 1 ? std::atoi(argv[1]) : 60;
  const int hangs = argc > 2 ? std::atoi(argv[2]) : 5;
  TempDir dir;
  const int port = free_tcp_port();
  // Default probe settings; automatic repairs paused so only detection runs.
  Daemon d("gateway:\n  port: " + std::to_string(port) + "\n  process_match: " + gateway_name_for(port) + "\n");
  if (!d.start()) return 1;
  (void)d.gwrctl({"pause", "--reason", "detection benchmark"});
  BusWatcher bus(d.runtime_dir(), {"gateway_health"});

  std::vector<double> kill_ms;
  for (int i = 0; i < kills; ++i) {
    FakeGateway gw(dir.path(), port);
    const pid_t pid = gw.pid();
    bus.clear();
    if (!bus.wait_health([&](const gwr::pb::GatewayHealth& h) {
          return h.state() == gwr::pb::HEALTHY && static_cast<pid_t>(h.pid()) == pid;
        }, 30s)) {
      std::fprintf(stderr, "run %d: gateway %d never healthy\n", i, pid);
      continue;
    }
    bus.clear();
    const auto t0 = Clock::now();
    gw.process().signal(SIGKILL);
    if (bus.wait_health([](const gwr::pb::GatewayHealth& h) { return h.state() == gwr::pb::DOWN; }, 10s)) {
      kill_ms.push_back(ms_since(t0));
    }
    (void)gw.process().wait(2s);
  }

  std::vector<double> onset_ms, confirm_ms;
  for (int i = 0; i < hangs; ++i) {
    FakeGateway gw(dir.path(), port);
    bus.clear();
    if (!bus.wait_health([&](const gwr::pb::GatewayHealth& h) {
          return h.state() == gwr::pb::HEALTHY && static_cast<pid_t>(h.pid()) == gw.pid();
        }, 30s)) {
      continue;
    }
    // Start the hang at a random point of the 15 s health interval.
    std::this_thread::sleep_for(std::chrono::milliseconds(1000 + (i * 2900) % 14000));
    bus.clear();
    const auto t0 = Clock::now();
    gw.post_mode("hang");
    std::optional<Clock::time_point> first_failure;
    auto down = bus.wait_for(
        [&](const gwr::pb::Event& e) {
          if (!e.has_gateway_health()) return false;
          const auto& h = e.gateway_health();
          for (const auto& r : h.reasons()) {
            if (!first_failure && r.find("confirming: health check failed 1") != std::string::npos) {
              first_failure = Clock::now();
            }
          }
          return h.state() == gwr::pb::DOWN;
        },
        60s);
    if (down) {
      onset_ms.push_back(ms_since(t0));
      if (first_failure) {
        confirm_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - *first_failure).count());
      }
    }
    gw.process().signal(SIGKILL);
    (void)gw.process().wait(2s);
  }

  // CPU of the prober over a minute of watching a healthy gateway.
  FakeGateway gw(dir.path(), port);
  std::this_thread::sleep_for(3s);
  const pid_t prober = d.worker_pids()["prober"];
  const uint64_t t_before = gwr::bench::cpu_ticks(prober);
  const auto c0 = Clock::now();
  std::this_thread::sleep_for(60s);
  const double secs = std::chrono::duration<double>(Clock::now() - c0).count();
  const double cpu_s = static_cast<double>(gwr::bench::cpu_ticks(prober) - t_before) / static_cast<double>(::sysconf(_SC_CLK_TCK));

  using gwr::bench::percentile;
  std::printf("## Detection (gwr-prober, default probe settings)\n\nmachine: %s\n\n",
              gwr::bench::machine_summary().c_str());
  std::printf("| measure | runs | median | p99 | max |\n|---|---|---|---|---|\n");
  std::printf("| kill -9 -> DOWN on the bus | %zu | %.1f ms | %.1f ms | %.1f ms |\n", kill_ms.size(),
              percentile(kill_ms, 50), percentile(kill_ms, 99), percentile(kill_ms, 100));
  std::printf("| hang: first failed probe -> DOWN | %zu | %.2f s | %.2f s | %.2f s |\n", confirm_ms.size(),
              percentile(confirm_ms, 50) / 1000, percentile(confirm_ms, 99) / 1000, percentile(confirm_ms, 100) / 1000);
  std::printf("| hang: onset -> DOWN (random onset in the 15 s interval) | %zu | %.2f s | %.2f s | %.2f s |\n",
              onset_ms.size(), percentile(onset_ms, 50) / 1000, percentile(onset_ms, 99) / 1000,
              percentile(onset_ms, 100) / 1000);
  std::printf("\nprober CPU watching a healthy gateway: %.3f s over %.0f s = %.1f CPU-seconds per hour (%.4f%% of one core)\n",
              cpu_s, secs, cpu_s / secs * 3600.0, cpu_s / secs * 100.0);
  return 0;
}
