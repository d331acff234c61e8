// gwr-web's pure parts: the /metrics page from what the bus said (each
// probe and repair counted once, histograms cumulative, label values
// escaped), the listen address and the request head as they come.
#include "web/metrics.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "web/http_server.h"

namespace gwr::web {
namespace {

pb::GatewayHealth health(pb::GatewayState state, int64_t at_ms, int64_t health_latency_us, bool ok = true) {
  pb::GatewayHealth h;
  h.set_state(state);
  h.set_rss_bytes(123'456'789);
  h.set_rss_growth_bytes_per_hour(3600.0 * 1000);
  auto* c = h.add_checks();
  c->set_kind(pb::CHECK_HEALTH);
  c->set_probed(true);
  c->set_ok(ok);
  c->set_at_ms(at_ms);
  c->set_latency_us(health_latency_us);
  return h;
}

bool has_line(const std::string& page, const std::string& line) {
  return page.find("\n" + line + "\n") != std::string::npos || page.rfind(line + "\n", 0) == 0;
}

TEST(MetricsTest, TheGatewayAndEachProbeCountedOnce) {
  Metrics m;
  m.on_health(health(pb::HEALTHY, 1000, 3000));
  m.on_health(health(pb::HEALTHY, 1000, 3000));  // republished: the same probe
  m.on_health(health(pb::HEALTHY, 2000, 40'000));
  m.on_health(health(pb::DOWN, 3000, 0, false));
  const std::string page = m.render("1.0.0");
  EXPECT_TRUE(has_line(page, "gwr_build_info{version=\"1.0.0\"} 1")) << page;
  EXPECT_TRUE(has_line(page, "gwr_gateway_up 0"));
  EXPECT_TRUE(has_line(page, "gwr_gateway_state{state=\"down\"} 1"));
  EXPECT_TRUE(has_line(page, "gwr_gateway_state{state=\"healthy\"} 0"));
  EXPECT_TRUE(has_line(page, "gwr_gateway_resident_memory_bytes 123456789"));
  EXPECT_TRUE(has_line(page, "gwr_gateway_resident_memory_growth_bytes_per_second 1000"));
  EXPECT_TRUE(has_line(page, "gwr_probe_duration_seconds_count{check=\"health\"} 2")) << page;
  EXPECT_TRUE(has_line(page, "gwr_probe_duration_seconds_bucket{check=\"health\",le=\"0.005\"} 1")) << page;
  EXPECT_TRUE(has_line(page, "gwr_probe_duration_seconds_bucket{check=\"health\",le=\"0.05\"} 2")) << page;
  EXPECT_TRUE(has_line(page, "gwr_probe_duration_seconds_bucket{check=\"health\",le=\"+Inf\"} 2")) << page;
  EXPECT_TRUE(has_line(page, "gwr_probe_failures_total{check=\"health\"} 1"));
  EXPECT_TRUE(has_line(page, "gwr_probe_failures_total{check=\"port\"} 0"));
  // One HELP and one TYPE per family.
  EXPECT_EQ(page.find("# TYPE gwr_probe_duration_seconds histogram"), page.rfind("# TYPE gwr_probe_duration_seconds histogram"));
}

TEST(MetricsTest, RepairsByTierTriggerAndOutcomeEachOnce) {
  Metrics m;
  pb::RepairEvent started;
  started.set_kind(pb::RepairEvent::STARTED);
  started.set_trigger(pb::TRIGGER_AUTO);
  started.set_repair_id(1);
  m.on_repair_event(started);
  pb::RepairEvent done;
  done.set_kind(pb::RepairEvent::FINISHED);
  done.set_repair_id(1);
  done.set_tier(2);
  done.set_trigger(pb::TRIGGER_AUTO);
  done.set_success(true);
  done.set_duration_ms(4'500);
  m.on_repair_event(done);
  m.on_repair_event(done);  // the same event again (a replay): counted once
  done.set_repair_id(2);
  done.set_trigger(pb::TRIGGER_MANUAL);
  done.set_success(false);
  m.on_repair_event(done);
  pb::RepairStatusReply st;
  st.set_paused(true);
  st.set_repairs_last_hour(2);
  st.set_max_per_hour(3);
  m.set_repair_status(st);
  const std::string page = m.render("1.0.0");
  EXPECT_TRUE(has_line(page, "gwr_repairs_started_total{trigger=\"auto\"} 1")) << page;
  EXPECT_TRUE(has_line(page, "gwr_repairs_total{tier=\"2\",trigger=\"auto\",outcome=\"success\"} 1")) << page;
  EXPECT_TRUE(has_line(page, "gwr_repairs_total{tier=\"2\",trigger=\"manual\",outcome=\"failure\"} 1")) << page;
  EXPECT_TRUE(has_line(page, "gwr_repair_duration_seconds_bucket{le=\"5\"} 2")) << page;
  EXPECT_TRUE(has_line(page, "gwr_repair_duration_seconds_count 2"));
  EXPECT_TRUE(has_line(page, "gwr_repairs_paused 1"));
  EXPECT_TRUE(has_line(page, "gwr_repairs_last_hour 2"));
  EXPECT_TRUE(has_line(page, "gwr_repairs_per_hour_limit 3"));
  // A component that did not answer leaves its part out.
  m.set_repair_status(std::nullopt);
  EXPECT_EQ(m.render("1.0.0").find("gwr_repairs_paused"), std::string::npos);
}

// Several gateways: each gateway's series carry gateway="NAME", every family
// once with all its samples together; repair ids are per gateway.
TEST(MetricsTest, SeveralGatewaysAreLabelledAndEachFamilyIsOneBlock) {
  Metrics m;
  m.set_gateways({"main", "rescue"});
  m.on_health(health(pb::HEALTHY, 1000, 3000), "main");
  m.on_health(health(pb::DOWN, 1000, 0, false), "rescue");
  pb::RepairEvent done;
  done.set_kind(pb::RepairEvent::FINISHED);
  done.set_trigger(pb::TRIGGER_AUTO);
  done.set_repair_id(1);
  done.set_tier(1);
  done.set_success(true);
  done.set_duration_ms(2000);
  m.on_repair_event(done, "rescue");
  m.on_repair_event(done, "main");  // main's #1 is another repair than rescue's #1
  pb::RepairStatusReply limit;
  limit.set_max_per_hour(1);
  m.set_repair_status(limit, "rescue");
  const std::string page = m.render("1.0.0");
  EXPECT_TRUE(has_line(page, "gwr_gateway_up{gateway=\"main\"} 1")) << page;
  EXPECT_TRUE(has_line(page, "gwr_gateway_up{gateway=\"rescue\"} 0")) << page;
  EXPECT_TRUE(has_line(page, "gwr_gateway_state{gateway=\"rescue\",state=\"down\"} 1")) << page;
  EXPECT_TRUE(has_line(page, "gwr_probe_failures_total{gateway=\"rescue\",check=\"health\"} 1")) << page;
  EXPECT_TRUE(has_line(page, "gwr_repairs_total{gateway=\"main\",tier=\"1\",trigger=\"auto\",outcome=\"success\"} 1"));
  EXPECT_TRUE(has_line(page, "gwr_repairs_total{gateway=\"rescue\",tier=\"1\",trigger=\"auto\",outcome=\"success\"} 1"));
  EXPECT_TRUE(has_line(page, "gwr_repairs_per_hour_limit{gateway=\"rescue\"} 1")) << page;
  EXPECT_TRUE(has_line(page, "gwr_repair_duration_seconds_count{gateway=\"main\"} 1")) << page;
  for (const char* family : {"gwr_gateway_up", "gwr_gateway_state", "gwr_probe_failures_total", "gwr_repairs_total",
                             "gwr_repair_duration_seconds", "gwr_gateway_resident_memory_bytes"}) {
    const std::string type = std::string("# TYPE ") + family + " ";
    ASSERT_NE(page.find(type), std::string::npos) << family;
    EXPECT_EQ(page.find(type), page.rfind(type)) << family << " twice";
    // Its samples follow its TYPE line, with no other family's TYPE between.
    const size_t at = page.find(type);
    const size_t next_type = page.find("# TYPE ", at + 1);
    size_t last_sample = 0;
    for (const std::string& tail : {std::string("{"), std::string(" "), std::string("_bucket{"), std::string("_count{")}) {
      const size_t p = page.rfind(std::string("\n") + family + tail);
      if (p != std::string::npos) last_sample = std::max(last_sample, p);
    }
    EXPECT_GT(last_sample, at) << family;
    EXPECT_LT(last_sample, next_type) << family << " is split";
  }
}

TEST(MetricsTest, LabelValuesFromOutsideAreEscaped) {
  EXPECT_EQ(label_value("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
  EXPECT_EQ(label_value(std::string("\xff", 1)), "\"\xEF\xBF\xBD\"");
  Metrics m;
  pb::NotifyStatusReply n;
  auto* c = n.add_channels();
  c->set_name("disc\"ord\n");
  c->set_queued(3);
  c->set_state(pb::ChannelStatus::RETRYING);
  m.set_notify(n);
  const std::string page = m.render("1.0.0");
  EXPECT_TRUE(has_line(page, "gwr_notifications_pending{channel=\"disc\\\"ord\\n\"} 3")) << page;
  EXPECT_TRUE(has_line(page, "gwr_notification_channel_state{channel=\"disc\\\"ord\\n\",state=\"retrying\"} 1")) << page;
}

TEST(WebTest, ListenAddresses) {
  auto a = parse_listen("127.0.0.1:9477");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9477);
  a = parse_listen("[::1]:80");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "::1");
  for (const char* bad : {"", "9477", ":9477", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "::1:80", "[::1]80",
                          "a b:80", "host:port", "127.0.0.1:+80"}) {
    EXPECT_FALSE(parse_listen(bad)) << bad;
  }
}

TEST(WebTest, RequestHeads) {
  auto r = parse_request_head("GET /metrics?token=a%20b&x HTTP/1.1\r\nHost: x\r\nauthorization:  Bearer s3cret \r\nAccept: */*");
  ASSERT_TRUE(r) << r.message();
  EXPECT_EQ(r->method, "GET");
  EXPECT_EQ(r->path, "/metrics");
  EXPECT_EQ(r->query["token"], "a b");
  EXPECT_EQ(r->query.count("x"), 1u);
  EXPECT_EQ(r->authorization, "Bearer s3cret");
  for (const char* bad : {"", "GET", "GET /metrics", "GET metrics HTTP/1.1", "GET /metrics HTTP/2", "\x01\x02\x03"}) {
    EXPECT_FALSE(parse_request_head(bad)) << bad;
  }
  EXPECT_TRUE(equal_in_constant_time("abc", "abc"));
  EXPECT_FALSE(equal_in_constant_time("abc", "abd"));
  EXPECT_FALSE(equal_in_constant_time("abc", "abcd"));
  EXPECT_FALSE(equal_in_constant_time("", "a"));
}

}  // namespace
}  // namespace gwr::web
