// fleet_core: the node's link and the hub's book, on a fake clock (plain
// numbers), with an outbox in a vector.
#include "fleet/fleet_core.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace gwr::fleet {
namespace {

pb::GatewayEntryInfo gateway(const std::string& name) {
  pb::GatewayEntryInfo g;
  g.set_name(name);
  g.set_host("127.0.0.1");
  g.set_port(18789);
  return g;
}

// A node's outbox: events 1..n, of which the first `gone` were acknowledged and deleted.
struct Outbox {
  uint64_t last = 0;
  uint64_t gone = 0;
  void add(int n) { last += static_cast<uint64_t>(n); }
  uint64_t oldest() const { return gone < last ? gone + 1 : 0; }
  NodeLink::OutboxRead reader() {
    return [this](uint64_t after, size_t n) {
      std::vector<pb::FleetEnvelope> out;
      for (uint64_t s = std::max(after, gone) + 1; s <= last && out.size() < n; ++s) {
        pb::FleetEnvelope e;
        e.set_seq(s);
        e.mutable_event()->set_seq(s);
        out.push_back(e);
      }
      return out;
    };
  }
};

pb::FleetFrame welcome(uint64_t acked) {
  pb::FleetFrame f;
  f.mutable_welcome()->set_acked_seq(acked);
  f.mutable_welcome()->set_hub("hubhost");
  return f;
}

pb::FleetFrame ack(uint64_t seq) {
  pb::FleetFrame f;
  f.mutable_ack()->set_seq(seq);
  return f;
}

std::vector<uint64_t> seqs(const std::vector<pb::FleetFrame>& frames) {
  std::vector<uint64_t> out;
  for (const auto& f : frames) {
    for (const auto& e : f.events().envelopes()) out.push_back(e.seq());
  }
  return out;
}

NodeLink make_link() { return NodeLink({"inst-1", "1.1.0", {gateway("main")}}); }

TEST(NodeLinkTest, SaysHelloOncePerSecondUntilWelcomedAndSendsNothingElseBefore) {
  NodeLink link = make_link();
  Outbox box;
  box.add(3);
  auto f = link.on_tick(0, box.last, box.oldest(), box.reader());
  ASSERT_EQ(f.size(), 1u);
  ASSERT_TRUE(f[0].has_hello());
  EXPECT_EQ(f[0].hello().instance(), "inst-1");
  EXPECT_EQ(f[0].hello().gateways(0).name(), "main");
  EXPECT_TRUE(link.on_tick(500, box.last, box.oldest(), box.reader()).empty());
  EXPECT_TRUE(link.on_tick(1000, box.last, box.oldest(), box.reader())[0].has_hello());
  EXPECT_FALSE(link.up());
  // Acks and calls before a welcome mean nothing.
  EXPECT_EQ(link.on_frame(ack(3), 1100).ack, 0u);
  pb::FleetFrame call;
  call.mutable_call()->set_id(1);
  EXPECT_FALSE(link.on_frame(call, 1100).call);
}

TEST(NodeLinkTest, AfterTheWelcomeSendsFromWhatTheHubHasInBatchesWithinTheWindow) {
  NodeLink link = make_link();
  Outbox box;
  box.add(2000);
  (void)link.on_tick(0, box.last, box.oldest(), box.reader());
  auto h = link.on_frame(welcome(10), 100);
  EXPECT_TRUE(h.welcomed);
  EXPECT_EQ(h.ack, 10u);  // the outbox lets 1..10 go
  EXPECT_EQ(h.hub, "hubhost");
  box.gone = 10;
  auto f = link.on_tick(100, box.last, box.oldest(), box.reader());
  const auto sent = seqs(f);
  ASSERT_EQ(sent.size(), kWindow);
  EXPECT_EQ(sent.front(), 11u);
  EXPECT_EQ(sent.back(), 10 + kWindow);
  for (const auto& fr : f) {
    if (fr.has_events()) {
      EXPECT_LE(static_cast<size_t>(fr.events().envelopes_size()), kBatch);
      EXPECT_EQ(fr.events().oldest(), 11u);
    }
  }
  // Nothing more until acks open the window.
  EXPECT_TRUE(seqs(link.on_tick(200, box.last, box.oldest(), box.reader())).empty());
  EXPECT_EQ(link.on_frame(ack(500), 300).ack, 500u);
  box.gone = 500;
  const auto more = seqs(link.on_tick(300, box.last, box.oldest(), box.reader()));
  ASSERT_FALSE(more.empty());
  EXPECT_EQ(more.front(), 11 + kWindow);
  EXPECT_EQ(more.back(), 500 + kWindow);
}

TEST(NodeLinkTest, WithoutAnAckForFiveSecondsSendsAgainFromTheLastAck) {
  NodeLink link = make_link();
  Outbox box;
  box.add(5);
  (void)link.on_tick(0, box.last, box.oldest(), box.reader());
  (void)link.on_frame(welcome(0), 0);
  EXPECT_EQ(seqs(link.on_tick(0, box.last, box.oldest(), box.reader())), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  (void)link.on_frame(ack(2), 1000);
  box.gone = 2;
  EXPECT_TRUE(seqs(link.on_tick(4000, box.last, box.oldest(), box.reader())).empty());
  (void)link.on_frame(ack(2), 5000);  // a beat's ack: the hub hears us, but 3.. never arrived
  EXPECT_TRUE(seqs(link.on_tick(5999, box.last, box.oldest(), box.reader())).empty());
  EXPECT_EQ(seqs(link.on_tick(6000, box.last, box.oldest(), box.reader())), (std::vector<uint64_t>{3, 4, 5}));
}

TEST(NodeLinkTest, ABlockedSendIsSentAgainAndABeatGoesEveryTwoSeconds) {
  NodeLink link = make_link();
  Outbox box;
  box.add(3);
  (void)link.on_tick(0, box.last, box.oldest(), box.reader());
  (void)link.on_frame(welcome(0), 0);
  auto f = link.on_tick(10, box.last, box.oldest(), box.reader());
  ASSERT_EQ(seqs(f).size(), 3u);
  link.send_failed(f[0]);
  EXPECT_EQ(seqs(link.on_tick(20, box.last, box.oldest(), box.reader())), (std::vector<uint64_t>{1, 2, 3}));
  bool beat = false;
  for (const auto& fr : link.on_tick(2000, box.last, box.oldest(), box.reader())) beat |= fr.has_beat();
  EXPECT_TRUE(beat);
}

TEST(NodeLinkTest, AQuietHubOrARefusalMeansHelloAgain) {
  NodeLink link = make_link();
  Outbox box;
  (void)link.on_tick(0, 0, 0, box.reader());
  (void)link.on_frame(welcome(0), 0);
  (void)link.on_tick(6999, 0, 0, box.reader());
  EXPECT_TRUE(link.up());
  auto f = link.on_tick(7001, 0, 0, box.reader());
  EXPECT_TRUE(link.lost());
  EXPECT_FALSE(link.up());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_TRUE(f[0].has_hello());
  (void)link.on_frame(welcome(0), 7100);
  pb::FleetFrame refused;
  refused.mutable_refused()->set_reason("say hello first");
  EXPECT_EQ(link.on_frame(refused, 7200).refused, "say hello first");
  EXPECT_FALSE(link.up());
  EXPECT_TRUE(link.on_tick(8200, 0, 0, box.reader())[0].has_hello());
}

TEST(NodeLinkTest, WhenTheOutboxLetOldEventsGoItSendsFromTheOldestItHas) {
  NodeLink link = make_link();
  Outbox box;
  box.add(100);
  box.gone = 40;  // overflowed: 1..40 never reached the hub
  (void)link.on_tick(0, box.last, box.oldest(), box.reader());
  (void)link.on_frame(welcome(0), 0);
  const auto sent = seqs(link.on_tick(0, box.last, box.oldest(), box.reader()));
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent.front(), 41u);
}

TEST(NodeLinkTest, AHubThatForgotWhatItAcknowledgedNeverStallsTheNode) {
  // The hub's fleet.db was lost: it welcomes with 0, while this outbox
  // starts at 5001 (far more than one window later).
  NodeLink link = make_link();
  Outbox box;
  box.add(6000);
  box.gone = 5000;
  auto f = link.on_tick(0, box.last, box.oldest(), box.reader());
  ASSERT_TRUE(f[0].has_hello());
  EXPECT_EQ(f[0].hello().base(), 5000u);
  (void)link.on_frame(welcome(0), 0);
  auto sent = seqs(link.on_tick(0, box.last, box.oldest(), box.reader()));
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent.front(), 5001u);
  // ... and after an ack timeout it sends again, not nothing.
  sent = seqs(link.on_tick(6000, box.last, box.oldest(), box.reader()));
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent.front(), 5001u);
}

// ---------------------------------------------------------------------------

pb::FleetHello hello(const std::string& instance, std::vector<std::string> gateways = {"main"}) {
  pb::FleetHello h;
  h.set_instance(instance);
  h.set_version("1.1.0");
  for (const auto& g : gateways) *h.add_gateways() = gateway(g);
  return h;
}

pb::FleetEvents events(std::vector<uint64_t> seqs, uint64_t oldest = 0) {
  pb::FleetEvents e;
  for (auto s : seqs) {
    auto* env = e.add_envelopes();
    env->set_seq(s);
    env->mutable_event()->set_seq(s);
  }
  e.set_oldest(oldest ? oldest : 1);  // the node still has everything unless told
  return e;
}

HubBook book_with(std::map<std::string, std::string> keys) {
  HubBook b;
  b.set_keys(keys);
  return b;
}

TEST(HubBookTest, OnlyAnAuthorizedKeyUnderItsOwnNameIsANode) {
  HubBook b = book_with({{"web1", "K1"}, {"web2", "K2"}});
  EXPECT_EQ(b.authorized("web1 K1"), "web1");
  EXPECT_EQ(b.authorized("web1 K2"), std::nullopt);  // web2's key claiming web1's name
  EXPECT_EQ(b.authorized("web3 K3"), std::nullopt);
  EXPECT_EQ(b.authorized("web1"), std::nullopt);
  EXPECT_EQ(b.authorized(""), std::nullopt);
  // Revoked: from then on, nothing it sends is taken.
  auto a = b.on_hello("web1", "r1", "10.0.0.1", hello("i1"), 1000, 90'000);
  ASSERT_TRUE(a.reply && a.reply->has_welcome());
  b.set_keys({{"web2", "K2"}});
  EXPECT_EQ(b.authorized("web1 K1"), std::nullopt);
  EXPECT_FALSE(b.welcomed("web1", "r1"));
  EXPECT_TRUE(b.on_events("web1", "r1", events({1}), 2000).reply->has_refused());
  auto st = b.status(2000, 90'000);
  ASSERT_EQ(st.nodes_size(), 2);
  EXPECT_TRUE(st.nodes(0).revoked());
  EXPECT_FALSE(st.nodes(0).connected());
}

TEST(HubBookTest, EventsAreTakenInOrderOnceAndAcknowledgedOnlyWhenHandedOn) {
  HubBook b = book_with({{"web1", "K1"}});
  EXPECT_TRUE(b.on_events("web1", "r1", events({1}), 0).reply->has_refused()) << "hello first";
  auto a = b.on_hello("web1", "r1", "", hello("i1"), 0, 90'000);
  EXPECT_EQ(a.reply->welcome().acked_seq(), 0u);
  auto t = b.on_events("web1", "r1", events({1, 2, 3}), 10);
  ASSERT_EQ(t.events.size(), 3u);
  EXPECT_EQ(t.last_seq, 3u);
  EXPECT_FALSE(t.reply) << "no ack before the bridge took them";
  // Not handed on (the bridge was down): the same events come again and are taken again.
  t = b.on_events("web1", "r1", events({1, 2, 3}), 20);
  ASSERT_EQ(t.events.size(), 3u);
  EXPECT_EQ(b.delivered("web1", 3).ack().seq(), 3u);
  // Sent again (the ack was lost): duplicates, acknowledged, not taken.
  t = b.on_events("web1", "r1", events({2, 3, 4}), 30);
  ASSERT_EQ(t.events.size(), 1u);
  EXPECT_EQ(t.events[0].seq(), 4u);
  EXPECT_EQ(t.duplicates, 2u);
  (void)b.delivered("web1", 4);
  // A gap (a frame lost on the way): what follows it waits for the resend.
  t = b.on_events("web1", "r1", events({6, 7}), 40);
  EXPECT_TRUE(t.events.empty());
  EXPECT_EQ(t.out_of_order, 2u);
  EXPECT_EQ(t.reply->ack().seq(), 4u);
  // A node whose outbox let 5..9 go: the hub goes on from what it still has, and says how many it missed.
  t = b.on_events("web1", "r1", events({10, 11}, 10), 50);
  ASSERT_EQ(t.events.size(), 2u);
  EXPECT_EQ(t.lost, 5u);
  (void)b.delivered("web1", 11);
  EXPECT_EQ(b.find("web1")->seq, 11u);
  EXPECT_EQ(b.find("web1")->events, 6u) << "handed on: 1-4, 10, 11";
}

TEST(HubBookTest, AReconnectResumesAndAnotherHostWithTheSameKeyIsRefusedWhileTheFirstIsHere) {
  HubBook b = book_with({{"web1", "K1"}});
  (void)b.on_hello("web1", "r1", "", hello("i1"), 0, 10'000);
  (void)b.on_events("web1", "r1", events({1, 2}), 0);
  (void)b.delivered("web1", 2);
  // The same host on a new connection: welcomed with what the hub has.
  auto a = b.on_hello("web1", "r2", "", hello("i1"), 1000, 10'000);
  EXPECT_EQ(a.reply->welcome().acked_seq(), 2u);
  EXPECT_FALSE(b.welcomed("web1", "r1"));
  // A second host with web1's key, while web1 is heard from.
  a = b.on_hello("web1", "r3", "", hello("i2"), 2000, 10'000);
  ASSERT_TRUE(a.reply->has_refused());
  EXPECT_EQ(a.log_event, "fleet_key_in_use");
  EXPECT_TRUE(b.welcomed("web1", "r2"));
  // web1 silent past the timeout, then a reinstalled host (a new instance): a new sequence from 1.
  a = b.on_hello("web1", "r3", "", hello("i2"), 20'000, 10'000);
  ASSERT_TRUE(a.reply->has_welcome());
  EXPECT_EQ(a.log_event, "fleet_node_new_instance");
  EXPECT_EQ(a.reply->welcome().acked_seq(), 0u);
  EXPECT_EQ(b.on_events("web1", "r3", events({1}), 20'001).events.size(), 1u);
}

TEST(HubBookTest, ANodeMetForTheFirstTimeGoesOnFromWhatItStillHas) {
  HubBook b = book_with({{"web1", "K1"}});
  pb::FleetHello h = hello("i1");
  h.set_base(5000);
  auto a = b.on_hello("web1", "r1", "", h, 0, 5000);
  EXPECT_EQ(a.log_event, "fleet_node_first_hello");
  EXPECT_EQ(a.reply->welcome().acked_seq(), 5000u);
  auto t = b.on_events("web1", "r1", events({5001, 5002}, 5001), 1);
  EXPECT_EQ(t.events.size(), 2u);
  EXPECT_EQ(t.lost, 0u) << "nothing it still had was missed";
  // The same instance again: what the hub has counts, not the base.
  (void)b.delivered("web1", 5002);
  h.set_base(6000);
  EXPECT_EQ(b.on_hello("web1", "r2", "", h, 2, 5000).reply->welcome().acked_seq(), 5002u);
}

TEST(HubBookTest, AHelloWithBadGatewaysOrNoInstanceIsRefused) {
  HubBook b = book_with({{"web1", "K1"}});
  EXPECT_TRUE(b.on_hello("web1", "r", "", hello(""), 0, 1000).reply->has_refused());
  EXPECT_TRUE(b.on_hello("web1", "r", "", hello("i", {"Main/x"}), 0, 1000).reply->has_refused());
  EXPECT_TRUE(b.on_hello("web1", "r", "", hello("i", {}), 0, 1000).reply->has_refused());
  EXPECT_TRUE(b.on_hello("nope", "r", "", hello("i"), 0, 1000).reply->has_refused());
  EXPECT_FALSE(b.welcomed("web1", "r"));
}

TEST(HubBookTest, ANodeNotHeardFromForTheTimeoutIsSilentOnceAndBackOnce) {
  HubBook b = book_with({{"web1", "K1"}, {"web2", "K2"}});
  b.set_started(0);
  (void)b.on_hello("web1", "r1", "", hello("i1"), 1000, 5000);
  EXPECT_TRUE(b.on_tick(6000, 5000).empty());
  auto alerts = b.on_tick(6001, 5000);
  ASSERT_EQ(alerts.size(), 1u) << "web2 was never heard from: nothing to miss";
  EXPECT_EQ(alerts[0].kind(), pb::Alert::NODE_SILENT);
  EXPECT_EQ(alerts[0].topic(), "web1");
  EXPECT_FALSE(alerts[0].cleared());
  EXPECT_EQ(alerts[0].last_seen_ms(), 1000);
  EXPECT_TRUE(b.on_tick(7000, 5000).empty()) << "said once";
  EXPECT_EQ(b.active().size(), 1u);
  EXPECT_FALSE(b.status(7000, 5000).nodes(0).connected());
  ASSERT_TRUE(b.on_beat("web1", "r1", 8000));
  alerts = b.on_tick(8000, 5000);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_TRUE(alerts[0].cleared());
  EXPECT_TRUE(b.active().empty());
}

TEST(HubBookTest, ARevokedNodeIsNeverReportedSilent) {
  HubBook b = book_with({{"web1", "K1"}});
  b.set_started(0);
  (void)b.on_hello("web1", "r1", "", hello("i1"), 1000, 5000);
  b.set_keys({});
  EXPECT_TRUE(b.on_tick(60'000, 5000).empty());
  EXPECT_TRUE(b.active().empty());
}

TEST(HubBookTest, WhatANodeSaysOfItsGatewaysIsKeptShortAndWithoutPaths) {
  HubBook b = book_with({{"web1", "K1"}});
  pb::FleetHello h = hello("i1");
  h.mutable_gateways(0)->set_state_dir("/home/someone/.openclaw");
  h.mutable_gateways(0)->set_host(std::string(5000, 'h'));
  ASSERT_TRUE(b.on_hello("web1", "r1", "", h, 0, 5000).reply->has_welcome());
  EXPECT_EQ(b.find("web1")->gateways[0].state_dir(), "");
  EXPECT_EQ(b.find("web1")->gateways[0].host().size(), 253u);
}

TEST(HubBookTest, AfterTheHubsOwnRestartNodesGetTheTimeoutToSayHello) {
  HubBook b = book_with({{"web1", "K1"}});
  b.restore("web1", "i1", 7, 1000, {gateway("main")});  // last heard before the hub stopped
  b.set_started(100'000);
  EXPECT_TRUE(b.on_tick(100'001, 5000).empty());
  EXPECT_TRUE(b.on_tick(104'999, 5000).empty());
  EXPECT_EQ(b.on_tick(105'001, 5000).size(), 1u);
  auto a = b.on_hello("web1", "r", "", hello("i1"), 105'100, 5000);
  EXPECT_EQ(a.reply->welcome().acked_seq(), 7u) << "it resumes where the hub left off";
}

TEST(FleetCallTest, ANodeDoesOnlyWhatTheBotOffersOnItsOwnGateways) {
  const std::vector<std::string> gws = {"main", "rescue"};
  auto call = [](const std::string& component, auto set) {
    pb::FleetCall c;
    c.set_component(component);
    set(*c.mutable_request());
    return c;
  };
  EXPECT_EQ(refusal_of_call(call("repairer", [](pb::Request& r) { r.mutable_repair(); }), gws), "");
  EXPECT_EQ(refusal_of_call(call("repairer.rescue", [](pb::Request& r) { r.mutable_pause(); }), gws), "");
  EXPECT_EQ(refusal_of_call(call("prober", [](pb::Request& r) { r.mutable_probe_status(); }), gws), "");
  EXPECT_NE(refusal_of_call(call("prober", [](pb::Request& r) { r.mutable_repair(); }), gws), "");
  EXPECT_NE(refusal_of_call(call("repairer.other", [](pb::Request& r) { r.mutable_repair(); }), gws), "");
  EXPECT_NE(refusal_of_call(call("supervisor", [](pb::Request& r) { r.mutable_set_config(); }), gws), "");
  EXPECT_NE(refusal_of_call(call("supervisor", [](pb::Request& r) { r.mutable_get_config()->set_include_secrets(true); }), gws), "");
  EXPECT_NE(refusal_of_call(call("repairer", [](pb::Request& r) { r.mutable_reload_config(); }), gws), "");
  EXPECT_NE(refusal_of_call(call("telegram-bridge", [](pb::Request& r) { r.mutable_notify_status(); }), gws), "");
  EXPECT_NE(refusal_of_call(call("repairer", [](pb::Request&) {}), gws), "");
  EXPECT_NE(refusal_of_call(call("repairer", [](pb::Request& r) { r.mutable_get_config()->set_include_secrets(true); }), gws), "");
  EXPECT_NE(refusal_of_call(call("repairer", [](pb::Request& r) { r.mutable_set_config(); }), gws), "");
  EXPECT_NE(refusal_of_call(call("prober", [](pb::Request& r) { r.mutable_fleet_relay(); }), gws), "");

  pb::Request r;
  r.mutable_repair()->set_actor("telegram:42");
  mark_relayed(r, "hubhost");
  EXPECT_EQ(r.repair().actor(), "telegram:42 via hub hubhost");
  EXPECT_EQ(request_actor(r), "telegram:42 via hub hubhost");
  EXPECT_EQ(request_kind(r), "repair");
  r.mutable_repair()->set_start_tier(3);
  mark_relayed(r, "h");
  EXPECT_EQ(r.repair().start_tier(), 1u) << "the bot never asks for more than tier 1";
}

TEST(FleetHealthTest, ARepublishedHealthHasTheSameSignatureAndAChangeANewOne) {
  pb::GatewayHealth a;
  a.set_state(pb::HEALTHY);
  a.set_seq(1);
  a.set_observed_at_ms(1000);
  pb::GatewayHealth b = a;
  b.set_seq(2);
  b.set_observed_at_ms(2000);
  EXPECT_EQ(health_signature(a), health_signature(b));
  b.set_state(pb::DOWN);
  EXPECT_NE(health_signature(a), health_signature(b));
}

}  // namespace
}  // namespace gwr::fleet
