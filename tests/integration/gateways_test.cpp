// Several gateways on one host, one gwr (config `gateways:`): the real
// daemon watching two fake OpenClaw services ("main" and a "rescue" bot on
// its own port and state dir) with the fake Bot API. Each gateway has its own
// prober and repairer: killing one repairs only it, every message about it
// names it, and each has its own hourly limit, history, log and gwr.db.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include <httplib.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/fakes/telegram/fake_telegram.h"
#include "tests/support/gateway_fakes.h"
#include "tests/support/repair_scenario.h"

namespace gwr::testing {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

constexpr int64_t kChat = 4242;
constexpr const char* kToken = "123456789:AAH-test-token-gateways-abcdefghijklm";

// FakeOpenclaw::commands_yaml() is written for "gateway:" (two spaces); a
// list entry's keys sit two further in.
std::string indented(const std::string& yaml) {
  std::string out;
  size_t start = 0;
  while (start < yaml.size()) {
    const size_t end = yaml.find('\n', start);
    const std::string line = yaml.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!line.empty()) out += "  " + line + "\n";
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

class GatewaysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    main_port_ = free_tcp_port();
    rescue_port_ = free_tcp_port();
    web_port_ = free_tcp_port();
    main_ = std::make_unique<FakeOpenclaw>(main_dir_.path(), main_port_);
    rescue_ = std::make_unique<FakeOpenclaw>(rescue_dir_.path(), rescue_port_);
    tg_ = std::make_unique<FakeTelegram>(kToken);
    tg_->start();
  }

  std::string yaml() const {
    auto entry = [](const std::string& name, int port, const FakeOpenclaw& f, const std::string& more) {
      return "  - name: " + name + "\n    port: " + std::to_string(port) + "\n    process_match: " + f.process_name() +
             "\n" + indented(f.commands_yaml()) + more;
    };
    return fast_probes_and_repair_yaml() +
           "  max_per_hour: 3\n"
           "telegram:\n"
           "  api_base_url: " + tg_->base_url() + "\n"
           "  bot_token: \"" + kToken + "\"\n"
           "  chat_id: " + std::to_string(kChat) + "\n"
           "  poll_timeout: 2s\n"
           "http:\n"
           "  listen: 127.0.0.1:" + std::to_string(web_port_) + "\n"
           "gateways:\n" +
           entry("main", main_port_, *main_, "") +
           entry("rescue", rescue_port_, *rescue_, "    service: \"\"\n    repair: {max_per_hour: 1}\n");
  }

  void start() {
    ASSERT_TRUE(main_->start_healthy());
    ASSERT_TRUE(rescue_->start_healthy());
    daemon_ = std::make_unique<Daemon>(yaml());
    ASSERT_TRUE(daemon_->start(15s));
    bus_ = std::make_unique<BusWatcher>(daemon_->runtime_dir(),
                                        std::vector<std::string>{"gateway_health", "repair_event"});
    for (const char* name : {"main", "rescue"}) {
      ASSERT_TRUE(bus_->wait_for(
          [&](const pb::Event& e) {
            return e.gateway() == name && e.has_gateway_health() && e.gateway_health().state() == pb::HEALTHY;
          },
          15s))
          << name << " never healthy";
    }
    ASSERT_TRUE(tg_->wait_for([&] { return tg_->active_long_polls() > 0; }, 10s)) << "the bot never polled";
  }

  std::optional<pb::RepairEvent> wait_repair(const std::string& gateway, pb::RepairEvent::Kind kind,
                                             std::chrono::milliseconds timeout) {
    auto ev = bus_->wait_for(
        [&](const pb::Event& e) {
          return e.gateway() == gateway && e.has_repair_event() && e.repair_event().kind() == kind;
        },
        timeout);
    if (!ev) return std::nullopt;
    return ev->repair_event();
  }

  int count(const std::string& gateway, pb::RepairEvent::Kind kind) const {
    int n = 0;
    for (const auto& e : bus_->events()) {
      n += e.gateway() == gateway && e.has_repair_event() && e.repair_event().kind() == kind;
    }
    return n;
  }

  json gwrctl_json(const std::vector<std::string>& args) {
    std::vector<std::string> a = args;
    a.push_back("--json");
    auto out = daemon_->gwrctl(a);
    EXPECT_EQ(out.exit_code, 0) << out.output;
    return json::parse(out.output, nullptr, false);
  }

  TempDir main_dir_;
  TempDir rescue_dir_;
  int main_port_ = 0;
  int rescue_port_ = 0;
  int web_port_ = 0;
  std::unique_ptr<FakeOpenclaw> main_;
  std::unique_ptr<FakeOpenclaw> rescue_;
  std::unique_ptr<FakeTelegram> tg_;
  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<BusWatcher> bus_;
};

TEST_F(GatewaysTest, KillingOneRepairsOnlyItEveryMessageNamesItAndEachHasItsOwnLimit) {
  start();
  if (HasFatalFailure()) return;

  // Each gateway has a prober and a repairer of its own.
  auto comps = daemon_->components();
  ASSERT_TRUE(comps);
  std::vector<std::string> names;
  for (const auto& c : comps->components()) names.push_back(c.name());
  for (const char* n : {"prober", "repairer", "prober.rescue", "repairer.rescue", "telegram-bridge"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  }

  // Kill rescue: rescue is repaired, main is left alone.
  const pid_t first = rescue_->gateway_pid();
  ASSERT_GT(first, 0);
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  auto done = wait_repair("rescue", pb::RepairEvent::FINISHED, 30s);
  ASSERT_TRUE(done) << "rescue was not repaired";
  EXPECT_TRUE(done->success()) << done->details();
  EXPECT_EQ(count("main", pb::RepairEvent::STARTED), 0);
  EXPECT_NE(rescue_->gateway_pid(), first);

  // The owner hears about rescue, by name.
  ASSERT_TRUE(tg_->wait_for(
      [&] {
        for (const auto& m : tg_->sent_messages()) {
          if (m.text.find("rescue") != std::string::npos && m.text.find("Repair") != std::string::npos) return true;
        }
        return false;
      },
      15s))
      << "no message named rescue's repair";
  for (const auto& m : tg_->sent_messages()) {
    if (m.text.find("Repair") == std::string::npos) continue;
    EXPECT_EQ(m.text.rfind("🖥 rescue · ", 0), 0u) << m.text;
  }

  // gwrctl: status lists both, each with its own limit; history is per gateway.
  auto st = gwrctl_json({"status"});
  ASSERT_TRUE(st["gateways"].is_array()) << st.dump();
  ASSERT_EQ(st["gateways"].size(), 2u);
  EXPECT_EQ(st["gateways"][0]["name"], "main");
  EXPECT_EQ(st["gateways"][1]["name"], "rescue");
  EXPECT_EQ(st["gateways"][0]["repair"]["max_per_hour"], 3);
  EXPECT_EQ(st["gateways"][1]["repair"]["max_per_hour"], 1);
  const auto rescue_history = gwrctl_json({"--gateway", "rescue", "history"});
  ASSERT_EQ(rescue_history["repairs"].size(), 1u);
  EXPECT_EQ(rescue_history["repairs"][0]["gateway"], "rescue");
  EXPECT_EQ(gwrctl_json({"history", "--gateway", "main"})["repairs"].size(), 0u);
  auto unknown = daemon_->gwrctl({"--gateway", "nope", "status"});
  EXPECT_EQ(unknown.exit_code, 2) << unknown.output;
  EXPECT_NE(unknown.output.find("main, rescue"), std::string::npos) << unknown.output;

  // Their own logs and state.
  EXPECT_TRUE(std::filesystem::exists(daemon_->log_file("gwr-prober.rescue")));
  EXPECT_TRUE(std::filesystem::exists(daemon_->log_file("gwr-repairer.rescue")));
  EXPECT_TRUE(std::filesystem::exists(daemon_->state_dir() + "/gateways/rescue/gwr.db"));
  EXPECT_TRUE(std::filesystem::exists(daemon_->state_dir() + "/gwr.db"));
  // Every line of a per-gateway process names its gateway.
  for (const auto& [file, name] : std::vector<std::pair<std::string, std::string>>{
           {"gwr-repairer.rescue", "rescue"}, {"gwr-repairer", "main"}, {"gwr-prober.rescue", "rescue"}}) {
    std::istringstream lines(read_file(daemon_->log_file(file)));
    int n = 0;
    for (std::string line; std::getline(lines, line); ++n) {
      const auto j = json::parse(line, nullptr, false);
      ASSERT_FALSE(j.is_discarded()) << line;
      EXPECT_EQ(j.value("gateway", ""), name) << file << ": " << line;
    }
    EXPECT_GT(n, 0) << file;
  }

  // /metrics: each gateway's series labelled, in Prometheus's format.
  std::string page;
  ASSERT_TRUE(wait_until(
      [&] {
        httplib::Client web("127.0.0.1", web_port_);
        auto r = web.Get("/metrics");
        page = r && r->status == 200 ? r->body : "";
        return page.find("gwr_repairs_total{gateway=\"rescue\",tier=\"1\",trigger=\"auto\",outcome=\"success\"} 1") !=
                   std::string::npos &&
               page.find("gwr_repairs_per_hour_limit{gateway=\"rescue\"} 1") != std::string::npos;
      },
      15s, "rescue's repair and limit in /metrics"))
      << page;
  EXPECT_NE(page.find("gwr_gateway_up{gateway=\"main\"} 1"), std::string::npos) << page;
  {
    httplib::Client web("127.0.0.1", web_port_);
    auto api = web.Get("/api/status");
    ASSERT_TRUE(api && api->status == 200);
    const auto api_status = json::parse(api->body, nullptr, false);
    ASSERT_EQ(api_status["gateways"].size(), 2u) << api->body;
    EXPECT_EQ(api_status["gateways"][1]["name"], "rescue");
    EXPECT_EQ(api_status["gateways"][1]["repair"]["max_per_hour"], 1) << api->body;
    auto html = web.Get("/");
    ASSERT_TRUE(html && html->status == 200);
    EXPECT_NE(html->body.find("id=\"state-rescue\""), std::string::npos);
  }
  EXPECT_EQ(page.find("gwr_repairs_total{gateway=\"main\""), std::string::npos) << page;
  if (::access("/usr/bin/promtool", X_OK) == 0) {
    const std::string file = main_dir_ / "metrics.txt";
    write_file(file, page);
    auto check = run({"/bin/sh", "-c", "/usr/bin/promtool check metrics < \"$0\" 2>&1", file});
    EXPECT_EQ(check.exit_code, 0) << check.output;
    EXPECT_EQ(check.output, "") << check.output;
  }

  // rescue's hour allows one repair: a second kill is not repaired, while
  // main, with three, still is.
  ASSERT_TRUE(bus_->wait_for(
      [&](const pb::Event& e) {
        return e.gateway() == "rescue" && e.has_gateway_health() && e.gateway_health().state() == pb::HEALTHY;
      },
      15s));
  bus_->clear();
  const pid_t second = rescue_->gateway_pid();
  ASSERT_GT(second, 0);
  ASSERT_EQ(::kill(second, SIGKILL), 0);
  EXPECT_TRUE(wait_repair("rescue", pb::RepairEvent::RATE_LIMITED, 15s) ||
              wait_repair("rescue", pb::RepairEvent::COOLDOWN_ENTERED, 1s))
      << "rescue's second repair was not held back by its own limit";
  const pid_t main_pid = main_->gateway_pid();
  ASSERT_GT(main_pid, 0);
  ASSERT_EQ(::kill(main_pid, SIGKILL), 0);
  auto main_done = wait_repair("main", pb::RepairEvent::FINISHED, 30s);
  ASSERT_TRUE(main_done) << "main was not repaired";
  EXPECT_TRUE(main_done->success()) << main_done->details();
  EXPECT_EQ(count("rescue", pb::RepairEvent::STARTED), 0);
  EXPECT_EQ(rescue_->gateway_pid(), second) << "rescue was restarted past its limit";
}

TEST_F(GatewaysTest, StatusOnTelegramListsEveryGatewayAndAButtonRepairsTheOneItNames) {
  start();
  if (HasFatalFailure()) return;
  // gwrctl doctor checks each gateway, by name.
  const auto doctor = daemon_->gwrctl({"doctor", "--offline", "--json"});
  const auto checks = json::parse(doctor.output, nullptr, false);
  ASSERT_FALSE(checks.is_discarded()) << doctor.output;
  std::map<std::string, bool> ok;
  for (const auto& c : checks["checks"]) ok[c.value("name", "")] = c.value("ok", false);
  for (const char* name : {"gateway main", "gateway rescue", "gateway commands main", "gateway commands rescue"}) {
    ASSERT_TRUE(ok.count(name)) << name << " not checked: " << doctor.output;
    EXPECT_TRUE(ok[name]) << name << ": " << doctor.output;
  }
  tg_->clear_requests();
  tg_->push_message(kChat, kChat, "/status");
  ASSERT_TRUE(tg_->wait_for(
      [&] {
        int n = 0;
        for (const auto& m : tg_->sent_messages()) n += m.text.find("Gateway ") != std::string::npos;
        return n >= 2;
      },
      10s));
  int64_t rescue_status = 0;
  for (const auto& m : tg_->sent_messages()) {
    if (m.text.find("Gateway rescue healthy") != std::string::npos) rescue_status = m.message_id;
  }
  ASSERT_NE(rescue_status, 0) << "no status message for rescue";

  // [Repair now] under rescue's status, then [Repair now] under the question.
  tg_->push_callback(kChat, kChat, rescue_status, "repair@rescue");
  int64_t question = 0;
  ASSERT_TRUE(tg_->wait_for(
      [&] {
        for (const auto& m : tg_->sent_messages()) {
          if (m.text.find("rescue") != std::string::npos && m.markup.dump().find("repair_confirm@rescue") != std::string::npos) {
            question = m.message_id;
          }
        }
        return question != 0;
      },
      10s))
      << "no confirmation for rescue";
  const pid_t before = rescue_->gateway_pid();
  tg_->push_callback(kChat, kChat, question, "repair_confirm@rescue");
  auto done = wait_repair("rescue", pb::RepairEvent::FINISHED, 30s);
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->success());
  EXPECT_EQ(done->trigger(), pb::TRIGGER_MANUAL);
  EXPECT_NE(rescue_->gateway_pid(), before);
  EXPECT_EQ(count("main", pb::RepairEvent::STARTED), 0);
}

}  // namespace
}  // namespace gwr::testing
