// Detection figures for gwr-prober (issue 3):
//  * kill -9 of the gateway -> DOWN GatewayHealth on the bus (target p99 < 100 ms);
//  * a hang (health endpoint stops answering, TCP still accepted) -> DOWN with
//    the default probe settings (target: 10 s p99 from its onset);
//  * false alarms (any DOWN) through slow spells (no answer for 2.5 s, then
//    every request answered) and through a cold start with both cores busy;
//  * the prober's CPU per hour at default intervals.
//
//   build/bench/detection [kills=60] [hangs=20] [spells=20]
// Exits non-zero when a run failed (each kill, each hang and the CPU window
// is one run); a table row whose runs all failed reads n/a.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <atomic>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "tests/support/gateway_fakes.h"

using namespace std::chrono_literals;
using namespace gwr::testing;
using Clock = std::chrono::steady_clock;
using gwr::bench::ms_since;

int main(int argc, char** argv) {
  const int kills = argc > 1 ? std::atoi(argv[1]) : 60;
  const int hangs = argc > 2 ? std::atoi(argv[2]) : 20;
  const int spells = argc > 3 ? std::atoi(argv[3]) : 20;
  TempDir dir;
  const int port = free_tcp_port();
  // Default probe settings; automatic repairs paused so only detection runs.
  Daemon d("gateway:\n  port: " + std::to_string(port) + "\n  process_match: " + gateway_name_for(port) + "\n");
  gwr::bench::Runs runs("detection");
  if (auto started = d.start(); !started) {
    std::fprintf(stderr, "daemon did not start: %s\n", started.message());
    runs.setup_failed("the daemon did not start");
    return runs.finish();
  }
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
      runs.fail("kill -9: gateway never healthy");
      continue;
    }
    bus.clear();
    const auto t0 = Clock::now();
    gw.process().signal(SIGKILL);
    if (bus.wait_health([](const gwr::pb::GatewayHealth& h) { return h.state() == gwr::pb::DOWN; }, 10s)) {
      kill_ms.push_back(ms_since(t0));
      runs.ok();
    } else {
      runs.fail("kill -9: no DOWN within 10 s");
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
      std::fprintf(stderr, "hang %d: gateway %d never healthy\n", i, gw.pid());
      runs.fail("hang: gateway never healthy");
      continue;
    }
    // Start the hang at a spread of points of the 5 s health interval.
    std::this_thread::sleep_for(std::chrono::milliseconds(1000 + (i * 1733) % 5000));
    bus.clear();
    const auto t0 = Clock::now();
    gw.post_mode("hang");
    std::optional<Clock::time_point> first_failure;
    auto down = bus.wait_for(
        [&](const gwr::pb::Event& e) {
          if (!e.has_gateway_health()) return false;
          const auto& h = e.gateway_health();
          for (const auto& f : h.findings()) {
            if (!first_failure && f.kind() == gwr::pb::Finding::CONFIRMING && f.check() == gwr::pb::CHECK_HEALTH &&
                f.count() == 1) {
              first_failure = Clock::now();
            }
          }
          return h.state() == gwr::pb::DOWN;
        },
        60s);
    if (!down) {
      runs.fail("hang: no DOWN within 60 s");
    } else {
      onset_ms.push_back(ms_since(t0));
      if (first_failure) {
        confirm_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - *first_failure).count());
        runs.ok();
      } else {
        runs.fail("hang: DOWN without a first failed probe seen");
      }
    }
    gw.process().signal(SIGKILL);
    (void)gw.process().wait(2s);
  }

  // Slow spells: every probe that arrives in a 2.5 s window is answered at
  // its end (the fake's hang releases its requests when the mode changes).
  int spell_alarms = 0, spells_run = 0;
  {
    FakeGateway gw(dir.path(), port);
    if (!bus.wait_health([&](const gwr::pb::GatewayHealth& h) {
          return h.state() == gwr::pb::HEALTHY && static_cast<pid_t>(h.pid()) == gw.pid();
        }, 30s)) {
      runs.fail("slow spells: gateway never healthy");
    } else {
      bus.clear();
      for (int i = 0; i < spells; ++i) {
        gw.post_mode("hang");
        std::this_thread::sleep_for(2500ms);
        gw.post_mode("healthy");
        ++spells_run;
        std::this_thread::sleep_for(std::chrono::milliseconds(1500 + (i * 1361) % 5000));
      }
      (void)bus.wait_for([](const gwr::pb::Event&) { return false; }, 3s);  // drains what came meanwhile
      for (const auto& e : bus.events()) {
        if (e.has_gateway_health() && e.gateway_health().state() == gwr::pb::DOWN) ++spell_alarms;
      }
      if (spell_alarms == 0) {
        runs.ok();
      } else {
        runs.fail("slow spells: DOWN reported");
      }
    }
    gw.process().signal(SIGKILL);
    (void)gw.process().wait(2s);
  }

  // A cold start on a machine whose cores are all busy: the fake is
  // "starting" for 20 s (as the real gateway is, far longer under load).
  int cold_alarms = 0;
  double cold_healthy_s = 0;
  {
    std::atomic<bool> stop{false};
    std::vector<std::thread> burners;
    for (unsigned c = 0; c < std::max(2u, std::thread::hardware_concurrency()); ++c) {
      burners.emplace_back([&] {
        volatile uint64_t x = 0;
        while (!stop.load(std::memory_order_relaxed)) x = x + 1;
      });
    }
    (void)bus.wait_health([](const gwr::pb::GatewayHealth& h) { return h.state() == gwr::pb::DOWN; }, 5s);
    bus.clear();
    const auto t0 = Clock::now();
    FakeGateway gw(dir.path(), port, "starting startup_ms=20000");
    const bool healthy = bus.wait_health([&](const gwr::pb::GatewayHealth& h) {
                               return h.state() == gwr::pb::HEALTHY && static_cast<pid_t>(h.pid()) == gw.pid();
                             }, 60s)
                             .has_value();
    cold_healthy_s = std::chrono::duration<double>(Clock::now() - t0).count();
    stop = true;
    for (auto& t : burners) t.join();
    (void)bus.wait_for([](const gwr::pb::Event&) { return false; }, 500ms);
    // Counted from when gwr first saw the new process: before that, the
    // previous gateway's DOWN still stands (nothing was running).
    bool seen = false;
    for (const auto& e : bus.events()) {
      if (!e.has_gateway_health()) continue;
      seen |= static_cast<pid_t>(e.gateway_health().pid()) == gw.pid();
      if (seen && e.gateway_health().state() == gwr::pb::DOWN) ++cold_alarms;
    }
    if (healthy && cold_alarms == 0) {
      runs.ok();
    } else {
      runs.fail(healthy ? "loaded cold start: DOWN reported" : "loaded cold start: never healthy");
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
  // The prober must be the same process, alive, at both ends of the window.
  const bool cpu_ok = prober > 0 && d.worker_pids()["prober"] == prober && gwr::bench::rss_kib(prober) > 0;
  if (cpu_ok) {
    runs.ok();
  } else {
    runs.fail("prober CPU: no prober process for the whole window");
  }

  using gwr::bench::stat_ms;
  using gwr::bench::stat_s;
  std::printf("## Detection (gwr-prober, default probe settings)\n\nmachine: %s\n\n",
              gwr::bench::machine_summary().c_str());
  std::printf("| measure | runs | median | p99 | max |\n|---|---|---|---|---|\n");
  std::printf("| kill -9 -> DOWN on the bus | %zu | %s | %s | %s |\n", kill_ms.size(), stat_ms(kill_ms, 50).c_str(),
              stat_ms(kill_ms, 99).c_str(), stat_ms(kill_ms, 100).c_str());
  std::printf("| hang: first failed probe -> DOWN | %zu | %s | %s | %s |\n", confirm_ms.size(),
              stat_s(confirm_ms, 50).c_str(), stat_s(confirm_ms, 99).c_str(), stat_s(confirm_ms, 100).c_str());
  std::printf("| hang: onset -> DOWN (onsets spread over the 5 s interval) | %zu | %s | %s | %s |\n", onset_ms.size(),
              stat_s(onset_ms, 50).c_str(), stat_s(onset_ms, 99).c_str(), stat_s(onset_ms, 100).c_str());
  std::printf("\nfalse alarms (DOWN): %d in %d slow spells of 2.5 s; %d in a cold start with every core busy "
              "(healthy after %.1f s)\n",
              spell_alarms, spells_run, cold_alarms, cold_healthy_s);
  if (cpu_ok) {
    std::printf("\nprober CPU watching a healthy gateway: %.3f s over %.0f s = %.1f CPU-seconds per hour (%.4f%% of one core)\n",
                cpu_s, secs, cpu_s / secs * 3600.0, cpu_s / secs * 100.0);
  } else {
    std::printf("\nprober CPU watching a healthy gateway: n/a (no prober process for the whole window)\n");
  }
  return runs.finish();
}
