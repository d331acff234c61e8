// HeartbeatPlan on a fake clock: when the dead-man's switch is pinged, and
// when it is deliberately left silent.
#include "telegram-bridge/heartbeat_plan.h"

#include <gtest/gtest.h>

#include "common/config.h"

namespace gwr::telegram {
namespace {

constexpr int64_t kT0 = 1'800'000'000'000;

HeartbeatSettings settings(int64_t interval_ms = 60'000) {
  HeartbeatSettings s;
  s.url = "https://hc-ping.com/0a1b2c3d-secret";
  s.fail_url = s.url + "/fail";
  s.interval_ms = interval_ms;
  return s;
}

pb::RepairEvent escalation(int64_t id) {
  pb::RepairEvent e;
  e.set_kind(pb::RepairEvent::ESCALATION);
  e.set_repair_id(id);
  return e;
}

// Several gateways: the ping goes out while every one serves and was heard
// from lately; each gateway's escalation is told (both number from 1).
TEST(HeartbeatPlan, SeveralGatewaysAllServeOrNoPingAndEachEscalationIsTold) {
  HeartbeatPlan p(settings(1'000));
  p.set_gateways({"main", "rescue"});
  p.on_health(pb::HEALTHY, kT0, "main");
  EXPECT_FALSE(p.take_due(kT0)) << "rescue not heard from yet";
  p.on_health(pb::HEALTHY, kT0, "rescue");
  auto ping = p.take_due(kT0);
  ASSERT_TRUE(ping);
  p.done(*ping, true, kT0);
  p.on_health(pb::DOWN, kT0 + 500, "rescue");
  EXPECT_FALSE(p.take_due(kT0 + 1'500)) << "rescue is down";
  p.on_health(pb::HEALTHY, kT0 + 2'000, "rescue");
  ping = p.take_due(kT0 + 2'000);
  ASSERT_TRUE(ping);
  p.done(*ping, true, kT0 + 2'000);
  // rescue's prober goes silent; main keeps reporting: no ping after 30 s.
  for (int64_t t = kT0 + 5'000; t <= kT0 + 40'000; t += 5'000) p.on_health(pb::HEALTHY, t, "main");
  EXPECT_FALSE(p.take_due(kT0 + 40'000)) << "rescue was not heard from for 38 s";
  // main's #3 and rescue's #3 both escalate: two fail pings, each once.
  p.on_repair_event(escalation(3), kT0 + 41'000, "main");
  p.on_repair_event(escalation(3), kT0 + 41'000, "rescue");
  p.on_repair_event(escalation(3), kT0 + 41'000, "rescue");  // again (a catch-up)
  auto first = p.take_due(kT0 + 41'000);
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->fail);
  EXPECT_EQ(first->gateway, "main");
  p.done(*first, true, kT0 + 41'100);
  auto second = p.take_due(kT0 + 41'100);
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->fail);
  EXPECT_EQ(second->gateway, "rescue");
  EXPECT_EQ(second->repair_id, 3);
  p.done(*second, true, kT0 + 41'200);
  p.on_repair_event(escalation(3), kT0 + 42'000, "rescue");
  EXPECT_FALSE(p.take_due(kT0 + 42'000)) << "rescue's #3 was told already";
}

TEST(HeartbeatPlan, PingsEveryIntervalWhileTheGatewayServesOneAtATime) {
  HeartbeatPlan p(settings());
  EXPECT_FALSE(p.take_due(kT0)) << "nothing is known of the gateway yet";
  p.on_health(pb::HEALTHY, kT0);
  auto first = p.take_due(kT0);
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->fail);
  EXPECT_EQ(first->url, "https://hc-ping.com/0a1b2c3d-secret");
  EXPECT_FALSE(p.take_due(kT0 + 5'000)) << "one request in flight at a time";
  p.done(*first, true, kT0 + 200);
  EXPECT_FALSE(p.take_due(kT0 + 30'000));
  EXPECT_EQ(p.next_due_ms(kT0 + 30'000), kT0 + 60'200);
  p.on_health(pb::DEGRADED, kT0 + 60'000);  // degraded still serves
  auto second = p.take_due(kT0 + 60'200);
  ASSERT_TRUE(second);
  // A failed ping waits for the next interval: no storm against a service that is down.
  p.done(*second, false, kT0 + 70'200);
  EXPECT_EQ(p.failures(), 1u);
  EXPECT_FALSE(p.take_due(kT0 + 71'000));
  p.on_health(pb::HEALTHY, kT0 + 120'000);
  EXPECT_TRUE(p.take_due(kT0 + 130'200));
}

TEST(HeartbeatPlan, SilentWhileDownStartingOrUnknown) {
  HeartbeatPlan p(settings(1'000));
  for (auto state : {pb::DOWN, pb::STARTING, pb::GATEWAY_STATE_UNKNOWN}) {
    p.on_health(state, kT0);
    EXPECT_FALSE(p.take_due(kT0)) << state;
  }
  // Healthy, but nobody said so for 30 s (the prober is gone): silent too.
  p.on_health(pb::HEALTHY, kT0);
  auto ping = p.take_due(kT0);
  ASSERT_TRUE(ping);
  p.done(*ping, true, kT0);
  EXPECT_FALSE(p.take_due(kT0 + 31'000));
  EXPECT_EQ(p.next_due_ms(kT0 + 31'000), std::numeric_limits<int64_t>::max());
}

TEST(HeartbeatPlan, AllTiersFailedHitsTheFailAddressOncePerRepair) {
  HeartbeatPlan p(settings());
  p.on_health(pb::DOWN, kT0);
  p.on_repair_event(escalation(7), kT0);
  auto fail = p.take_due(kT0);
  ASSERT_TRUE(fail);
  EXPECT_TRUE(fail->fail);
  EXPECT_EQ(fail->url, "https://hc-ping.com/0a1b2c3d-secret/fail");
  EXPECT_EQ(fail->repair_id, 7);
  p.done(*fail, false, kT0 + 10'000);  // not even on failure is it repeated
  EXPECT_FALSE(p.take_due(kT0 + 10'000));
  p.on_repair_event(escalation(7), kT0 + 20'000);  // the same escalation again
  EXPECT_FALSE(p.take_due(kT0 + 20'000));
  pb::RepairEvent finished;
  finished.set_kind(pb::RepairEvent::FINISHED);
  finished.set_repair_id(8);
  p.on_repair_event(finished, kT0 + 30'000);
  EXPECT_FALSE(p.take_due(kT0 + 30'000));
  p.on_repair_event(escalation(9), kT0 + 40'000);
  EXPECT_TRUE(p.take_due(kT0 + 40'000));
}

TEST(HeartbeatPlan, SettingsFromTheConfig) {
  auto c = default_config({});
  EXPECT_FALSE(HeartbeatSettings::from_config(c).enabled()) << "off by default";
  c.mutable_heartbeat()->set_url("https://hc-ping.com/uuid/");
  EXPECT_EQ(HeartbeatSettings::from_config(c).fail_url, "https://hc-ping.com/uuid/fail");
  EXPECT_EQ(HeartbeatSettings::from_config(c).interval_ms, 60'000);
  c.mutable_heartbeat()->set_fail_url("");
  EXPECT_EQ(HeartbeatSettings::from_config(c).fail_url, "");
  HeartbeatPlan p(HeartbeatSettings::from_config(c));
  p.on_repair_event(escalation(1), kT0);
  EXPECT_FALSE(p.take_due(kT0)) << "no fail address: nothing";
  // Off: nothing at all.
  HeartbeatPlan off;
  off.on_health(pb::HEALTHY, kT0);
  EXPECT_FALSE(off.take_due(kT0));
}

TEST(HeartbeatPlan, LogsShowTheHostNeverTheCheck) {
  EXPECT_EQ(url_for_logs("https://hc-ping.com/0a1b2c3d-secret"), "https://hc-ping.com/…");
  EXPECT_EQ(url_for_logs("https://user:pw@kuma.example:3001/api/push/abc?status=up"), "https://kuma.example:3001/…");
  EXPECT_EQ(url_for_logs("http://127.0.0.1:9"), "http://127.0.0.1:9");
  EXPECT_EQ(url_for_logs("garbage"), "(not a URL)");
}

}  // namespace
}  // namespace gwr::telegram
