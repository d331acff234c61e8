// Idle footprint of gwr's four processes on default settings: RSS and CPU
// over a window (issue 2 target: < 30 MB RSS together, < 1 % of one core).
// With a gateway to watch (--gateway), the prober probes a fake gateway at
// default intervals, which is what an idle gwr really does.
//
//   build/bench/footprint [seconds=60] [--gateway]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "bench/bench_util.h"
#include "tests/support/gateway_fakes.h"

using namespace std::chrono_literals;
using gwr::testing::Daemon;
using gwr::testing::Process;

int main(int argc, char** argv) {
  int seconds = 60;
  bool with_gateway = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--gateway") == 0) {
      with_gateway = true;
    } else {
      seconds = std::atoi(argv[i]);
    }
  }
  const int port = gwr::testing::free_tcp_port();
  Process gateway;
  std::string yaml;
  if (with_gateway) {
    gateway = Process::start({gwr::testing::fake_path("fake-gateway"), "--port", std::to_string(port), "--name",
                              gwr::testing::gateway_name_for(port)});
    yaml = "gateway:\n  port: " + std::to_string(port) + "\n  process_match: " + gwr::testing::gateway_name_for(port) + "\n";
  }
  Daemon d(yaml);
  if (!d.start()) {
    std::fprintf(stderr, "daemon did not start\n");
    return 1;
  }
  std::this_thread::sleep_for(3s);  // settle
  auto pids = d.worker_pids();
  std::map<std::string, uint64_t> ticks0;
  for (const auto& [name, pid] : pids) ticks0[name] = gwr::bench::cpu_ticks(pid);
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::printf("## Idle footprint over %d s%s\n\nmachine: %s\n\n", seconds,
              with_gateway ? " (watching a fake gateway at default intervals)" : "",
              gwr::bench::machine_summary().c_str());
  std::printf("| process | RSS MB | PSS MB | CPU %% of one core |\n|---|---|---|---|\n");
  double rss_total = 0, pss_total = 0, cpu_total = 0;
  for (const auto& [name, pid] : pids) {
    const double rss = static_cast<double>(gwr::bench::rss_kib(pid)) / 1024.0;
    const double pss = static_cast<double>(gwr::bench::pss_kib(pid)) / 1024.0;
    const double cpu = static_cast<double>(gwr::bench::cpu_ticks(pid) - ticks0[name]) / hz / wall * 100.0;
    rss_total += rss;
    pss_total += pss;
    cpu_total += cpu;
    std::printf("| gwr-%s | %.1f | %.1f | %.3f |\n", name.c_str(), rss, pss, cpu);
  }
  std::printf("| **total** | **%.1f** | **%.1f** | **%.3f** |\n", rss_total, pss_total, cpu_total);
  std::printf("\nRSS counts the shared libraries (libstdc++, protobuf, zmq, curl...) once per process; PSS divides "
              "them among the four, so the PSS total is the memory gwr really uses.\n");
  return 0;
}
