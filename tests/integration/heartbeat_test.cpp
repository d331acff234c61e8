// The dead-man's switch (heartbeat.*, issue #17) on the real binaries: a
// local HTTP server stands for healthchecks.io. Pings arrive every interval
// while the gateway serves, stop while it is down, the fail address is hit
// once when every tier failed, and the check's address never reaches a log.
#include <signal.h>

#include <atomic>
#include <chrono>
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

class HeartbeatTest : public RepairScenario {
 protected:
  void SetUp() override {
    RepairScenario::SetUp();
    server_.Get(R"(/ping/.*)", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      hits_.push_back({req.path, Clock::now()});
      res.set_content("OK", "text/plain");
    });
    hb_port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(hb_port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  void TearDown() override {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  std::string heartbeat_yaml() const {
    return "heartbeat:\n  url: http://127.0.0.1:" + std::to_string(hb_port_) + "/ping/" + kCheck +
           "\n  interval: 1s\n";
  }
  size_t hits(const std::string& path) {
    std::lock_guard lock(mu_);
    return static_cast<size_t>(std::count_if(hits_.begin(), hits_.end(), [&](const auto& h) { return h.first == path; }));
  }

  static constexpr const char* kCheck = "5f0c1b2a-dead-man-check";
  httplib::Server server_;
  int hb_port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::pair<std::string, Clock::time_point>> hits_;
};

TEST_F(HeartbeatTest, PingsWhileServingStopsWhileDownAndSaysFailOnceWhenAllTiersFail) {
  start(heartbeat_yaml());
  const std::string ping = "/ping/5f0c1b2a-dead-man-check";
  const std::string fail = "/ping/5f0c1b2a-dead-man-check/fail";
  ASSERT_TRUE(wait_until([&] { return hits(ping) >= 3; }, 10s, "three pings while healthy"));
  // Every tier fails from now on.
  for (const char* cmd : {"restart", "start", "doctor"}) service_->set_switch(std::string("fail-") + cmd);
  ::kill(service_->gateway_pid(), SIGKILL);
  ASSERT_TRUE(bus_->wait_health([](const pb::GatewayHealth& h) { return h.state() == pb::DOWN; }, 5s));
  const size_t at_down = hits(ping);
  auto escalated = wait_repair(pb::RepairEvent::ESCALATION, 60s);
  ASSERT_TRUE(escalated) << "no escalation";
  ASSERT_TRUE(wait_until([&] { return hits(fail) == 1; }, 5s, "the fail address hit"));
  bus_->pump(4s);
  EXPECT_EQ(hits(fail), 1u) << "the fail address more than once";
  EXPECT_LE(hits(ping), at_down + 1) << "pings while the gateway was down";
  // Back up: pings again.
  for (const char* cmd : {"restart", "start", "doctor"}) service_->clear_switch(std::string("fail-") + cmd);
  const auto repaired = daemon_->gwrctl({"repair", "--tier", "1"});
  EXPECT_EQ(repaired.exit_code, 0) << repaired.output;
  const size_t before = hits(ping);
  EXPECT_TRUE(wait_until([&] { return hits(ping) >= before + 2; }, 10s, "pings again once healthy"));
  // The check's address is a secret: no log has it.
  for (const char* process : {"gwr-supervisor", "gwr-prober", "gwr-repairer", "gwr-telegram-bridge"}) {
    EXPECT_EQ(read_file(daemon_->log_file(process)).find(kCheck), std::string::npos)
        << process << " logged the check's address";
  }
  EXPECT_TRUE(log_has("gwr-telegram-bridge", "heartbeat_on"));
  EXPECT_TRUE(log_has("gwr-telegram-bridge", "heartbeat_fail_sent"));
}

TEST_F(HeartbeatTest, AnUnreachableCheckIsRetriedEveryIntervalNotInAStorm) {
  // Nothing listens there: each ping fails at once.
  const int dead = free_tcp_port();
  start("heartbeat:\n  url: http://127.0.0.1:" + std::to_string(dead) + "/ping/x\n  interval: 1s\n");
  bus_->pump(5s);
  size_t not_sent = 0;
  for (const auto& l : read_json_lines(daemon_->log_file("gwr-telegram-bridge"))) {
    not_sent += l.value("event", "") == "heartbeat_not_sent";
  }
  EXPECT_GE(not_sent, 3u);
  EXPECT_LE(not_sent, 7u) << "more than one try per interval";
}

}  // namespace
}  // namespace gwr::testing
