// `gwrctl watch` (issue #17, part 5): one readable line per thing that
// happened, nothing for the chatter, no terminal escape from the outside.
#include "ctl/watch.h"

#include <gtest/gtest.h>

namespace gwr::ctl {
namespace {

constexpr int64_t kAt = 1'765'000'000'000;  // a fixed wall clock (UTC 05:46:40)

pb::Event health(pb::GatewayState s, const std::string& finding_detail = "", uint32_t pid = 0) {
  pb::Event e;
  e.set_sent_at_ms(kAt);
  auto* h = e.mutable_gateway_health();
  h->set_state(s);
  h->set_pid(pid);
  if (!finding_detail.empty()) {
    auto* f = h->add_findings();
    f->set_check(pb::CHECK_HEALTH);
    f->set_kind(pb::Finding::CHECK_FAILING);
    f->set_cause(pb::CAUSE_HTTP_STATUS);
    f->set_http_status(500);
    f->set_count(3);
    f->set_threshold(3);
    f->set_detail(finding_detail);
    h->set_recommended_tier(1);
  }
  return e;
}

pb::Event repair(pb::RepairEvent::Kind kind) {
  pb::Event e;
  e.set_sent_at_ms(kAt + 1500);
  auto* r = e.mutable_repair_event();
  r->set_kind(kind);
  r->set_repair_id(7);
  r->set_tier(2);
  r->set_trigger(pb::TRIGGER_AUTO);
  return e;
}

const WatchOptions kPlain{.color = false, .utc = true};

TEST(Watch, StateChangesOnlyWithWhatWasBeforeAndWhy) {
  WatchState st;
  auto first = watch_line(health(pb::HEALTHY, "", 4242), st, kPlain);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, "05:46:40  gateway HEALTHY, pid 4242");
  // The prober publishes every evaluation: a repeat is not a line.
  EXPECT_FALSE(watch_line(health(pb::HEALTHY, "", 4242), st, kPlain));
  auto down = watch_line(health(pb::DOWN, "HTTP 500"), st, kPlain);
  ASSERT_TRUE(down);
  EXPECT_NE(down->find("gateway DOWN (was healthy)"), std::string::npos) << *down;
  EXPECT_NE(down->find("tier 1 recommended"), std::string::npos) << *down;
  EXPECT_FALSE(watch_line(health(pb::DOWN, "HTTP 500"), st, kPlain));
  EXPECT_TRUE(watch_line(health(pb::HEALTHY), st, kPlain));
}

TEST(Watch, ARepairReadsFromStartToOutcome) {
  WatchState st;
  auto started = repair(pb::RepairEvent::STARTED);
  started.mutable_repair_event()->set_reason("the owner asked");
  started.mutable_repair_event()->set_trigger(pb::TRIGGER_MANUAL);
  started.mutable_repair_event()->set_actor("telegram user 4242");
  EXPECT_EQ(*watch_line(started, st, kPlain), "05:46:41  repair #7 started (asked by telegram user 4242): the owner asked");
  auto step = repair(pb::RepairEvent::STEP);
  step.mutable_repair_event()->mutable_step()->set_name("kill_port_owners");
  step.mutable_repair_event()->mutable_step()->set_ok(true);
  step.mutable_repair_event()->mutable_step()->set_duration_ms(30);
  step.mutable_repair_event()->mutable_step()->set_detail("port 18789: stopped pid 9369 with SIGTERM");
  const auto s = watch_line(step, st, kPlain);
  ASSERT_TRUE(s);
  EXPECT_NE(s->find("repair #7 tier 2  kill_port_owners ok in"), std::string::npos) << *s;
  EXPECT_NE(s->find("stopped pid 9369"), std::string::npos) << *s;
  auto done = repair(pb::RepairEvent::FINISHED);
  done.mutable_repair_event()->set_success(true);
  done.mutable_repair_event()->set_duration_ms(4200);
  done.mutable_repair_event()->set_verified("answers /health, started, ready");
  const auto d = watch_line(done, st, kPlain);
  ASSERT_TRUE(d);
  EXPECT_NE(d->find("repair #7 repaired tier 2 in"), std::string::npos) << *d;
  EXPECT_NE(d->find("answers /health"), std::string::npos) << *d;
  auto failed = repair(pb::RepairEvent::ESCALATION);
  EXPECT_NE(watch_line(failed, st, kPlain)->find("a person is needed"), std::string::npos);
  auto paused = repair(pb::RepairEvent::PAUSED);
  paused.mutable_repair_event()->set_actor("gwrctl (uid 1000)");
  paused.mutable_repair_event()->set_cooldown_until_ms(kAt + 3'600'000);
  EXPECT_EQ(*watch_line(paused, st, kPlain), "05:46:41  repairs paused by gwrctl (uid 1000) (until 06:46:40)");
}

TEST(Watch, ChatterIsNotShown) {
  WatchState st;
  pb::Event hb;
  hb.mutable_heartbeat();
  EXPECT_FALSE(watch_line(hb, st, kPlain));
  pb::Event spawned;
  spawned.mutable_component_event()->set_kind(pb::ComponentEvent::SPAWNED);
  spawned.mutable_component_event()->set_component("prober");
  EXPECT_FALSE(watch_line(spawned, st, kPlain)) << "gwr's own start is not news";
  spawned.mutable_component_event()->set_restarts(2);
  EXPECT_NE(watch_line(spawned, st, kPlain)->find("gwr-prober started again (restart 2)"), std::string::npos);
  pb::Event empty;
  EXPECT_FALSE(watch_line(empty, st, kPlain));
}

TEST(Watch, TextFromOutsideCannotMoveTheTerminal) {
  WatchState st;
  // A gateway's 500 body ends up in a finding: escapes, newlines and invalid UTF-8 included.
  const auto line = watch_line(health(pb::DOWN, "boom\033[2J\033]0;owned\a\nsecond line \xff €"), st, kPlain);
  ASSERT_TRUE(line);
  EXPECT_EQ(line->find('\033'), std::string::npos) << *line;
  EXPECT_EQ(line->find('\n'), std::string::npos) << *line;
  EXPECT_EQ(line->find('\a'), std::string::npos) << *line;
  EXPECT_NE(line->find("€"), std::string::npos) << *line;
  // Colour is gwr's own escapes only, and only when asked for.
  WatchState st2;
  const auto coloured = watch_line(health(pb::DOWN, "x"), st2, WatchOptions{.color = true, .utc = true});
  ASSERT_TRUE(coloured);
  EXPECT_NE(coloured->find("\033[31m"), std::string::npos);
  EXPECT_EQ(coloured->find("\033[2J"), std::string::npos);
}

}  // namespace
}  // namespace gwr::ctl
