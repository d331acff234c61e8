// gwr-repairer on the real binaries against the fake gateway and the fake
// openclaw CLI: one scenario per PRD pain point, each asserting the tier
// that fixed it and what was left untouched.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include <sstream>

#include <gtest/gtest.h>

#include "common/http_client.h"
#include "common/platform/proc.h"
#include "common/sqlite.h"
#include "tests/support/repair_scenario.h"

namespace gwr::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class RepairerTest : public RepairScenario {
 protected:
  // Puts the running service gateway into a mode (this instance only).
  void instance_mode(const std::string& mode) { ASSERT_TRUE(post_fake_mode(port_, mode)); }
  // The config with `edit` applied: each (from, to) must be found.
  static std::string edited(std::string config, const std::vector<std::pair<std::string, std::string>>& edits) {
    for (const auto& [from, to] : edits) {
      const auto at = config.find(from);
      EXPECT_NE(at, std::string::npos) << from;
      if (at != std::string::npos) config.replace(at, from.size(), to);
    }
    return config;
  }
  // The service's own stop without --force: it gives up, as systemd would
  // before its stop timeout; what is killed after that is gwr's doing.
  static std::pair<std::string, std::string> unforced_stop() { return {"\"stop\", \"--force\"]", "\"stop\"]"}; }
  // Starts gwr on `config` and waits until it calls the gateway healthy.
  void start_daemon(const std::string& config) {
    daemon_ = std::make_unique<Daemon>(config);
    ASSERT_TRUE(daemon_->start());
    watch();
    ASSERT_TRUE(bus_->wait_health([](const pb::GatewayHealth& h) { return h.state() == pb::HEALTHY; }, 10s));
  }
  // A process that is not the service's gateway (a hung fake) takes the port.
  Process start_squatter() {
    // The port must be free first: a killed gateway's socket can outlive
    // its pid by a moment under load (CI saw the squatter fail to bind).
    EXPECT_TRUE(wait_until([&] { return listening_pids(static_cast<uint16_t>(port_)).empty(); }, 5s, "port free"));
    Process squatter = Process::start({fake_path("fake-gateway"), "--port", std::to_string(port_), "--mode", "hang"}, {},
                                      dir_ / "squatter.out");
    EXPECT_TRUE(wait_until([&] { return !listening_pids(static_cast<uint16_t>(port_)).empty(); }, 3s, "squatter listening"));
    return squatter;
  }
};

TEST_F(RepairerTest, KilledGatewayIsFixedByTier1) {
  start();
  const pid_t old = service_->gateway_pid();
  ::kill(old, SIGKILL);
  auto done = wait_repair(pb::RepairEvent::FINISHED, 15s);
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->success()) << done->details();
  EXPECT_EQ(done->tier(), 1u);
  EXPECT_EQ(done->trigger(), pb::TRIGGER_AUTO);
  EXPECT_LT(done->duration_ms(), 3000);
  EXPECT_NE(service_->gateway_pid(), old);
  EXPECT_TRUE(bus_->wait_health([](const pb::GatewayHealth& h) { return h.state() == pb::HEALTHY; }, 5s));
  EXPECT_TRUE(calls_contain("gateway restart --force"));
  EXPECT_FALSE(calls_contain("gateway stop"));  // tier 2 was not needed
  auto history = gwrctl_json({"history"});
  ASSERT_EQ(history["repairs"].size(), 1u);
  EXPECT_EQ(history["repairs"][0]["status"], "succeeded");
  EXPECT_EQ(history["repairs"][0]["fixed_by_tier"], 1);
  // The JSON log line carries the PRD §6.3 fields.
  bool logged = false;
  for (const auto& l : read_json_lines(daemon_->log_file("gwr-repairer"))) {
    if (l.value("event", "") != "repair_completed") continue;
    logged = true;
    for (const char* k : {"timestamp", "level", "event", "tier", "duration_ms", "trigger", "success", "details"}) {
      EXPECT_TRUE(l.contains(k)) << k;
    }
    EXPECT_EQ(l["success"], true);
  }
  EXPECT_TRUE(logged);
}

// `gwrctl watch` (issue #17, part 5): the kill and its repair as a story,
// and the same events as JSON lines with --json.
TEST_F(RepairerTest, WatchTellsTheIncidentAsItHappens) {
  start();
  const std::string text_out = dir_ / "watch.txt";
  const std::string json_out = dir_ / "watch.json";
  const std::map<std::string, std::string> env = {{"NO_COLOR", "1"}};
  Process text = Process::start({bin_path("gwrctl"), "--config", daemon_->config_path(), "watch", "--utc"}, env, text_out);
  Process json = Process::start({bin_path("gwrctl"), "--config", daemon_->config_path(), "--json", "watch"}, env, json_out);
  // Both subscribed, and the current state heard (the prober publishes every evaluation).
  ASSERT_TRUE(wait_until([&] { return read_file(text_out).find("gateway HEALTHY") != std::string::npos; }, 10s,
                         "watch shows the current state"))
      << read_file(text_out);
  ::kill(service_->gateway_pid(), SIGKILL);
  auto done = wait_repair(pb::RepairEvent::FINISHED, 15s);
  ASSERT_TRUE(done);
  ASSERT_TRUE(wait_until([&] { return read_file(text_out).find("repaired tier 1") != std::string::npos; }, 5s,
                         "watch shows the outcome"))
      << read_file(text_out);
  const std::string said = read_file(text_out);
  const auto at = [&](const std::string& what) { return said.find(what); };
  EXPECT_LT(at("gateway HEALTHY"), at("gateway DOWN (was healthy)")) << said;
  EXPECT_LT(at("gateway DOWN (was healthy)"), at("repair #1 started (automatic)")) << said;
  EXPECT_LT(at("repair #1 started (automatic)"), at("repair #1 tier 1  restart ok")) << said;
  EXPECT_LT(at("repair #1 tier 1  restart ok"), at("repair #1 repaired tier 1")) << said;
  EXPECT_EQ(said.find('\033'), std::string::npos) << "colour without a terminal";
  EXPECT_EQ(said.find("heartbeat"), std::string::npos);
  std::fprintf(stderr, "[watch]\n%s", said.c_str());
  ASSERT_TRUE(wait_until([&] { return read_file(json_out).find("\"finished\"") != std::string::npos; }, 5s, "json lines"))
      << read_file(json_out);
  size_t lines = 0;
  std::istringstream in(read_file(json_out));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("watching gwr", 0) == 0) continue;  // the banner, on stderr (the file has both)
    const auto j = nlohmann::json::parse(line, nullptr, false);
    EXPECT_TRUE(j.is_object()) << line;
    ++lines;
  }
  EXPECT_GE(lines, 4u);
  // Without a daemon: exit 3, like every command that needs one.
  text.signal(SIGTERM);
  json.signal(SIGTERM);
  ASSERT_TRUE(daemon_->stop());
  Process gone = Process::start({bin_path("gwrctl"), "--config", daemon_->config_path(), "watch"}, {}, dir_ / "gone.txt");
  const auto status = gone.wait(10s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 3) << read_file(dir_ / "gone.txt");
}

TEST_F(RepairerTest, StaleProcessOnThePortNeedsTier2) {
  start();
  ASSERT_EQ(daemon_->gwrctl({"pause"}).exit_code, 0);
  ::kill(service_->gateway_pid(), SIGKILL);
  ASSERT_TRUE(wait_until([&] { return !pid_alive(service_->gateway_pid()); }, 2s, "service gateway dead"));
  // Something that is not the service's gateway squats the port.
  Process squatter = start_squatter();
  ASSERT_TRUE(squatter.running());
  ASSERT_TRUE(bus_->wait_health(
      [](const pb::GatewayHealth& h) { return h.state() == pb::DOWN && h.recommended_tier() == 1; }, 5s));
  ASSERT_EQ(daemon_->gwrctl({"resume"}).exit_code, 0);
  auto done = wait_repair(pb::RepairEvent::FINISHED, 30s);
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->success()) << done->details();
  EXPECT_EQ(done->tier(), 2u);
  EXPECT_EQ(std::vector<uint32_t>(done->tiers_tried().begin(), done->tiers_tried().end()), (std::vector<uint32_t>{1, 2}));
  EXPECT_TRUE(wait_until([&] { return !squatter.running(); }, 2s, "squatter stopped"));
  auto kill_step = wait_repair(pb::RepairEvent::STEP, 0ms,
                               [](const pb::RepairEvent& e) { return e.step().name() == "kill_port_owners"; });
  ASSERT_TRUE(kill_step);
  EXPECT_NE(kill_step->step().detail().find("pid " + std::to_string(squatter.pid())), std::string::npos)
      << kill_step->step().detail();
  EXPECT_TRUE(bus_->wait_health([](const pb::GatewayHealth& h) { return h.state() == pb::HEALTHY; }, 5s));
}

// The real gateway takes ~10-20 s to start and retries a busy port for 10 s
// before it gives up; a repair must not wait out the startup grace for a
// gateway that can never have its port.
TEST_F(RepairerTest, AStartingGatewayWhosePortIsTakenGetsNoStartupGrace) {
  const std::string launch = "sl" + std::to_string(port_);
  service_ = std::make_unique<FakeOpenclaw>(dir_.path(), port_,
                                            "EXTRA_ARGS=\"--launch-name " + launch + " --launch-ms 4000\"\n");
  std::string config = yaml();
  config.insert(config.find("probes:"), "  launch_match: " + launch + "\n");
  config.replace(config.find("startup_grace: 3s"), 17, "startup_grace: 30s");
  ASSERT_TRUE(service_->start_healthy());
  daemon_ = std::make_unique<Daemon>(config);
  ASSERT_TRUE(daemon_->start());
  bus_ = std::make_unique<BusWatcher>(daemon_->runtime_dir(), std::vector<std::string>{"gateway_health", "repair_event"});
  ASSERT_TRUE(bus_->wait_health([](const pb::GatewayHealth& h) { return h.state() == pb::HEALTHY; }, 10s));
  ASSERT_EQ(daemon_->gwrctl({"pause"}).exit_code, 0);
  ::kill(service_->gateway_pid(), SIGKILL);
  ASSERT_TRUE(wait_until([&] { return !pid_alive(service_->gateway_pid()); }, 2s, "service gateway dead"));
  Process squatter = start_squatter();
  ASSERT_TRUE(squatter.running());
  ASSERT_EQ(daemon_->gwrctl({"resume"}).exit_code, 0);
  // Tier 1's restart launches a gateway that is still loading at the 3 s
  // deadline: young, but the port is the squatter's.
  auto verify1 = wait_repair(pb::RepairEvent::STEP, 20s, [](const pb::RepairEvent& e) {
    return e.step().tier() == 1 && e.step().name() == "verify" && e.step().duration_ms() > 0;
  });
  ASSERT_TRUE(verify1);
  EXPECT_FALSE(verify1->step().ok());
  EXPECT_LT(verify1->step().duration_ms(), 4500) << verify1->step().detail();
  EXPECT_NE(verify1->step().detail().find("is held by pid " + std::to_string(squatter.pid())), std::string::npos)
      << verify1->step().detail();
  auto done = wait_repair(pb::RepairEvent::FINISHED, 30s);
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->success()) << done->details();
  EXPECT_EQ(done->tier(), 2u);
}

TEST_F(RepairerTest, StaleSessionLockIsRemovedAndNothingElse) {
  service_->set_mode("stale_lock");
  start();
  const std::string sessions = service_->state_dir() + "/agents/main/sessions";
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  write_file(sessions + "/live.jsonl.lock", "{\"pid\":" + std::to_string(::getpid()) + ",\"createdAt\":" + std::to_string(now) + "}");
  write_file(sessions + "/chat.jsonl", "history the owner cares about");
  write_file(service_->state_dir() + "/agents/main/dead-outside-glob.jsonl.lock", "{\"pid\":999999,\"createdAt\":1}");
  // A symlinked lock: never followed, never deleted (its target names a live
  // owner so that the fake gateway is not wedged by it).
  const std::string precious = "{\"pid\":" + std::to_string(::getpid()) + ",\"createdAt\":" + std::to_string(now) + "}";
  write_file(dir_ / "precious.txt", precious);
  fs::create_symlink(dir_ / "precious.txt", sessions + "/link.jsonl.lock");
  // The wedge: a lock whose owner is gone.
  write_file(sessions + "/dead.jsonl.lock", "{\"pid\":999999,\"createdAt\":" + std::to_string(now) + "}");
  auto done = wait_repair(pb::RepairEvent::FINISHED, 30s);
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->success()) << done->details();
  EXPECT_EQ(done->tier(), 2u);
  EXPECT_FALSE(fs::exists(sessions + "/dead.jsonl.lock"));
  EXPECT_TRUE(fs::exists(sessions + "/live.jsonl.lock"));
  EXPECT_TRUE(fs::exists(sessions + "/chat.jsonl"));
  EXPECT_TRUE(fs::exists(service_->state_dir() + "/agents/main/dead-outside-glob.jsonl.lock"));
  EXPECT_TRUE(fs::is_symlink(sessions + "/link.jsonl.lock"));
  EXPECT_EQ(read_file(dir_ / "precious.txt"), precious);
  auto sweep = wait_repair(pb::RepairEvent::STEP, 0ms,
                           [](const pb::RepairEvent& e) { return e.step().name() == "sweep_stale_locks"; });
  ASSERT_TRUE(sweep);
  EXPECT_EQ(sweep->step().detail().rfind("removed 1 stale lock(s)", 0), 0u) << sweep->step().detail();
}

TEST_F(RepairerTest, ZombieAfterUpgradeIsFixedByTier2) {
  start();
  service_->set_switch("hang-restart");
  const pid_t zombie = service_->gateway_pid();
  instance_mode("hang");
  auto done = wait_repair(pb::RepairEvent::FINISHED, 30s);
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->success()) << done->details();
  EXPECT_EQ(done->tier(), 2u);
  EXPECT_FALSE(pid_alive(zombie));
  EXPECT_FALSE(calls_contain("gateway restart"));  // a hung gateway is recommended tier 2 straight away
}

// PRD §1, the brew-upgrade case: the upgrade replaced the service's job, but
// the old gateway binary still holds the port, answering nothing; the new
// one cannot bind (EADDRINUSE) and exits. A restart cannot help; Tier 2
// kills the stale listener (ours: our user, our state dir, identity-checked)
// and starts the new one. Runs in both builds (linux and posix).
TEST_F(RepairerTest, AnOldGatewayLeftOnThePortByAnUpgradeIsKilledAndTheNewOneStarted) {
  start();
  const pid_t old = service_->gateway_pid();
  ASSERT_GT(old, 0);
  instance_mode("hang");
  std::filesystem::remove(service_->home() + "/gateway.pid");  // the service no longer knows it
  auto done = wait_repair(pb::RepairEvent::FINISHED, 45s);
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->success()) << done->details();
  EXPECT_EQ(done->tier(), 2u) << done->details();
  EXPECT_TRUE(wait_until([&] { return !pid_alive(old); }, 5s, "the old gateway gone"));
  auto kill_step = wait_repair(pb::RepairEvent::STEP, 0ms, [](const pb::RepairEvent& e) {
    return e.step().name() == "kill_port_owners" || e.step().name() == "kill_gateway";
  });
  ASSERT_TRUE(kill_step);
  EXPECT_NE(kill_step->step().detail().find(std::to_string(old)), std::string::npos) << kill_step->step().detail();
  const pid_t now = service_->gateway_pid();
  EXPECT_GT(now, 0);
  EXPECT_NE(now, old);
  EXPECT_TRUE(bus_->wait_health([&](const pb::GatewayHealth& h) {
    return h.state() == pb::HEALTHY && static_cast<pid_t>(h.pid()) == now;
  }, 10s));
}

TEST_F(RepairerTest, HungRestartCommandIsKilledAtTheTierDeadlineThenTier2) {
  start();
  service_->set_switch("hang-restart");
  instance_mode("hang");
  ASSERT_EQ(daemon_->gwrctl({"pause"}).exit_code, 0);  // only the manual repair below
  const auto t0 = std::chrono::steady_clock::now();
  auto out = daemon_->gwrctl({"repair", "--tier", "1"}, 60s);
  EXPECT_EQ(out.exit_code, 0) << out.output;
  EXPECT_NE(out.output.find("Recovered by tier 2"), std::string::npos) << out.output;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 20s);
  auto step = wait_repair(pb::RepairEvent::STEP, 5s, [](const pb::RepairEvent& e) { return e.step().name() == "restart"; });
  ASSERT_TRUE(step);
  EXPECT_TRUE(step->step().timed_out());
  // The hung CLI (and its process group) is gone.
  EXPECT_TRUE(wait_until([&] { return !pid_alive(static_cast<pid_t>(step->step().pid())); }, 2s, "hung restart killed"));
}

TEST_F(RepairerTest, CrashLoopGetsExactlyMaxPerHourRepairsThenOneCooldown) {
  start();
  service_->set_mode("crash after_ms=1500");
  ASSERT_TRUE(wait_until([&] { return count(pb::RepairEvent::COOLDOWN_ENTERED) == 1 || (bus_->pump(50ms), false); },
                         60s, "cooldown entered"));
  bus_->pump(8s);  // and then nothing more
  EXPECT_EQ(count(pb::RepairEvent::STARTED), 3);
  EXPECT_EQ(count(pb::RepairEvent::RATE_LIMITED), 1);
  EXPECT_EQ(count(pb::RepairEvent::COOLDOWN_ENTERED), 1);
  auto status = gwrctl_json({"status"});
  EXPECT_EQ(status["repair"]["repairs_last_hour"], 3);
  EXPECT_FALSE(status["repair"]["cooldown_until"].is_null());
  EXPECT_EQ(status["gateway"]["state"], "down");
  EXPECT_EQ(gwrctl_json({"history"})["repairs"].size(), 3u);
}

TEST_F(RepairerTest, RepairerKilledDuringTier2ResumesTheSameRepair) {
  start();
  service_->set_switch("fail-restart");
  service_->set_switch("slow-stop", "3000");
  ::kill(service_->gateway_pid(), SIGKILL);
  ASSERT_TRUE(wait_repair(pb::RepairEvent::STEP, 15s, [](const pb::RepairEvent& e) {
    return e.step().name() == "restart" && !e.step().ok();
  }));
  // Tier 2's slow stop is running now, and the repairer has recorded it as
  // the running step (its heartbeat says so once the step is saved).
  ASSERT_TRUE(wait_until([&] { return calls_contain("gateway stop"); }, 5s, "tier 2 stop running"));
  ASSERT_TRUE(wait_until(
      [&] {
        if (auto c = daemon_->components()) {
          for (const auto& comp : c->components()) {
            if (comp.name() == "repairer" && comp.activity().find("tier 2: stop") != std::string::npos) return true;
          }
        }
        return false;
      },
      5s, "the repairer reports the running stop step"));
  const pid_t repairer = daemon_->worker_pids().at("repairer");
  ::kill(repairer, SIGKILL);
  auto resuming = wait_repair(pb::RepairEvent::RESUMING, 10s);
  ASSERT_TRUE(resuming);
  EXPECT_EQ(resuming->repair_id(), 1);
  EXPECT_EQ(resuming->tier(), 2u);
  auto done = wait_repair(pb::RepairEvent::FINISHED, 40s);
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->success()) << done->details();
  EXPECT_EQ(done->repair_id(), 1);
  bus_->pump(3s);
  EXPECT_EQ(count(pb::RepairEvent::STARTED), 1);  // never a second repair
  auto history = gwrctl_json({"history"});
  ASSERT_EQ(history["repairs"].size(), 1u);
  EXPECT_EQ(history["repairs"][0]["status"], "succeeded");
  auto status = gwrctl_json({"status"});
  EXPECT_EQ(status["repair"]["repairs_last_hour"], 1);  // the limiter survived
  auto shown = gwrctl_json({"show", "1"});
  bool interrupted = false;
  for (const auto& st : shown["steps"]) interrupted |= st.value("interrupted", false);
  EXPECT_TRUE(interrupted) << shown.dump(2);
}

// OpenClaw's crash-loop breaker: /health and /readyz 200, channels off.
// gwr says so and never restarts (a restart is one more unclean boot); when
// the breaker clears by itself, it is healthy again with no repair at all.
int64_t wall_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

nlohmann::json fake_state(int port) {
  CurlHttpClient http;
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(port) + "/_fake/state";
  req.timeout = 2s;
  const auto r = http.send(req);
  return nlohmann::json::parse(r.body, nullptr, false);
}

// OpenClaw counts unclean boots (kill -9, crashes) by their start in a
// 300 s window; the third trips its breaker at the next boot. Two crashes
// are on record, the running gateway is wedged (ignores SIGTERM): gwr's
// SIGKILL would be the third, so it waits until the older crash ages out.
TEST_F(RepairerTest, AKillThatWouldTripOpenClawsBreakerWaitsForTheWindow) {
  service_ = std::make_unique<FakeOpenclaw>(dir_.path(), port_, "EXTRA_ARGS=\"--breaker\"\n");
  fs::create_directories(service_->state_dir() + "/state");
  const int64_t seeded_at = wall_now_ms();
  const int64_t oldest = seeded_at - 278'000;  // counted until seeded_at + 22 s
  {
    auto db = Database::open(service_->state_dir() + "/state/openclaw.sqlite");
    ASSERT_TRUE(db.ok()) << db.message();
    ASSERT_TRUE((*db)->exec("CREATE TABLE gateway_boot_lifecycle (boot_id TEXT NOT NULL PRIMARY KEY, pid INTEGER NOT "
                            "NULL, started_at_ms INTEGER NOT NULL, completed_at_ms INTEGER, outcome TEXT, "
                            "startup_reason TEXT, reason TEXT) STRICT")
                    .ok());
    ASSERT_TRUE((*db)->exec("INSERT INTO gateway_boot_lifecycle VALUES ('crash-1', 1, " + std::to_string(oldest) +
                            ", NULL, NULL, NULL, NULL), ('crash-2', 2, " + std::to_string(seeded_at - 200'000) +
                            ", NULL, NULL, NULL, NULL)")
                    .ok());
  }
  ASSERT_TRUE(service_->start_healthy());
  EXPECT_EQ(fake_state(port_)["unclean_boots_at_start"], 2);
  start_daemon(edited(yaml(), {unforced_stop()}));
  const pid_t wedged = service_->gateway_pid();
  instance_mode("wedged");
  auto kill = wait_repair(pb::RepairEvent::STEP, 60s, [](const pb::RepairEvent& e) {
    return e.step().name() == "kill_port_owners" && e.step().duration_ms() > 0;
  });
  ASSERT_TRUE(kill);
  const int64_t killed_by = wall_now_ms();
  EXPECT_NE(kill->step().detail().find("pid " + std::to_string(wedged)), std::string::npos) << kill->step().detail();
  EXPECT_NE(kill->step().detail().find("SIGKILL after waiting"), std::string::npos) << kill->step().detail();
  EXPECT_NE(kill->step().detail().find("crash-loop"), std::string::npos) << kill->step().detail();
  // Not before the oldest crash left the window.
  EXPECT_GE(killed_by, oldest + 300'000);
  auto done = wait_repair(pb::RepairEvent::FINISHED, 30s);
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->success()) << done->details();
  EXPECT_FALSE(done->impaired()) << done->details();
  // The new gateway counted two unclean boots (the younger crash, the kill): not tripped.
  const auto state = fake_state(port_);
  EXPECT_EQ(state["breaker_tripped"], false) << state.dump();
  EXPECT_EQ(state["unclean_boots_at_start"], 2) << state.dump();
}

// A gateway that closes its port on SIGTERM but stays alive (OpenClaw with
// a Telegram channel lingers for minutes) gets linger_grace, then is
// stopped; without that the service would not start a new one beside it.
TEST_F(RepairerTest, AGatewayThatLingersAfterTheStopIsStoppedAfterTheLingerGrace) {
  service_ = std::make_unique<FakeOpenclaw>(dir_.path(), port_, "EXTRA_ARGS=\"--linger-ms 60000\"\n");
  ASSERT_TRUE(service_->start_healthy());
  start_daemon(edited(yaml(), {unforced_stop(), {"  tier2: {deadline: 10s}", "  tier2: {deadline: 10s, linger_grace: 2s}"}}));
  const pid_t lingering = service_->gateway_pid();
  instance_mode("hang");
  auto kill = wait_repair(pb::RepairEvent::STEP, 40s, [](const pb::RepairEvent& e) {
    return e.step().name() == "kill_port_owners" && e.step().duration_ms() > 0;
  });
  ASSERT_TRUE(kill);
  EXPECT_NE(kill->step().detail().find("the gateway (pid " + std::to_string(lingering) +
                                       ") closed its port but was still alive 2s after the stop"),
            std::string::npos)
      << kill->step().detail();
  EXPECT_FALSE(pid_alive(lingering));
  auto done = wait_repair(pb::RepairEvent::FINISHED, 30s);
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->success()) << done->details();
  EXPECT_NE(service_->gateway_pid(), lingering);
}

TEST_F(RepairerTest, TheCrashLoopBreakerIsDegradedAndNeverRestarted) {
  start();
  instance_mode("breaker");
  auto h = bus_->wait_health([](const pb::GatewayHealth& x) { return x.state() == pb::DEGRADED; }, 5s);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->recommended_tier(), 0u);
  ASSERT_GE(h->findings_size(), 1);
  EXPECT_EQ(h->findings(0).kind(), pb::Finding::CHANNEL_SUPPRESSED);
  EXPECT_EQ(h->findings(0).subject(), "telegram");
  auto status = gwrctl_json({"status"});
  EXPECT_EQ(status["gateway"]["state"], "degraded");
  EXPECT_NE(status.dump().find("crash-loop breaker"), std::string::npos) << status.dump();
  bus_->pump(4s);
  EXPECT_EQ(count(pb::RepairEvent::STARTED), 0);
  instance_mode("healthy");
  EXPECT_TRUE(bus_->wait_health([](const pb::GatewayHealth& x) { return x.state() == pb::HEALTHY; }, 5s));
  EXPECT_EQ(count(pb::RepairEvent::STARTED), 0);
  EXPECT_EQ(gwrctl_json({"history"})["repairs"].size(), 0u);
  EXPECT_FALSE(calls_contain("gateway restart"));
}

// The owner's Start for a channel OpenClaw's breaker holds off runs
// channels.start with the gateway token in its environment (never argv),
// only for a channel OpenClaw lists as held off, and is verified by /readyz.
TEST_F(RepairerTest, StartingAHeldOffChannelRunsChannelsStartWithTheTokenForListedChannelsOnly) {
  const std::string token = "gw-secret-token-7f3a9";
  service_ = std::make_unique<FakeOpenclaw>(dir_.path(), port_, "TOKEN=" + token + "\n");
  ASSERT_TRUE(service_->start_healthy());
  start_daemon(edited(yaml(), {{"gateway:\n", "gateway:\n  token: " + token + "\n"}}));
  instance_mode("breaker");
  ASSERT_TRUE(bus_->wait_health([](const pb::GatewayHealth& x) { return x.state() == pb::DEGRADED; }, 5s));
  // Not a channel OpenClaw holds off: refused, nothing run.
  auto other = daemon_->gwrctl({"repair", "--start-channel", "discord"});
  EXPECT_NE(other.exit_code, 0);
  EXPECT_NE(other.output.find("not held off"), std::string::npos) << other.output;
  auto odd = daemon_->gwrctl({"repair", "--start-channel", "telegram\"; rm -rf /"});
  EXPECT_NE(odd.exit_code, 0) << odd.output;
  EXPECT_FALSE(calls_contain("gateway call"));
  // The listed one: started and verified.
  const pid_t before = service_->gateway_pid();
  auto started = daemon_->gwrctl({"repair", "--start-channel", "telegram"}, 60s);
  EXPECT_EQ(started.exit_code, 0) << started.output;
  auto done = wait_repair(pb::RepairEvent::FINISHED, 30s);
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->success()) << done->details();
  EXPECT_EQ(done->started_channel(), "telegram");
  EXPECT_NE(done->verified().find("no longer held off"), std::string::npos) << done->verified();
  EXPECT_TRUE(calls_contain("gateway call channels.start --params {\"channel\":\"telegram\"} --port " +
                            std::to_string(port_) + " --json"));
  for (const auto& c : service_->calls()) EXPECT_EQ(c.find(token), std::string::npos) << c;  // never on argv
  EXPECT_EQ(service_->gateway_pid(), before);  // no restart, no kill
  EXPECT_FALSE(calls_contain("gateway restart"));
  EXPECT_TRUE(bus_->wait_health([](const pb::GatewayHealth& x) { return x.state() == pb::HEALTHY; }, 5s));
  // The token is in no log line and no history row.
  for (const auto& name : {"gwr-repairer", "gwr-supervisor", "gwr-prober"}) {
    EXPECT_EQ(read_file(daemon_->log_file(name)).find(token), std::string::npos) << name;
  }
  EXPECT_EQ(gwrctl_json({"history"}).dump().find(token), std::string::npos);
}

// Without gateway.token there is no Start: refused before anything runs.
TEST_F(RepairerTest, StartingAChannelWithoutTheGatewayTokenIsRefused) {
  start();
  instance_mode("breaker");
  ASSERT_TRUE(bus_->wait_health([](const pb::GatewayHealth& x) { return x.state() == pb::DEGRADED; }, 5s));
  auto r = daemon_->gwrctl({"repair", "--start-channel", "telegram"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("gateway.token is not set"), std::string::npos) << r.output;
  EXPECT_FALSE(calls_contain("gateway call"));
}

// A channel that cannot connect is OpenClaw's own monitor's to restart:
// named, degraded, no repair.
TEST_F(RepairerTest, AFailingChannelIsNamedAndNotRepaired) {
  start();
  instance_mode("channel_failing");
  auto h = bus_->wait_health([](const pb::GatewayHealth& x) { return x.state() == pb::DEGRADED; }, 5s);
  ASSERT_TRUE(h);
  ASSERT_GE(h->findings_size(), 1);
  EXPECT_EQ(h->findings(0).kind(), pb::Finding::CHANNEL_FAILING);
  EXPECT_EQ(h->findings(0).subject(), "telegram");
  bus_->pump(3s);
  EXPECT_EQ(count(pb::RepairEvent::STARTED), 0);
}

TEST_F(RepairerTest, PausedMeansNoRepairButStateIsStillReported) {
  start();
  auto paused = daemon_->gwrctl({"pause", "--reason", "upgrading node"});
  ASSERT_EQ(paused.exit_code, 0) << paused.output;
  ::kill(service_->gateway_pid(), SIGKILL);
  ASSERT_TRUE(bus_->wait_health([](const pb::GatewayHealth& h) { return h.state() == pb::DOWN; }, 5s));
  auto deferred = wait_repair(pb::RepairEvent::DEFERRED, 5s);
  ASSERT_TRUE(deferred);
  EXPECT_NE(deferred->details().find("paused"), std::string::npos);
  bus_->pump(3s);
  EXPECT_EQ(count(pb::RepairEvent::STARTED), 0);
  auto status = gwrctl_json({"status"});
  EXPECT_EQ(status["gateway"]["state"], "down");
  EXPECT_EQ(status["repair"]["paused"], true);
  ASSERT_EQ(daemon_->gwrctl({"resume"}).exit_code, 0);
  auto done = wait_repair(pb::RepairEvent::FINISHED, 15s);
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->success());
}

TEST_F(RepairerTest, ManualRepairIsAuditedAndRefusedWhileOneRuns) {
  start();
  service_->set_switch("slow-restart", "2000");
  auto first = daemon_->gwrctl({"repair", "--no-wait", "--reason", "testing"});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  auto second = daemon_->gwrctl({"repair"});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.output.find("already running"), std::string::npos) << second.output;
  auto done = wait_repair(pb::RepairEvent::FINISHED, 15s);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->trigger(), pb::TRIGGER_MANUAL);
  EXPECT_NE(done->actor().find("gwrctl"), std::string::npos);
  auto waited = daemon_->gwrctl({"repair"}, 30s);
  EXPECT_EQ(waited.exit_code, 0) << waited.output;
  EXPECT_NE(waited.output.find("Recovered by tier 1"), std::string::npos) << waited.output;
  // Manual repairs do not use up the automatic budget.
  EXPECT_EQ(gwrctl_json({"status"})["repair"]["repairs_last_hour"], 0);
  auto stats = gwrctl_json({"stats"});
  EXPECT_EQ(stats["windows"][0]["manual"], 2);
  auto logs = gwrctl_json({"logs", "-n", "5"});
  EXPECT_EQ(logs["events"].size(), 5u);
}

}  // namespace
}  // namespace gwr::testing
