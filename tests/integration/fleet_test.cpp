// Several hosts, one bot (issue #18 part 2): separate gwr instances on
// loopback, each with its own runtime and state dirs and its own fake
// OpenClaw; one hub (the only Telegram poller, with the fake Bot API) and
// nodes that reach it over ZeroMQ with CURVE, keys made by
// `gwrctl fleet keygen`.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/fakes/telegram/fake_telegram.h"
#include "tests/support/gateway_fakes.h"
#include "tests/support/repair_scenario.h"

namespace gwr::testing {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr int64_t kChat = 5151;
constexpr const char* kToken = "123456789:AAH-test-token-fleet-abcdefghijklmnop";

// One gwr: its fake gateway, its daemon, a watcher on its bus.
struct Host {
  TempDir gateway_dir;
  int port = 0;
  std::unique_ptr<FakeOpenclaw> gateway;
  std::unique_ptr<Daemon> daemon;
  std::unique_ptr<BusWatcher> bus;

  std::string gateway_yaml() const {
    return "gateway:\n  port: " + std::to_string(port) + "\n  process_match: " + gateway->process_name() + "\n" +
           gateway->commands_yaml() + fast_probes_and_repair_yaml();
  }
  ::testing::AssertionResult start(const std::string& yaml) {
    port = free_tcp_port();
    gateway = std::make_unique<FakeOpenclaw>(gateway_dir.path(), port);
    if (!gateway->start_healthy()) return ::testing::AssertionFailure() << "fake gateway did not start";
    daemon = std::make_unique<Daemon>(gateway_yaml() + yaml);
    if (auto st = daemon->start(15s); !st) return st;
    bus = std::make_unique<BusWatcher>(daemon->runtime_dir(), std::vector<std::string>{"repair_event", "gateway_health"});
    if (!bus->wait_health([](const pb::GatewayHealth& h) { return h.state() == pb::HEALTHY; }, 15s)) {
      return ::testing::AssertionFailure() << "gateway never healthy";
    }
    return ::testing::AssertionSuccess();
  }
  json fleet_status() {
    auto out = daemon->gwrctl({"fleet", "status", "--json"});
    return json::parse(out.output, nullptr, false);
  }
};

class FleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fleet_port_ = free_tcp_port();
    fs::create_directories(keys_.path() + "/authorized");
    tg_ = std::make_unique<FakeTelegram>(kToken);
    tg_->start();
  }

  // `gwrctl fleet keygen`; a node's public key is authorized on the hub unless told not to.
  void keygen(const std::string& name, bool authorize) {
    auto out = run({bin_path("gwrctl"), "fleet", "keygen", "--out", keys_.path(), "--name", name});
    ASSERT_EQ(out.exit_code, 0) << out.output;
    EXPECT_EQ(fs::status(keys_.path() + "/" + name + ".key").permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);
    if (authorize) fs::copy_file(keys_.path() + "/" + name + ".pub", keys_.path() + "/authorized/" + name + ".pub");
  }

  std::string hub_yaml() const {
    return "telegram:\n"
           "  api_base_url: " + tg_->base_url() + "\n"
           "  bot_token: \"" + kToken + "\"\n"
           "  chat_id: " + std::to_string(kChat) + "\n"
           "  poll_timeout: 2s\n"
           "fleet:\n"
           "  role: hub\n"
           "  listen: tcp://127.0.0.1:" + std::to_string(fleet_port_) + "\n"
           "  secret_key: " + keys_.path() + "/hub.key\n"
           "  authorized_keys: " + keys_.path() + "/authorized\n"
           "  node_timeout: 4s\n";
  }
  std::string node_yaml(const std::string& name) const {
    return "fleet:\n"
           "  role: node\n"
           "  hub: tcp://127.0.0.1:" + std::to_string(fleet_port_) + "\n"
           "  secret_key: " + keys_.path() + "/" + name + ".key\n"
           "  hub_public_key: " + keys_.path() + "/hub.pub\n";
  }

  // The hub lists the node as connected.
  ::testing::AssertionResult connected(const std::string& node, std::chrono::milliseconds timeout = 15s) {
    return wait_until(
        [&] {
          auto st = hub_.fleet_status();
          if (!st.is_object()) return false;
          for (const auto& n : st["nodes"]) {
            if (n["name"] == node && n["connected"] == true) return true;
          }
          return false;
        },
        timeout, node + " connected to the hub");
  }

  std::optional<pb::RepairEvent> finished(Host& h, int nth, std::chrono::milliseconds timeout) {
    int seen = 0;
    auto ev = h.bus->wait_for(
        [&](const pb::Event& e) {
          return e.has_repair_event() && e.repair_event().kind() == pb::RepairEvent::FINISHED && ++seen >= nth;
        },
        timeout);
    if (!ev) return std::nullopt;
    return ev->repair_event();
  }

  // The bot's messages whose text contains every needle.
  std::vector<FakeTelegram::SentMessage> messages_with(const std::vector<std::string>& needles) const {
    std::vector<FakeTelegram::SentMessage> out;
    for (const auto& m : tg_->sent_messages()) {
      bool all = true;
      for (const auto& n : needles) all &= m.text.find(n) != std::string::npos;
      if (all) out.push_back(m);
    }
    return out;
  }

  std::string all_texts() const {
    std::string out;
    for (const auto& m : tg_->sent_messages()) out += "---- #" + std::to_string(m.message_id) + "\n" + m.text + "\n";
    return out;
  }

  TempDir keys_;
  int fleet_port_ = 0;
  std::unique_ptr<FakeTelegram> tg_;
  Host hub_;
};

TEST_F(FleetTest, ANodesRepairReachesTheOwnerThroughTheHubAndARelayedRepairRunsOnThatNodeOnly) {
  keygen("hub", false);
  keygen("web1", true);
  keygen("web2", true);
  if (HasFatalFailure()) return;
  ASSERT_TRUE(hub_.start(hub_yaml()));
  Host web1, web2;
  ASSERT_TRUE(web1.start(node_yaml("web1")));
  ASSERT_TRUE(web2.start(node_yaml("web2")));
  ASSERT_TRUE(connected("web1"));
  ASSERT_TRUE(connected("web2"));
  ASSERT_TRUE(tg_->wait_for([&] { return tg_->active_long_polls() > 0; }, 10s)) << "the hub's bot never polled";

  // web1's gateway dies: web1 repairs it, and the owner hears of it from the hub's bot, by name.
  const pid_t first = web1.gateway->gateway_pid();
  ASSERT_GT(first, 0);
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  auto done = finished(web1, 1, 30s);
  ASSERT_TRUE(done) << "web1 did not repair its gateway";
  EXPECT_TRUE(done->success()) << done->details();
  ASSERT_TRUE(tg_->wait_for([&] { return !messages_with({"web1/main", "repaired"}).empty(); }, 15s))
      << "the owner never heard of web1's repair:\n" << all_texts();
  for (const auto& m : tg_->sent_messages()) {
    if (m.text.find("Repair") == std::string::npos && m.text.find("repair") == std::string::npos) continue;
    EXPECT_EQ(m.text.rfind("🖥 web1/main · ", 0), 0u) << m.text;
  }
  EXPECT_TRUE(messages_with({"web2"}).empty());

  // /status on the hub lists every node's gateway with when it was heard from.
  tg_->clear_requests();
  tg_->push_message(kChat, kChat, "/status");
  ASSERT_TRUE(tg_->wait_for([&] { return !messages_with({"Gateway web2/main healthy"}).empty(); }, 10s));
  EXPECT_FALSE(messages_with({"node web1 · heard from"}).empty());
  EXPECT_FALSE(messages_with({"Gateway main healthy"}).empty()) << "the hub's own gateway is listed too";

  // /repair web2/main: asked through the hub, run on web2 only.
  tg_->push_message(kChat, kChat, "/repair web2/main");
  int64_t question = 0;
  ASSERT_TRUE(tg_->wait_for(
      [&] {
        for (const auto& m : tg_->sent_messages()) {
          if (m.markup.dump().find("repair_confirm@web2/main") != std::string::npos) question = m.message_id;
        }
        return question != 0;
      },
      10s))
      << "no confirmation for web2/main";
  const pid_t before = web2.gateway->gateway_pid();
  tg_->push_callback(kChat, kChat, question, "repair_confirm@web2/main");
  auto manual = finished(web2, 1, 30s);
  ASSERT_TRUE(manual) << "web2 was not repaired";
  EXPECT_TRUE(manual->success());
  EXPECT_EQ(manual->trigger(), pb::TRIGGER_MANUAL);
  EXPECT_NE(web2.gateway->gateway_pid(), before);
  EXPECT_EQ(finished(web1, 2, 100ms), std::nullopt) << "web1 repaired again";
  auto hub_history = json::parse(hub_.daemon->gwrctl({"history", "--json"}).output, nullptr, false);
  ASSERT_TRUE(hub_history["repairs"].is_array()) << hub_history.dump();
  EXPECT_EQ(hub_history["repairs"].size(), 0u) << "the hub's own gateway was touched";

  // Audited on both sides, with the owner the hub verified.
  auto history = json::parse(web2.daemon->gwrctl({"history", "--json"}).output, nullptr, false);
  ASSERT_EQ(history["repairs"].size(), 1u) << history.dump();
  EXPECT_NE(history["repairs"][0]["actor"].get<std::string>().find("telegram:" + std::to_string(kChat) + " via hub"),
            std::string::npos)
      << history.dump();
  EXPECT_NE(read_file(web2.daemon->log_file("gwr-fleet")).find("\"event\":\"fleet_call\""), std::string::npos);
  EXPECT_NE(read_file(hub_.daemon->log_file("gwr-fleet")).find("\"event\":\"fleet_relay\""), std::string::npos);
  ASSERT_TRUE(tg_->wait_for([&] { return !messages_with({"web2/main", "repaired"}).empty(); }, 15s));

  // The node's own Telegram stays quiet (it has no bot), and a node refuses a config change relayed to it.
  pb::Request set;
  set.mutable_fleet_relay()->set_node("web2");
  set.mutable_fleet_relay()->set_component("supervisor");
  set.mutable_fleet_relay()->mutable_request()->mutable_set_config()->set_key("repair.max_per_hour");
  set.mutable_fleet_relay()->mutable_request()->mutable_set_config()->set_value("99");
  auto refused = hub_.daemon->call("fleet", set, 5000ms);
  ASSERT_TRUE(refused) << refused.message();
  ASSERT_TRUE(refused->has_error());
  EXPECT_EQ(refused->error().code(), pb::Error::REFUSED) << refused->error().message();

  // A node stops: the hub reports it silent after fleet.node_timeout, and back when it returns.
  ASSERT_TRUE(web1.daemon->stop(30s)) << "supervisor:\n"
                                   << read_file(web1.daemon->log_file("gwr-supervisor")) << "\nfleet:\n"
                                   << read_file(web1.daemon->log_file("gwr-fleet"));
  ASSERT_TRUE(tg_->wait_for([&] { return !messages_with({"Node web1 is silent"}).empty(); }, 15s));
  ASSERT_TRUE(web1.daemon->start(15s));
  ASSERT_TRUE(tg_->wait_for([&] { return !messages_with({"Node web1 is heard from again"}).empty(); }, 15s));

  // web2's key revoked while it is connected: from then on the hub takes nothing from it, and
  // the bot no longer knows its gateway (a name with a slash is never taken for the hub's own).
  fs::remove(keys_.path() + "/authorized/web2.pub");
  ASSERT_TRUE(wait_until(
      [&] {
        const json st = hub_.fleet_status();  // kept: a range-for over a temporary's member dangles
        for (const auto& n : st["nodes"]) {
          if (n["name"] == "web2") return n["revoked"] == true;
        }
        return false;
      },
      10s, "the hub saw web2's key go"))
      << hub_.fleet_status().dump() << "\n" << read_file(hub_.daemon->log_file("gwr-fleet"));
  ASSERT_TRUE(wait_until(
      [&] { return read_file(web2.daemon->log_file("gwr-fleet")).find("fleet_refused_by_hub") != std::string::npos; },
      10s, "web2 was told"));
  tg_->push_message(kChat, kChat, "/pause web2/main");
  ASSERT_TRUE(tg_->wait_for([&] { return !messages_with({"No gateway named web2/main"}).empty(); }, 10s)) << all_texts();
  auto hub_status = json::parse(hub_.daemon->gwrctl({"status", "--json"}).output, nullptr, false);
  EXPECT_EQ(hub_status["repair"]["paused"], false) << "the hub's own gateway was paused: " << hub_status.dump();
  const size_t before_kill = tg_->sent_messages().size();
  ASSERT_EQ(::kill(web2.gateway->gateway_pid(), SIGKILL), 0);
  ASSERT_TRUE(finished(web2, 2, 30s)) << "web2 repairs alone";
  std::this_thread::sleep_for(2s);
  for (size_t i = before_kill; i < tg_->sent_messages().size(); ++i) {
    EXPECT_EQ(tg_->sent_messages()[i].text.find("web2/main · 🔧"), std::string::npos) << "a revoked node was heard";
  }
}

TEST_F(FleetTest, ANodeWithAnUnknownKeyIsRefusedAndTheRefusalLogged) {
  keygen("hub", false);
  keygen("web1", true);
  keygen("rogue", false);  // made, never authorized
  if (HasFatalFailure()) return;
  ASSERT_TRUE(hub_.start(hub_yaml()));
  Host rogue;
  ASSERT_TRUE(rogue.start(node_yaml("rogue")));
  ASSERT_TRUE(wait_until(
      [&] { return read_file(hub_.daemon->log_file("gwr-fleet")).find("fleet_node_refused") != std::string::npos; }, 15s,
      "the hub logged the refusal"));
  const std::string pub = read_file(keys_.path() + "/rogue.pub");
  const std::string key = pub.substr(pub.find('\n') + 1, 40);
  EXPECT_NE(read_file(hub_.daemon->log_file("gwr-fleet")).find(key), std::string::npos) << "the refused key is named";
  auto st = hub_.fleet_status();
  ASSERT_TRUE(st["nodes"].is_array()) << st.dump();
  bool web1_listed = false;
  for (const auto& n : st["nodes"]) {
    EXPECT_NE(n["name"], "rogue") << st.dump();
    web1_listed |= n["name"] == "web1";
  }
  EXPECT_TRUE(web1_listed) << "an authorized node is listed before it ever connects: " << st.dump();
  auto node = rogue.fleet_status();
  EXPECT_EQ(node["connected"], false) << node.dump();
  // The node's own log says why, and what to do.
  ASSERT_TRUE(wait_until(
      [&] { return read_file(rogue.daemon->log_file("gwr-fleet")).find("fleet_key_refused_by_hub") != std::string::npos; },
      10s, "the node logged that the hub refused its key"));

  // Its repairs go on alone, and wait in its outbox.
  ASSERT_EQ(::kill(rogue.gateway->gateway_pid(), SIGKILL), 0);
  ASSERT_TRUE(finished(rogue, 1, 30s));
  ASSERT_TRUE(wait_until([&] { return rogue.fleet_status().value("outbox", 0) > 0; }, 10s, "events in the outbox"));
  EXPECT_TRUE(messages_with({"rogue"}).empty());

  // A hub without keys does not start: --check-config says why.
  fs::remove(keys_.path() + "/hub.key");
  auto check = run({bin_path("gwr-supervisor"), "--config", hub_.daemon->config_path(), "--check-config"});
  EXPECT_EQ(check.exit_code, 78) << check.output;
  EXPECT_NE(check.output.find("fleet.secret_key"), std::string::npos) << check.output;
}

TEST_F(FleetTest, TheHubStoppedForAMinuteLosesNothingAndDuplicatesNothing) {
  keygen("hub", false);
  keygen("web1", true);
  if (HasFatalFailure()) return;
  ASSERT_TRUE(hub_.start(hub_yaml()));
  Host web1;
  ASSERT_TRUE(web1.start(node_yaml("web1")));
  ASSERT_TRUE(connected("web1"));

  ASSERT_TRUE(hub_.daemon->stop());
  const auto stopped = std::chrono::steady_clock::now();
  // Two incidents on web1 while the hub is away: repaired there, alone.
  for (int i = 1; i <= 2; ++i) {
    const pid_t pid = web1.gateway->gateway_pid();
    ASSERT_GT(pid, 0);
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    auto done = finished(web1, i, 30s);
    ASSERT_TRUE(done) << "repair " << i;
    EXPECT_TRUE(done->success());
    ASSERT_TRUE(web1.bus->wait_health([](const pb::GatewayHealth& h) { return h.state() == pb::HEALTHY; }, 15s));
  }
  // The node notices the hub is gone (nothing heard for 7 s) and keeps its events.
  ASSERT_TRUE(wait_until([&] { return web1.fleet_status()["connected"] == false; }, 15s, "the node saw the hub go"));
  auto node = web1.fleet_status();
  EXPECT_GT(node.value("outbox", 0), 0) << node.dump();

  std::this_thread::sleep_until(stopped + 60s);
  ASSERT_TRUE(hub_.daemon->start(15s));
  ASSERT_TRUE(connected("web1"));
  // Both repairs arrive, in order, each once; the node was never silent.
  ASSERT_TRUE(tg_->wait_for(
      [&] {
        return !messages_with({"web1/main", "Repair #1 · ", "repaired"}).empty() &&
               !messages_with({"web1/main", "Repair #2 · ", "repaired"}).empty();
      },
      20s))
      << "the repairs made while the hub was away never arrived:\n" << all_texts() << "\nhub fleet log:\n"
      << read_file(hub_.daemon->log_file("gwr-fleet")) << "\nnode fleet log:\n"
      << read_file(web1.daemon->log_file("gwr-fleet")) << "\nhub bridge log:\n"
      << read_file(hub_.daemon->log_file("gwr-telegram-bridge"));
  ASSERT_TRUE(wait_until([&] { return web1.fleet_status().value("outbox", -1) == 0; }, 10s, "the outbox emptied"));
  std::this_thread::sleep_for(3s);  // anything sent twice would be here by now
  int started1 = 0, started2 = 0;
  int64_t first_id = 0, second_id = 0;
  for (const auto& m : tg_->sent_messages()) {
    if (m.text.find("web1/main") == std::string::npos) continue;
    if (m.text.find("Repair #1 · ") != std::string::npos) {
      ++started1;
      first_id = m.message_id;
    }
    if (m.text.find("Repair #2 · ") != std::string::npos) {
      ++started2;
      second_id = m.message_id;
    }
  }
  EXPECT_EQ(started1, 1);
  EXPECT_EQ(started2, 1);
  EXPECT_LT(first_id, second_id) << "out of order";
  EXPECT_TRUE(messages_with({"silent"}).empty()) << "the node was reported silent while the hub was away";
  const std::string hub_log = read_file(hub_.daemon->log_file("gwr-fleet"));
  EXPECT_EQ(hub_log.find("fleet_events_lost"), std::string::npos);
}

}  // namespace
}  // namespace gwr::testing
