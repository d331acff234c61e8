// gwr beside monit (issue 8): the same fake gateway and fake openclaw
// service, watched first by gwr (default settings), then by monit set up the
// way its users do (a 30 s cycle) and with its shortest cycle (1 s), in one
// run. Measured for each: detection and recovery after kill -9 and after a
// hang, false alarms while answers are occasionally slow, and the watchdog's
// own memory and CPU.
//
//   build/bench/vs_monit [kills=10] [hangs=5] [--no-typical]
// Exits non-zero when a run failed (a fault not detected or not recovered
// in time, a footprint not measured) or a watchdog could not be set up; a
// cell whose runs all failed reads n/a, one not measured "-".
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <thread>

#include "bench/bench_util.h"
#include "common/gateway_probe.h"
#include "common/http_client.h"
#include "common/platform/proc.h"
#include "tests/support/gateway_fakes.h"

using namespace std::chrono_literals;
using namespace gwr::testing;
using Clock = std::chrono::steady_clock;

namespace {

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

int64_t epoch_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct Figures {
  bool ran = false;  // this watchdog was part of the run (monit 30 s is optional)
  std::vector<double> kill_detect, kill_recover, hang_detect, hang_recover;
  std::optional<int> false_alarms;           // none when the slow spells were not watched
  std::optional<double> rss_mb, pss_mb, cpu_percent;  // none when not measured
  std::map<std::string, std::pair<double, double>> per_process;  // name -> RSS MB, PSS MB
};

class Bench {
 public:
  Bench() : port_(free_tcp_port()), service_(dir_.path(), port_) {}

  gwr::bench::Runs& runs() { return runs_; }

  // One run ends in one outcome: the first of its two figures that is missing.
  void outcome(const std::string& what, bool detected, const char* detect_failure, bool recovered,
               const std::string& timeout) {
    if (!detected) {
      runs_.fail(what + ": " + detect_failure);
    } else if (!recovered) {
      runs_.fail(what + ": not healthy within " + timeout);
    } else {
      runs_.ok();
    }
  }

  bool healthy() {
    return gwr::probe_health(http_, "127.0.0.1", static_cast<uint16_t>(port_), "/health", "", 300ms).ok;
  }
  bool wait_healthy(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (healthy()) return true;
      std::this_thread::sleep_for(2ms);
    }
    return false;
  }
  void ensure_running() {
    if (!healthy()) {
      (void)service_.run({"gateway", "stop", "--force"});
      (void)service_.run({"gateway", "start"});
      wait_healthy(10s);
    }
  }
  bool post_mode(const std::string& mode) { return post_fake_mode(port_, mode); }

  // Occasionally slow answers: 2.5 s windows (over a 2 s timeout) every 10 s.
  void slow_windows(std::chrono::seconds total) {
    const auto end = Clock::now() + total;
    while (Clock::now() < end) {
      post_mode("slow delay_ms=2500");
      std::this_thread::sleep_for(2500ms);
      post_mode("healthy");
      std::this_thread::sleep_for(7500ms);
    }
  }

  Figures run_gwr(int kills, int hangs) {
    Figures f;
    f.ran = true;
    ensure_running();
    Daemon d("gateway:\n  port: " + std::to_string(port_) + "\n  process_match: " + service_.process_name() + "\n" +
             service_.commands_yaml() + "repair:\n  max_per_hour: 60\n  tier3: {enabled: false}\n");
    if (auto started = d.start(); !started) {
      std::fprintf(stderr, "vs_monit: gwr did not start: %s\n", started.message());
      runs_.setup_failed("gwr did not start");
      return f;
    }
    BusWatcher bus(d.runtime_dir(), {"gateway_health", "repair_event"});
    // Between faults: a HEALTHY published after the last fault (one from
    // before it would also match), and no repair still finishing, so that a
    // repair seen later belongs to what comes next.
    auto settle = [&] {
      bus.clear();
      bus.wait_health([](const gwr::pb::GatewayHealth& h) { return h.state() == gwr::pb::HEALTHY; }, 30s);
      const auto until = Clock::now() + 60s;
      while (Clock::now() < until) {
        if (d.repair_in_progress() == false) break;
        std::this_thread::sleep_for(200ms);
      }
      std::this_thread::sleep_for(1s);
      bus.clear();
    };
    settle();
    for (int i = 0; i < kills; ++i) {
      settle();
      const pid_t pid = service_.gateway_pid();
      if (pid <= 0) {  // kill(0) would hit our own process group
        runs_.fail("gwr kill -9: no gateway pid to kill");
        continue;
      }
      const auto t0 = Clock::now();
      ::kill(pid, SIGKILL);
      const bool detected =
          bus.wait_health([](const gwr::pb::GatewayHealth& h) { return h.state() == gwr::pb::DOWN; }, 60s).has_value();
      if (detected) f.kill_detect.push_back(ms_between(t0, Clock::now()));
      const bool recovered = wait_healthy(60s);
      if (recovered) f.kill_recover.push_back(ms_between(t0, Clock::now()));
      outcome("gwr kill -9", detected, "no DOWN within 60 s", recovered, "60 s");
    }
    for (int i = 0; i < hangs; ++i) {
      settle();
      // A random point in the health interval, as in life.
      std::this_thread::sleep_for(std::chrono::milliseconds(500 + (i * 3700) % 14000));
      const auto t0 = Clock::now();
      post_mode("hang");
      const bool detected =
          bus.wait_health([](const gwr::pb::GatewayHealth& h) { return h.state() == gwr::pb::DOWN; }, 90s).has_value();
      if (detected) f.hang_detect.push_back(ms_between(t0, Clock::now()));
      const bool recovered = wait_healthy(90s);
      if (recovered) f.hang_recover.push_back(ms_between(t0, Clock::now()));
      outcome("gwr hang", detected, "no DOWN within 90 s", recovered, "90 s");
    }
    settle();
    bus.clear();
    slow_windows(60s);
    bus.pump(2s);
    f.false_alarms = 0;
    for (const auto& e : bus.events()) {
      if (e.has_repair_event() && e.repair_event().kind() == gwr::pb::RepairEvent::STARTED) {
        ++*f.false_alarms;
        std::fprintf(stderr, "vs_monit: gwr repaired during the slow spells: %s\n", e.repair_event().details().c_str());
      }
    }
    // Footprint while idle, watching a healthy gateway.
    settle();
    const auto pids = d.worker_pids();
    std::map<std::string, uint64_t> t_before;
    for (const auto& [name, pid] : pids) t_before[name] = gwr::bench::cpu_ticks(pid);
    const auto c0 = Clock::now();
    std::this_thread::sleep_for(60s);
    const double secs = std::chrono::duration<double>(Clock::now() - c0).count();
    double rss_mb = 0, pss_mb = 0, cpu_percent = 0;
    bool all_there = !pids.empty();
    for (const auto& [name, pid] : pids) {
      const uint64_t rss = gwr::bench::rss_kib(pid);
      const uint64_t pss = gwr::bench::pss_kib(pid);
      all_there &= pid > 0 && rss > 0;
      rss_mb += static_cast<double>(rss) / 1024.0;
      pss_mb += static_cast<double>(pss) / 1024.0;
      f.per_process[name] = {static_cast<double>(rss) / 1024.0, static_cast<double>(pss) / 1024.0};
      cpu_percent += static_cast<double>(gwr::bench::cpu_ticks(pid) - t_before[name]) /
                     static_cast<double>(::sysconf(_SC_CLK_TCK)) / secs * 100.0;
    }
    // Every process still there, and the same ones (CPU ticks of a
    // replacement would not be the idle figure).
    if (all_there && d.worker_pids() == pids) {
      f.rss_mb = rss_mb;
      f.pss_mb = pss_mb;
      f.cpu_percent = cpu_percent;
      runs_.ok();
    } else {
      runs_.fail("gwr footprint: a gwr process gone or restarted during the window");
    }
    return f;
  }

  Figures run_monit(int cycle_s, int kills, int hangs, bool footprint) {
    Figures f;
    f.ran = true;
    const std::string who = "monit " + std::to_string(cycle_s) + " s";
    ensure_running();
    const std::string mdir = dir_ / ("monit-" + std::to_string(cycle_s));
    std::filesystem::create_directories(mdir);
    // Start/stop wrappers record when monit acted (its log has 1 s resolution).
    const std::string actions = mdir + "/actions.log";
    write_file(mdir + "/start.sh", "#!/bin/sh\necho start $(date +%s%N) >> " + actions + "\nexec " +
                                       join(service_.argv({"gateway", "start"})) + " >/dev/null 2>&1\n");
    write_file(mdir + "/stop.sh", "#!/bin/sh\necho stop $(date +%s%N) >> " + actions + "\nexec " +
                                      join(service_.argv({"gateway", "stop", "--force"})) + " >/dev/null 2>&1\n");
    ::chmod((mdir + "/start.sh").c_str(), 0755);
    ::chmod((mdir + "/stop.sh").c_str(), 0755);
    const std::string rc = mdir + "/monitrc";
    write_file(rc, "set daemon " + std::to_string(cycle_s) + "\nset log " + mdir + "/monit.log\nset pidfile " + mdir +
                       "/monit.pid\nset idfile " + mdir + "/monit.id\nset statefile " + mdir + "/monit.state\n" +
                       "check process gateway with pidfile " + service_.home() + "/gateway.pid\n" +
                       "  start program = \"" + mdir + "/start.sh\" with timeout 30 seconds\n" +
                       "  stop program = \"" + mdir + "/stop.sh\" with timeout 30 seconds\n" +
                       "  if failed host 127.0.0.1 port " + std::to_string(port_) +
                       " protocol http request \"/health\" with timeout 2 seconds for 3 cycles then restart\n");
    ::chmod(rc.c_str(), 0600);
    Process monit = Process::start({"monit", "-I", "-c", rc}, {}, mdir + "/monit.out");
    std::this_thread::sleep_for(std::chrono::seconds(std::max(2, cycle_s + 1)));
    if (!monit.running()) {
      std::fprintf(stderr, "vs_monit: %s exited at start, see %s/monit.out\n", who.c_str(), mdir.c_str());
      runs_.setup_failed(who + " did not start");
      return f;
    }
    auto actions_since = [&](int64_t since_ns, const std::string& kind) -> std::optional<int64_t> {
      std::ifstream in(actions);
      std::string k;
      int64_t ns;
      while (in >> k >> ns) {
        if (k == kind && ns >= since_ns) return ns;
      }
      return std::nullopt;
    };
    auto settle = [&] {
      wait_healthy(90s);
      std::this_thread::sleep_for(std::chrono::seconds(std::max(2, cycle_s)));
    };
    for (int i = 0; i < kills; ++i) {
      settle();
      const pid_t pid = service_.gateway_pid();
      if (pid <= 0) {  // kill(0) would hit our own process group
        runs_.fail(who + " kill -9: no gateway pid to kill");
        continue;
      }
      const auto t0 = Clock::now();
      const int64_t t0_ns = epoch_ns();
      ::kill(pid, SIGKILL);
      wait_until([&] { return actions_since(t0_ns, "start").has_value(); }, std::chrono::seconds(cycle_s * 4 + 30), "monit start");
      const auto at = actions_since(t0_ns, "start");
      if (at) f.kill_detect.push_back(static_cast<double>(*at - t0_ns) / 1e6);
      const bool recovered = wait_healthy(std::chrono::seconds(cycle_s * 4 + 30));
      if (recovered) f.kill_recover.push_back(ms_between(t0, Clock::now()));
      outcome(who + " kill -9", at.has_value(), "no start action", recovered,
              std::to_string(cycle_s * 4 + 30) + " s");
    }
    for (int i = 0; i < hangs; ++i) {
      settle();
      std::this_thread::sleep_for(std::chrono::milliseconds(300 + (i * 700) % std::max(1, cycle_s * 1000)));
      const auto t0 = Clock::now();
      const int64_t t0_ns = epoch_ns();
      post_mode("hang");
      wait_until([&] { return actions_since(t0_ns, "stop").has_value(); }, std::chrono::seconds(cycle_s * 6 + 60), "monit stop");
      const auto at = actions_since(t0_ns, "stop");
      if (at) f.hang_detect.push_back(static_cast<double>(*at - t0_ns) / 1e6);
      const bool recovered = wait_healthy(std::chrono::seconds(cycle_s * 6 + 60));
      if (recovered) f.hang_recover.push_back(ms_between(t0, Clock::now()));
      outcome(who + " hang", at.has_value(), "no stop action", recovered, std::to_string(cycle_s * 6 + 60) + " s");
    }
    settle();
    const int64_t slow_from = epoch_ns();
    slow_windows(60s);
    std::this_thread::sleep_for(3s);
    {
      std::ifstream in(actions);
      std::string k;
      int64_t ns;
      f.false_alarms = 0;
      while (in >> k >> ns) *f.false_alarms += k == "stop" && ns >= slow_from;
    }
    if (footprint) {
      settle();
      const pid_t pid = monit.pid();
      const uint64_t t_before = gwr::bench::cpu_ticks(pid);
      const auto c0 = Clock::now();
      std::this_thread::sleep_for(60s);
      const double secs = std::chrono::duration<double>(Clock::now() - c0).count();
      const uint64_t rss = gwr::bench::rss_kib(pid);
      if (rss > 0 && monit.running()) {
        f.rss_mb = static_cast<double>(rss) / 1024.0;
        f.pss_mb = static_cast<double>(gwr::bench::pss_kib(pid)) / 1024.0;
        f.cpu_percent = static_cast<double>(gwr::bench::cpu_ticks(pid) - t_before) /
                        static_cast<double>(::sysconf(_SC_CLK_TCK)) / secs * 100.0;
        runs_.ok();
      } else {
        runs_.fail(who + " footprint: monit gone during the window");
      }
    }
    monit.signal(SIGTERM);
    monit.wait(5s);
    return f;
  }

 private:
  static std::string join(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) out += (out.empty() ? "'" : " '") + a + "'";
    return out;
  }

  TempDir dir_;
  int port_;
  FakeOpenclaw service_;
  gwr::CurlHttpClient http_;
  gwr::bench::Runs runs_{"vs_monit"};
};

// "median / p99 unit"; "-" for a watchdog not in the run, n/a when its runs
// all failed.
std::string cell(const Figures& f, const std::vector<double>& v, bool seconds) {
  if (!f.ran) return "-";
  if (v.empty()) return "n/a";
  char buf[96];
  const double div = seconds ? 1000.0 : 1.0;
  std::snprintf(buf, sizeof buf, "%.*f / %.*f %s", seconds ? 2 : 0, gwr::bench::percentile(v, 50) / div,
                seconds ? 2 : 0, gwr::bench::percentile(v, 99) / div, seconds ? "s" : "ms");
  return buf;
}

// Of the medians, "%.3f"; n/a when either is missing.
std::string ratio(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.empty() || b.empty()) return "n/a";
  return gwr::bench::format_stat(gwr::bench::percentile(a, 50) / gwr::bench::percentile(b, 50), 3);
}

std::string false_alarm_cell(const Figures& f) {
  if (!f.ran) return "-";
  return f.false_alarms ? std::to_string(*f.false_alarms) : "n/a";
}

// A footprint figure ("%.1f MB", "%.3f"); "-" when not measured by design.
std::string footprint_cell(const Figures& f, const std::optional<double>& x, int decimals, const char* unit) {
  if (!f.ran) return "-";
  return gwr::bench::format_stat(x, decimals, unit);
}

std::string footprint_ratio(const std::optional<double>& a, const std::optional<double>& b) {
  if (!a || !b || *b <= 0) return "n/a";
  return gwr::bench::format_stat(*a / *b, 2);
}

}  // namespace

int main(int argc, char** argv) {
  int kills = 10, hangs = 5;
  bool typical = true;
  int pos = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-typical") == 0) {
      typical = false;
    } else if (pos++ == 0) {
      kills = std::atoi(argv[i]);
    } else {
      hangs = std::atoi(argv[i]);
    }
  }
  Bench bench;
  std::fprintf(stderr, "vs_monit: gwr phase...\n");
  const Figures g = bench.run_gwr(kills, hangs);
  std::fprintf(stderr, "vs_monit: monit (1 s cycle) phase...\n");
  const Figures m1 = bench.run_monit(1, kills, hangs, true);
  Figures m30;
  if (typical) {
    std::fprintf(stderr, "vs_monit: monit (30 s cycle) phase...\n");
    m30 = bench.run_monit(30, std::max(3, kills / 2), std::max(2, hangs / 2), false);
  }
  std::printf("## gwr beside monit (same fake gateway, same run)\n\nmachine: %s\n\n", gwr::bench::machine_summary().c_str());
  std::printf("gwr: default settings (health every 15 s, 2 s timeout, 3 failures; pidfd for exits). monit 5.33: "
              "`check process` on the service pidfile + `if failed port ... protocol http request \"/health\" with "
              "timeout 2 seconds for 3 cycles then restart`, with `set daemon 1` (shortest) and `set daemon 30` "
              "(typical). Cells are median / p99.\n\n");
  std::printf("| measure | gwr | monit 1 s | monit 30 s | gwr / monit 1 s |\n|---|---|---|---|---|\n");
  std::printf("| kill -9: detected | %s | %s | %s | %s |\n", cell(g, g.kill_detect, false).c_str(),
              cell(m1, m1.kill_detect, false).c_str(), cell(m30, m30.kill_detect, false).c_str(),
              ratio(g.kill_detect, m1.kill_detect).c_str());
  std::printf("| kill -9: healthy again | %s | %s | %s | %s |\n", cell(g, g.kill_recover, false).c_str(),
              cell(m1, m1.kill_recover, false).c_str(), cell(m30, m30.kill_recover, false).c_str(),
              ratio(g.kill_recover, m1.kill_recover).c_str());
  std::printf("| hang: detected | %s | %s | %s | %s |\n", cell(g, g.hang_detect, true).c_str(),
              cell(m1, m1.hang_detect, true).c_str(), cell(m30, m30.hang_detect, true).c_str(),
              ratio(g.hang_detect, m1.hang_detect).c_str());
  std::printf("| hang: healthy again | %s | %s | %s | %s |\n", cell(g, g.hang_recover, true).c_str(),
              cell(m1, m1.hang_recover, true).c_str(), cell(m30, m30.hang_recover, true).c_str(),
              ratio(g.hang_recover, m1.hang_recover).c_str());
  std::printf("| false alarms in 60 s of 2.5 s slow spells | %s | %s | %s | - |\n", false_alarm_cell(g).c_str(),
              false_alarm_cell(m1).c_str(), false_alarm_cell(m30).c_str());
  std::printf("| watchdog RSS (all processes) | %s | %s | - | %s |\n", footprint_cell(g, g.rss_mb, 1, " MB").c_str(),
              footprint_cell(m1, m1.rss_mb, 1, " MB").c_str(), footprint_ratio(g.rss_mb, m1.rss_mb).c_str());
  std::printf("| watchdog PSS (all processes) | %s | %s | - | %s |\n", footprint_cell(g, g.pss_mb, 1, " MB").c_str(),
              footprint_cell(m1, m1.pss_mb, 1, " MB").c_str(), footprint_ratio(g.pss_mb, m1.pss_mb).c_str());
  std::printf("| watchdog CPU, idle, %% of one core | %s | %s | - | %s |\n",
              footprint_cell(g, g.cpu_percent, 3, "").c_str(), footprint_cell(m1, m1.cpu_percent, 3, "").c_str(),
              footprint_ratio(g.cpu_percent, m1.cpu_percent).c_str());
  if (!g.per_process.empty()) {
    std::printf("\n| gwr process, idle | RSS MB | PSS MB |\n|---|---|---|\n");
    for (const auto& [name, mem] : g.per_process) std::printf("| %s | %.1f | %.1f |\n", name.c_str(), mem.first, mem.second);
    if (m1.rss_mb) std::printf("| (monit, one process) | %.1f | %.1f |\n", *m1.rss_mb, m1.pss_mb.value_or(0));
  }
  std::printf("\nkills %d, hangs %d per watchdog (monit 30 s: %d and %d).\n", kills, hangs, std::max(3, kills / 2),
              std::max(2, hangs / 2));
  return bench.runs().finish();
}
