// gwr-supervisor's shell on a fake clock: spawning, restart backoff, a hung
// worker, run-time config changes, reload and an orderly shutdown. Processes
// are a fake launcher; the config is a real file in a temp dir.
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include "supervisor/supervisor_shell.h"
#include "tests/support/test_support.h"

namespace gwr::supervisor {
namespace {

using namespace std::chrono_literals;

class FakeLauncher final : public WorkerLauncher {
 public:
  Result<pid_t> spawn(const std::vector<std::string>& argv) override {
    spawned.push_back(argv);
    return next_pid++;
  }
  void signal(pid_t pid, int sig) override { signals.emplace_back(pid, sig); }
  std::vector<std::vector<std::string>> spawned;
  std::vector<std::pair<pid_t, int>> signals;
  pid_t next_pid = 5000;
};

class SupervisorShellTest : public ::testing::Test {
 protected:
  SupervisorShellTest() {
    config_path_ = dir_ / "gwr.yaml";
    testing::write_file(config_path_, "paths:\n  runtime_dir: " + (dir_ / "run") + "\n  state_dir: " + (dir_ / "state") +
                                          "\n  log_dir: " + (dir_ / "log") + "\n");
    options_.load.config_path = config_path_;
    options_.load.environment = {{"HOME", dir_.path()}};
    options_.worker_dir = "/opt/gwr/bin";
    auto loaded = load_config(options_.load);
    EXPECT_TRUE(std::holds_alternative<LoadedConfig>(loaded));
    SupervisorPorts ports;
    ports.publish = [this](pb::Event e) { events_.push_back(std::move(e)); };
    ports.notify = [this](const std::string& s) { notified_.push_back(s); };
    ports.self_pid = 1234;
    shell_ = std::make_unique<SupervisorShell>(options_, std::get<LoadedConfig>(std::move(loaded)), clock_, launcher_,
                                               ports);
  }
  pid_t pid_of(const std::string& name) const {
    for (const auto& s : shell_->table().slots()) {
      if (s.name == name) return s.pid;
    }
    return 0;
  }
  void heartbeat(const std::string& name) {
    pb::Event ev;
    ev.set_source(name);
    ev.set_source_pid(static_cast<uint32_t>(pid_of(name)));
    ev.mutable_heartbeat()->set_component(name);
    ev.mutable_heartbeat()->set_pid(static_cast<uint32_t>(pid_of(name)));
    shell_->on_heartbeat(ev);
  }
  size_t count(pb::ComponentEvent::Kind kind) const {
    size_t n = 0;
    for (const auto& e : events_) n += e.has_component_event() && e.component_event().kind() == kind;
    return n;
  }
  pb::Reply set(const std::string& key, const std::string& value) {
    pb::Request r;
    r.mutable_set_config()->set_key(key);
    r.mutable_set_config()->set_value(value);
    r.mutable_set_config()->set_actor("gwrctl");
    return shell_->handle(r);
  }

  testing::TempDir dir_;
  std::string config_path_;
  SupervisorOptions options_;
  testing::FakeClock clock_;
  FakeLauncher launcher_;
  std::vector<pb::Event> events_;
  std::vector<std::string> notified_;
  std::unique_ptr<SupervisorShell> shell_;
};

TEST_F(SupervisorShellTest, EveryWorkerIsStartedAndADeadOneRestartedAfterItsBackoff) {
  (void)shell_->tick();
  ASSERT_EQ(launcher_.spawned.size(), 3u);
  EXPECT_EQ(launcher_.spawned[0], (std::vector<std::string>{"/opt/gwr/bin/gwr-prober", "--runtime-dir", dir_ / "run"}));
  EXPECT_EQ(count(pb::ComponentEvent::SPAWNED), 3u);
  for (const char* w : {"prober", "repairer", "telegram-bridge"}) heartbeat(w);
  (void)shell_->tick();
  ASSERT_FALSE(notified_.empty());
  EXPECT_EQ(notified_.back().rfind("READY=1", 0), 0u) << "ready once all heartbeat";
  const pid_t old = pid_of("repairer");
  shell_->on_exit(old, 9);  // killed by SIGKILL (status as waitpid has it)
  EXPECT_EQ(count(pb::ComponentEvent::EXITED), 1u);
  (void)shell_->tick();
  EXPECT_EQ(launcher_.spawned.size(), 3u) << "restarted before its backoff";
  clock_.advance(100ms);
  (void)shell_->tick();
  ASSERT_EQ(launcher_.spawned.size(), 4u);
  EXPECT_NE(pid_of("repairer"), old);
  pb::Request components;
  components.mutable_components();
  const auto reply = shell_->handle(components);
  ASSERT_EQ(reply.components().components_size(), 4);
  EXPECT_EQ(reply.components().components(2).restarts(), 1u);
  EXPECT_NE(reply.components().components(2).last_exit().find("signal 9"), std::string::npos);
}

// fleet.role hub or node: one more worker, gwr-fleet; standalone: none.
TEST(SupervisorFleetTest, AHubOrANodeRunsGwrFleet) {
  testing::TempDir dir;
  const std::string path = dir / "gwr.yaml";
  const std::string paths = "paths:\n  runtime_dir: " + (dir / "run") + "\n  state_dir: " + (dir / "state") +
                            "\n  log_dir: " + (dir / "log") + "\n";
  LoadOptions load;
  load.config_path = path;
  load.environment = {{"HOME", dir.path()}};
  auto workers = [&](const std::string& yaml) {
    testing::write_file(path, paths + yaml);
    auto loaded = load_config(load);
    EXPECT_TRUE(std::holds_alternative<LoadedConfig>(loaded));
    if (!std::holds_alternative<LoadedConfig>(loaded)) return std::vector<std::string>{};
    return worker_names(std::get<LoadedConfig>(loaded));
  };
  EXPECT_EQ(workers(""), (std::vector<std::string>{"prober", "repairer", "telegram-bridge"}));
  EXPECT_EQ(workers("fleet:\n  role: node\n  hub: tcp://hub:7690\n  secret_key: /k/a.key\n  hub_public_key: /k/h.pub\n"),
            (std::vector<std::string>{"prober", "repairer", "telegram-bridge", "fleet"}));
  EXPECT_EQ(workers("fleet:\n  role: hub\n  listen: tcp://127.0.0.1:7690\n  secret_key: /k/h.key\n"
                    "  authorized_keys: /k/nodes\n"),
            (std::vector<std::string>{"prober", "repairer", "telegram-bridge", "fleet"}));
}

// config gateways:: a prober and a repairer per gateway, each told its
// gateway and given its config; the list itself changes only with a restart.
TEST(SupervisorGatewaysTest, EachGatewayGetsItsWorkersAndItsConfigAndTheListIsKeptOnReload) {
  testing::TempDir dir;
  const std::string path = dir / "gwr.yaml";
  const std::string paths = "paths:\n  runtime_dir: " + (dir / "run") + "\n  state_dir: " + (dir / "state") +
                            "\n  log_dir: " + (dir / "log") + "\n";
  const std::string two = "gateways:\n  - name: main\n    port: 18789\n"
                          "  - name: rescue\n    port: 19789\n    state_dir: /tmp/rescue-state\n    service: \"\"\n"
                          "    commands: {restart: [x, r], stop: [x, s], start: [x, t]}\n";
  testing::write_file(path, paths + two);
  SupervisorOptions options;
  options.load.config_path = path;
  options.load.environment = {{"HOME", dir.path()}};
  options.worker_dir = "/opt/gwr/bin";
  auto loaded = load_config(options.load);
  ASSERT_TRUE(std::holds_alternative<LoadedConfig>(loaded)) << std::get<ConfigError>(loaded).describe();
  options.workers = worker_names(std::get<LoadedConfig>(loaded));
  EXPECT_EQ(options.workers,
            (std::vector<std::string>{"prober", "repairer", "prober.rescue", "repairer.rescue", "telegram-bridge"}));
  testing::FakeClock clock;
  FakeLauncher launcher;
  std::vector<pb::Event> events;
  SupervisorPorts ports;
  ports.publish = [&](pb::Event e) { events.push_back(std::move(e)); };
  ports.notify = [](const std::string&) {};
  ports.self_pid = 1234;
  SupervisorShell shell(options, std::get<LoadedConfig>(std::move(loaded)), clock, launcher, ports);
  (void)shell.tick();
  ASSERT_EQ(launcher.spawned.size(), 5u);
  EXPECT_EQ(launcher.spawned[0], (std::vector<std::string>{"/opt/gwr/bin/gwr-prober", "--runtime-dir", dir / "run"}));
  EXPECT_EQ(launcher.spawned[2], (std::vector<std::string>{"/opt/gwr/bin/gwr-prober", "--runtime-dir", dir / "run",
                                                           "--gateway", "rescue"}));
  EXPECT_EQ(launcher.spawned[3], (std::vector<std::string>{"/opt/gwr/bin/gwr-repairer", "--runtime-dir", dir / "run",
                                                           "--gateway", "rescue"}));

  pb::Request get;
  get.mutable_get_config()->set_gateway("rescue");
  auto reply = shell.handle(get);
  ASSERT_TRUE(reply.has_config());
  EXPECT_EQ(reply.config().config().gateway().port(), 19789u);
  EXPECT_EQ(reply.config().config().paths().state_dir(), dir / "state/gateways/rescue");
  ASSERT_EQ(reply.config().gateways_size(), 2);
  EXPECT_EQ(reply.config().gateways(1).name(), "rescue");
  EXPECT_EQ(reply.config().gateways(1).state_dir(), "/tmp/rescue-state");
  get.mutable_get_config()->set_gateway("");
  EXPECT_EQ(shell.handle(get).config().config().gateway().port(), 18789u);
  get.mutable_get_config()->set_gateway("other");
  EXPECT_EQ(shell.handle(get).error().code(), pb::Error::NOT_FOUND);

  // A changed entry is a config update; a changed list is refused.
  testing::write_file(path, paths + "repair:\n  max_per_hour: 5\n" + two);
  EXPECT_FALSE(shell.reload("SIGHUP", "").has_value());
  get.mutable_get_config()->set_gateway("rescue");
  EXPECT_EQ(shell.handle(get).config().config().repair().max_per_hour(), 5u);
  testing::write_file(path, paths + "gateways:\n  - name: main\n    port: 18789\n");
  auto refused = shell.reload("SIGHUP", "");
  ASSERT_TRUE(refused.has_value());
  EXPECT_NE(refused->describe().find("restart gwr"), std::string::npos) << refused->describe();
  EXPECT_EQ(shell.handle(get).config().config().gateway().port(), 19789u) << "the running config was kept";
}

TEST_F(SupervisorShellTest, AWorkerSilentForTheHeartbeatTimeoutIsKilled) {
  (void)shell_->tick();
  for (const char* w : {"prober", "repairer", "telegram-bridge"}) heartbeat(w);
  clock_.advance(3s);
  heartbeat("prober");
  heartbeat("telegram-bridge");
  clock_.advance(2500ms);  // the repairer: silent 5.5 s
  (void)shell_->tick();
  ASSERT_EQ(launcher_.signals.size(), 1u);
  EXPECT_EQ(launcher_.signals[0], (std::pair<pid_t, int>{pid_of("repairer"), SIGKILL}));
  EXPECT_EQ(count(pb::ComponentEvent::HUNG_KILLED), 1u);
}

TEST_F(SupervisorShellTest, AHeartbeatInAnotherProcesssNameIsIgnored) {
  (void)shell_->tick();
  pb::Event forged;
  forged.set_source("prober");
  forged.set_source_pid(999);  // not the prober's pid
  forged.mutable_heartbeat()->set_component("repairer");
  forged.mutable_heartbeat()->set_pid(static_cast<uint32_t>(pid_of("repairer")));
  shell_->on_heartbeat(forged);
  for (const auto& s : shell_->table().slots()) EXPECT_FALSE(s.last_heartbeat) << s.name;
}

TEST_F(SupervisorShellTest, ARunTimeChangeIsValidatedSavedAndAnnounced) {
  const auto ok = set("repair.max_per_hour", "5");
  ASSERT_TRUE(ok.has_set_config()) << ok.DebugString();
  EXPECT_EQ(ok.set_config().value(), "5");
  EXPECT_EQ(shell_->config().config.repair().max_per_hour(), 5u);
  ASSERT_FALSE(events_.empty());
  ASSERT_TRUE(events_.back().has_config_updated());
  EXPECT_EQ(events_.back().config_updated().changed_keys(0), "repair.max_per_hour");
  const std::string overrides = testing::read_file(dir_ / "state/config-overrides.yaml");
  EXPECT_NE(overrides.find("repair.max_per_hour"), std::string::npos);
  const uint64_t version = shell_->config_version();
  // Out of its declared range: refused, nothing saved or changed.
  const auto bad = set("repair.max_per_hour", "0");
  ASSERT_TRUE(bad.has_error());
  EXPECT_NE(bad.error().message().find("between 1 and 60"), std::string::npos) << bad.error().message();
  EXPECT_EQ(shell_->config_version(), version);
  EXPECT_EQ(testing::read_file(dir_ / "state/config-overrides.yaml"), overrides);
  // Not settable at run time (a path), and not a key at all.
  EXPECT_TRUE(set("paths.state_dir", "/tmp/x").has_error());
  EXPECT_TRUE(set("repair.nonsense", "1").has_error());
  // A reload of a broken file keeps the running config.
  testing::write_file(config_path_, "probes: [not, a, mapping]\n");
  EXPECT_TRUE(shell_->reload("SIGHUP", ""));
  EXPECT_EQ(shell_->config().config.repair().max_per_hour(), 5u);
}

TEST_F(SupervisorShellTest, ShutdownAsksFirstAndKillsWhatOutlivesTheStopTimeout) {
  (void)shell_->tick();
  shell_->on_signal(SIGTERM);
  ASSERT_EQ(launcher_.signals.size(), 3u);
  for (const auto& [pid, sig] : launcher_.signals) EXPECT_EQ(sig, SIGTERM);
  bool told = false;
  for (const auto& e : events_) told |= e.has_shutdown();
  EXPECT_TRUE(told) << "workers hear the shutdown on the bus";
  shell_->on_exit(pid_of("prober"), 0);
  (void)shell_->tick();
  EXPECT_FALSE(shell_->finished());
  clock_.advance(10s);  // supervisor.stop_timeout
  (void)shell_->tick();
  size_t killed = 0;
  for (const auto& [pid, sig] : launcher_.signals) killed += sig == SIGKILL;
  EXPECT_EQ(killed, 2u);
  shell_->on_exit(pid_of("repairer"), 9);
  shell_->on_exit(pid_of("telegram-bridge"), 9);
  (void)shell_->tick();
  EXPECT_TRUE(shell_->finished());
  EXPECT_EQ(launcher_.spawned.size(), 3u) << "nothing restarted during a shutdown";
}

}  // namespace
}  // namespace gwr::supervisor
