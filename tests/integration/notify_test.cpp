// The channels beside Telegram (notify.*, issue #17 part 2) on the real
// binaries, with a local HTTP server standing for ntfy, a Discord webhook and
// a generic webhook: each gets the incident in order and once; a channel that
// hangs or fails delays no other; what could not be sent waits in notify.db,
// across a restart of gwr; `gwrctl status` shows each channel; no address or
// token reaches a log.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

#include <gtest/gtest.h>

#include "tests/support/repair_scenario.h"

namespace gwr::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

constexpr const char* kTopic = "gwr-topic-7f3a";
constexpr const char* kDiscordToken = "dIsCoRdWeBhOoKtOkEn";
constexpr const char* kWebhookToken = "wh-bearer-5e1f";

struct Received {
  std::string channel;
  json body;
  std::string authorization;
  Clock::time_point at;
};

class Receivers {
 public:
  Receivers() {
    server_.Post("/ntfy/", [this](const httplib::Request& req, httplib::Response& res) { take("ntfy", req, res); });
    server_.Post(std::string("/api/webhooks/1/") + kDiscordToken,
                 [this](const httplib::Request& req, httplib::Response& res) { take("discord", req, res); });
    server_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) { take("webhook", req, res); });
  }
  ~Receivers() { stop(); }
  int start(int port = 0) {
    port_ = port == 0 ? server_.bind_to_any_port("127.0.0.1") : (server_.bind_to_port("127.0.0.1", port) ? port : -1);
    if (port_ > 0) thread_ = std::thread([this] { server_.listen_after_bind(); });
    return port_;
  }
  void stop() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  std::string yaml(int port) const {
    const std::string base = "http://127.0.0.1:" + std::to_string(port);
    return std::string("notify:\n") + "  ntfy: {url: " + base + "/ntfy/" + kTopic + "}\n" +
           "  discord: {webhook_url: " + base + "/api/webhooks/1/" + kDiscordToken + "}\n" +
           "  webhook: {url: " + base + "/hook, token: " + kWebhookToken + "}\n";
  }
  // How each channel answers: a status per request, in turn (then 200), and
  // a delay before the first answer.
  void script(const std::string& channel, std::vector<int> statuses, std::chrono::milliseconds first_delay = 0ms) {
    std::lock_guard lock(mu_);
    scripts_[channel] = std::move(statuses);
    delays_[channel] = first_delay;
  }
  std::vector<Received> got(const std::string& channel) {
    std::lock_guard lock(mu_);
    std::vector<Received> out;
    for (const auto& r : got_) {
      if (r.channel == channel) out.push_back(r);
    }
    return out;
  }
  int attempts(const std::string& channel) {
    std::lock_guard lock(mu_);
    return attempts_[channel];
  }

 private:
  void take(const std::string& channel, const httplib::Request& req, httplib::Response& res) {
    std::chrono::milliseconds delay{0};
    int status = 200;
    {
      std::lock_guard lock(mu_);
      ++attempts_[channel];
      std::swap(delay, delays_[channel]);
      auto& s = scripts_[channel];
      if (!s.empty()) {
        status = s.front();
        s.erase(s.begin());
      }
    }
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    res.status = status;
    if (status != 200) {
      res.set_content(status == 429 ? R"({"message": "You are being rate limited.", "retry_after": 1.0})"
                                    : R"({"error": "scripted"})",
                      "application/json");
      return;
    }
    std::lock_guard lock(mu_);
    got_.push_back({channel, json::parse(req.body, nullptr, false), req.get_header_value("Authorization"), Clock::now()});
    res.set_content("{}", "application/json");
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::vector<Received> got_;
  std::map<std::string, std::vector<int>> scripts_;
  std::map<std::string, std::chrono::milliseconds> delays_;
  std::map<std::string, int> attempts_;
};

// The title of each notice a channel got, in order.
std::vector<std::string> titles(const std::vector<Received>& got) {
  std::vector<std::string> out;
  for (const auto& r : got) {
    if (r.channel == "ntfy") out.push_back(r.body.value("title", ""));
    if (r.channel == "discord") out.push_back(r.body.value("content", ""));
    if (r.channel == "webhook") out.push_back(r.body.value("event", ""));
  }
  return out;
}

class NotifyTest : public RepairScenario {
 protected:
  void expect_no_secret_in_logs() {
    for (const char* process : {"gwr-supervisor", "gwr-prober", "gwr-repairer", "gwr-telegram-bridge"}) {
      const std::string log = read_file(daemon_->log_file(process));
      for (const char* secret : {kTopic, kDiscordToken, kWebhookToken}) {
        EXPECT_EQ(log.find(secret), std::string::npos) << process << " logged " << secret;
      }
    }
  }
  Receivers rx_;
};

TEST_F(NotifyTest, EachChannelGetsTheIncidentInOrderOnceAndAHungOrFailingOneDelaysNoOther) {
  const int port = rx_.start();
  ASSERT_GT(port, 0);
  start(rx_.yaml(port));
  // The webhook's first answer takes 4 s; Discord fails twice (a 502, then a
  // 429 asking for 1 s) before it takes anything.
  rx_.script("webhook", {}, 4s);
  rx_.script("discord", {502, 429});
  const auto killed = Clock::now();
  ::kill(service_->gateway_pid(), SIGKILL);
  ASSERT_TRUE(wait_repair(pb::RepairEvent::FINISHED, 20s));

  ASSERT_TRUE(wait_until([&] { return rx_.got("ntfy").size() >= 2; }, 10s, "ntfy: started and repaired"));
  const auto ntfy = rx_.got("ntfy");
  EXPECT_LT(ntfy[0].at - killed, 3s) << "ntfy waited for the hung webhook";
  ASSERT_TRUE(wait_until([&] { return rx_.got("webhook").size() >= 2 && rx_.got("discord").size() >= 2; }, 20s,
                         "the webhook and Discord, once they answer"));
  bus_->pump(2500ms);  // nothing more comes (no duplicates)

  // ntfy: the topic in the JSON, priorities by severity.
  ASSERT_EQ(ntfy.size(), 2u);
  EXPECT_EQ(ntfy[0].body["topic"], kTopic);
  EXPECT_NE(ntfy[0].body["title"].get<std::string>().find("repair #1 started"), std::string::npos) << ntfy[0].body;
  EXPECT_NE(ntfy[1].body["title"].get<std::string>().find("Gateway repaired"), std::string::npos) << ntfy[1].body;
  EXPECT_EQ(ntfy[0].body["priority"], 4);
  EXPECT_EQ(ntfy[0].authorization, "");

  // Discord: after its failures, the same two in the same order, no pings.
  const auto discord = rx_.got("discord");
  ASSERT_EQ(discord.size(), 2u) << rx_.attempts("discord") << " attempts";
  EXPECT_EQ(rx_.attempts("discord"), 4);
  EXPECT_NE(discord[0].body["content"].get<std::string>().find("started"), std::string::npos);
  EXPECT_NE(discord[1].body["content"].get<std::string>().find("repaired"), std::string::npos);
  EXPECT_EQ(discord[0].body["allowed_mentions"]["parse"], json::array());

  // The webhook: the schema, the token, one delivery per id.
  const auto hook = rx_.got("webhook");
  ASSERT_EQ(hook.size(), 2u);
  EXPECT_EQ(titles(hook), (std::vector<std::string>{"repair_started", "repair_succeeded"}));
  EXPECT_EQ(hook[0].authorization, std::string("Bearer ") + kWebhookToken);
  EXPECT_EQ(hook[1].body["schema"], "gwr.notification.v1");
  EXPECT_EQ(hook[1].body["repair"]["id"], 1);
  EXPECT_EQ(hook[1].body["repair"]["outcome"], "repaired");
  EXPECT_EQ(hook[1].body["repair"]["trigger"], "auto");
  EXPECT_EQ(hook[1].body["gateway"], "127.0.0.1:" + std::to_string(port_));
  EXPECT_NE(hook[0].body["id"], hook[1].body["id"]);

  // gwrctl status: each channel and its health.
  auto st = status();
  ASSERT_TRUE(st.contains("notifications")) << st.dump(2);
  std::map<std::string, std::string> state;
  for (const auto& c : st["notifications"]) state[c.value("name", "")] = c.value("state", "");
  EXPECT_EQ(state["ntfy"], "ok");
  EXPECT_EQ(state["discord"], "ok");
  EXPECT_EQ(state["webhook"], "ok");
  const auto text = daemon_->gwrctl({"status"});
  EXPECT_NE(text.output.find("discord"), std::string::npos) << text.output;
  EXPECT_TRUE(log_has("gwr-telegram-bridge", "notice_sent"));
  EXPECT_TRUE(log_has("gwr-telegram-bridge", "notice_not_sent"));
  expect_no_secret_in_logs();
}

TEST_F(NotifyTest, WhatCouldNotBeSentWaitsAcrossARestartOfGwrAndIsSentOnce) {
  // Nothing listens where the channels are: the incident is queued.
  const int port = free_tcp_port();
  start(rx_.yaml(port));
  ::kill(service_->gateway_pid(), SIGKILL);
  ASSERT_TRUE(wait_repair(pb::RepairEvent::FINISHED, 20s));
  ASSERT_TRUE(wait_until([&] { return log_has("gwr-telegram-bridge", "notice_not_sent"); }, 5s, "a failed try"));
  auto st = status();
  bool retrying = false;
  for (const auto& c : st["notifications"]) retrying |= c.value("state", "") == "retrying" && c.value("queued", 0) >= 1;
  EXPECT_TRUE(retrying) << st.dump(2);
  ASSERT_TRUE(daemon_->stop());

  // The receivers come up while gwr is down; gwr starts again.
  ASSERT_EQ(rx_.start(port), port);
  ASSERT_TRUE(daemon_->start());
  watch();
  ASSERT_TRUE(wait_until([&] { return rx_.got("ntfy").size() >= 2 && rx_.got("webhook").size() >= 2; }, 15s,
                         "the queued notices after the restart"));
  bus_->pump(2s);
  const auto hook = rx_.got("webhook");
  EXPECT_EQ(titles(hook), (std::vector<std::string>{"repair_started", "repair_succeeded"}));
  EXPECT_EQ(rx_.got("ntfy").size(), 2u);
  EXPECT_EQ(rx_.got("discord").size(), 2u);
  expect_no_secret_in_logs();
}

TEST_F(NotifyTest, ABadAddressIsRefusedAtLoadWithTheKeyNamed) {
  ASSERT_TRUE(service_->start_healthy());
  for (const std::string& bad : {std::string("notify:\n  ntfy: {url: https://ntfy.sh/}\n"),
                                 std::string("notify:\n  ntfy: {url: \"https://ntfy.sh/a b\"}\n"),
                                 std::string("notify:\n  webhook: {url: ftp://example.org/x}\n"),
                                 std::string("notify:\n  discord: {webhook_url: \"http://x\\r\\nInjected: 1\"}\n")}) {
    Daemon d(yaml(bad));
    const auto out = d.gwrctl({"config", "check"});
    EXPECT_NE(out.exit_code, 0) << bad;
    EXPECT_NE(out.output.find("notify."), std::string::npos) << out.output;
  }
}

}  // namespace
}  // namespace gwr::testing
