// /readyz as gwr reads it (common/gateway_probe.h: parse_readiness) and what
// its names mean (prober/prober_core.h: readiness_kind). The bodies are the
// real OpenClaw 2026.9.6's (OPENCLAW.md) and what the wild sends instead.
#include <gtest/gtest.h>

#include "common/gateway_probe.h"
#include "common/text.h"
#include "prober/prober_core.h"

namespace gwr {
namespace {

using pb::Finding;

TEST(Readiness, ReadyWithNothingFailing) {
  const auto r = parse_readiness(200, R"({"ready":true,"failing":[],"uptimeMs":12000})");
  EXPECT_TRUE(r.understood);
  EXPECT_TRUE(r.ready);
  EXPECT_TRUE(r.failing.empty());
  EXPECT_TRUE(r.suppressed.empty());
}

TEST(Readiness, AFailingChannelAfterItsConnectGrace) {
  const auto r = parse_readiness(503, R"({"ready":false,"failing":["telegram"],"uptimeMs":130000})");
  EXPECT_TRUE(r.understood);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.failing, std::vector<std::string>{"telegram"});
}

TEST(Readiness, TheCrashLoopBreakerIsReadyButSuppressesChannels) {
  // What a watchdog that reads only the status calls healthy.
  const auto r = parse_readiness(200, R"({"ready":true,"failing":[],"suppressed":["telegram","discord"]})");
  EXPECT_TRUE(r.understood);
  EXPECT_TRUE(r.ready);
  EXPECT_EQ(r.suppressed, (std::vector<std::string>{"telegram", "discord"}));
}

TEST(Readiness, WhatIsNotItsJsonSaysNothing) {
  // Unknown paths answer 200 with the Control UI's HTML; older gateways 404.
  EXPECT_FALSE(parse_readiness(200, "<!doctype html><html><body>OpenClaw</body></html>").understood);
  EXPECT_FALSE(parse_readiness(404, R"({"error":"Not Found"})").understood);
  EXPECT_FALSE(parse_readiness(200, R"({"status":"ok"})").understood);
  EXPECT_FALSE(parse_readiness(200, R"({"ready":"yes"})").understood);
  EXPECT_FALSE(parse_readiness(200, R"([true])").understood);
  EXPECT_FALSE(parse_readiness(200, R"({"ready":true,"failing":["tele)").understood);  // truncated
  EXPECT_FALSE(parse_readiness(500, R"({"ready":false,"failing":["internal"]})").understood);
  // A remote caller's answer: understood, no details.
  const auto remote = parse_readiness(503, R"({"ready":false})");
  EXPECT_TRUE(remote.understood);
  EXPECT_TRUE(remote.failing.empty());
}

TEST(Readiness, NamesAreBoundedValidOneLineTextAndOnlyStrings) {
  std::string many = R"({"ready":false,"failing":[)";
  for (int i = 0; i < 100; ++i) many.append("\"ch").append(std::to_string(i)).append("\",");
  many.append(R"(1,null,{"x":1},"",)");
  many.append("\"").append(std::string(500, 'a')).append("\"]}");
  const auto r = parse_readiness(503, many);
  ASSERT_TRUE(r.understood);
  EXPECT_EQ(r.failing.size(), kMaxReadinessNames);

  const auto odd = parse_readiness(
      503, std::string(R"({"ready":false,"failing":["t\u00e9l\u00e9gramme\nX", "\u20ac)")
               .append(std::string(70, 'e'))
               .append(R"(","telegram","telegram"],"suppressed":["\ud83d\ude00"]})"));
  ASSERT_TRUE(odd.understood);
  ASSERT_EQ(odd.failing.size(), 3u);  // the duplicate is dropped
  for (const auto& n : odd.failing) {
    EXPECT_TRUE(is_valid_utf8(n)) << n;
    EXPECT_LE(n.size(), 64u);
    EXPECT_EQ(n.find('\n'), std::string::npos);
  }
  ASSERT_EQ(odd.suppressed.size(), 1u);
  EXPECT_TRUE(is_valid_utf8(odd.suppressed[0]));
}

TEST(Readiness, EachNameOpenClawGivesIsItsOwnFinding) {
  EXPECT_EQ(prober::readiness_kind("startup-sidecars"), Finding::STARTING_REPORTED);
  EXPECT_EQ(prober::readiness_kind("gateway-draining"), Finding::DRAINING);
  EXPECT_EQ(prober::readiness_kind("agent-database:main"), Finding::DATABASE_REFUSED);
  EXPECT_EQ(prober::readiness_kind("state-database"), Finding::DATABASE_REFUSED);
  EXPECT_EQ(prober::readiness_kind("plugin-reload"), Finding::PLUGIN_RELOAD_FAILED);
  EXPECT_EQ(prober::readiness_kind("internal"), Finding::NOT_READY);
  EXPECT_EQ(prober::readiness_kind("telegram"), Finding::CHANNEL_FAILING);
  EXPECT_EQ(prober::readiness_kind("whatsapp_business"), Finding::CHANNEL_FAILING);
  EXPECT_EQ(prober::readiness_kind("Some Thing!"), Finding::NOT_READY);
  EXPECT_EQ(prober::readiness_kind(""), Finding::NOT_READY);
}

}  // namespace
}  // namespace gwr
