// Each cause the gateway itself reports (issue 14), against the fake gateway
// and the fake openclaw CLI with default probe settings: how long from the
// cause's onset until gwr names it (the finding on the bus), and what gwr did
// about it in the time that followed (the repair it started, or none).
//
//   build/bench/causes [rounds=3]
// lag_grace is 10 s and channel_grace 1 min here (defaults 1 min and 15 min),
// so the run takes minutes, not hours; both are printed. Exits non-zero when
// a run failed: the finding never came, or the action was not the expected one.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <thread>

#include "bench/bench_util.h"
#include "tests/support/gateway_fakes.h"

using namespace std::chrono_literals;
using namespace gwr::testing;
using Clock = std::chrono::steady_clock;
using gwr::bench::ms_since;
using gwr::pb::Finding;

namespace {

struct Cause {
  const char* name;
  std::function<void(FakeOpenclaw&, int port)> begin;  // the onset
  Finding::Kind kind;                                  // what gwr must name
  uint32_t expected_tier;                              // the repair it must start (0: none)
  std::chrono::seconds watch;                          // how long to watch for an action after the finding
  int rounds = 0;                                      // 0: as many as asked
};

bool has(const gwr::pb::GatewayHealth& h, Finding::Kind kind) {
  for (const auto& f : h.findings()) {
    // A kill is seen as the exit (the exit watch) or, if a scan came first, as no gateway.
    if (f.kind() == kind || (kind == Finding::EXITED && f.kind() == Finding::NOT_RUNNING)) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 3;
  TempDir dir;
  const int port = free_tcp_port();
  FakeOpenclaw service(dir.path(), port, "NAME=openclaw-gatewa\n");
  gwr::bench::Runs runs("causes");
  Daemon d("gateway:\n  port: " + std::to_string(port) + "\n  process_match: openclaw-gateway\n" +
           service.commands_yaml() +
           "probes:\n  readiness: {lag_grace: 10s, channel_grace: 1m}\n"
           "repair:\n  max_per_hour: 60\n  cooldown: 1m\n  tier3: {enabled: false}\n");
  if (!service.start_healthy()) {
    runs.setup_failed("the fake gateway did not start");
    return runs.finish();
  }
  if (auto started = d.start(); !started) {
    std::fprintf(stderr, "daemon did not start: %s\n", started.message());
    runs.setup_failed("the daemon did not start");
    return runs.finish();
  }
  BusWatcher bus(d.runtime_dir(), {"gateway_health", "repair_event"});
  auto mode = [](const char* m) { return [m](FakeOpenclaw&, int p) { (void)post_fake_mode(p, m); }; };
  const std::vector<Cause> causes = {
      {"kill -9", [](FakeOpenclaw& s, int) { ::kill(s.gateway_pid(), SIGKILL); }, Finding::EXITED, 1, 15s},
      {"hang (no answer)", mode("hang"), Finding::CHECK_FAILING, 2, 30s},
      // Once: a channel's failing episode outlives gateway restarts, and
      // after its one restart it is only named (the next row shows that).
      {"channel failing past channel_grace", mode("channel_failing"), Finding::CHANNEL_FAILING, 1, 80s, 1},
      {"channel failing (again, after that restart)", mode("channel_failing"), Finding::CHANNEL_FAILING, 0, 20s},
      {"crash-loop breaker holds channels off", mode("breaker"), Finding::CHANNEL_SUPPRESSED, 0, 20s},
      {"agent database refused", mode("database_refused"), Finding::DATABASE_REFUSED, 2, 40s},
      {"plugin reload failed", mode("plugin_reload_failed"), Finding::PLUGIN_RELOAD_FAILED, 0, 20s},
      {"event loop lagging (lag_grace 10 s)", mode("lagging"), Finding::EVENT_LOOP_LAGGING, 0, 20s},
  };
  std::printf("## Causes (fake gateway, default probe settings; lag_grace 10 s, channel_grace 1 min)\n\nmachine: %s\n\n",
              gwr::bench::machine_summary().c_str());
  std::printf("| cause | runs | onset -> named (median / max) | action gwr took |\n|---|---|---|---|\n");
  for (const auto& c : causes) {
    std::vector<double> named_ms;
    std::string action = "none";
    int good = 0;
    const int n = c.rounds > 0 ? c.rounds : rounds;
    for (int r = 0; r < n; ++r) {
      // Back to healthy, with the hour's budget and any cooldown out of the way.
      (void)d.gwrctl({"resume"});
      (void)post_fake_mode(port, "healthy");
      bus.pump(1500ms);
      bus.clear();
      if (!bus.wait_health([](const gwr::pb::GatewayHealth& h) { return h.state() == gwr::pb::HEALTHY; }, 60s)) {
        runs.fail(std::string(c.name) + ": not healthy before the onset");
        continue;
      }
      // What was published before the onset (still queued on the socket) says nothing about it.
      bus.pump(1s + std::chrono::milliseconds((r * 1733) % 5000));
      bus.clear();
      const auto t0 = Clock::now();
      c.begin(service, port);
      auto named = bus.wait_health([&](const gwr::pb::GatewayHealth& h) { return has(h, c.kind); }, 90s);
      if (!named) {
        runs.fail(std::string(c.name) + ": never named");
        continue;
      }
      named_ms.push_back(ms_since(t0));
      // What gwr does next: the first repair it starts, within the watch.
      uint32_t tier = 0;
      if (auto started = bus.wait_for([](const gwr::pb::Event& e) {
            return e.has_repair_event() && e.repair_event().kind() == gwr::pb::RepairEvent::STARTED;
          }, c.watch)) {
        tier = started->repair_event().tier();
      }
      if (tier == c.expected_tier) {
        ++good;
        runs.ok();
      } else {
        runs.fail(std::string(c.name) + ": started tier " + std::to_string(tier) + ", expected " +
                  std::to_string(c.expected_tier));
      }
      action = c.expected_tier == 0 ? (tier == 0 ? "no repair (a warning)" : "REPAIRED (wrong)")
                                    : "Tier " + std::to_string(tier) + " repair";
      if (tier != 0) {
        (void)bus.wait_for([](const gwr::pb::Event& e) {
          return e.has_repair_event() && e.repair_event().kind() == gwr::pb::RepairEvent::FINISHED;
        }, 90s);
      }
    }
    std::printf("| %s | %d/%d | %s / %s | %s |\n", c.name, good, n, gwr::bench::stat_s(named_ms, 50).c_str(),
                gwr::bench::stat_s(named_ms, 100).c_str(), action.c_str());
    std::fflush(stdout);
  }
  return runs.finish();
}
