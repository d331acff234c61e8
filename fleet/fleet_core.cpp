#include "fleet/fleet_core.h"

#include <algorithm>

#include "common/components.h"
#include "common/findings.h"

namespace gwr::fleet {

pb::FleetFrame fleet_frame() {
  pb::FleetFrame f;
  f.set_protocol_version(pb::PROTOCOL_VERSION_CURRENT);
  return f;
}

namespace {

pb::FleetFrame refusal(std::string reason) {
  pb::FleetFrame f = fleet_frame();
  f.mutable_refused()->set_reason(std::move(reason));
  return f;
}

pb::FleetFrame ack(uint64_t seq) {
  pb::FleetFrame f = fleet_frame();
  f.mutable_ack()->set_seq(seq);
  return f;
}

}  // namespace

// ---------------------------------------------------------------------------
// NodeLink
// ---------------------------------------------------------------------------

std::vector<pb::FleetFrame> NodeLink::on_tick(int64_t now_ms, uint64_t last_seq, uint64_t oldest_seq,
                                              const OutboxRead& read) {
  std::vector<pb::FleetFrame> out;
  lost_ = false;
  if (welcomed_ && now_ms - last_heard_ms_ > kHubQuietMs) {
    welcomed_ = false;
    lost_ = true;
  }
  if (!welcomed_) {
    if (now_ms - last_hello_ms_ >= kHelloEveryMs) {
      pb::FleetFrame f = fleet_frame();
      auto* h = f.mutable_hello();
      h->set_instance(settings_.instance);
      h->set_version(settings_.version);
      h->set_base(oldest_seq > 0 ? oldest_seq - 1 : last_seq);
      for (const auto& g : settings_.gateways) *h->add_gateways() = g;
      last_hello_ms_ = now_ms;
      out.push_back(std::move(f));
    }
    return out;
  }
  // Events the hub already has are gone from the outbox; what it has not
  // acknowledged for a while is sent again from its last ack (go-back-N).
  if (sent_ > acked_ && now_ms - last_progress_ms_ >= kAckWaitMs) {
    sent_ = acked_;
    last_progress_ms_ = now_ms;
  }
  // What the outbox no longer has (it overflowed, or the hub forgot what it
  // acknowledged) will never be sent: the window counts from what it has.
  if (oldest_seq > 0 && acked_ + 1 < oldest_seq) acked_ = oldest_seq - 1;
  if (sent_ < acked_) sent_ = acked_;
  while (sent_ < last_seq && sent_ - acked_ < kWindow) {
    const size_t room = std::min<uint64_t>(kBatch, kWindow - (sent_ - acked_));
    auto batch = read(sent_, room);
    if (batch.empty()) break;
    pb::FleetFrame f = fleet_frame();
    auto* events = f.mutable_events();
    events->set_oldest(oldest_seq);
    if (sent_ == acked_) last_progress_ms_ = now_ms;  // the ack clock starts with the first unacked event
    for (auto& e : batch) {
      sent_ = e.seq();
      *events->add_envelopes() = std::move(e);
    }
    out.push_back(std::move(f));
  }
  if (now_ms - last_beat_ms_ >= kBeatEveryMs) {
    pb::FleetFrame f = fleet_frame();
    f.mutable_beat()->set_pending(last_seq > acked_ ? last_seq - acked_ : 0);
    last_beat_ms_ = now_ms;
    out.push_back(std::move(f));
  }
  return out;
}

void NodeLink::send_failed(const pb::FleetFrame& f) {
  if (f.has_events() && f.events().envelopes_size() > 0) {
    const uint64_t first = f.events().envelopes(0).seq();
    if (first > 0 && first - 1 < sent_) sent_ = std::max(acked_, first - 1);
  } else if (f.has_hello()) {
    last_hello_ms_ = -1'000'000;
  }
}

NodeLink::Heard NodeLink::on_frame(const pb::FleetFrame& f, int64_t now_ms) {
  Heard h;
  last_heard_ms_ = now_ms;
  if (f.has_welcome()) {
    welcomed_ = true;
    h.welcomed = true;
    h.hub = f.welcome().hub();
    acked_ = f.welcome().acked_seq();
    sent_ = acked_;
    last_progress_ms_ = now_ms;
    last_beat_ms_ = now_ms;
    h.ack = acked_;
  } else if (f.has_ack()) {
    if (!welcomed_) return h;  // an ack from before a refusal: the welcome will say
    if (f.ack().seq() > acked_) {
      acked_ = f.ack().seq();
      last_progress_ms_ = now_ms;
      if (sent_ < acked_) sent_ = acked_;
    }
    h.ack = acked_;
  } else if (f.has_refused()) {
    welcomed_ = false;
    h.refused = f.refused().reason();
  } else if (f.has_call()) {
    if (welcomed_) h.call = f.call();
  }
  return h;
}

// ---------------------------------------------------------------------------
// HubBook
// ---------------------------------------------------------------------------

void HubBook::set_keys(const std::map<std::string, std::string>& keys) {
  for (auto& [name, n] : nodes_) {
    auto it = keys.find(name);
    const std::string key = it == keys.end() ? std::string() : it->second;
    if (key != n.key) n.routing.clear();  // revoked or replaced: its session is over
    n.key = key;
  }
  for (const auto& [name, key] : keys) {
    if (nodes_.count(name) == 0) {
      Node n;
      n.name = name;
      n.key = key;
      nodes_.emplace(name, std::move(n));
    }
  }
}

void HubBook::restore(const std::string& name, const std::string& instance, uint64_t seq, int64_t last_seen_ms,
                      const std::vector<pb::GatewayEntryInfo>& gateways) {
  Node& n = nodes_[name];
  n.name = name;
  n.instance = instance;
  n.seq = seq;
  n.last_seen_ms = last_seen_ms;
  n.gateways = gateways;
}

std::optional<std::string> HubBook::authorized(const std::string& user_id) const {
  const auto space = user_id.find(' ');
  if (space == std::string::npos) return std::nullopt;
  const std::string name = user_id.substr(0, space);
  const std::string key = user_id.substr(space + 1);
  auto it = nodes_.find(name);
  if (it == nodes_.end() || it->second.key.empty() || it->second.key != key) return std::nullopt;
  return name;
}

HubBook::Node& HubBook::heard(Node& n, int64_t now_ms) {
  n.last_seen_ms = std::max(n.last_seen_ms, now_ms);
  return n;
}

HubBook::Answer HubBook::on_hello(const std::string& name, const std::string& routing, const std::string& address,
                                  const pb::FleetHello& hello, int64_t now_ms, int64_t node_timeout_ms) {
  Answer a;
  auto it = nodes_.find(name);
  if (it == nodes_.end() || it->second.key.empty()) {
    a.reply = refusal("not an authorized node");
    a.log_event = "fleet_hello_refused";
    a.detail = "no key for " + name;
    return a;
  }
  Node& n = it->second;
  if (hello.instance().empty() || hello.instance().size() > 64) {
    a.reply = refusal("a hello needs an instance id");
    a.log_event = "fleet_hello_refused";
    a.detail = "no instance id";
    return a;
  }
  for (const auto& g : hello.gateways()) {
    if (!valid_gateway_name(g.name())) {
      a.reply = refusal("gateway name not valid: " + g.name().substr(0, 40));
      a.log_event = "fleet_hello_refused";
      a.detail = "bad gateway name";
      return a;
    }
  }
  if (hello.gateways_size() == 0 || hello.gateways_size() > 32) {
    a.reply = refusal("a node watches 1 to 32 gateways");
    a.log_event = "fleet_hello_refused";
    a.detail = "gateways: " + std::to_string(hello.gateways_size());
    return a;
  }
  const bool other_instance = !n.instance.empty() && n.instance != hello.instance();
  const bool live = !n.routing.empty() && n.routing != routing && now_ms - n.last_seen_ms < node_timeout_ms;
  if (other_instance && live) {
    // Two hosts with one key: the one already here keeps it.
    a.reply = refusal("the key of " + name +
                      " is in use by another host, heard from just now; give each host its own key "
                      "(gwrctl fleet keygen)");
    a.log_event = "fleet_key_in_use";
    a.detail = "instance " + hello.instance() + " while " + n.instance + " is connected";
    return a;
  }
  if (other_instance || n.instance.empty()) {
    // A new fleet.db on that host (reinstalled), or a hub that never met
    // this one (or forgot it): its sequence goes on from what it still has.
    a.log_event = other_instance ? "fleet_node_new_instance" : "fleet_node_first_hello";
    a.detail = other_instance ? "was " + n.instance + ", now " + hello.instance() + "; " + std::to_string(n.seq) +
                                    " events of the old one were handed on"
                              : "";
    n.seq = hello.base();
  } else {
    a.log_event = "fleet_node_hello";
  }
  n.instance = hello.instance();
  n.routing = routing;
  n.address = address;
  n.version = hello.version().substr(0, 40);
  n.gateways.assign(hello.gateways().begin(), hello.gateways().end());
  for (auto& g : n.gateways) {
    // What a node says of itself is shown to the owner: names checked above, the rest kept short.
    g.clear_state_dir();
    if (g.host().size() > 253) g.set_host(g.host().substr(0, 253));
  }
  heard(n, now_ms);
  pb::FleetFrame f = fleet_frame();
  f.mutable_welcome()->set_acked_seq(n.seq);
  a.reply = std::move(f);
  return a;
}

bool HubBook::welcomed(const std::string& name, const std::string& routing) const {
  auto it = nodes_.find(name);
  return it != nodes_.end() && !it->second.key.empty() && !it->second.routing.empty() && it->second.routing == routing;
}

HubBook::Taken HubBook::on_events(const std::string& name, const std::string& routing, const pb::FleetEvents& events,
                                  int64_t now_ms) {
  Taken t;
  if (!welcomed(name, routing)) {
    t.reply = refusal("say hello first");
    return t;
  }
  Node& n = heard(nodes_.at(name), now_ms);
  uint64_t next = n.seq + 1;
  if (events.oldest() > next) {
    // The node's outbox let go of events the hub never had (it was away
    // longer than the outbox holds): go on from what the node still has.
    t.lost = events.oldest() - next;
    next = events.oldest();
    n.seq = next - 1;  // gone for good: never waited for again
  }
  for (const auto& e : events.envelopes()) {
    if (e.seq() < next) {
      ++t.duplicates;
    } else if (e.seq() == next) {
      t.events.push_back(e.event());
      t.last_seq = e.seq();
      ++next;
    } else {
      ++t.out_of_order;
    }
  }
  if (t.events.empty()) t.reply = ack(n.seq);
  return t;
}

pb::FleetFrame HubBook::delivered(const std::string& name, uint64_t seq) {
  Node& n = nodes_.at(name);
  if (seq > n.seq) {
    n.events += seq - n.seq;
    n.seq = seq;
  }
  return ack(n.seq);
}

std::optional<pb::FleetFrame> HubBook::on_beat(const std::string& name, const std::string& routing, int64_t now_ms) {
  if (!welcomed(name, routing)) return refusal("say hello first");
  Node& n = heard(nodes_.at(name), now_ms);
  return ack(n.seq);
}

pb::Alert HubBook::silent_alert(const Node& n, bool cleared) const {
  pb::Alert a;
  a.set_kind(pb::Alert::NODE_SILENT);
  a.set_component("fleet");
  a.set_topic(n.name);
  a.set_cleared(cleared);
  a.set_since_ms(n.silent_since_ms);
  a.set_last_seen_ms(n.last_seen_ms);
  a.set_detail(cleared ? "node " + n.name + " is heard from again" : "node " + n.name + " has not been heard from");
  return a;
}

std::vector<pb::Alert> HubBook::on_tick(int64_t now_ms, int64_t node_timeout_ms) {
  std::vector<pb::Alert> out;
  for (auto& [name, n] : nodes_) {
    if (n.last_seen_ms == 0) continue;  // never heard from: nothing to miss yet
    if (n.key.empty()) {
      n.silent = false;  // revoked: the owner let it go, its silence is no news
      continue;
    }
    const int64_t since = std::max(n.last_seen_ms, started_ms_);
    const bool quiet = now_ms - since > node_timeout_ms;
    if (quiet && !n.silent) {
      n.silent = true;
      n.silent_since_ms = since + node_timeout_ms;
      out.push_back(silent_alert(n, false));
    } else if (!quiet && n.silent) {
      n.silent = false;
      out.push_back(silent_alert(n, true));
      n.silent_since_ms = 0;
    }
  }
  return out;
}

std::vector<pb::Alert> HubBook::active() const {
  std::vector<pb::Alert> out;
  for (const auto& [name, n] : nodes_) {
    if (n.silent) out.push_back(silent_alert(n, false));
  }
  return out;
}

const HubBook::Node* HubBook::find(const std::string& name) const {
  auto it = nodes_.find(name);
  return it == nodes_.end() ? nullptr : &it->second;
}

pb::FleetStatusReply HubBook::status(int64_t now_ms, int64_t node_timeout_ms) const {
  pb::FleetStatusReply r;
  r.set_role("hub");
  for (const auto& [name, n] : nodes_) {
    if (n.key.empty() && n.last_seen_ms == 0) continue;
    auto* i = r.add_nodes();
    i->set_name(name);
    i->set_connected(!n.key.empty() && !n.routing.empty() && now_ms - n.last_seen_ms <= node_timeout_ms);
    i->set_last_seen_ms(n.last_seen_ms);
    for (const auto& g : n.gateways) *i->add_gateways() = g;
    i->set_version(n.version);
    i->set_events(n.events);
    i->set_silent(n.silent);
    i->set_address(n.address);
    i->set_revoked(n.key.empty());
  }
  return r;
}

// ---------------------------------------------------------------------------

std::string health_signature(const pb::GatewayHealth& h) {
  std::string key = std::to_string(static_cast<int>(h.state())) + "|" + std::to_string(h.recommended_tier()) + "|";
  std::vector<std::string> ids;
  for (const auto& f : h.findings()) ids.push_back(finding_identity(f));
  std::sort(ids.begin(), ids.end());
  for (const auto& id : ids) key += id + ";";
  return key;
}

std::string refusal_of_call(const pb::FleetCall& call, const std::vector<std::string>& gateways) {
  const auto [base, gateway] = split_component(call.component());
  if (base != kProber && base != kRepairer) return "only a gateway's prober and repairer take commands from the hub";
  if (std::find(gateways.begin(), gateways.end(), gateway) == gateways.end()) {
    return "this node watches no gateway named " + gateway.substr(0, 40);
  }
  const auto& r = call.request();
  switch (r.body_case()) {
    case pb::Request::kPing:
    case pb::Request::kProbeStatus:
      return base == kProber || r.has_ping() ? "" : "not a repairer request";
    case pb::Request::kRepair:
    case pb::Request::kGetRepair:
    case pb::Request::kPause:
    case pb::Request::kResume:
    case pb::Request::kRepairStatus:
    case pb::Request::kHistory:
    case pb::Request::kStats:
    case pb::Request::kLogs:
      return base == kRepairer ? "" : "not a prober request";
    default:
      return "not a request the hub may relay (config and the like stay on the node)";
  }
}

std::string request_kind(const pb::Request& r) {
  switch (r.body_case()) {
    case pb::Request::kPing: return "ping";
    case pb::Request::kProbeStatus: return "probe_status";
    case pb::Request::kRepair: return "repair";
    case pb::Request::kGetRepair: return "get_repair";
    case pb::Request::kPause: return "pause";
    case pb::Request::kResume: return "resume";
    case pb::Request::kRepairStatus: return "repair_status";
    case pb::Request::kHistory: return "history";
    case pb::Request::kStats: return "stats";
    case pb::Request::kLogs: return "logs";
    default: return "other";
  }
}

std::string request_actor(const pb::Request& r) {
  if (r.has_repair()) return r.repair().actor();
  if (r.has_pause()) return r.pause().actor();
  if (r.has_resume()) return r.resume().actor();
  return "";
}

void mark_relayed(pb::Request& r, const std::string& hub) {
  const std::string via = " via hub" + (hub.empty() ? std::string() : " " + hub.substr(0, 40));
  if (r.has_repair()) {
    r.mutable_repair()->set_actor(r.repair().actor() + via);
    // The bot asks for "policy decides" or tier 1 (start a stopped gateway), never more.
    if (r.repair().start_tier() > 1) r.mutable_repair()->set_start_tier(1);
  }
  if (r.has_pause()) r.mutable_pause()->set_actor(r.pause().actor() + via);
  if (r.has_resume()) r.mutable_resume()->set_actor(r.resume().actor() + via);
}

}  // namespace gwr::fleet
