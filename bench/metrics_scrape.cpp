// /metrics scrape time (issue #17, part 3): the real daemon with
// http.listen, a fake gateway; N scrapes over loopback, each on a new
// connection as Prometheus's first scrape would be, timed from connect to
// the last byte. Also the page's size and gwr-web's RSS.
//
//   build/bench/metrics_scrape [scrapes=200]
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <httplib.h>

#include "bench/bench_util.h"
#include "tests/support/gateway_fakes.h"

using namespace std::chrono_literals;
using namespace gwr::testing;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  const int scrapes = argc > 1 ? std::max(1, std::atoi(argv[1])) : 200;
  gwr::bench::Runs runs("metrics_scrape", "scrapes");
  TempDir dir;
  const int port = free_tcp_port();
  const int web = free_tcp_port();
  FakeOpenclaw service(dir.path(), port);
  if (!service.start_healthy()) {
    runs.setup_failed("the fake gateway did not start");
    return runs.finish();
  }
  Daemon d("gateway:\n  port: " + std::to_string(port) + "\n  process_match: " + service.process_name() + "\n" +
           service.commands_yaml() + "http:\n  listen: 127.0.0.1:" + std::to_string(web) + "\n");
  if (auto started = d.start(); !started) {
    std::fprintf(stderr, "daemon did not start: %s\n", started.message());
    runs.setup_failed("the daemon did not start");
    return runs.finish();
  }
  // Until the page has every part (the components answered).
  std::string page;
  for (int i = 0; i < 100 && page.find("gwr_repairs_per_hour_limit") == std::string::npos; ++i) {
    httplib::Client c("127.0.0.1", web);
    if (auto r = c.Get("/metrics")) page = r->body;
    std::this_thread::sleep_for(100ms);
  }
  std::vector<double> ms;
  for (int i = 0; i < scrapes; ++i) {
    httplib::Client c("127.0.0.1", web);
    const auto t0 = Clock::now();
    auto r = c.Get("/metrics");
    const auto t1 = Clock::now();
    if (r && r->status == 200 && !r->body.empty()) {
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      runs.ok();
    } else {
      runs.fail("no page");
    }
  }
  pid_t web_pid = 0;
  for (const auto& [name, pid] : d.worker_pids()) {
    if (name == "web") web_pid = pid;
  }
  using gwr::bench::stat_ms;
  std::printf("## /metrics scrape (new connection each, loopback)\n\nmachine: %s\n\n", gwr::bench::machine_summary().c_str());
  std::printf("| scrapes | median | p90 | p99 | max | page | series | gwr-web RSS |\n|---|---|---|---|---|---|---|---|\n");
  size_t series = 0;
  for (size_t at = 0; at < page.size();) {
    const size_t nl = page.find('\n', at);
    if (page[at] != '#') ++series;
    at = nl == std::string::npos ? page.size() : nl + 1;
  }
  std::printf("| %zu | %s | %s | %s | %s | %zu bytes | %zu | %.1f MB |\n", ms.size(), stat_ms(ms, 50, 3).c_str(),
              stat_ms(ms, 90, 3).c_str(), stat_ms(ms, 99, 3).c_str(), stat_ms(ms, 100, 3).c_str(), page.size(), series,
              web_pid ? static_cast<double>(gwr::bench::rss_kib(web_pid)) / 1024.0 : 0.0);
  return runs.finish();
}
