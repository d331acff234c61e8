// Notification latency per channel beside Telegram (issue #17, part 2): the
// real daemon against a fake gateway that is killed N times, with a local
// HTTP server standing for ntfy, a Discord webhook and a generic webhook.
// For each incident and channel: from the repair event's own time (at_ms,
// wall clock) to the notice's arrival at the receiver, for "repair started"
// and "repaired". Incidents are 3 s apart, within each channel's pace (a
// burst of three, then one a second); closer ones wait for it.
//
//   build/bench/notify_latency [incidents=10]
// Exits non-zero when a notice did not arrive (or the setup failed).
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>

#include <httplib.h>

#include "bench/bench_util.h"
#include "tests/support/gateway_fakes.h"

using namespace std::chrono_literals;
using namespace gwr::testing;
using json = nlohmann::json;

namespace {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Arrival {
  std::string event;
  int64_t repair_id = 0;
  int64_t event_at_ms = 0;
  int64_t arrived_ms = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const int incidents = argc > 1 ? std::max(1, std::atoi(argv[1])) : 10;
  gwr::bench::Runs runs("notify_latency", "incidents");

  std::mutex mu;
  std::map<std::string, std::vector<Arrival>> got;
  httplib::Server server;
  auto take = [&](const std::string& channel) {
    return [&, channel](const httplib::Request& req, httplib::Response& res) {
      const int64_t now = wall_ms();
      const auto body = json::parse(req.body, nullptr, false);
      std::lock_guard lock(mu);
      // ntfy and Discord carry text only: the webhook's copy names the event;
      // the others are matched by their order (started, repaired, ...).
      Arrival a;
      a.arrived_ms = now;
      if (channel == "webhook" && body.is_object()) {
        a.event = body.value("event", "");
        a.event_at_ms = body.value("at_ms", int64_t{0});
        if (body.contains("repair")) a.repair_id = body["repair"].value("id", int64_t{0});
      }
      got[channel].push_back(a);
      res.set_content("{}", "application/json");
    };
  };
  server.Post("/ntfy/", take("ntfy"));
  server.Post("/api/webhooks/1/t", take("discord"));
  server.Post("/hook", take("webhook"));
  const int rx = server.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { server.listen_after_bind(); });

  TempDir dir;
  const int port = free_tcp_port();
  FakeOpenclaw service(dir.path(), port);
  if (!service.start_healthy()) {
    runs.setup_failed("the fake gateway did not start");
    server.stop();
    serving.join();
    return runs.finish();
  }
  const std::string base = "http://127.0.0.1:" + std::to_string(rx);
  Daemon d("gateway:\n  port: " + std::to_string(port) + "\n  process_match: " + service.process_name() + "\n" +
           service.commands_yaml() +
           "probes:\n  process: {interval: 1s}\n  health: {interval: 1s, timeout: 1s}\n  republish_interval: 1s\n"
           "repair:\n  max_per_hour: 60\n  tier3: {enabled: false}\n"
           "notify:\n  ntfy: {url: " + base + "/ntfy/bench}\n  discord: {webhook_url: " + base +
           "/api/webhooks/1/t}\n  webhook: {url: " + base + "/hook}\n");
  if (auto started = d.start(); !started) {
    std::fprintf(stderr, "daemon did not start: %s\n", started.message());
    runs.setup_failed("the daemon did not start");
    server.stop();
    serving.join();
    return runs.finish();
  }
  BusWatcher bus(d.runtime_dir(), {"gateway_health", "repair_event"});
  bus.wait_health([](const gwr::pb::GatewayHealth& h) { return h.state() == gwr::pb::HEALTHY; }, 10s);

  // The repair events' own times, by repair id: started and finished.
  std::map<int64_t, std::pair<int64_t, int64_t>> event_at;
  for (int i = 0; i < incidents; ++i) {
    const size_t before = [&] {
      std::lock_guard lock(mu);
      return got["webhook"].size();
    }();
    ::kill(service.gateway_pid(), SIGKILL);
    auto fin = bus.wait_for(
        [&](const gwr::pb::Event& e) {
          return e.has_repair_event() && e.repair_event().kind() == gwr::pb::RepairEvent::FINISHED;
        },
        20s);
    if (!fin) {
      runs.fail("no repair within 20 s");
      continue;
    }
    const bool ok = [&] {
      for (int t = 0; t < 100; ++t) {
        {
          std::lock_guard lock(mu);
          if (got["webhook"].size() >= before + 2 && got["ntfy"].size() >= before + 2 &&
              got["discord"].size() >= before + 2) {
            return true;
          }
        }
        bus.pump(50ms);
      }
      return false;
    }();
    if (ok) {
      runs.ok();
    } else {
      runs.fail("not every channel got both notices within 5 s");
    }
    bus.wait_health([](const gwr::pb::GatewayHealth& h) { return h.state() == gwr::pb::HEALTHY; }, 10s);
    bus.pump(3s);  // an incident every few seconds: within each channel's burst
  }
  for (const auto& e : bus.events()) {
    if (!e.has_repair_event()) continue;
    const auto& r = e.repair_event();
    if (r.kind() == gwr::pb::RepairEvent::STARTED) event_at[r.repair_id()].first = r.at_ms();
    if (r.kind() == gwr::pb::RepairEvent::FINISHED) event_at[r.repair_id()].second = r.at_ms();
  }
  server.stop();
  serving.join();

  // The n-th notice of each channel is the n-th of the webhook (same queue order).
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> lat;
  const auto hook = got["webhook"];
  for (const auto& [channel, arrivals] : got) {
    for (size_t k = 0; k < arrivals.size() && k < hook.size(); ++k) {
      const auto it = event_at.find(hook[k].repair_id);
      if (it == event_at.end()) continue;
      const bool started = hook[k].event == "repair_started";
      const int64_t at = started ? it->second.first : it->second.second;
      if (at == 0) continue;
      (started ? lat[channel].first : lat[channel].second).push_back(static_cast<double>(arrivals[k].arrived_ms - at));
    }
  }
  auto cells = [](const std::vector<double>& v) {
    using gwr::bench::stat_ms;
    return stat_ms(v, 50, 1) + " | " + stat_ms(v, 90, 1) + " | " + stat_ms(v, 100, 1);
  };
  std::printf("## Notification latency per channel (repair event -> notice received by a local server)\n\n"
              "machine: %s\n\n| channel | notice | samples | median | p90 | max |\n|---|---|---|---|---|---|\n",
              gwr::bench::machine_summary().c_str());
  for (const auto& [channel, l] : lat) {
    std::printf("| %s | repair started | %zu | %s |\n", channel.c_str(), l.first.size(), cells(l.first).c_str());
    std::printf("| %s | repaired | %zu | %s |\n", channel.c_str(), l.second.size(), cells(l.second).c_str());
  }
  std::printf("\nload average at the end: %s", read_file("/proc/loadavg").c_str());
  return runs.finish();
}
