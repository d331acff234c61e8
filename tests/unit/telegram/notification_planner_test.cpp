// Incident threads, coalesced edits and de-duplicated warnings, on a fake clock.
#include <gtest/gtest.h>

#include "common/findings.h"

#include "telegram-bridge/html_text.h"
#include "telegram-bridge/notification_planner.h"
#include "tests/fakes/telegram/telegram_text.h"
#include "tests/support/test_support.h"

namespace gwr::telegram {
namespace {

using gwr::testing::FakeClock;
using namespace std::chrono_literals;
namespace tt = gwr::testing::telegram_text;

pb::RepairEvent event(pb::RepairEvent::Kind kind, int64_t id, uint32_t tier = 1) {
  pb::RepairEvent e;
  e.set_kind(kind);
  e.set_repair_id(id);
  e.set_tier(tier);
  e.set_trigger(pb::TRIGGER_AUTO);
  e.set_actor("auto");
  return e;
}

pb::RepairEvent started(int64_t id, int64_t at_ms, const std::string& reason = "no process named openclaw-gateway") {
  auto e = event(pb::RepairEvent::STARTED, id);
  e.set_reason(reason);
  e.set_at_ms(at_ms);
  return e;
}

pb::RepairEvent step(int64_t id, const std::string& name, bool ok, uint32_t tier = 1) {
  auto e = event(pb::RepairEvent::STEP, id, tier);
  e.mutable_step()->set_tier(tier);
  e.mutable_step()->set_name(name);
  e.mutable_step()->set_ok(ok);
  e.mutable_step()->set_duration_ms(1200);
  e.mutable_step()->set_detail(ok ? "" : "exit 1 <stderr>");
  return e;
}

pb::RepairEvent finished(int64_t id, bool success, uint32_t tier, int64_t duration_ms) {
  auto e = event(pb::RepairEvent::FINISHED, id, tier);
  e.set_success(success);
  e.set_duration_ms(duration_ms);
  e.add_tiers_tried(1);
  if (tier >= 2) e.add_tiers_tried(2);
  return e;
}

pb::Finding memory_finding(uint64_t rss_mb) {
  pb::Finding f;
  f.set_kind(pb::Finding::HIGH_MEMORY);
  f.set_check(pb::CHECK_MEMORY);
  f.set_value(static_cast<double>(rss_mb << 20));
  f.set_limit(static_cast<double>(512ull << 20));
  return f;
}

pb::Finding slow_finding(double ms) {
  pb::Finding f;
  f.set_kind(pb::Finding::SLOW);
  f.set_check(pb::CHECK_HEALTH);
  f.set_value(ms);
  f.set_limit(1000);
  return f;
}

pb::Finding simple_finding(pb::Finding::Kind kind, pb::CheckKind check = pb::CHECK_KIND_UNSPECIFIED) {
  pb::Finding f;
  f.set_kind(kind);
  f.set_check(check);
  return f;
}

// Every message is valid Telegram HTML and fits.
void expect_valid(const std::vector<Outgoing>& out) {
  for (const auto& o : out) {
    EXPECT_LE(utf16_units(o.text), kMaxMessageUnits);
    const auto parsed = tt::parse_html(o.text);
    EXPECT_TRUE(parsed.ok) << parsed.error << "\n" << o.text;
    EXPECT_TRUE(tt::is_valid_utf8(o.text));
  }
}

std::string visible(const Outgoing& o) { return tt::parse_html(o.text).visible; }

class PlannerTest : public ::testing::Test {
 protected:
  int64_t now() const { return clock_.wall_ms(); }
  std::vector<Outgoing> ev(const pb::RepairEvent& e) {
    auto out = planner_.on_repair_event(e, now());
    expect_valid(out);
    return out;
  }
  std::vector<Outgoing> tick() {
    auto out = planner_.on_tick(now());
    expect_valid(out);
    return out;
  }
  std::vector<Outgoing> health(pb::GatewayState state, const std::vector<pb::Finding>& findings) {
    pb::GatewayHealth h;
    h.set_state(state);
    h.set_pid(4321);
    h.set_rss_bytes(600ull << 20);
    for (const auto& f : findings) *h.add_findings() = f;
    auto out = planner_.on_health(h, now());
    expect_valid(out);
    return out;
  }

  FakeClock clock_;
  NotificationPlanner planner_{PlannerSettings::defaults()};
};

TEST_F(PlannerTest, OneIncidentIsOneThreadSendEditsReply) {
  auto out = ev(started(7, now()));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, Outgoing::Kind::kSend);
  EXPECT_TRUE(out[0].opens_incident);
  EXPECT_EQ(out[0].incident, "repair:7");
  const std::string open = visible(out[0]);
  EXPECT_NE(open.find("Gateway down — repairing (tier 1)"), std::string::npos) << open;
  EXPECT_NE(open.find("no process named openclaw-gateway"), std::string::npos);
  EXPECT_NE(open.find("Repair #7"), std::string::npos);

  clock_.advance(300ms);
  EXPECT_TRUE(ev(step(7, "restart", true)).empty());  // within the edit interval: coalesced
  clock_.advance(300ms);
  EXPECT_TRUE(ev(step(7, "verify", true)).empty());
  EXPECT_EQ(planner_.next_due_ms(), now() - 600 + 2000);
  clock_.advance(1399ms);
  EXPECT_TRUE(tick().empty());
  clock_.advance(1ms);
  out = tick();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, Outgoing::Kind::kEdit);
  EXPECT_EQ(out[0].incident, "repair:7");
  EXPECT_EQ(out[0].edit_message_id, 0);
  EXPECT_NE(visible(out[0]).find("restart"), std::string::npos);
  EXPECT_NE(visible(out[0]).find("verify"), std::string::npos);
  EXPECT_TRUE(tick().empty());

  clock_.advance(500ms);
  out = ev(finished(7, true, 1, 2300));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].kind, Outgoing::Kind::kEdit);  // the final state lands at once
  EXPECT_NE(visible(out[0]).find("repaired by tier 1"), std::string::npos) << visible(out[0]);
  EXPECT_EQ(out[1].kind, Outgoing::Kind::kSend);
  EXPECT_TRUE(out[1].reply_to_incident);
  EXPECT_EQ(visible(out[1]).rfind("🟢 Gateway recovered (tier 1, took 2.3s)", 0), 0u) << visible(out[1]);

  // Repeats and stragglers say nothing new.
  EXPECT_TRUE(ev(started(7, now())).empty());
  EXPECT_TRUE(ev(step(7, "late", true)).empty());
  EXPECT_TRUE(ev(finished(7, true, 1, 2300)).empty());
  clock_.advance(10s);
  EXPECT_TRUE(tick().empty());
}

TEST_F(PlannerTest, TheReplySaysWhatRecoveredMeansAndChannelsOffIsNotGreen) {
  ev(started(8, now()));
  auto done = finished(8, true, 1, 9000);
  done.set_verified("answers /health, started; still failing telegram, as before the incident");
  auto out = ev(done);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(visible(out[1]).rfind("🟢 Gateway recovered (tier 1, took 9.0s)\nanswers /health, started; still failing "
                                  "telegram, as before the incident\nRepair #8", 0),
            0u)
      << visible(out[1]);

  ev(started(9, now()));
  auto impaired = finished(9, true, 2, 30000);
  impaired.set_impaired(true);
  impaired.set_verified("answers /health, started, but OpenClaw's crash-loop breaker keeps <telegram> off");
  out = ev(impaired);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].text.find("🟢"), std::string::npos) << out[1].text;
  EXPECT_NE(out[1].text.find("🟡 <b>Gateway back, channels still off</b>"), std::string::npos) << out[1].text;
  EXPECT_NE(out[1].text.find("&lt;telegram&gt;"), std::string::npos) << out[1].text;  // escaped
}

TEST_F(PlannerTest, EditsAreCoalescedToOneEveryTwoSecondsLatestWins) {
  ev(started(1, now()));
  int edits = 0;
  std::string last;
  for (int i = 0; i < 100; ++i) {
    clock_.advance(100ms);
    auto out = ev(step(1, "step" + std::to_string(i), true));
    auto t = tick();
    out.insert(out.end(), t.begin(), t.end());
    for (const auto& o : out) {
      ASSERT_EQ(o.kind, Outgoing::Kind::kEdit);
      ++edits;
      last = visible(o);
    }
  }
  EXPECT_LE(edits, 5 + 1);  // 10 s of steps at one edit per 2 s
  EXPECT_GE(edits, 4);
  clock_.advance(2s);
  for (const auto& o : tick()) last = visible(o);
  EXPECT_NE(last.find("step99"), std::string::npos);     // the latest state won
  EXPECT_NE(last.find("earlier step"), std::string::npos);  // long histories are shortened
}

TEST_F(PlannerTest, AllTiersFailedIsOneRedReplyWithWhatWasTriedAndWhatToDo) {
  ev(started(3, now(), "health check failing: timeout after 2s <5 checks>"));
  clock_.advance(3s);
  auto tf1 = event(pb::RepairEvent::TIER_FAILED, 3, 1);
  tf1.set_details("still down after restart");
  ev(tf1);
  clock_.advance(3s);
  auto tf2 = event(pb::RepairEvent::TIER_FAILED, 3, 2);
  tf2.set_details("port 18789 still held by pid 99 (node)");
  ev(tf2);
  clock_.advance(3s);
  auto fin = finished(3, false, 2, 45'000);
  fin.set_details("all tiers failed");
  fin.set_diagnosis("The gateway crashes on start: <config> is invalid & must be fixed by hand.");
  auto out = ev(fin);
  ASSERT_EQ(out.size(), 1u);  // the final edit; the 🔴 waits for the ESCALATION
  EXPECT_EQ(out[0].kind, Outgoing::Kind::kEdit);
  EXPECT_NE(visible(out[0]).find("Repair failed"), std::string::npos);

  auto esc = event(pb::RepairEvent::ESCALATION, 3, 2);
  esc.add_tiers_tried(1);
  esc.add_tiers_tried(2);
  esc.set_details("all tiers failed");
  esc.set_diagnosis(fin.diagnosis());
  out = ev(esc);
  ASSERT_EQ(out.size(), 1u);
  const auto& red = out[0];
  EXPECT_TRUE(red.reply_to_incident);
  EXPECT_EQ(red.incident, "repair:3");
  const std::string text = visible(red);
  EXPECT_EQ(text.rfind("🔴 Gateway down, all tiers failed — human intervention needed", 0), 0u) << text;
  EXPECT_NE(text.find("Tier 1: still down after restart"), std::string::npos) << text;
  EXPECT_NE(text.find("Tier 2: port 18789 still held by pid 99 (node)"), std::string::npos);
  EXPECT_NE(text.find("<config> is invalid & must be fixed"), std::string::npos);  // escaped, shown as is
  EXPECT_NE(text.find("gwrctl show 3"), std::string::npos);
  EXPECT_NE(text.find("/repair"), std::string::npos);
  ASSERT_TRUE(red.keyboard.is_object());
  const std::string kb = red.keyboard.dump();
  EXPECT_NE(kb.find("\"repair\""), std::string::npos);
  EXPECT_NE(kb.find("\"logs\""), std::string::npos);

  EXPECT_TRUE(ev(esc).empty());
  clock_.advance(10s);
  EXPECT_TRUE(tick().empty());
}

TEST_F(PlannerTest, FailureWithoutEscalationEventStillGetsTheRedReply) {
  ev(started(4, now()));
  auto out = ev(finished(4, false, 1, 5000));
  ASSERT_EQ(out.size(), 1u);
  clock_.advance(4999ms);
  EXPECT_TRUE(tick().empty());
  clock_.advance(1ms);
  out = tick();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(visible(out[0]).find("all tiers failed"), std::string::npos);
  EXPECT_TRUE(ev(event(pb::RepairEvent::ESCALATION, 4, 1)).empty());  // late: already said
}

TEST_F(PlannerTest, AnIncidentJoinedLateOpensWithWhatIsKnown) {
  auto out = ev(finished(9, true, 1, 1500));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].opens_incident);
  EXPECT_NE(visible(out[0]).find("repaired by tier 1"), std::string::npos);
  EXPECT_TRUE(out[1].reply_to_incident);
}

TEST_F(PlannerTest, CooldownPauseAndDeferredNoticesAreNotRepeated) {
  auto cool = event(pb::RepairEvent::COOLDOWN_ENTERED, 5, 0);
  cool.set_cooldown_until_ms(now() + 30 * 60'000);
  cool.set_details("3 repairs failed in a row; no automatic repair until the cooldown ends");
  auto out = ev(cool);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(visible(out[0]).rfind("⏳ Cooldown until ", 0), 0u);
  EXPECT_TRUE(out[0].reply_to_incident);
  EXPECT_EQ(out[0].incident, "repair:5");
  EXPECT_TRUE(ev(cool).empty());
  out = ev(event(pb::RepairEvent::COOLDOWN_ENDED, 0, 0));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].reply_to_incident);
  EXPECT_TRUE(ev(event(pb::RepairEvent::COOLDOWN_ENDED, 0, 0)).empty());

  auto paused = event(pb::RepairEvent::PAUSED, 0, 0);
  paused.set_actor("gwrctl");
  paused.set_details("maintenance");
  out = ev(paused);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(visible(out[0]).find("paused by gwrctl: maintenance"), std::string::npos) << visible(out[0]);
  EXPECT_NE(out[0].keyboard.dump().find("\"resume\""), std::string::npos);  // the button that applies
  EXPECT_TRUE(planner_.paused());
  EXPECT_TRUE(ev(paused).empty());
  auto resumed = event(pb::RepairEvent::RESUMED, 0, 0);
  resumed.set_actor("telegram:42");  // the bot answered that user already
  EXPECT_TRUE(ev(resumed).empty());
  EXPECT_FALSE(planner_.paused());

  auto deferred = event(pb::RepairEvent::DEFERRED, 0, 0);
  *deferred.add_findings() = simple_finding(pb::Finding::NOT_RUNNING, pb::CHECK_PROCESS);
  deferred.set_defer_reason(pb::DEFER_PAUSED);
  deferred.set_details("automatic repairs are paused (by gwrctl); not repairing");
  out = ev(deferred);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(visible(out[0]).find("auto-repair is paused"), std::string::npos);
  clock_.advance(10min);
  EXPECT_TRUE(ev(deferred).empty());
  clock_.advance(std::chrono::milliseconds(planner_.settings().reminder_interval_ms));
  EXPECT_EQ(ev(deferred).size(), 1u);
}

TEST_F(PlannerTest, WarningsAreDeduplicatedRemindedAndCleared) {
  PlannerSettings s = PlannerSettings::defaults();
  s.reminder_interval_ms = 3'600'000;
  s.warning_clear_after_ms = 30'000;
  planner_.set_settings(s);
  auto out = health(pb::DEGRADED, {memory_finding(600)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(visible(out[0]).rfind("🟡 Warning: high memory: RSS 600 MB", 0), 0u) << visible(out[0]);
  EXPECT_TRUE(out[0].keyboard.is_object());
  // The same warning with other numbers is the same warning.
  for (int i = 0; i < 100; ++i) {
    clock_.advance(5s);
    EXPECT_TRUE(health(pb::DEGRADED, {memory_finding(610 + static_cast<uint64_t>(i % 10))})
                    .empty());
  }
  // A second, different warning is news.
  out = health(pb::DEGRADED, {memory_finding(620),
                              slow_finding(1500)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(visible(out[0]).find("slow health answers"), std::string::npos);
  EXPECT_EQ(visible(out[0]).find("high memory"), std::string::npos);
  // After the reminder interval, one reminder for what persists.
  clock_.advance(std::chrono::milliseconds(s.reminder_interval_ms - 500'000));
  out = health(pb::DEGRADED, {memory_finding(630),
                              slow_finding(1500)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(visible(out[0]).rfind("🟡 Still: high memory: RSS 630 MB", 0), 0u) << visible(out[0]);
  // A re-probe in progress is not a reason to call anything cleared.
  EXPECT_TRUE(health(pb::DEGRADED, {simple_finding(pb::Finding::CONFIRMING, pb::CHECK_HEALTH)}).empty());
  clock_.advance(60s);
  EXPECT_TRUE(tick().empty());
  // Healthy: cleared once it has stayed away, in one message.
  EXPECT_TRUE(health(pb::HEALTHY, {}).empty());
  clock_.advance(29s);
  EXPECT_TRUE(tick().empty());
  clock_.advance(1s);
  out = tick();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(visible(out[0]).find("Warning cleared"), std::string::npos);
  EXPECT_NE(visible(out[0]).find("high memory"), std::string::npos);
  EXPECT_NE(visible(out[0]).find("slow health answers"), std::string::npos);
  EXPECT_TRUE(planner_.warnings().empty());
  clock_.advance(1min);
  EXPECT_TRUE(tick().empty());
  EXPECT_TRUE(health(pb::HEALTHY, {}).empty());
}

TEST_F(PlannerTest, AWarningThatFlickersBackBeforeTheClearDelayStaysOneWarning) {
  health(pb::DEGRADED, {memory_finding(600)});
  clock_.advance(5s);
  EXPECT_TRUE(health(pb::HEALTHY, {}).empty());
  clock_.advance(10s);
  EXPECT_TRUE(health(pb::DEGRADED, {memory_finding(601)}).empty());
  clock_.advance(1min);
  EXPECT_TRUE(tick().empty());
  EXPECT_EQ(planner_.warnings().size(), 1u);
}

pb::Finding named_finding(pb::Finding::Kind kind, const std::string& subject) {
  pb::Finding f = simple_finding(kind, pb::CHECK_HEALTH);
  f.set_subject(subject);
  return f;
}

TEST_F(PlannerTest, WithTheGatewayTokenEachHeldOffChannelGetsAStartButtonOnlyForAChannelId) {
  auto settings = PlannerSettings::defaults();
  settings.channel_start = true;
  NotificationPlanner planner(settings);
  pb::GatewayHealth h;
  h.set_state(pb::DEGRADED);
  *h.add_findings() = named_finding(pb::Finding::CHANNEL_SUPPRESSED, "telegram");
  *h.add_findings() = named_finding(pb::Finding::CHANNEL_SUPPRESSED, "<b>discord</b>");
  auto out = planner.on_health(h, now());
  ASSERT_EQ(out.size(), 1u);
  const auto& rows = out[0].keyboard["inline_keyboard"];
  ASSERT_GE(rows.size(), 3u);  // the Start row above the main keyboard
  ASSERT_EQ(rows[0].size(), 1u);
  EXPECT_EQ(rows[0][0]["callback_data"], "chstart:telegram");
  EXPECT_EQ(rows[0][0]["text"], "▶ Start telegram");
  EXPECT_EQ(out[0].keyboard.dump().find("discord"), std::string::npos);
  // Without the token: the main keyboard only.
  auto plain = health(pb::DEGRADED, {named_finding(pb::Finding::CHANNEL_SUPPRESSED, "telegram")});
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(plain[0].keyboard.dump().find("chstart:"), std::string::npos);
}

TEST_F(PlannerTest, ChannelsOffByTheBreakerAreRedAndEachChannelIsItsOwnWarning) {
  auto out = health(pb::DEGRADED, {named_finding(pb::Finding::CHANNEL_SUPPRESSED, "telegram"),
                                   named_finding(pb::Finding::CHANNEL_SUPPRESSED, "<b>discord</b>")});
  ASSERT_EQ(out.size(), 1u);
  const std::string text = visible(out[0]);
  EXPECT_EQ(text.rfind("🔴 Channels off", 0), 0u) << text;
  EXPECT_NE(text.find("channel telegram is off"), std::string::npos) << text;
  EXPECT_NE(text.find("channel <b>discord</b> is off"), std::string::npos) << text;  // escaped, shown as sent
  // Once is enough; the same two again say nothing new.
  EXPECT_TRUE(health(pb::DEGRADED, {named_finding(pb::Finding::CHANNEL_SUPPRESSED, "telegram"),
                                    named_finding(pb::Finding::CHANNEL_SUPPRESSED, "<b>discord</b>")})
                  .empty());
}

TEST_F(PlannerTest, AFailingChannelIsAYellowWarningNamingIt) {
  auto out = health(pb::DEGRADED, {named_finding(pb::Finding::CHANNEL_FAILING, "telegram")});
  ASSERT_EQ(out.size(), 1u);
  const std::string text = visible(out[0]);
  EXPECT_EQ(text.rfind("🟡 Warning", 0), 0u) << text;
  EXPECT_NE(text.find("channel telegram is failing"), std::string::npos) << text;
  // A second channel failing later is news.
  out = health(pb::DEGRADED, {named_finding(pb::Finding::CHANNEL_FAILING, "telegram"),
                              named_finding(pb::Finding::CHANNEL_FAILING, "discord")});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(visible(out[0]).find("channel discord is failing"), std::string::npos) << visible(out[0]);
}

TEST_F(PlannerTest, DownAndStartingSayNothingAboutWarnings) {
  EXPECT_TRUE(health(pb::DOWN, {simple_finding(pb::Finding::NOT_RUNNING, pb::CHECK_PROCESS)}).empty());
  EXPECT_TRUE(health(pb::STARTING, {simple_finding(pb::Finding::STARTING)}).empty());
  EXPECT_TRUE(planner_.warnings().empty());
}

TEST_F(PlannerTest, StateSurvivesARestart) {
  ev(started(11, now()));
  clock_.advance(3s);
  ev(step(11, "restart", false));
  health(pb::DEGRADED, {memory_finding(600)});
  auto changes = planner_.take_changes();
  ASSERT_EQ(changes.incidents.size(), 1u);
  ASSERT_EQ(changes.warnings.size(), 1u);
  EXPECT_TRUE(planner_.take_changes().empty());

  NotificationPlanner restored;
  for (const auto& [key, j] : changes.incidents) restored.restore_incident(j);
  for (const auto& w : changes.warnings) restored.restore_warning(w);
  restored.restore_notices(planner_.notices_bytes());
  // The thread continues: a FINISHED edits and replies, it does not open a new thread.
  auto out = restored.on_repair_event(finished(11, true, 1, 4000), now());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].kind, Outgoing::Kind::kEdit);
  EXPECT_NE(tt::parse_html(out[0].text).visible.find("restart"), std::string::npos);
  EXPECT_TRUE(out[1].reply_to_incident);
  pb::GatewayHealth h;
  h.set_state(pb::DEGRADED);
  *h.add_findings() = memory_finding(700);
  EXPECT_TRUE(restored.on_health(h, now()).empty());  // not news after a restart either
}

// telegram.db of gwr 1.0 held JSON: a bridge upgraded mid-repair still edits
// the same thread and does not repeat what it already said.
TEST_F(PlannerTest, The10JsonStateIsReadAfterAnUpgrade) {
  NotificationPlanner upgraded;
  upgraded.restore_incident(R"J({"repair_id":11,"tier":1,"actor":"auto","reason":"gateway process exited",)J"
                            R"J("lines":["❌ tier 1 · restart (1.2s)"],"tier_failures":{"1":"still down"},"outcome":0})J");
  upgraded.restore_notices(R"({"paused":true,"pause_noticed":"paused","alerts":{"2|repairer|":1}})");
  ASSERT_EQ(upgraded.incidents().size(), 1u);
  EXPECT_EQ(upgraded.incidents().at("repair:11").tier_failures().at(1), "still down");
  EXPECT_TRUE(upgraded.paused());
  auto out = upgraded.on_repair_event(finished(11, true, 1, 4000), now());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].kind, Outgoing::Kind::kEdit) << "the same thread, not a new one";
  auto paused = event(pb::RepairEvent::PAUSED, 0, 0);
  paused.set_actor("gwrctl");
  EXPECT_TRUE(upgraded.on_repair_event(paused, now()).empty()) << "already said before the upgrade";
  // Garbage is ignored, not fatal.
  upgraded.restore_incident("{not json");
  upgraded.restore_incident(std::string("\xFF\xFF\xFF", 3));
  upgraded.restore_notices("\x08");
  EXPECT_EQ(upgraded.incidents().size(), 1u);
}

TEST_F(PlannerTest, HostileTextIsEscapedAndBounded) {
  std::string hostile(10'000, '<');
  hostile += "&\xff";
  auto s = started(12, now(), hostile);
  auto out = ev(s);
  ASSERT_EQ(out.size(), 1u);
  auto e = step(12, "restart", false);
  std::string detail(50'000, '&');
  detail += "<b>not bold</b>";  // (appended, not operator+: GCC 12's -Warray-bounds misfires on that)
  e.mutable_step()->set_detail(detail);
  clock_.advance(3s);
  for (int i = 0; i < 30; ++i) ev(e);
  auto fin = finished(12, false, 1, 1);
  fin.set_diagnosis(std::string(100'000, '>'));
  ev(fin);
  ev(event(pb::RepairEvent::ESCALATION, 12, 1));
  // expect_valid() ran on every message above.
}

// gwr's own problems: told once, reminded at most every reminder interval,
// once more when they clear, and a restart of the bridge does not repeat them.
TEST_F(PlannerTest, AlertsAboutGwrItselfAreToldOnceAndWhenTheyClear) {
  pb::Alert a;
  a.set_kind(pb::Alert::STATE_NOT_SAVED);
  a.set_component("repairer");
  a.set_detail("sqlite: database or disk is full");
  auto first = planner_.on_alert(a, now());
  expect_valid(first);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_NE(first[0].text.find("cannot save its repair state"), std::string::npos) << first[0].text;
  EXPECT_NE(first[0].text.find("disk is full"), std::string::npos);
  for (int i = 0; i < 10; ++i) {
    clock_.advance(30s);
    EXPECT_TRUE(planner_.on_alert(a, now()).empty()) << "a level-triggered repeat said again";
  }
  NotificationPlanner restarted(planner_.settings());
  restarted.restore_notices(planner_.notices_bytes());
  EXPECT_TRUE(restarted.on_alert(a, now()).empty());
  clock_.advance(61min);
  EXPECT_EQ(restarted.on_alert(a, now()).size(), 1u) << "a reminder after the interval";
  a.set_cleared(true);
  auto cleared = restarted.on_alert(a, now());
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_NE(cleared[0].text.find("can save its state again"), std::string::npos);
  EXPECT_TRUE(restarted.on_alert(a, now()).empty()) << "cleared once";

  pb::Alert blind;
  blind.set_kind(pb::Alert::UNDECODABLE_MESSAGES);
  blind.set_component("repairer");
  blind.set_topic("gateway_health");
  blind.set_count(12);
  auto loud = planner_.on_alert(blind, now());
  ASSERT_EQ(loud.size(), 1u);
  EXPECT_NE(loud[0].text.find("🔴"), std::string::npos);
  EXPECT_NE(loud[0].text.find("repairs nothing automatically"), std::string::npos) << loud[0].text;
}

TEST(WarningKey, IsTheFindingNotItsFigures) {
  EXPECT_EQ(finding_key(memory_finding(600)), finding_key(memory_finding(1024)));
  EXPECT_NE(finding_key(memory_finding(600)), finding_key(slow_finding(2000)));
}

// A warning restored from gwr 1.0's telegram.db was keyed by its words: it is
// dropped, not "cleared" later (it could never be matched again).
TEST_F(PlannerTest, WarningsOfTheOldWordingAreDroppedOnRestore) {
  Warning old{"high memory: RSS  MB over the  MB threshold", "high memory", now(), now(), 0};
  planner_.restore_warning(old);
  clock_.advance(10min);
  EXPECT_TRUE(health(pb::HEALTHY, {}).empty());
  EXPECT_TRUE(tick().empty());
}

}  // namespace
}  // namespace gwr::telegram
