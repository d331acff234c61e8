// RepairPipeline with scripted actions and a fake clock: tier order,
// deadlines, escalation, cancellation.
#include "repairer/repair_pipeline.h"

#include <deque>
#include <map>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace gwr::repairer {
namespace {

using namespace std::chrono_literals;

class FakeActions final : public RepairActions {
 public:
  explicit FakeActions(testing::FakeClock& clock) : clock_(clock) {}
  std::vector<std::string> log;
  std::map<std::string, bool> command_ok;          // by name, default true
  std::map<std::string, Millis> command_takes;     // by name
  std::deque<bool> verify_results;                 // per call, default false
  Millis verify_takes{1000};
  Millis kill_takes{0};  // a lingering gateway, or a kill held back for OpenClaw's breaker

  pb::RepairStep run_command(uint32_t tier, const std::string& name, const std::vector<std::string>& argv,
                             Millis timeout, const PidCallback& on_pid) override {
    log.push_back(std::to_string(tier) + ":" + name);
    on_pid({4242, 77, "boot"});
    pb::RepairStep s;
    s.set_tier(tier);
    s.set_name(name);
    for (const auto& a : argv) s.add_argv(a);
    Millis takes = command_takes.count(name) ? command_takes[name] : Millis(100);
    const bool timed_out = takes > timeout;
    clock_.advance(std::min(takes, timeout));
    const bool ok = !timed_out && (command_ok.count(name) ? command_ok[name] : true);
    s.set_ok(ok);
    s.set_timed_out(timed_out);
    s.set_detail(timed_out ? "timed out" : (ok ? "exit 0" : "exit 1"));
    last_timeout = timeout;
    return s;
  }
  pb::RepairStep kill_port_owners(uint32_t tier, Millis) override {
    log.push_back(std::to_string(tier) + ":kill_port_owners");
    clock_.advance(kill_takes);
    pb::RepairStep s;
    s.set_tier(tier);
    s.set_name("kill_port_owners");
    s.set_ok(true);
    return s;
  }
  pb::RepairStep sweep_stale_locks(uint32_t tier) override {
    log.push_back(std::to_string(tier) + ":sweep_stale_locks");
    pb::RepairStep s;
    s.set_tier(tier);
    s.set_name("sweep_stale_locks");
    s.set_ok(true);
    return s;
  }
  pb::RepairStep verify(uint32_t tier, SteadyTime deadline, SteadyTime, Millis) override {
    log.push_back(std::to_string(tier) + ":verify");
    verify_deadlines.push_back(deadline);
    const bool ok = verify_results.empty() ? false : verify_results.front();
    if (!verify_results.empty()) verify_results.pop_front();
    clock_.advance(ok ? verify_takes : std::max(Millis(0), std::chrono::duration_cast<Millis>(deadline - clock_.steady())));
    pb::RepairStep s;
    s.set_tier(tier);
    s.set_name("verify");
    s.set_ok(ok);
    s.set_detail(ok ? "healthy" : "not healthy within the deadline");
    return s;
  }
  pb::RepairStep sweep_locks(uint32_t tier, const std::string& name, const std::vector<std::string>&) override {
    log.push_back(std::to_string(tier) + ":" + name);
    pb::RepairStep s;
    s.set_tier(tier);
    s.set_name(name);
    s.set_ok(true);
    return s;
  }
  pb::RepairStep kill_port_owner(uint32_t tier, const std::string& name, int, Millis) override {
    log.push_back(std::to_string(tier) + ":" + name);
    pb::RepairStep s;
    s.set_tier(tier);
    s.set_name(name);
    s.set_ok(true);
    return s;
  }
  pb::RepairStep list_port_owners(uint32_t tier, const std::string& name) override {
    log.push_back(std::to_string(tier) + ":" + name);
    pb::RepairStep s;
    s.set_tier(tier);
    s.set_name(name);
    s.set_ok(true);
    return s;
  }
  Millis last_timeout{0};
  std::vector<SteadyTime> verify_deadlines;

 private:
  testing::FakeClock& clock_;
};

class RecordingSink final : public ProgressSink {
 public:
  std::vector<std::string> events;
  void tier_started(uint32_t tier) override { events.push_back("tier" + std::to_string(tier)); }
  void step_started(const pb::RepairStep& s) override {
    events.push_back("start " + s.name() + (s.pid() ? " pid" : ""));
  }
  void step_finished(const pb::RepairStep& s) override { events.push_back("done " + s.name()); }
  void tier_failed(uint32_t tier, const std::string&, int64_t) override {
    events.push_back("failed" + std::to_string(tier));
  }
  void plan_rejected(const std::vector<std::string>& lines, const std::string&) override {
    events.push_back("rejected " + std::to_string(lines.size()));
  }
};

class FakeTier3 final : public Tier3Runner {
 public:
  bool succeed = false;
  int calls = 0;
  size_t history_seen = 0;
  Result run(SteadyTime, const std::vector<pb::RepairStep>& history, ProgressSink&, const std::atomic<bool>&) override {
    ++calls;
    history_seen = history.size();
    return {succeed, succeed ? "fixed by plan" : "the model found nothing safe to do"};
  }
};

class PipelineTest : public ::testing::Test {
 protected:
  PipelineSettings settings() {
    PipelineSettings s;
    s.restart = {"openclaw", "gateway", "restart"};
    s.stop = {"openclaw", "gateway", "stop", "--force"};
    s.start = {"openclaw", "gateway", "start"};
    s.doctor = {"openclaw", "doctor", "--fix"};
    return s;
  }
  RepairOutcome run(uint32_t tier, PipelineSettings s) {
    RepairPipeline p(std::move(s), actions_, &tier3_, sink_, clock_, cancel_);
    return p.run(tier);
  }
  testing::FakeClock clock_;
  FakeActions actions_{clock_};
  RecordingSink sink_;
  FakeTier3 tier3_;
  std::atomic<bool> cancel_{false};
};

TEST_F(PipelineTest, Tier1RestartAndVerify) {
  actions_.verify_results = {true};
  auto out = run(1, settings());
  EXPECT_TRUE(out.success);
  EXPECT_EQ(out.fixed_by_tier, 1u);
  EXPECT_EQ(actions_.log, (std::vector<std::string>{"1:restart", "1:verify"}));
  EXPECT_EQ(sink_.events, (std::vector<std::string>{"tier1", "start restart", "start restart pid", "done restart",
                                                    "start verify", "done verify"}));
  // Verification must happen within the tier's 10 s deadline.
  EXPECT_LE(actions_.verify_deadlines[0] - clock_.steady(), 10s);
}

TEST_F(PipelineTest, Tier2DeepCleanFirstWithoutTheDoctor) {
  actions_.verify_results = {false, true};
  auto out = run(1, settings());
  EXPECT_TRUE(out.success);
  EXPECT_EQ(out.fixed_by_tier, 2u);
  EXPECT_EQ(out.tiers_tried, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(actions_.log, (std::vector<std::string>{"1:restart", "1:verify", "2:stop", "2:kill_port_owners",
                                                    "2:sweep_stale_locks", "2:start", "2:verify"}));
}

// The doctor (half a minute or more on the real gateway) runs only when the
// deep clean did not bring the gateway back, then the gateway is restarted
// with a deadline of its own.
TEST_F(PipelineTest, Tier2DoctorPassOnlyWhenTheDeepCleanFails) {
  auto s = settings();
  s.tier2_deadline = 30s;
  s.command_timeout = 60s;
  actions_.command_takes["doctor"] = 35s;
  actions_.verify_results = {false, true};
  auto out = run(2, s);
  EXPECT_TRUE(out.success);
  EXPECT_EQ(out.fixed_by_tier, 2u);
  EXPECT_EQ(actions_.log, (std::vector<std::string>{"2:stop", "2:kill_port_owners", "2:sweep_stale_locks", "2:start",
                                                    "2:verify", "2:doctor", "2:restart", "2:verify"}));
  ASSERT_EQ(actions_.verify_deadlines.size(), 2u);
  // The second verification has its own 30 s, counted from the restart.
  EXPECT_GT(actions_.verify_deadlines[1] - actions_.verify_deadlines[0], 35s);
  EXPECT_LE(actions_.verify_deadlines[1] - clock_.steady(), 30s);
}

TEST_F(PipelineTest, WaitingOutALingeringGatewayDoesNotEatTheStartsDeadline) {
  auto s = settings();
  s.tier2_deadline = 30s;
  actions_.kill_takes = 95s;  // waited for OpenClaw's crash-loop window before the kill
  actions_.verify_results = {true};
  auto out = run(2, s);
  EXPECT_TRUE(out.success);
  EXPECT_EQ(actions_.log, (std::vector<std::string>{"2:stop", "2:kill_port_owners", "2:sweep_stale_locks", "2:start",
                                                    "2:verify"}));
  ASSERT_EQ(actions_.verify_deadlines.size(), 1u);
  // The start still gets what the deadline left it before the wait.
  EXPECT_GE(actions_.verify_deadlines[0] - clock_.steady(), 20s);
}

TEST_F(PipelineTest, Tier2DoctorPassAfterAFailedStart) {
  actions_.command_ok["start"] = false;
  actions_.verify_results = {true};
  auto out = run(2, settings());
  EXPECT_TRUE(out.success);
  EXPECT_EQ(actions_.log, (std::vector<std::string>{"2:stop", "2:kill_port_owners", "2:sweep_stale_locks", "2:start",
                                                    "2:doctor", "2:restart", "2:verify"}));
}

// A crash loop right after an upgrade (repair_policy.h): the doctor runs
// before the start, once, and its time is not the start's to lose.
TEST_F(PipelineTest, Tier2WithTheDoctorFirstRunsItBeforeTheStartOnce) {
  auto s = settings();
  s.doctor_first = true;
  s.tier3_enabled = false;
  actions_.command_takes["doctor"] = 40s;  // longer than the tier's 30 s deadline
  actions_.verify_results = {true};
  auto out = run(2, s);
  EXPECT_TRUE(out.success) << out.details;
  EXPECT_EQ(actions_.log, (std::vector<std::string>{"2:stop", "2:kill_port_owners", "2:sweep_stale_locks", "2:doctor",
                                                    "2:start", "2:verify"}));
  // Failing after it, there is no second doctor pass.
  actions_.log.clear();
  actions_.verify_results = {};
  out = run(2, s);
  EXPECT_FALSE(out.success);
  EXPECT_EQ(std::count(actions_.log.begin(), actions_.log.end(), "2:doctor"), 1) << ::testing::PrintToString(actions_.log);
}

TEST_F(PipelineTest, Tier2BothPassesFailingSaysWhyForEach) {
  auto s = settings();
  s.tier3_enabled = false;
  auto out = run(2, s);
  EXPECT_FALSE(out.success);
  EXPECT_NE(out.details.find("tier 2: not healthy within the deadline; after doctor: not healthy"), std::string::npos)
      << out.details;
}

TEST_F(PipelineTest, AHungRestartIsCutAtTheTierDeadlineAndEscalates) {
  actions_.command_takes["restart"] = 10min;
  actions_.verify_results = {true};
  auto out = run(1, settings());
  EXPECT_TRUE(out.success);
  EXPECT_EQ(out.fixed_by_tier, 2u);
  EXPECT_EQ(actions_.log.front(), "1:restart");
  EXPECT_EQ(actions_.log[1], "2:stop");  // no verify after a failed restart
}

TEST_F(PipelineTest, CommandTimeoutsNeverExceedTheTierBudget) {
  auto s = settings();
  s.command_timeout = 60s;
  actions_.verify_results = {true};
  run(1, s);
  EXPECT_LE(actions_.last_timeout, 10s);
}

TEST_F(PipelineTest, AFailedStopIsNotFatalAFailedStartIs) {
  actions_.command_ok["stop"] = false;
  actions_.verify_results = {true};
  EXPECT_TRUE(run(2, settings()).success);
  actions_.log.clear();
  actions_.command_ok["start"] = false;
  tier3_.succeed = false;
  auto s = settings();
  s.doctor.clear();
  auto out = run(2, s);
  EXPECT_FALSE(out.success);
  EXPECT_NE(out.details.find("tier 2: start command failed"), std::string::npos) << out.details;
}

TEST_F(PipelineTest, NoDoctorConfiguredSkipsIt) {
  auto s = settings();
  s.doctor.clear();
  auto out = run(2, s);
  EXPECT_FALSE(out.success);
  EXPECT_EQ(std::count(actions_.log.begin(), actions_.log.end(), "2:doctor"), 0);
  EXPECT_EQ(std::count(actions_.log.begin(), actions_.log.end(), "2:restart"), 0);
}

TEST_F(PipelineTest, AllTiersFailingReportsEachAndTier3GetsTheHistory) {
  auto out = run(1, settings());
  EXPECT_FALSE(out.success);
  EXPECT_EQ(out.tiers_tried, (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_EQ(tier3_.calls, 1);
  EXPECT_EQ(tier3_.history_seen, 10u);  // 2 of tier 1, 5 + 3 of tier 2
  EXPECT_NE(out.details.find("tier 1:"), std::string::npos);
  EXPECT_NE(out.details.find("tier 3: the model found nothing safe to do"), std::string::npos);
  EXPECT_EQ(out.diagnosis, "the model found nothing safe to do");
  EXPECT_EQ(std::count(sink_.events.begin(), sink_.events.end(), "failed3"), 1);
}

TEST_F(PipelineTest, Tier3DisabledStopsAtTier2) {
  auto s = settings();
  s.tier3_enabled = false;
  auto out = run(1, s);
  EXPECT_FALSE(out.success);
  EXPECT_EQ(out.tiers_tried, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(tier3_.calls, 0);
}

TEST_F(PipelineTest, StartTierIsClamped) {
  actions_.verify_results = {true};
  auto s = settings();
  s.tier3_enabled = false;
  auto out = run(3, s);
  EXPECT_EQ(out.tiers_tried, (std::vector<uint32_t>{2}));
}

TEST_F(PipelineTest, CancelStopsBetweenSteps) {
  cancel_ = true;
  auto out = run(1, settings());
  EXPECT_TRUE(out.cancelled);
  EXPECT_FALSE(out.success);
  EXPECT_TRUE(actions_.log.empty());
}

}  // namespace
}  // namespace gwr::repairer
