// Idle footprint of gwr's four processes on default settings: RSS and CPU
// over a window (issue 2 target: < 30 MB RSS together, < 1 % of one core).
// With a gateway to watch (--gateway), the prober probes a fake gateway at
// default intervals, which is what an idle gwr really does.
//
//   build/bench/footprint [seconds=60] [--gateway]
//   build/bench/footprint [seconds=60] --incident
//   build/bench/footprint [seconds=60] --rescue
// --rescue: two fake gateways watched by one gwr (config gateways: main and
// rescue), so the cost of a second gateway (its prober and repairer) shows.
// --incident: a fake OpenClaw service and the fake Bot API (Telegram on, over
// plain http on loopback), the idle window, then an incident: the gateway
// killed with Tier 1 failing (so Tier 2 repairs it) while the owner sends 30
// commands at once; prints each process's peak RSS (VmHWM) after it.
// Exits non-zero when the daemon did not start or a process was gone before
// the end of the window (its row then reads n/a).
#include <unistd.h>

#include <csignal>
#include <chrono>
#include <memory>
#include <cstdio>
#include <cstring>
#include <thread>

#include "bench/bench_util.h"
#include "tests/fakes/telegram/fake_telegram.h"
#include "tests/support/gateway_fakes.h"

using namespace std::chrono_literals;
using gwr::testing::Daemon;
using gwr::testing::Process;

int main(int argc, char** argv) {
  int seconds = 60;
  bool with_gateway = false;
  bool incident = false;
  bool rescue = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--gateway") == 0) {
      with_gateway = true;
    } else if (std::strcmp(argv[i], "--rescue") == 0) {
      rescue = true;
    } else if (std::strcmp(argv[i], "--incident") == 0) {
      incident = true;
    } else {
      seconds = std::atoi(argv[i]);
    }
  }
  const int port = gwr::testing::free_tcp_port();
  Process gateway;
  Process second;
  std::string yaml;
  if (rescue) {
    const int port2 = gwr::testing::free_tcp_port();
    gateway = Process::start({gwr::testing::fake_path("fake-gateway"), "--port", std::to_string(port), "--name",
                              gwr::testing::gateway_name_for(port)});
    second = Process::start({gwr::testing::fake_path("fake-gateway"), "--port", std::to_string(port2), "--name",
                             gwr::testing::gateway_name_for(port2)});
    yaml = "gateways:\n  - name: main\n    port: " + std::to_string(port) + "\n    process_match: " +
           gwr::testing::gateway_name_for(port) + "\n  - name: rescue\n    port: " + std::to_string(port2) +
           "\n    process_match: " + gwr::testing::gateway_name_for(port2) +
           "\n    state_dir: /nonexistent/openclaw-rescue\n    service: \"\"\n"
           "    commands: {restart: [openclaw, --profile, rescue, gateway, restart, --force],"
           " stop: [openclaw, --profile, rescue, gateway, stop, --force], start: [openclaw, --profile, rescue, gateway, start]}\n";
    with_gateway = true;
  } else if (with_gateway) {
    gateway = Process::start({gwr::testing::fake_path("fake-gateway"), "--port", std::to_string(port), "--name",
                              gwr::testing::gateway_name_for(port)});
    yaml = "gateway:\n  port: " + std::to_string(port) + "\n  process_match: " + gwr::testing::gateway_name_for(port) + "\n";
  }
  gwr::testing::TempDir home;
  std::unique_ptr<gwr::testing::FakeOpenclaw> service;
  constexpr const char* kToken = "123456789:AAH-bench-token-abcdefghijklmnopqrstuvw";
  gwr::testing::FakeTelegram tg(kToken);
  if (incident) {
    service = std::make_unique<gwr::testing::FakeOpenclaw>(home.path(), port);
    if (!service->start_healthy()) {
      std::fprintf(stderr, "the fake OpenClaw service did not start\n");
      return 1;
    }
    tg.start();
    yaml = "gateway:\n  port: " + std::to_string(port) + "\n  process_match: " + service->process_name() + "\n" +
           service->commands_yaml() + "telegram:\n  api_base_url: " + tg.base_url() + "\n  bot_token: \"" + kToken +
           "\"\n  chat_id: 4242\n  poll_timeout: 2s\n";
  }
  Daemon d(yaml);
  gwr::bench::Runs runs("footprint", "processes measured");
  if (auto started = d.start(); !started) {
    std::fprintf(stderr, "daemon did not start: %s\n", started.message());
    runs.setup_failed("the daemon did not start");
    return runs.finish();
  }
  std::this_thread::sleep_for(3s);  // settle
  auto pids = d.worker_pids();
  if (pids.empty()) {
    runs.setup_failed("no gwr process pids (gwrctl components)");
    return runs.finish();
  }
  std::map<std::string, uint64_t> ticks0;
  for (const auto& [name, pid] : pids) ticks0[name] = gwr::bench::cpu_ticks(pid);
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::printf("## Idle footprint over %d s%s\n\nmachine: %s\n\n", seconds,
              rescue         ? " (watching two fake gateways, main and rescue, at default intervals)"
              : with_gateway ? " (watching a fake gateway at default intervals)"
                             : "",
              gwr::bench::machine_summary().c_str());
  std::printf("| process | RSS MB | PSS MB | CPU %% of one core |\n|---|---|---|---|\n");
  // Every figure is read before anything else asks gwr a question (that
  // would cost it CPU inside the window).
  struct Figures {
    double rss = 0, pss = 0, cpu = 0;
  };
  std::map<std::string, Figures> figures;
  for (const auto& [name, pid] : pids) {
    figures[name] = {static_cast<double>(gwr::bench::rss_kib(pid)) / 1024.0,
                     static_cast<double>(gwr::bench::pss_kib(pid)) / 1024.0,
                     static_cast<double>(gwr::bench::cpu_ticks(pid) - ticks0[name]) / hz / wall * 100.0};
  }
  // A process gone or replaced during the window has no figures (its RSS is
  // 0, its CPU ticks another process's).
  const auto after = d.worker_pids();
  double rss_total = 0, pss_total = 0, cpu_total = 0;
  for (const auto& [name, pid] : pids) {
    const auto now = after.find(name);
    const Figures& f = figures[name];
    if (pid <= 0 || now == after.end() || now->second != pid || f.rss == 0) {
      runs.fail("gwr-" + name + " gone or restarted during the window");
      std::printf("| gwr-%s | n/a | n/a | n/a |\n", name.c_str());
      continue;
    }
    runs.ok();
    rss_total += f.rss;
    pss_total += f.pss;
    cpu_total += f.cpu;
    std::printf("| gwr-%s | %.1f | %.1f | %.3f |\n", name.c_str(), f.rss, f.pss, f.cpu);
  }
  if (runs.failed() == 0) {
    std::printf("| **total** | **%.1f** | **%.1f** | **%.3f** |\n", rss_total, pss_total, cpu_total);
  } else {
    std::printf("| **total** | n/a | n/a | n/a |\n");  // not the sum of all of them
  }
  if (incident) {
    // The gateway killed, Tier 1 failing: Tier 2 repairs it while 30 commands arrive at once.
    service->set_switch("fail-restart");
    const size_t replies_before = tg.sent_messages().size();
    const pid_t victim = service->gateway_pid();
    if (victim > 0) ::kill(victim, SIGKILL);
    for (int i = 0; i < 30; ++i) tg.push_message(4242, 4242, i % 2 ? "/status" : "/history");
    bool down_seen = false;
    const bool healthy_again = tg.wait_for(
        [&] {
          const auto out = d.gwrctl({"status"}, 5s).output;
          down_seen = down_seen || out.find("Gateway    HEALTHY") == std::string::npos;
          return down_seen && out.find("Gateway    HEALTHY") != std::string::npos;
        },
        90s);
    (void)tg.wait_for([&] { return tg.sent_messages().size() >= replies_before + 30; }, 30s);
    const auto now_pids = d.worker_pids();
    std::printf("\n## Peak RSS after an incident (Tier 2 repair and a burst of 30 Telegram commands)\n\n");
    std::printf("repaired: %s; bot messages sent during it: %zu\n\n", healthy_again ? "yes" : "NO",
                tg.sent_messages().size() - replies_before);
    std::printf("| process | peak RSS MB (VmHWM) | RSS MB after |\n|---|---|---|\n");
    double peak_total = 0;
    for (const auto& [name, pid] : now_pids) {
      const double peak = static_cast<double>(gwr::bench::peak_rss_kib(pid)) / 1024.0;
      peak_total += peak;
      std::printf("| gwr-%s | %.1f | %.1f |\n", name.c_str(), peak,
                  static_cast<double>(gwr::bench::rss_kib(pid)) / 1024.0);
    }
    std::printf("| **total** | **%.1f** | |\n", peak_total);
    if (!healthy_again) runs.fail("the incident was not repaired");
  }
  std::printf("\nRSS counts the shared libraries (libstdc++, protobuf, zmq, curl...) once per process; PSS divides "
              "them among the four, so the PSS total is the memory gwr really uses.\n");
  return runs.finish();
}
