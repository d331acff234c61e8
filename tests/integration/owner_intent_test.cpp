// The owner's intent (issue #20), on the real binaries against the fake
// gateway and the fake openclaw CLI: a stop through the service manager is
// not an incident, an upgrade in progress holds repairs, a timed pause ends
// by itself, a maintenance window defers and then repairs. The service
// manager is a stand-in `systemctl` first on PATH that prints a state file.
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/repair_scenario.h"

namespace gwr::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

class OwnerIntentTest : public RepairScenario {
 protected:
  void SetUp() override {
    RepairScenario::SetUp();
    bin_ = dir_ / "bin";
    fs::create_directories(bin_);
    // `systemctl [--user|--system] show UNIT ... -p ...`: prints the state file;
    // every call is recorded.
    write_script("systemctl", "#!/bin/sh\necho \"$*\" >> '" + (dir_ / "systemctl.calls") +
                                  "'\ncase \" $* \" in *\" show \"*) cat '" + (dir_ / "unit.state") +
                                  "' ;; *) exit 1 ;; esac\n");
    set_unit("active", "running", "success");
  }

  void write_script(const std::string& name, const std::string& body) {
    const std::string path = bin_ + "/" + name;
    std::ofstream(path) << body;
    ::chmod(path.c_str(), 0755);
  }
  // What the stand-in service manager says about the gateway's unit.
  void set_unit(const std::string& active, const std::string& sub, const std::string& result) {
    const std::string tmp = dir_ / "unit.state.tmp";
    std::ofstream(tmp) << "LoadState=loaded\nActiveState=" << active << "\nSubState=" << sub << "\nResult=" << result << "\n";
    fs::rename(tmp, dir_ / "unit.state");
  }
  // The service healthy and gwr watching it, with the stand-ins first on PATH.
  void start_with_service_manager(const std::string& more = "") {
    ASSERT_TRUE(service_->start_healthy());
    const char* path = ::getenv("PATH");
    daemon_ = std::make_unique<Daemon>(yaml(more), std::map<std::string, std::string>{
                                                       {"PATH", bin_ + ":" + (path ? path : "/usr/bin:/bin")}});
    ASSERT_TRUE(daemon_->start());
    watch();
    ASSERT_TRUE(bus_->wait_health([](const pb::GatewayHealth& h) { return h.state() == pb::HEALTHY; }, 10s));
  }
  int deferrals(pb::DeferReason why) const {
    int n = 0;
    for (const auto& e : bus_->events()) {
      n += e.has_repair_event() && e.repair_event().kind() == pb::RepairEvent::DEFERRED &&
           e.repair_event().defer_reason() == why;
    }
    return n;
  }

  std::string bin_;
};

TEST_F(OwnerIntentTest, AStopThroughTheServiceManagerIsNotRepairedAndARepairStartsIt) {
  start_with_service_manager();
  const pid_t old = service_->gateway_pid();
  // `openclaw gateway stop` as systemd runs it: the unit ends inactive, result success.
  set_unit("inactive", "dead", "success");
  const auto stopped_at = Clock::now();
  ASSERT_EQ(service_->run({"gateway", "stop", "--force"}).exit_code, 0);
  ASSERT_TRUE(wait_until([&] { return !pid_alive(old); }, 5s, "the gateway stopped"));
  auto told = wait_repair(pb::RepairEvent::DEFERRED, 10s,
                          [](const pb::RepairEvent& e) { return e.defer_reason() == pb::DEFER_STOPPED_BY_OWNER; });
  ASSERT_TRUE(told) << "no 'stopped by its service manager' notice";
  std::fprintf(stderr, "[owner] stop -> told in %.2f s: %s\n", seconds_since(stopped_at), told->details().c_str());
  EXPECT_NE(told->details().find("systemd (user)"), std::string::npos) << told->details();
  ASSERT_EQ(told->findings_size(), 1);
  EXPECT_EQ(told->findings(0).kind(), pb::Finding::STOPPED_BY_SERVICE);

  auto st = status();
  EXPECT_EQ(st["gateway"]["state"], "down") << st.dump(2);
  EXPECT_EQ(st["gateway"]["stopped_by_owner"], true) << st.dump(2);
  const auto text = daemon_->gwrctl({"status"});
  EXPECT_NE(text.output.find("stopped (by owner)"), std::string::npos) << text.output;

  // A minute of it: no repair, and the owner told once.
  bus_->pump(60s);
  EXPECT_EQ(count(pb::RepairEvent::STARTED), 0);
  EXPECT_EQ(deferrals(pb::DEFER_STOPPED_BY_OWNER), 1);
  EXPECT_EQ(service_->gateway_pid(), 0) << "something started the gateway";
  EXPECT_TRUE(log_has("gwr-prober", "gateway_service_state"));

  // The owner asks for it (gwrctl repair, as /repair and the Start button do).
  set_unit("active", "running", "success");
  const auto asked = Clock::now();
  const auto repaired = daemon_->gwrctl({"repair", "--tier", "1", "--reason", "start it again"});
  EXPECT_EQ(repaired.exit_code, 0) << repaired.output;
  auto done = wait_repair(pb::RepairEvent::FINISHED, 15s);
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->success()) << done->details();
  EXPECT_EQ(done->trigger(), pb::TRIGGER_MANUAL);
  std::fprintf(stderr, "[owner] repair -> started in %.2f s\n", seconds_since(asked));
  EXPECT_TRUE(bus_->wait_health([](const pb::GatewayHealth& h) { return h.state() == pb::HEALTHY; }, 5s));
  st = status();
  EXPECT_EQ(st["gateway"]["stopped_by_owner"], false) << st.dump(2);
}

TEST_F(OwnerIntentTest, AFailedUnitIsAnIncidentAsBefore) {
  start_with_service_manager();
  const pid_t old = service_->gateway_pid();
  set_unit("failed", "failed", "signal");
  const auto killed = Clock::now();
  ::kill(old, SIGKILL);
  auto done = wait_repair(pb::RepairEvent::FINISHED, 15s);
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->success()) << done->details();
  EXPECT_EQ(done->tier(), 1u);
  EXPECT_EQ(done->trigger(), pb::TRIGGER_AUTO);
  std::fprintf(stderr, "[owner] failed/signal: kill -> repaired in %.2f s\n", seconds_since(killed));
  EXPECT_EQ(deferrals(pb::DEFER_STOPPED_BY_OWNER), 0);
  // The service manager was asked, and said it failed.
  std::ifstream calls(dir_ / "systemctl.calls");
  std::string line;
  bool asked = false;
  while (std::getline(calls, line)) asked |= line.find("show openclaw-gateway.service") != std::string::npos;
  EXPECT_TRUE(asked);
}

// No service manager answers (none on these machines): OpenClaw's own boot
// record tells a clean stop of the gateway gwr saw from a crash.
TEST_F(OwnerIntentTest, WithoutAServiceManagerTheBootRecordOfACleanStopIsTheOwnersWord) {
  service_ = std::make_unique<FakeOpenclaw>(dir_.path(), port_, "EXTRA_ARGS=\"--breaker\"\n");  // keeps boot records
  start();
  const pid_t first = service_->gateway_pid();
  ASSERT_EQ(service_->run({"gateway", "stop", "--force"}).exit_code, 0);
  ASSERT_TRUE(wait_until([&] { return !pid_alive(first); }, 5s, "the gateway stopped"));
  auto told = wait_repair(pb::RepairEvent::DEFERRED, 10s,
                          [](const pb::RepairEvent& e) { return e.defer_reason() == pb::DEFER_STOPPED_BY_OWNER; });
  ASSERT_TRUE(told) << "a clean stop in OpenClaw's boot record was not taken for the owner's";
  ASSERT_EQ(told->findings_size(), 1);
  EXPECT_EQ(told->findings(0).subject(), "openclaw");
  EXPECT_NE(told->findings(0).detail().find("pid " + std::to_string(first) + " stopped cleanly"), std::string::npos);
  bus_->pump(5s);
  EXPECT_EQ(count(pb::RepairEvent::STARTED), 0);
  // Started again by the owner's repair, then killed: no clean stop, an incident.
  ASSERT_EQ(daemon_->gwrctl({"repair", "--tier", "1"}).exit_code, 0);
  ASSERT_TRUE(bus_->wait_health([](const pb::GatewayHealth& h) { return h.state() == pb::HEALTHY; }, 10s));
  bus_->clear();
  ::kill(service_->gateway_pid(), SIGKILL);
  // (The manual repair's own FINISHED may still be on its way: the automatic one is the one to wait for.)
  auto done = wait_repair(pb::RepairEvent::FINISHED, 15s,
                          [](const pb::RepairEvent& e) { return e.trigger() == pb::TRIGGER_AUTO; });
  ASSERT_TRUE(done) << "the kill was not repaired";
  EXPECT_TRUE(done->success());
  EXPECT_EQ(deferrals(pb::DEFER_STOPPED_BY_OWNER), 0);
}

TEST_F(OwnerIntentTest, AnUpgradeHoldsRepairsUntilItEndsThenTheGatewayIsRepaired) {
  start_with_service_manager("  upgrade_grace: 2m\n");
  // `openclaw update` as the owner runs it (a script under sh, like node runs the real one).
  // (No long-lived child: a killed sh must leave nothing that holds the test's output open.)
  write_script("openclaw", "#!/bin/sh\nwhile :; do sleep 0.2; done\n");
  Process upgrade = Process::start({"/bin/sh", bin_ + "/openclaw", "update"});
  // Upgrades are looked for at every process check (1 s here).
  ASSERT_TRUE(bus_->wait_health(
      [](const pb::GatewayHealth& h) {
        for (const auto& f : h.findings()) {
          if (f.kind() == pb::Finding::UPGRADE_RUNNING) return true;
        }
        return false;
      },
      10s))
      << "the upgrade was not seen";
  // The upgrade stops the old gateway (uncleanly, as a failed upgrade may).
  ::kill(service_->gateway_pid(), SIGKILL);
  auto held = wait_repair(pb::RepairEvent::DEFERRED, 10s,
                          [](const pb::RepairEvent& e) { return e.defer_reason() == pb::DEFER_UPGRADE; });
  ASSERT_TRUE(held) << "no 'upgrade running' deferral";
  EXPECT_NE(held->details().find("upgrade"), std::string::npos);
  EXPECT_EQ(status()["repair"]["waiting"], "upgrade");
  bus_->pump(5s);
  EXPECT_EQ(count(pb::RepairEvent::STARTED), 0) << "a repair during the upgrade";
  EXPECT_EQ(deferrals(pb::DEFER_UPGRADE), 1);
  // It ends; the gateway is still down: now it is repaired.
  upgrade.signal(SIGKILL);
  (void)upgrade.wait(2s);
  const auto ended = Clock::now();
  auto done = wait_repair(pb::RepairEvent::FINISHED, 20s);
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->success()) << done->details();
  std::fprintf(stderr, "[owner] upgrade ended -> repaired in %.2f s\n", seconds_since(ended));
  EXPECT_TRUE(bus_->wait_health([](const pb::GatewayHealth& h) { return h.state() == pb::HEALTHY; }, 5s));
}

TEST_F(OwnerIntentTest, ATimedPauseResumesByItself) {
  start_with_service_manager();
  const auto paused = daemon_->gwrctl({"pause", "--for", "2s", "--reason", "a short one"});
  ASSERT_EQ(paused.exit_code, 0) << paused.output;
  EXPECT_NE(paused.output.find("resume by themselves"), std::string::npos) << paused.output;
  auto st = status();
  EXPECT_EQ(st["repair"]["paused"], true);
  EXPECT_TRUE(st["repair"]["paused_until"].is_string()) << st.dump(2);
  const auto at = Clock::now();
  auto resumed = wait_repair(pb::RepairEvent::RESUMED, 6s);
  ASSERT_TRUE(resumed);
  EXPECT_EQ(resumed->actor(), "timer");
  std::fprintf(stderr, "[owner] pause --for 2s resumed after %.2f s\n", seconds_since(at));
  st = status();
  EXPECT_EQ(st["repair"]["paused"], false);
  EXPECT_TRUE(st["repair"]["paused_until"].is_null());
  // Bad durations are refused and change nothing.
  for (const char* bad : {"0s", "soon", "31d"}) {
    EXPECT_EQ(daemon_->gwrctl({"pause", "--for", bad}).exit_code, 2) << bad;
  }
  EXPECT_EQ(status()["repair"]["paused"], false);
  // Automatic repairs work again.
  ::kill(service_->gateway_pid(), SIGKILL);
  auto done = wait_repair(pb::RepairEvent::FINISHED, 15s);
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->success());
}

TEST_F(OwnerIntentTest, AMaintenanceWindowDefersTheRepairThenItRuns) {
  // A window of the current minute (local time), with at least 15 s of it left.
  auto now = std::chrono::system_clock::now();
  time_t t = std::chrono::system_clock::to_time_t(now);
  struct tm tm {};
  localtime_r(&t, &tm);
  if (tm.tm_sec > 45) {
    std::this_thread::sleep_for(std::chrono::seconds(61 - tm.tm_sec));
    t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    localtime_r(&t, &tm);
  }
  char window[64];
  const int start = tm.tm_hour * 60 + tm.tm_min, end = (start + 1) % (24 * 60);
  std::snprintf(window, sizeof window, "daily %02d:%02d-%02d:%02d", start / 60, start % 60, end / 60, end % 60);
  start_with_service_manager("  maintenance_windows: [\"" + std::string(window) + "\"]\n");
  EXPECT_EQ(status()["repair"]["in_window"], true);
  ::kill(service_->gateway_pid(), SIGKILL);
  const auto killed = Clock::now();
  auto held = wait_repair(pb::RepairEvent::DEFERRED, 10s,
                          [](const pb::RepairEvent& e) { return e.defer_reason() == pb::DEFER_MAINTENANCE; });
  ASSERT_TRUE(held) << "no maintenance-window deferral (" << window << ")";
  EXPECT_EQ(count(pb::RepairEvent::STARTED), 0);
  auto done = wait_repair(pb::RepairEvent::FINISHED, 75s);
  ASSERT_TRUE(done) << "not repaired after the window " << window;
  EXPECT_TRUE(done->success());
  EXPECT_EQ(deferrals(pb::DEFER_MAINTENANCE), 1);
  std::fprintf(stderr, "[owner] window %s: kill -> repaired after the window in %.1f s\n", window, seconds_since(killed));
  EXPECT_EQ(status()["repair"]["in_window"], false);
}

}  // namespace
}  // namespace gwr::testing
