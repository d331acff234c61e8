// Envelopes: round trips, and garbage that must be refused, never crash.
#include <random>

#include <gtest/gtest.h>

#include "common/bus.h"
#include "common/control.h"
#include "common/pb_json.h"

namespace gwr {
namespace {

std::vector<zmq::message_t> frames(const std::string& topic, const std::string& body) {
  std::vector<zmq::message_t> out;
  out.emplace_back(topic.data(), topic.size());
  out.emplace_back(body.data(), body.size());
  return out;
}

pb::Event heartbeat_event() {
  pb::Event ev;
  ev.set_protocol_version(pb::PROTOCOL_VERSION_CURRENT);
  ev.set_source("prober");
  ev.mutable_heartbeat()->set_component("prober");
  ev.mutable_heartbeat()->set_pid(42);
  return ev;
}

TEST(Envelope, TopicIsTheBodyName) {
  EXPECT_EQ(topic_of(heartbeat_event()), "heartbeat");
  pb::Event h;
  h.mutable_gateway_health()->set_state(pb::DOWN);
  EXPECT_EQ(topic_of(h), "gateway_health");
  EXPECT_EQ(topic_of(pb::Event()), "");
}

TEST(Envelope, TopicsAreNotPrefixesOfEachOther) {
  const auto* oneof = pb::Event::descriptor()->FindOneofByName("body");
  for (int i = 0; i < oneof->field_count(); ++i) {
    for (int j = 0; j < oneof->field_count(); ++j) {
      if (i == j) continue;
      EXPECT_NE(oneof->field(j)->name().rfind(oneof->field(i)->name(), 0), 0u)
          << oneof->field(i)->name() << " is a prefix of " << oneof->field(j)->name();
    }
  }
}

TEST(Envelope, RoundTrip) {
  const auto ev = heartbeat_event();
  auto decoded = decode_event(frames("heartbeat", encode_event(ev)));
  ASSERT_TRUE(decoded.ok()) << decoded.message();
  EXPECT_EQ(decoded->heartbeat().pid(), 42u);
}

TEST(Envelope, RejectsMismatchedTopicVersionAndFrameCount) {
  const std::string bytes = encode_event(heartbeat_event());
  EXPECT_FALSE(decode_event(frames("gateway_health", bytes)).ok());
  auto old = heartbeat_event();
  old.set_protocol_version(pb::PROTOCOL_VERSION_UNSPECIFIED);
  EXPECT_FALSE(decode_event(frames("heartbeat", encode_event(old))).ok());
  std::vector<zmq::message_t> one;
  one.emplace_back(bytes.data(), bytes.size());
  EXPECT_FALSE(decode_event(one).ok());
  pb::Event empty;
  empty.set_protocol_version(pb::PROTOCOL_VERSION_CURRENT);
  EXPECT_FALSE(decode_event(frames("", empty.SerializeAsString())).ok());
}

TEST(Envelope, RandomBytesNeverDecodeIntoSomethingHarmful) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 5000; ++i) {
    std::string body(rng() % 200, '\0');
    for (auto& c : body) c = static_cast<char>(rng());
    auto r = decode_event(frames("heartbeat", body));
    if (r.ok()) {
      // Only a well-formed heartbeat with the current version can pass.
      EXPECT_TRUE(r->has_heartbeat());
      EXPECT_EQ(r->protocol_version(), pb::PROTOCOL_VERSION_CURRENT);
    }
  }
}

TEST(Envelope, ErrorReplyCarriesCodeAndMessage) {
  auto r = error_reply(pb::Error::REFUSED, "a repair is already running");
  ASSERT_TRUE(r.has_error());
  EXPECT_EQ(describe_error(r.error()), "REFUSED: a repair is already running");
}

TEST(PbJson, Int64AsNumbersAndEnumsAsNames) {
  pb::GatewayHealth h;
  h.set_state(pb::DEGRADED);
  h.set_rss_bytes(123456789012ULL);
  h.add_findings()->set_kind(pb::Finding::HIGH_MEMORY);
  const auto j = to_json(h);
  EXPECT_EQ(j["state"], "degraded");
  EXPECT_EQ(j["rss_bytes"], 123456789012ULL);
  EXPECT_EQ(j["findings"][0]["kind"], "high_memory");
}

}  // namespace
}  // namespace gwr
