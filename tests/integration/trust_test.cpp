// Nothing may silently switch gwr off: inputs and conditions the ordinary
// fakes never produce — a gateway answering with text cut inside a UTF-8
// character, garbage on the bus, a second gateway of the same name, a pid
// reused after a power loss, a locked database, a full state file system.
// Each scenario runs the real binaries and prints its figure.
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "common/platform/proc.h"
#include "common/sqlite.h"
#include "common/text.h"
#include "repairer/history_store.h"
#include "tests/support/repair_scenario.h"

namespace gwr::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

int64_t ms_since(Steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - t).count();
}

using TrustTest = RepairScenario;

// The € case: a 500 whose body is 159 bytes and a three-byte character. gwr
// 1.0 cut it at byte 160, every GatewayHealth failed to decode at the
// repairer, and the dead gateway was never repaired.
TEST_F(TrustTest, AGatewayAnsweringNonAsciiTextIsStillRepaired) {
  start();
  const std::string body = std::string(159, 'x').append("\xE2\x82\xAC").append(" 网关错误 🙂");
  const auto injected = Steady::now();
  ASSERT_TRUE(post_fake_mode(port_, "error status=500 body_hex=" + hex(body)));
  auto started = wait_repair(pb::RepairEvent::STARTED, 20s);
  ASSERT_TRUE(started) << "the repairer never acted on the 500";
  const int64_t to_start = ms_since(injected);
  ASSERT_EQ(started->findings_size(), 1) << started->DebugString();
  const auto& why = started->findings(0);
  EXPECT_EQ(why.kind(), pb::Finding::CHECK_FAILING);
  EXPECT_EQ(why.cause(), pb::CAUSE_HTTP_STATUS);
  EXPECT_EQ(why.http_status(), 500);
  EXPECT_NE(why.detail().find("HTTP 500"), std::string::npos) << why.detail();
  EXPECT_TRUE(is_valid_utf8(why.detail()));
  auto done = wait_repair(pb::RepairEvent::FINISHED, 30s);
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->success()) << done->details();
  const int64_t to_healthy = ms_since(injected);
  std::printf("[ figure ] 500 with a UTF-8 body cut at byte 160 -> repair started %lld ms, healthy %lld ms (tier %u)\n",
              static_cast<long long>(to_start), static_cast<long long>(to_healthy), done->tier());
  const auto s = status();
  EXPECT_NE(s["gateway"]["state"], "unknown");
  for (const auto& c : s["components"]) {
    EXPECT_EQ(c["decode_errors"], 0) << c.dump();
  }
  EXPECT_FALSE(log_has("gwr-repairer", "bus_message_dropped"));
}

// Garbage where GatewayHealth should be: counted, shown in gwrctl status, and
// said loudly (an error line and an Alert the owner hears on Telegram).
TEST_F(TrustTest, UndecodableHealthIsCountedAndSaidLoudly) {
  start();
  zmq::context_t ctx(1);
  zmq::socket_t pub(ctx, zmq::socket_type::pub);
  pub.set(zmq::sockopt::linger, 0);
  pub.connect(bus_in_endpoint(daemon_->runtime_dir()));
  std::mt19937 rng(3);
  pb::Event health;
  health.set_protocol_version(pb::PROTOCOL_VERSION_CURRENT);
  health.mutable_gateway_health()->add_findings()->set_detail(std::string(159, 'x').append("\xE2\x82"));  // as 1.0 sent it
  const std::string bad = health.SerializeAsString();
  auto alert = [&] {
    for (const auto& a : alerts(pb::Alert::UNDECODABLE_MESSAGES)) {
      if (a.component() == "repairer" && a.topic() == "gateway_health" && !a.cleared()) return true;
    }
    return false;
  };
  ASSERT_TRUE(wait_until(
      [&] {
        pub.send(zmq::str_buffer("gateway_health"), zmq::send_flags::sndmore);
        pub.send(zmq::buffer(bad), zmq::send_flags::none);
        bus_->pump_some(50ms);
        return alert();
      },
      10s, "an UNDECODABLE_MESSAGES alert from the repairer"));
  ASSERT_TRUE(wait_until(
      [&] {
        const auto s = status();
        for (const auto& c : s["components"]) {
          if (c["name"] == "repairer" && c["decode_errors"].get<int>() >= 3) return true;
        }
        return false;
      },
      5s, "gwrctl status counts the repairer's decode errors"));
  const auto text = daemon_->gwrctl({"status"});
  EXPECT_NE(text.output.find("repairer could not decode"), std::string::npos) << text.output;
  bool loud = false;
  for (const auto& l : read_json_lines(daemon_->log_file("gwr-repairer"))) {
    loud |= l.value("event", "") == "bus_undecodable_messages" && l.value("level", "") == "error";
  }
  EXPECT_TRUE(loud);
}

// OpenClaw's rescue-bot set-up: a second gateway with the same process name
// on another port (and here leaking memory). Ours is killed and repaired up
// to Tier 2; the other is never reported, measured or signalled.
TEST_F(TrustTest, ASecondGatewayOfTheSameNameIsNeverTouched) {
  TempDir rescue_dir;
  const int rescue_port = free_tcp_port();
  FakeGateway rescue(rescue_dir.path(), rescue_port, "leak mb_per_s=40 max_mb=200",
                     {"--name", service_->process_name(), "--log-file", rescue_dir / "rescue.log"});
  ASSERT_TRUE(wait_until([&] { return rescue.healthy(); }, 5s, "rescue gateway up"));
  start();
  service_->set_switch("fail-restart");  // Tier 1 fails: Tier 2 kills port owners and starts it
  const pid_t ours = service_->gateway_pid();
  ::kill(ours, SIGKILL);
  auto done = wait_repair(pb::RepairEvent::FINISHED, 40s);
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->success()) << done->details();
  EXPECT_EQ(done->tier(), 2u);
  bus_->pump(3s);
  for (const auto& h : bus_->healths()) {
    EXPECT_NE(static_cast<pid_t>(h.pid()), rescue.pid()) << h.DebugString();
    EXPECT_NE(h.state(), pb::DEGRADED) << "the other gateway's memory was measured: " << h.DebugString();
  }
  const auto s = status();
  EXPECT_NE(s["gateway"]["pid"].get<pid_t>(), rescue.pid());
  EXPECT_TRUE(rescue.process().running()) << "the other gateway was killed";
  EXPECT_TRUE(rescue.healthy());
  EXPECT_EQ(read_file(rescue_dir / "rescue.log").find("SIG"), std::string::npos) << "it was signalled";
  for (const auto& l : read_json_lines(daemon_->log_file("gwr-repairer"))) {
    if (l.contains("target_pid")) {
      EXPECT_NE(l["target_pid"].get<pid_t>(), rescue.pid()) << l.dump();
    }
  }
  std::printf("[ figure ] two gateways named %s: ours repaired by tier %u; the other (pid %d) never in status, "
              "never signalled\n",
              service_->process_name().c_str(), done->tier(), rescue.pid());
}

// A repairer that died mid-step left a pid in gwr.db. After a power loss (a
// new boot), or once the pid belongs to someone else, that pid is a
// stranger's: it must not be killed. Only the very process the step started
// may be.
class InterruptedStepTest : public TrustTest {
 public:
  // gwr.db as a repairer leaves it when it dies while `step` runs.
  void seed(pb::RepairStep step) {
    fs::create_directories(daemon_->state_dir());
    auto store = repairer::HistoryStore::open(daemon_->state_dir() + "/gwr.db");
    ASSERT_TRUE(store.ok()) << store.message();
    pb::RepairSummary r;
    r.set_trigger(pb::TRIGGER_AUTO);
    r.set_actor("auto");
    r.set_reason("gateway process exited");
    r.set_started_at_ms(SystemClock::instance().wall_ms() - 2 * 3'600'000);  // too old to resume
    r.set_current_tier(2);
    const auto id = (*store)->create_repair(r);
    ASSERT_TRUE(id.ok());
    step.set_tier(2);
    step.set_name("stop");
    ASSERT_TRUE((*store)->save_step(*id, 0, step, true).ok());
    repairer::PolicyState p;
    p.set_active_repair_id(*id);
    ASSERT_TRUE((*store)->save_policy(p).ok());
  }
  // A process that is not gwr's: a stranger that got the recorded pid.
  Process stranger() { return Process::start({"/bin/sleep", "300"}); }
  void boot_and_recover() {
    ASSERT_TRUE(service_->start_healthy());
    ASSERT_TRUE(daemon_->start());
    ASSERT_TRUE(wait_until([&] { return log_has("gwr-repairer", "repairer_ready"); }, 10s, "repairer ready"));
  }
};

// gwr.db records `process` as an interrupted step's command, with its start
// time moved by ticks_off and the given boot id; then gwr starts up.
void seed_and_recover(InterruptedStepTest& t, const Process& process, int64_t ticks_off, const std::string& boot) {
  const auto id = identify_process(process.pid());
  ASSERT_TRUE(id);
  pb::RepairStep step;
  step.set_pid(static_cast<uint32_t>(process.pid()));
  step.set_pid_start_ticks(id->start_ticks + static_cast<uint64_t>(ticks_off));
  step.set_boot_id(boot);
  ASSERT_NO_FATAL_FAILURE(t.seed(step));
  ASSERT_NO_FATAL_FAILURE(t.boot_and_recover());
}

TEST_F(InterruptedStepTest, AfterAPowerLossTheRecordedPidIsNeverSignalled) {
  daemon_ = std::make_unique<Daemon>(yaml());
  Process other = stranger();
  // Even the same start time, but recorded in another boot.
  seed_and_recover(*this, other, 0, "00000000-0000-0000-0000-000000000000");
  EXPECT_TRUE(log_has("gwr-repairer", "interrupted_step_gone"));
  EXPECT_FALSE(log_has("gwr-repairer", "interrupted_step_killed"));
  EXPECT_TRUE(other.running()) << "a stranger was killed";
  std::printf("[ figure ] power loss + pid %d recorded: nothing signalled\n", other.pid());
}

TEST_F(InterruptedStepTest, AReusedPidIsNeverSignalled) {
  daemon_ = std::make_unique<Daemon>(yaml());
  Process other = stranger();
  seed_and_recover(*this, other, -1, boot_id());  // the pid's earlier owner
  EXPECT_TRUE(log_has("gwr-repairer", "interrupted_step_gone"));
  EXPECT_TRUE(other.running()) << "a stranger with a reused pid was killed";
  std::printf("[ figure ] reused pid %d: nothing signalled\n", other.pid());
}

TEST_F(InterruptedStepTest, TheVeryProcessTheStepStartedIsStopped) {
  daemon_ = std::make_unique<Daemon>(yaml());
  // What a step runs: its own process group, like the command runner makes.
  Process command = Process::start(in_new_session({"/bin/sleep", "300"}));
  ASSERT_TRUE(wait_until([&] { const auto p = read_proc(command.pid()); return p && p->comm == "sleep"; }, 3s,
                         "command running"));
  seed_and_recover(*this, command, 0, boot_id());
  EXPECT_TRUE(wait_until([&] { return !command.running(); }, 5s, "the interrupted command was killed"));
  EXPECT_TRUE(log_has("gwr-repairer", "interrupted_step_killed"));
}

// Another process holds gwr.db locked when the repairer starts. gwr 1.0 took
// the busy database for a corrupt one, moved it aside and started afresh:
// the owner's pause was gone and the dead gateway was "repaired".
TEST_F(TrustTest, ALockedDatabaseKeepsThePauseAndIsNotMovedAside) {
  start();
  ASSERT_EQ(daemon_->gwrctl({"pause", "--reason", "maintenance"}).exit_code, 0);
  ASSERT_TRUE(daemon_->stop());
  const std::string db_path = daemon_->state_dir() + "/gwr.db";
  auto holder = Database::open(db_path);
  ASSERT_TRUE(holder.ok()) << holder.message();
  ASSERT_TRUE((*holder)->exec("PRAGMA locking_mode=EXCLUSIVE").ok());
  ASSERT_TRUE((*holder)->exec("BEGIN EXCLUSIVE").ok());
  ASSERT_TRUE((*holder)->exec("INSERT OR REPLACE INTO policy(key, value) VALUES('holder', 'x')").ok());
  ASSERT_TRUE(daemon_->start(20s));
  watch();
  ::kill(service_->gateway_pid(), SIGKILL);
  ASSERT_TRUE(bus_->wait_health([](const pb::GatewayHealth& h) { return h.state() == pb::DOWN; }, 10s));
  bus_->pump(8s);  // longer than SQLite's busy timeout
  EXPECT_EQ(count(pb::RepairEvent::STARTED), 0) << "a repair ran while paused";
  auto s = status();
  EXPECT_EQ(s["repair"]["paused"], true) << s.dump(2);
  EXPECT_EQ(s["repair"]["state_unsaved"], true) << s.dump(2);
  // The lock goes: the pause is still there, and nothing was moved aside.
  ASSERT_TRUE((*holder)->exec("ROLLBACK").ok());
  holder->reset();
  ASSERT_TRUE(wait_until([&] { return status()["repair"]["state_unsaved"] == false; }, 20s, "state trusted again"));
  EXPECT_EQ(status()["repair"]["paused"], true);
  bus_->pump(2s);
  EXPECT_EQ(count(pb::RepairEvent::STARTED), 0);
  for (const auto& e : fs::directory_iterator(daemon_->state_dir())) {
    EXPECT_EQ(e.path().filename().string().find("corrupt"), std::string::npos) << e.path();
  }
  ASSERT_EQ(daemon_->gwrctl({"resume"}).exit_code, 0);
  auto done = wait_repair(pb::RepairEvent::FINISHED, 20s);
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->success());
}

// gwr's state directory on a file system that is full. Detection and manual
// repairs keep working; a pause stays a pause; automatic repairs stop (they
// could not be counted); the owner is told once; nothing saved is lost.
class FullDiskTest : public TrustTest {
 protected:
  void TearDown() override {
    if (!mounted_.empty()) {
      if (daemon_) (void)daemon_->stop();
      ::umount2(mounted_.c_str(), MNT_DETACH);
    }
  }
  // A small tmpfs as the daemon's state dir; false when mounting is not
  // permitted here (not root).
  bool mount_small_state_dir() {
    fs::create_directories(daemon_->state_dir());
    if (::mount("gwr-test", daemon_->state_dir().c_str(), "tmpfs", 0, "size=2m,mode=0700") != 0) return false;
    mounted_ = daemon_->state_dir();
    return true;
  }
  void fill() {
    std::ofstream f(mounted_ + "/filler", std::ios::binary);
    const std::string block(64 * 1024, '\0');
    while (f.write(block.data(), static_cast<std::streamsize>(block.size()))) {
    }
    f.close();
    // Whatever is left in the last partial block too.
    std::ofstream tail(mounted_ + "/filler2", std::ios::binary);
    while (tail.put('\0')) {
    }
  }
  void unfill() {
    fs::remove(mounted_ + "/filler");
    fs::remove(mounted_ + "/filler2");
  }
  std::string mounted_;
};

TEST_F(FullDiskTest, StillPausedManualRepairsWorkAndAutomaticOnesWait) {
  ASSERT_TRUE(service_->start_healthy());
  daemon_ = std::make_unique<Daemon>(yaml());
  if (!mount_small_state_dir()) GTEST_SKIP() << "mounting a tmpfs needs root (CI runs as root)";
  ASSERT_TRUE(daemon_->start());
  watch();
  ASSERT_TRUE(bus_->wait_health([](const pb::GatewayHealth& h) { return h.state() == pb::HEALTHY; }, 10s));
  ASSERT_EQ(daemon_->gwrctl({"pause", "--reason", "before the disk filled"}).exit_code, 0);
  ASSERT_TRUE(daemon_->stop());
  // A write-ahead log left behind (a repairer that was stopped the hard way)
  // is space SQLite reuses: fold it in, so that the disk is really full.
  {
    auto db = Database::open(daemon_->state_dir() + "/gwr.db");
    ASSERT_TRUE(db.ok()) << db.message();
    ASSERT_TRUE((*db)->exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  }
  ASSERT_FALSE(fs::exists(daemon_->state_dir() + "/gwr.db-wal"));
  const auto saved = read_file(daemon_->state_dir() + "/gwr.db").size();
  fill();
  ASSERT_TRUE(daemon_->start(20s));
  watch();
  // Detection works and the pause is still shown.
  ::kill(service_->gateway_pid(), SIGKILL);
  ASSERT_TRUE(bus_->wait_health([](const pb::GatewayHealth& h) { return h.state() == pb::DOWN; }, 10s));
  ASSERT_TRUE(wait_until([&] { return status()["repair"]["state_unsaved"] == true; }, 10s, "state unsaved"))
      << read_file(daemon_->log_file("gwr-repairer"));
  auto s = status();
  EXPECT_EQ(s["repair"]["paused"], true) << s.dump(2);
  // Resumed while the disk is full: still no automatic repair (it could not
  // be counted against the hourly limit).
  ASSERT_EQ(daemon_->gwrctl({"resume"}).exit_code, 0);
  bus_->pump(4s);
  EXPECT_EQ(count(pb::RepairEvent::STARTED), 0);
  // A person asking still gets a repair.
  auto manual = daemon_->gwrctl({"repair"}, 60s);
  EXPECT_EQ(manual.exit_code, 0) << manual.output;
  EXPECT_TRUE(bus_->wait_health([](const pb::GatewayHealth& h) { return h.state() == pb::HEALTHY; }, 10s));
  // Told once, however long it lasts (the bus carries level-triggered copies,
  // which the bridge says nothing new about).
  int episodes = 0;
  for (const auto& l : read_json_lines(daemon_->log_file("gwr-repairer"))) {
    const std::string e = l.value("event", "");
    episodes += e == "state_not_saved" || e == "state_unreadable";
  }
  EXPECT_EQ(episodes, 1);
  // Nothing already saved was lost or moved.
  EXPECT_GE(read_file(daemon_->state_dir() + "/gwr.db").size(), saved);
  // Space again: the state is saved, and automatic repairs come back.
  unfill();
  ASSERT_TRUE(wait_until([&] { return status()["repair"]["state_unsaved"] == false; }, 20s, "state saved again"));
  bool cleared = false;
  for (const auto& a : alerts(pb::Alert::STATE_NOT_SAVED)) cleared |= a.cleared();
  for (const auto& a : alerts(pb::Alert::STATE_UNREADABLE)) cleared |= a.cleared();
  bus_->pump_some(1s);
  for (const auto& a : alerts(pb::Alert::STATE_NOT_SAVED)) cleared |= a.cleared();
  for (const auto& a : alerts(pb::Alert::STATE_UNREADABLE)) cleared |= a.cleared();
  EXPECT_TRUE(cleared);
  ::kill(service_->gateway_pid(), SIGKILL);
  auto done = wait_repair(pb::RepairEvent::FINISHED, 20s);
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->success());
  EXPECT_LE(status()["repair"]["repairs_last_hour"].get<int>(), 3);
  std::printf("[ figure ] full state file system: paused kept, %d automatic repairs while full, manual repair ok\n", 0);
}

TEST_F(FullDiskTest, ACrashLoopOnAFullDiskGetsNoAutomaticRepairs) {
  ASSERT_TRUE(service_->start_healthy());
  daemon_ = std::make_unique<Daemon>(yaml("  max_per_hour: 3\n"));
  if (!mount_small_state_dir()) GTEST_SKIP() << "mounting a tmpfs needs root (CI runs as root)";
  ASSERT_TRUE(daemon_->start());
  watch();
  ASSERT_TRUE(bus_->wait_health([](const pb::GatewayHealth& h) { return h.state() == pb::HEALTHY; }, 10s));
  fill();
  // The disk is full while gwr runs: the next write fails, and from then on
  // no automatic repair starts.
  service_->set_mode("crash after_ms=300");
  ::kill(service_->gateway_pid(), SIGKILL);
  bus_->pump(15s);
  const int starts = count(pb::RepairEvent::STARTED);
  EXPECT_LE(starts, 3) << "only repairs that could be recorded (and counted) ran";
  EXPECT_EQ(status()["repair"]["state_unsaved"], true);
  std::printf("[ figure ] crash loop on a full state file system: %d automatic repair(s) in 15 s (limit 3/h)\n", starts);
  if (::testing::Test::HasFailure()) std::printf("%s\n", read_file(daemon_->log_file("gwr-repairer")).c_str());
  unfill();
}

}  // namespace
}  // namespace gwr::testing
