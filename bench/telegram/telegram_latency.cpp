// Telegram command latency (issue 5): an update delivered by the fake Bot API
// server (push_message at t0, answering the bot's waiting long poll) until the
// bot's reply to /status arrives at the fake. The reply needs three control
// calls (prober, repairer, supervisor), two SQLite commits and one sendMessage.
// Updates are spaced to stay under the per-chat rate limit (1 message/s), so
// the figures show the pipeline, not the flood control.
//
//   build/bench/telegram_latency [updates=50] [spacing_ms=1050]
// Exits non-zero when an update got no reply (or the setup failed); a row
// with no samples reads n/a.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "bench/bench_util.h"
#include "tests/fakes/telegram/fake_telegram.h"
#include "tests/support/gateway_fakes.h"

using namespace std::chrono_literals;
using namespace gwr::testing;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  const int updates = argc > 1 ? std::max(1, std::atoi(argv[1])) : 50;
  const auto spacing = std::chrono::milliseconds(argc > 2 ? std::atoi(argv[2]) : 1050);
  constexpr int64_t kChat = 4242;
  const std::string token = "123456789:AAH-bench-token-abcdefghijklmnopqrstuv";

  gwr::bench::Runs runs("telegram_latency", "updates");
  TempDir dir;
  const int port = free_tcp_port();
  FakeOpenclaw service(dir.path(), port);
  if (!service.start_healthy()) {
    runs.setup_failed("the fake gateway did not start");
    return runs.finish();
  }
  FakeTelegram tg(token);
  tg.start();
  Daemon d("gateway:\n  port: " + std::to_string(port) + "\n  process_match: " + service.process_name() + "\n" +
           service.commands_yaml() + "telegram:\n  api_base_url: " + tg.base_url() + "\n  bot_token: \"" + token +
           "\"\n  chat_id: " + std::to_string(kChat) + "\n  poll_timeout: 30s\n");
  if (auto started = d.start(); !started) {
    std::fprintf(stderr, "daemon did not start: %s\n", started.message());
    runs.setup_failed("the daemon did not start");
    return runs.finish();
  }
  if (!tg.wait_for([&] { return tg.active_long_polls() > 0; }, 10s)) {
    runs.setup_failed("the bot never polled");
    return runs.finish();
  }

  std::vector<double> latency_ms;
  for (int i = 0; i < updates; ++i) {
    // Push only while the bot is waiting in getUpdates, as a real update arrives.
    tg.wait_for([&] { return tg.active_long_polls() > 0; }, 5s);
    const auto t0 = Clock::now();
    const auto u = tg.push_message(kChat, kChat, "/status");
    const int64_t mid = u["message"]["message_id"];
    const bool got = tg.wait_for(
        [&] {
          for (const auto& m : tg.sent_messages()) {
            if (m.reply_to == mid) return true;
          }
          return false;
        },
        10s);
    const auto t1 = Clock::now();
    if (got) {
      latency_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      runs.ok();
    } else {
      runs.fail("no reply within 10 s");
    }
    std::this_thread::sleep_until(t0 + spacing);
  }

  // The bridge's own account of each /status: the time its handler took
  // (three control calls and rendering), from its JSON log.
  std::vector<double> handler_ms, commit_ms;
  for (const auto& l : read_json_lines(d.log_file("gwr-telegram-bridge"))) {
    if (l.value("event", "") == "telegram_command" && l.value("command", "") == "status") {
      handler_ms.push_back(l.value("handler_us", 0.0) / 1000.0);
      commit_ms.push_back(l.value("commit_us", 0.0) / 1000.0);
    }
  }

  // median | mean | p90 | p99 | max, as "1.23 ms" cells or n/a.
  auto cells = [](const std::vector<double>& v) {
    using gwr::bench::stat_ms;
    return stat_ms(v, 50, 2) + " | " + gwr::bench::format_stat(gwr::bench::mean_of(v), 2, " ms") + " | " +
           stat_ms(v, 90, 2) + " | " + stat_ms(v, 99, 2) + " | " + stat_ms(v, 100, 2);
  };
  std::printf("## Telegram /status latency (update delivered by the fake -> reply received by the fake), loopback\n\n"
              "machine: %s\n\n",
              gwr::bench::machine_summary().c_str());
  std::printf("| path | samples | median | mean | p90 | p99 | max | target p99 |\n|---|---|---|---|---|---|---|---|\n");
  std::printf("| update delivered -> reply received (%d sent) | %zu | %s | < 50 ms |\n", updates, latency_ms.size(),
              cells(latency_ms).c_str());
  auto row = [&](const char* what, const std::vector<double>& v) {
    std::printf("| %s | %zu | %s | |\n", what, v.size(), cells(v).c_str());
  };
  row("of which: the command (prober, repairer, supervisor asked at once)", handler_ms);
  row("of which: committing the reply with the offset (SQLite)", commit_ms);
  std::printf("\nload average at the end: %s", gwr::testing::read_file("/proc/loadavg").c_str());
  return runs.finish();
}
