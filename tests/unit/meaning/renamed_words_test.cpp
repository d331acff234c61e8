// Decisions never read words. The same gateway story is played twice
// through the prober's core, the repair policy, the learned patterns in
// gwr.db and the Telegram planner: once with the built-in English, once with
// every finding's text renamed (different at every call). Everything that
// is decided (states, tiers, what is published, verdicts, signatures,
// learned start tiers, which messages go out) must be the same.
#include <gtest/gtest.h>

#include "common/findings.h"
#include "prober/prober_core.h"
#include "repairer/history_store.h"
#include "repairer/repair_policy.h"
#include "telegram-bridge/notification_planner.h"
#include "tests/support/test_support.h"

namespace gwr {
namespace {

using namespace std::chrono_literals;
using prober::ProberCore;

std::string renamed(const pb::Finding& /*f*/) {
  static int n = 0;
  return "⟲ renamed text " + std::to_string(++n) + " (confirming: paused, HTTP 500)";
}

struct Story {
  std::vector<std::string> decisions;  // everything decided, in order
  std::vector<std::string> words;      // what people would have read
};

Story play() {
  Story story;
  testing::FakeClock clock;
  testing::TempDir dir;
  auto store = repairer::HistoryStore::open(dir / "gwr.db");
  EXPECT_TRUE(store.ok());
  ProberCore core(prober::ProbeSettings::defaults(), 7, clock.steady());
  repairer::PolicyState policy;
  const auto policy_settings = repairer::PolicySettings::defaults();
  telegram::NotificationPlanner planner{telegram::PlannerSettings::defaults()};
  int64_t next_repair = 1;

  auto wall = [&] { return clock.wall_ms(); };
  auto note = [&](const std::string& what) { story.decisions.push_back(what); };
  // One evaluation as the real loop does it, and what each consumer does with it.
  auto settle = [&](const std::string& step) {
    auto published = core.publishable(clock.steady(), wall());
    const auto& h = core.current();
    std::string keys;
    for (const auto& f : h.findings()) keys += finding_key(f) + ",";
    story.words.push_back(describe_all(h.findings()));
    note(step + ": state " + gateway_state_name(h.state()) + " tier " + std::to_string(h.recommended_tier()) +
         " published " + (published ? "yes" : "no") + " key " + prober::health_key(h) + " findings " + keys);
    for (const auto& o : planner.on_health(h, wall())) {
      story.words.push_back(o.text);
      note(step + ": telegram " + std::to_string(static_cast<int>(o.kind)) + " " + o.incident);
    }
    const auto d = repairer::decide(policy, h, policy_settings, wall());
    note(step + ": verdict " + repairer::to_string(d.verdict) + " tier " + std::to_string(d.tier));
    if (d.verdict == repairer::Verdict::kStart) {
      const std::string sig = incident_signature(h.state(), d.findings);
      auto learned = (*store)->learned(sig);
      const uint32_t start = learned ? repairer::learned_start_tier(d.tier, learned->attempts, learned->fixes, true)
                                     : d.tier;
      note(step + ": repair at tier " + std::to_string(start) + " for " + sig);
      repairer::on_auto_start(policy, next_repair++, wall());
      clock.advance(2s);
      // Tier 1 never fixes this story's incidents; tier 2 does.
      repairer::HistoryStore::Outcome outcome;
      outcome.signature = sig;
      outcome.description = describe_all(d.findings);
      outcome.tiers_tried = start == 1 ? std::vector<uint32_t>{1, 2} : std::vector<uint32_t>{start};
      outcome.fixed_by_tier = 2;
      EXPECT_TRUE((*store)->record_outcome(outcome, wall()).ok());
      repairer::on_finished(policy, true, true, policy_settings, wall());
    } else if (d.verdict == repairer::Verdict::kPaused || d.verdict == repairer::Verdict::kDeferred) {
      pb::RepairEvent ev;
      ev.set_kind(pb::RepairEvent::DEFERRED);
      ev.set_defer_reason(d.verdict == repairer::Verdict::kPaused ? pb::DEFER_PAUSED : pb::DEFER_BUSY);
      for (const auto& f : d.findings) *ev.add_findings() = f;
      for (const auto& o : planner.on_repair_event(ev, wall())) {
        story.words.push_back(o.text);
        note(step + ": telegram " + std::to_string(static_cast<int>(o.kind)));
      }
    }
  };
  auto found = [&](pid_t pid, std::chrono::milliseconds age) {
    prober::ProcessObservation p;
    p.found = true;
    p.pid = pid;
    p.start_wall_ms = wall() - age.count();
    p.looked_for = "openclaw-gateway";
    core.on_process(p, clock.steady(), wall());
  };
  auto port = [&](bool ok) {
    PortObservation o;
    o.ok = ok;
    o.cause = ok ? pb::CAUSE_UNSPECIFIED : pb::CAUSE_REFUSED;
    o.detail = ok ? "" : "connection refused";
    core.on_port(o, clock.steady(), wall());
  };
  auto health = [&](int status, int64_t latency_ms = 3) {
    HealthObservation o;
    o.ok = status == 200;
    o.http_status = status;
    o.latency_us = latency_ms * 1000;
    o.cause = o.ok ? pb::CAUSE_UNSPECIFIED : pb::CAUSE_HTTP_STATUS;
    o.detail = o.ok ? "" : "HTTP " + std::to_string(status) + ": {\"error\":\"session file locked €\"}";
    core.on_health(o, clock.steady(), wall());
  };
  auto memory = [&](uint64_t mb) {
    prober::MemoryObservation m;
    m.rss_bytes = mb << 20;
    m.available_percent = 40;
    core.on_memory(m, clock.steady(), wall());
  };

  (void)core.take_due(clock.steady());
  found(100, 10min);
  port(true);
  health(200);
  memory(100);
  settle("healthy");
  for (int incident = 0; incident < 3; ++incident) {  // the same incident three times: learned after two
    for (int i = 0; i < 3; ++i) {
      clock.advance(500ms);
      health(500);
      settle("500 #" + std::to_string(incident) + "." + std::to_string(i));
    }
    clock.advance(5s);
    found(200 + incident, 1s);
    port(true);
    health(200);
    settle("replaced #" + std::to_string(incident));
    clock.advance(1min);
  }
  memory(3000);
  settle("high memory");
  for (int i = 0; i < 3; ++i) {  // the same warning again: not news (in any words)
    clock.advance(2min);
    memory(3000);
    settle("still high memory");
  }
  memory(100);
  health(200, 1500);
  health(200, 1600);
  settle("slow");
  clock.advance(2min);
  health(200);
  settle("fast again");
  clock.advance(2min);
  settle("warnings cleared");
  repairer::pause(policy, "gwrctl", "maintenance", wall());
  port(false);
  port(false);
  settle("port dead while paused");
  clock.advance(1s);
  settle("still paused");
  repairer::resume(policy);
  clock.advance(1s);
  port(false);
  settle("port dead, resumed");
  prober::ProcessObservation exited;
  exited.exited = true;
  exited.pid = 202;
  core.on_process(exited, clock.steady(), wall());
  clock.advance(3s);
  settle("exited");
  return story;
}

TEST(RenamedWords, DecisionsAreTheSameWhateverTheWords) {
  const Story english = play();
  set_finding_words({&renamed});
  const Story other = play();
  set_finding_words({});
  ASSERT_EQ(english.decisions.size(), other.decisions.size());
  for (size_t i = 0; i < english.decisions.size(); ++i) EXPECT_EQ(english.decisions[i], other.decisions[i]);
  // The renaming really happened, and the story covers what it should.
  EXPECT_NE(english.words, other.words);
  auto contains = [&](const std::string& needle) {
    return std::any_of(english.decisions.begin(), english.decisions.end(),
                       [&](const std::string& d) { return d.find(needle) != std::string::npos; });
  };
  EXPECT_TRUE(contains("repair at tier 2 for v2|down|f:CHECK_FAILING/health/CAUSE_HTTP_STATUS"));
  EXPECT_TRUE(contains("verdict paused"));
  EXPECT_TRUE(contains(": telegram"));
  EXPECT_TRUE(contains("f:HIGH_MEMORY/memory"));
  EXPECT_TRUE(contains("f:SLOW/health"));
  EXPECT_TRUE(contains("f:EXITED/process"));
}

}  // namespace
}  // namespace gwr
