// Worker restart latency: from kill -9 of a worker to the first heartbeat of
// its replacement on the bus, over many kills (issue 2 target: p99 < 300 ms).
//
//   build/bench/restart_latency [kills=60]
// Exits non-zero when a kill was not followed by a new worker's heartbeat.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <thread>

#include "bench/bench_util.h"
#include "common/bus.h"
#include "tests/support/test_support.h"

using namespace std::chrono_literals;
using gwr::testing::Daemon;

int main(int argc, char** argv) {
  const int kills = argc > 1 ? std::atoi(argv[1]) : 60;
  // Default restart timings (initial 100 ms), but a short stable period so
  // every kill measures the first-restart path rather than a crash-loop backoff.
  Daemon d("supervisor:\n  restart_stable_after: 600ms\n");
  gwr::bench::Runs runs("restart_latency", "kills");
  if (auto started = d.start(); !started) {
    std::fprintf(stderr, "daemon did not start: %s\n", started.message());
    runs.setup_failed("the daemon did not start");
    return runs.finish();
  }
  zmq::context_t ctx(1);
  gwr::BusSubscriber sub(ctx, d.runtime_dir(), {"heartbeat"});
  std::this_thread::sleep_for(300ms);
  const std::vector<std::string> workers = {"prober", "repairer", "telegram-bridge"};
  std::vector<double> latencies_ms;
  for (int i = 0; i < kills; ++i) {
    const std::string victim = workers[static_cast<size_t>(i) % workers.size()];
    const pid_t old_pid = d.worker_pids()[victim];
    if (old_pid <= 0) {  // kill(0) would hit our own process group
      runs.fail("no pid for " + victim);
      continue;
    }
    std::this_thread::sleep_for(250ms);  // > stable period / workers: each worker ran long enough
    while (sub.receive()) {
    }
    const auto t0 = std::chrono::steady_clock::now();
    ::kill(old_pid, SIGKILL);
    bool seen = false;
    while (!seen && std::chrono::steady_clock::now() - t0 < 5s) {
      zmq::pollitem_t item{sub.socket().handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, 50ms);
      while (auto ev = sub.receive()) {
        if (ev->heartbeat().component() == victim && static_cast<pid_t>(ev->heartbeat().pid()) != old_pid) {
          seen = true;
          latencies_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
          break;
        }
      }
    }
    if (seen) {
      runs.ok();
    } else {
      runs.fail("no heartbeat from a new " + victim + " within 5 s");
    }
  }
  std::printf("## Worker restart latency (kill -9 -> first heartbeat of the new worker)\n\n");
  std::printf("machine: %s\n\n", gwr::bench::machine_summary().c_str());
  std::printf("| kills | median ms | p90 ms | p99 ms | max ms |\n|---|---|---|---|---|\n");
  auto ms = [&](double p) { return gwr::bench::format_stat(gwr::bench::percentile_of(latencies_ms, p), 1); };
  std::printf("| %zu | %s | %s | %s | %s |\n", latencies_ms.size(), ms(50).c_str(), ms(90).c_str(), ms(99).c_str(),
              ms(100).c_str());
  return runs.finish();
}
