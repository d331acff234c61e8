// The status page and its JSON from what gwr-web gathered: the current
// state and why, the 7-day timeline, incidents, statistics, the RSS trend;
// nothing from outside is markup; the JSON is the same data.
#include "web/page.h"

#include <gtest/gtest.h>

namespace gwr::web {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;
constexpr int64_t kHour = 3'600'000;

PageData sample() {
  PageData d;
  d.now_ms = kNow;
  d.host = "pi<5>";
  d.version = "1.0.0";
  pb::GatewayHealth h;
  h.set_state(pb::DOWN);
  h.set_state_since_ms(kNow - 60'000);
  auto* f = h.add_findings();
  f->set_kind(pb::Finding::OTHER_GATEWAY);
  f->set_subject("<script>alert(1)</script>");
  f->set_value(42);
  f->set_detail("it listens on port 19789");
  d.health = h;
  pb::HistoryReply hist;
  auto* r = hist.add_repairs();  // newest first
  r->set_id(2);
  r->set_trigger(pb::TRIGGER_MANUAL);
  r->set_actor("telegram:<b>4242</b>");
  r->set_started_at_ms(kNow - 2 * kHour);
  r->set_finished_at_ms(kNow - 2 * kHour + 2'500);
  r->set_duration_ms(2'500);
  r->set_success(true);
  r->set_fixed_by_tier(1);
  r->add_tiers_tried(1);
  r->set_status(pb::REPAIR_SUCCEEDED);
  auto* old = hist.add_repairs();
  old->set_id(1);
  old->set_started_at_ms(kNow - 9 * 24 * kHour);  // outside the window
  d.history = hist;
  pb::StatsReply stats;
  auto* w = stats.add_windows();
  w->set_name("7d");
  w->set_repairs(1);
  w->set_succeeded(1);
  w->set_success_rate(1.0);
  w->set_avg_duration_ms(2'500);
  d.stats = stats;
  d.states = {{kNow - 10 * 24 * kHour, pb::HEALTHY}, {kNow - 2 * kHour, pb::DOWN}, {kNow - 2 * kHour + 2'500, pb::HEALTHY},
              {kNow - 60'000, pb::DOWN}};
  d.rss = {{kNow - 3 * kHour, 100u << 20}, {kNow - 2 * kHour, 120u << 20}, {kNow - kHour, 150u << 20}};
  return d;
}

TEST(PageTest, TimelineSpansTheWeekFromTheStateItOpensIn) {
  const auto d = sample();
  const auto spans = timeline(d.states, kNow);
  ASSERT_EQ(spans.size(), 4u);
  EXPECT_EQ(spans[0].from_ms, kNow - kTimelineMs);
  EXPECT_EQ(spans[0].state, pb::HEALTHY);  // began before the window
  EXPECT_EQ(spans[1].state, pb::DOWN);
  EXPECT_EQ(spans[1].to_ms - spans[1].from_ms, 2'500);
  EXPECT_EQ(spans[3].to_ms, kNow);
  // Nothing recorded yet: the whole week is "not watched".
  const auto none = timeline({}, kNow);
  ASSERT_EQ(none.size(), 1u);
  EXPECT_EQ(none[0].state, pb::GATEWAY_STATE_UNKNOWN);
  // Repeats of a state do not split it.
  EXPECT_EQ(timeline({{kNow - kHour, pb::HEALTHY}, {kNow - 10, pb::HEALTHY}}, kNow).size(), 2u);
}

TEST(PageTest, ThePageSaysTheStateTheIncidentAndEscapesWhatCameFromOutside) {
  const std::string html = page_html(sample());
  EXPECT_NE(html.find("id=\"state\""), std::string::npos);
  EXPECT_NE(html.find(">down</span>"), std::string::npos);
  EXPECT_NE(html.find("id=\"repair-2\""), std::string::npos);
  EXPECT_EQ(html.find("id=\"repair-1\""), std::string::npos) << "a repair from before the week";
  EXPECT_NE(html.find("repaired by tier 1"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos) << "no script, and none from outside";
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("telegram:&lt;b&gt;4242&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(html.find("pi&lt;5&gt;"), std::string::npos);
  EXPECT_NE(html.find("id=\"timeline\""), std::string::npos);
  EXPECT_NE(html.find("<polyline"), std::string::npos);
  EXPECT_NE(html.find("100%"), std::string::npos);  // the success rate
  EXPECT_EQ(html.find("http://"), std::string::npos) << "no external resource";
  EXPECT_EQ(html.find("https://"), std::string::npos) << "no external resource";
}

// Several gateways: every one's state is on the page (the first's detail
// below), named and escaped; the JSON lists them too.
TEST(PageTest, SeveralGatewaysAreAllOnThePage) {
  PageData d = sample();
  d.gateway = "main";
  OtherGateway rescue;
  rescue.name = "rescue";
  pb::GatewayHealth h;
  h.set_state(pb::HEALTHY);
  h.set_state_since_ms(kNow - 5 * 60'000);
  rescue.health = h;
  pb::RepairStatusReply r;
  r.set_max_per_hour(1);
  r.set_repairs_last_hour(1);
  rescue.repair = r;
  d.others.push_back(rescue);
  d.others.push_back({"ev<il>", std::nullopt, std::nullopt});
  const std::string html = page_html(d);
  EXPECT_NE(html.find("id=\"gateways\""), std::string::npos);
  EXPECT_NE(html.find("id=\"state-main\""), std::string::npos);
  EXPECT_NE(html.find("id=\"state-rescue\""), std::string::npos);
  EXPECT_NE(html.find("1 of 1 in the last hour"), std::string::npos);
  EXPECT_EQ(html.find("ev<il>"), std::string::npos);
  EXPECT_NE(html.find("ev&lt;il&gt;"), std::string::npos);
  const auto st = status_document(d);
  ASSERT_EQ(st["gateways"].size(), 3u);
  EXPECT_EQ(st["gateways"][0]["name"], "main");
  EXPECT_EQ(st["gateways"][0]["gateway"]["state"], "down");
  EXPECT_EQ(st["gateways"][1]["gateway"]["state"], "healthy");
  EXPECT_EQ(st["gateways"][1]["repair"]["max_per_hour"], 1);
  EXPECT_EQ(st["gateways"][2]["gateway"]["state"], "unknown");
  // One gateway: no list.
  EXPECT_FALSE(status_document(sample()).contains("gateways"));
  EXPECT_EQ(page_html(sample()).find("id=\"gateways\""), std::string::npos);
}

TEST(PageTest, TheJsonIsTheSameData) {
  const auto d = sample();
  const auto st = status_document(d);
  EXPECT_EQ(st["gateway"]["state"], "down");
  ASSERT_EQ(st["gateway"]["reasons"].size(), 1u);
  EXPECT_NE(st["gateway"]["reasons"][0].get<std::string>().find("<script>"), std::string::npos) << "JSON keeps text as text";
  const auto hist = history_document(d);
  ASSERT_EQ(hist["incidents"].size(), 1u);
  EXPECT_EQ(hist["incidents"][0]["id"], 2);
  EXPECT_EQ(hist["incidents"][0]["outcome"], "repaired");
  EXPECT_EQ(hist["incidents"][0]["trigger"], "manual");
  EXPECT_EQ(hist["timeline"].size(), 4u);
  EXPECT_EQ(hist["stats"][0]["window"], "7d");
  EXPECT_EQ(hist["rss"].size(), 3u);
  // Nothing known at all: still a page and documents.
  PageData empty;
  empty.now_ms = kNow;
  EXPECT_NE(page_html(empty).find(">unknown</span>"), std::string::npos);
  EXPECT_EQ(status_document(empty)["gateway"]["state"], "unknown");
  EXPECT_TRUE(history_document(empty)["incidents"].empty());
}

}  // namespace
}  // namespace gwr::web
