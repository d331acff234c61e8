// Dead-man's switch ping jitter (issue #17, part 1): the real daemon pings a
// local server standing for healthchecks.io every heartbeat.interval while
// the gateway serves. The gaps between pings, against the interval.
//
//   build/bench/heartbeat_jitter [pings=30] [interval_s=1]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <httplib.h>

#include "bench/bench_util.h"
#include "tests/support/gateway_fakes.h"

using namespace std::chrono_literals;
using namespace gwr::testing;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  const int pings = argc > 1 ? std::max(3, std::atoi(argv[1])) : 30;
  const int interval_s = argc > 2 ? std::max(1, std::atoi(argv[2])) : 1;
  gwr::bench::Runs runs("heartbeat_jitter", "pings");
  std::mutex mu;
  std::vector<Clock::time_point> at;
  httplib::Server server;
  server.Get("/ping/check", [&](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(mu);
    at.push_back(Clock::now());
    res.set_content("OK", "text/plain");
  });
  const int rx = server.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { server.listen_after_bind(); });

  TempDir dir;
  const int port = free_tcp_port();
  FakeOpenclaw service(dir.path(), port);
  if (!service.start_healthy()) {
    runs.setup_failed("the fake gateway did not start");
  } else {
    Daemon d("gateway:\n  port: " + std::to_string(port) + "\n  process_match: " + service.process_name() + "\n" +
             service.commands_yaml() + "heartbeat:\n  url: http://127.0.0.1:" + std::to_string(rx) +
             "/ping/check\n  interval: " + std::to_string(interval_s) + "s\n");
    if (auto started = d.start(); !started) {
      runs.setup_failed("the daemon did not start");
    } else {
      const auto deadline = Clock::now() + std::chrono::seconds((pings + 5) * interval_s);
      while (Clock::now() < deadline) {
        {
          std::lock_guard lock(mu);
          if (static_cast<int>(at.size()) >= pings + 1) break;
        }
        std::this_thread::sleep_for(50ms);
      }
    }
  }
  server.stop();
  serving.join();
  std::vector<double> error_ms;
  for (size_t i = 1; i < at.size(); ++i) {
    const double gap = std::chrono::duration<double, std::milli>(at[i] - at[i - 1]).count();
    error_ms.push_back(std::fabs(gap - 1000.0 * interval_s));
    if (std::getenv("GWR_BENCH_VERBOSE") != nullptr) std::fprintf(stderr, "gap %zu: %.1f ms\n", i, gap);
    runs.ok();
  }
  if (static_cast<int>(error_ms.size()) < pings) runs.fail("fewer pings than asked for");
  using gwr::bench::stat_ms;
  std::printf("## Heartbeat ping jitter (|gap - interval|, interval %d s), loopback\n\nmachine: %s\n\n", interval_s,
              gwr::bench::machine_summary().c_str());
  std::printf("| gaps | median | p90 | p99 | max |\n|---|---|---|---|---|\n| %zu | %s | %s | %s | %s |\n", error_ms.size(),
              stat_ms(error_ms, 50, 1).c_str(), stat_ms(error_ms, 90, 1).c_str(), stat_ms(error_ms, 99, 1).c_str(),
              stat_ms(error_ms, 100, 1).c_str());
  return runs.finish();
}
