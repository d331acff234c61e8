// gwr-repairer's shell on a fake clock: from a GatewayHealth to a recorded
// repair, the pause, the hourly limit and the cooldown, and an interrupted
// command of a dead repairer. Actions are scripted; gwr.db is real SQLite in
// a temp dir.
#include <signal.h>

#include <deque>
#include <mutex>

#include <gtest/gtest.h>

#include "repairer/history_store.h"
#include "repairer/repairer_worker.h"
#include "tests/support/shell_harness.h"

namespace gwr::repairer {
namespace {

using namespace std::chrono_literals;
using testing::Shell;

// Steps that succeed; verify answers from a script (healthy by default).
class ScriptedActions final : public RepairActions {
 public:
  struct Script {
    std::mutex mu;
    std::deque<bool> verify;  // per call; empty: healthy
    std::vector<std::string> log;
  };
  explicit ScriptedActions(std::shared_ptr<Script> s) : s_(std::move(s)) {}
  pb::RepairStep run_command(uint32_t tier, const std::string& name, const std::vector<std::string>& argv, Millis,
                             const PidCallback& on_pid) override {
    on_pid({4343, 99, "boot-a"});
    auto st = step(tier, name);
    for (const auto& a : argv) st.add_argv(a);
    return st;
  }
  pb::RepairStep kill_port_owners(uint32_t tier, Millis) override { return step(tier, "kill_port_owners"); }
  pb::RepairStep sweep_stale_locks(uint32_t tier) override { return step(tier, "sweep_stale_locks"); }
  pb::RepairStep verify(uint32_t tier, SteadyTime, SteadyTime, Millis) override {
    bool ok = true;
    {
      std::lock_guard lock(s_->mu);
      if (!s_->verify.empty()) {
        ok = s_->verify.front();
        s_->verify.pop_front();
      }
    }
    auto st = step(tier, "verify");
    st.set_ok(ok);
    return st;
  }
  pb::RepairStep sweep_locks(uint32_t tier, const std::string& name, const std::vector<std::string>&) override {
    return step(tier, name);
  }
  pb::RepairStep kill_port_owner(uint32_t tier, const std::string& name, int, Millis) override { return step(tier, name); }
  pb::RepairStep list_port_owners(uint32_t tier, const std::string& name) override { return step(tier, name); }

 private:
  pb::RepairStep step(uint32_t tier, const std::string& name) {
    {
      std::lock_guard lock(s_->mu);
      s_->log.push_back(std::to_string(tier) + ":" + name);
    }
    pb::RepairStep st;
    st.set_tier(tier);
    st.set_name(name);
    st.set_ok(true);
    return st;
  }
  std::shared_ptr<Script> s_;
};

class RepairerShellTest : public ::testing::Test {
 protected:
  RepairerShellTest()
      : shell_("repairer", "repair:\n  tier3:\n    enabled: false\n"),
        worker_(nullptr, [script = script_](const pb::Config&, const Environment&, const std::atomic<bool>&) {
          return std::make_unique<ScriptedActions>(script);
        }) {}

  // What the prober says when the gateway is down, observed now.
  pb::Event down(uint32_t tier = 1) {
    pb::Event ev;
    auto* h = ev.mutable_gateway_health();
    h->set_state(pb::DOWN);
    h->set_prober_run_id(9);
    h->set_seq(++seq_);  // as the prober numbers them: a repeat is not news
    h->set_recommended_tier(tier);
    h->set_observed_at_ms(shell_.clock.wall_ms());
    auto* c = h->add_checks();
    c->set_kind(pb::CHECK_PROCESS);
    c->set_probed(true);
    c->set_ok(false);
    c->set_at_ms(shell_.clock.wall_ms());
    auto* f = h->add_findings();
    f->set_kind(pb::Finding::NOT_RUNNING);
    f->set_check(pb::CHECK_PROCESS);
    return ev;
  }
  std::vector<pb::RepairEvent::Kind> kinds() const {
    std::vector<pb::RepairEvent::Kind> out;
    for (const auto& e : shell_.transport.repair_events()) out.push_back(e.kind());
    return out;
  }
  size_t count(pb::RepairEvent::Kind k) const {
    size_t n = 0;
    for (auto x : kinds()) n += x == k;
    return n;
  }
  void tick() { (void)worker_.on_tick(shell_.ctx(), shell_.clock.steady()); }
  // The gateway is down now; the repairer hears it and acts; waits for the repair's end.
  bool incident() {
    const size_t finished = count(pb::RepairEvent::FINISHED);
    worker_.on_event(shell_.ctx(), down());
    tick();
    if (!worker_.repairing()) return false;
    return shell_.pump_until(worker_, [&] { return count(pb::RepairEvent::FINISHED) > finished; });
  }
  pb::Reply ask(const pb::Request& r) { return worker_.on_request(shell_.ctx(), r); }

  uint64_t seq_ = 0;
  std::shared_ptr<ScriptedActions::Script> script_ = std::make_shared<ScriptedActions::Script>();
  Shell shell_;
  RepairerWorker worker_;
};

TEST_F(RepairerShellTest, ADownGatewayIsRepairedAndEveryStepRecorded) {
  worker_.start(shell_.ctx());
  ASSERT_TRUE(incident());
  const auto events = shell_.transport.repair_events();
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front().kind(), pb::RepairEvent::STARTED);
  EXPECT_EQ(events.front().trigger(), pb::TRIGGER_AUTO);
  ASSERT_EQ(events.front().findings_size(), 1) << "why it repairs travels typed";
  EXPECT_EQ(events.front().findings(0).kind(), pb::Finding::NOT_RUNNING);
  EXPECT_EQ(events.back().kind(), pb::RepairEvent::FINISHED);
  EXPECT_TRUE(events.back().success());
  EXPECT_EQ(events.back().tier(), 1u);
  EXPECT_FALSE(worker_.repairing());
  // The prober is asked to look again.
  bool reprobe = false;
  for (const auto& e : shell_.transport.take()) reprobe |= e.has_reprobe();
  EXPECT_TRUE(reprobe);
  pb::Request status;
  status.mutable_repair_status();
  const auto reply = ask(status);
  ASSERT_TRUE(reply.has_repair_status());
  EXPECT_EQ(reply.repair_status().last_repair().status(), pb::REPAIR_SUCCEEDED);
  EXPECT_EQ(reply.repair_status().repairs_last_hour(), 1u);
  pb::Request history;
  history.mutable_history()->set_limit(5);
  const auto h = ask(history);
  ASSERT_EQ(h.history().repairs_size(), 1);
  EXPECT_EQ(h.history().repairs(0).findings_size(), 1) << "recorded in gwr.db with its findings";
}

TEST_F(RepairerShellTest, PausedItSaysSoOnceAndRepairsAfterResume) {
  worker_.start(shell_.ctx());
  pb::Request pause;
  pause.mutable_pause()->set_actor("gwrctl");
  pause.mutable_pause()->set_reason("upgrading");
  ASSERT_TRUE(ask(pause).has_repair_status());
  for (int i = 0; i < 5; ++i) {
    worker_.on_event(shell_.ctx(), down());
    tick();
    shell_.clock.advance(1s);
  }
  EXPECT_FALSE(worker_.repairing());
  ASSERT_EQ(count(pb::RepairEvent::DEFERRED), 1u) << "said once per incident";
  for (const auto& e : shell_.transport.repair_events()) {
    if (e.kind() == pb::RepairEvent::DEFERRED) {
      EXPECT_EQ(e.defer_reason(), pb::DEFER_PAUSED);
    }
  }
  pb::Request resume;
  resume.mutable_resume()->set_actor("gwrctl");
  ASSERT_TRUE(ask(resume).has_repair_status());
  ASSERT_TRUE(incident());
  EXPECT_EQ(count(pb::RepairEvent::STARTED), 1u);
}

TEST_F(RepairerShellTest, TheHourlyLimitThenACooldownThatEndsOnTheFakeClock) {
  worker_.start(shell_.ctx());
  for (int i = 0; i < 3; ++i) {
    shell_.clock.advance(2min);
    ASSERT_TRUE(incident()) << "repair " << i << ": " << [&] {
      std::string k;
      for (const auto& e : shell_.transport.repair_events()) k += pb::RepairEvent::Kind_Name(e.kind()) + " " + e.details() + "; ";
      return k;
    }();
  }
  shell_.clock.advance(2min);
  worker_.on_event(shell_.ctx(), down());
  tick();
  EXPECT_FALSE(worker_.repairing()) << "a 4th repair within the hour";
  EXPECT_EQ(count(pb::RepairEvent::RATE_LIMITED), 1u);
  EXPECT_EQ(count(pb::RepairEvent::COOLDOWN_ENTERED), 1u);
  for (int i = 0; i < 10; ++i) {
    worker_.on_event(shell_.ctx(), down());
    tick();
  }
  EXPECT_EQ(count(pb::RepairEvent::STARTED), 3u) << "the cooldown holds";
  EXPECT_EQ(count(pb::RepairEvent::COOLDOWN_ENTERED), 1u) << "announced once";
  shell_.clock.advance(61min);
  tick();
  EXPECT_EQ(count(pb::RepairEvent::COOLDOWN_ENDED), 1u);
  ASSERT_TRUE(incident());
  EXPECT_EQ(count(pb::RepairEvent::STARTED), 4u);
}

TEST_F(RepairerShellTest, HealthOlderThanThirtySecondsIsNotActedOn) {
  worker_.start(shell_.ctx());
  auto stale = down();
  shell_.clock.advance(31s);
  worker_.on_event(shell_.ctx(), stale);
  tick();
  EXPECT_FALSE(worker_.repairing());
  EXPECT_EQ(count(pb::RepairEvent::STARTED), 0u);
}

// A repairer that died mid-step left a command running: it is killed only
// while its pid is still that process (start time and boot id match).
TEST_F(RepairerShellTest, AnInterruptedCommandIsKilledOnlyIfItIsStillThatProcess) {
  const std::string db = shell_.ctx().config().paths().state_dir() + "/gwr.db";
  for (const std::string boot : {"boot-a", "boot-b"}) {
    std::filesystem::remove(db);
    {
      auto store = HistoryStore::open(db);
      ASSERT_TRUE(store.ok()) << store.message();
      pb::RepairSummary r;
      r.set_trigger(pb::TRIGGER_AUTO);
      r.set_actor("auto");
      r.set_started_at_ms(shell_.clock.wall_ms() - 2 * 3'600'000);  // too old to resume
      r.set_current_tier(1);
      auto id = (*store)->create_repair(r);
      ASSERT_TRUE(id.ok());
      pb::RepairStep s;
      s.set_tier(1);
      s.set_name("restart");
      s.set_pid(777);
      s.set_pid_start_ticks(55);
      s.set_boot_id(boot);
      ASSERT_TRUE((*store)->save_step(*id, 0, s, true).ok());
    }
    shell_.system.add_live_process({777, 55, "boot-a"});
    RepairerWorker fresh(nullptr, [script = script_](const pb::Config&, const Environment&, const std::atomic<bool>&) {
      return std::make_unique<ScriptedActions>(script);
    });
    const size_t before = shell_.system.signalled().size();
    fresh.start(shell_.ctx());
    fresh.stop(shell_.ctx());
    const auto signalled = shell_.system.signalled();
    if (boot == "boot-a") {
      ASSERT_EQ(signalled.size(), before + 1) << "the same process: killed";
      EXPECT_EQ(signalled.back(), (std::pair<pid_t, int>{777, SIGKILL}));
    } else {
      EXPECT_EQ(signalled.size(), before) << "from before a reboot: never signalled";
    }
  }
}

}  // namespace
}  // namespace gwr::repairer
