// gwr-fleet's decisions (issue #18), pure: what a node says to its hub and
// when, which of a node's events the hub takes, who is silent. The shell
// (fleet_worker) owns the CURVE sockets, the outbox and fleet.db.
//
// The contract between them:
// - A node numbers its events from 1 per instance (a random id kept in its
//   fleet.db) and keeps each in its outbox until the hub acknowledges it.
// - The hub takes a node's events only in order (seq = last + 1), hands
//   them to its Telegram bridge, and only then acknowledges and stores the
//   last seq: a lost frame, a lost ack or a restart of either side resends,
//   and a resent event is recognised by its seq and never said twice.
// - Everything a node sends after a hub restart or a reconnect starts with
//   a hello; frames from a node the hub has not welcomed are refused.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gwr.pb.h"

namespace gwr::fleet {

// An empty frame of this protocol version (fill in its body).
pb::FleetFrame fleet_frame();

inline constexpr int64_t kHelloEveryMs = 1000;    // node: until welcomed
inline constexpr int64_t kBeatEveryMs = 2000;     // node: while welcomed
inline constexpr int64_t kHubQuietMs = 7000;      // node: nothing from the hub this long: hello again
inline constexpr int64_t kAckWaitMs = 5000;       // node: no ack for this long: send again from the last ack
inline constexpr size_t kBatch = 64;              // events per frame
inline constexpr size_t kWindow = 1024;           // events sent and not yet acknowledged

// The node's side of the link.
class NodeLink {
 public:
  struct Settings {
    std::string instance;
    std::string version;
    std::vector<pb::GatewayEntryInfo> gateways;
  };
  explicit NodeLink(Settings settings) : settings_(std::move(settings)) {}

  // The outbox: its events with seq > after, in order, at most n.
  using OutboxRead = std::function<std::vector<pb::FleetEnvelope>(uint64_t after, size_t n)>;
  // What to send now. last_seq: the newest event in the outbox (0: none);
  // oldest_seq: the oldest one still there (0: none).
  std::vector<pb::FleetFrame> on_tick(int64_t now_ms, uint64_t last_seq, uint64_t oldest_seq, const OutboxRead& read);
  // A frame could not be sent (the link is not up): what it carried goes again.
  void send_failed(const pb::FleetFrame& frame);

  struct Heard {
    uint64_t ack = 0;                 // > 0: every event up to it can leave the outbox
    std::optional<pb::FleetCall> call;  // the owner's command, to run and answer
    std::string refused;              // the hub refused us (why)
    bool welcomed = false;            // this frame welcomed us
    std::string hub;                  // welcomed: the hub's name
  };
  Heard on_frame(const pb::FleetFrame& frame, int64_t now_ms);

  bool up() const { return welcomed_; }
  // Whether the link went down at the last on_tick (the hub fell silent).
  bool lost() const { return lost_; }
  uint64_t acked() const { return acked_; }
  uint64_t sent() const { return sent_; }
  int64_t last_heard_ms() const { return last_heard_ms_; }

 private:
  Settings settings_;
  bool welcomed_ = false;
  bool lost_ = false;
  int64_t last_heard_ms_ = 0;
  int64_t last_hello_ms_ = -1'000'000;
  int64_t last_beat_ms_ = 0;
  int64_t last_progress_ms_ = 0;
  uint64_t acked_ = 0;
  uint64_t sent_ = 0;
};

// The hub's book of its nodes.
class HubBook {
 public:
  struct Node {
    std::string name;
    std::string key;        // its public key (Z85) while authorized; "" = revoked
    std::string instance;
    uint64_t seq = 0;       // the last of instance's events handed on
    int64_t last_seen_ms = 0;
    std::string routing;    // the connection it said hello on ("" = none)
    std::vector<pb::GatewayEntryInfo> gateways;
    std::string version;
    std::string address;
    uint64_t events = 0;
    bool silent = false;
    int64_t silent_since_ms = 0;
  };

  // The authorized keys, as read from fleet.authorized_keys (name -> key).
  // A node whose key went away is forgotten as a peer at once.
  void set_keys(const std::map<std::string, std::string>& keys);
  // What fleet.db remembered of a node.
  void restore(const std::string& name, const std::string& instance, uint64_t seq, int64_t last_seen_ms,
               const std::vector<pb::GatewayEntryInfo>& gateways);

  // Whether a peer's ZAP user id ("NAME KEY") is an authorized node now;
  // its name when it is.
  std::optional<std::string> authorized(const std::string& user_id) const;

  struct Answer {
    std::optional<pb::FleetFrame> reply;  // to send back
    std::string log_event;                // "" = nothing to log
    std::string detail;
  };
  Answer on_hello(const std::string& name, const std::string& routing, const std::string& address,
                  const pb::FleetHello& hello, int64_t now_ms, int64_t node_timeout_ms);

  struct Taken {
    std::vector<pb::Event> events;  // new, in order: hand them on, then call delivered()
    uint64_t last_seq = 0;          // the seq of the last of them
    uint64_t duplicates = 0;        // already handed on: dropped
    uint64_t lost = 0;              // the node no longer had them (its outbox overflowed)
    uint64_t out_of_order = 0;      // after a gap: dropped, the node sends them again
    std::optional<pb::FleetFrame> reply;  // an ack, or a refusal (say hello first)
  };
  Taken on_events(const std::string& name, const std::string& routing, const pb::FleetEvents& events, int64_t now_ms);
  // The events up to seq were handed on: the ack to send.
  pb::FleetFrame delivered(const std::string& name, uint64_t seq);
  // A beat, an answer or any other frame: the node was heard from.
  std::optional<pb::FleetFrame> on_beat(const std::string& name, const std::string& routing, int64_t now_ms);
  bool welcomed(const std::string& name, const std::string& routing) const;

  // When this hub started: a node is given node_timeout from then to say
  // hello before it counts as silent (the hub, not the node, was away).
  void set_started(int64_t ms) { started_ms_ = ms; }
  // NODE_SILENT alerts that begin or clear now.
  std::vector<pb::Alert> on_tick(int64_t now_ms, int64_t node_timeout_ms);
  // The alerts in force (republished now and then: they are level-triggered).
  std::vector<pb::Alert> active() const;

  const Node* find(const std::string& name) const;
  const std::map<std::string, Node>& nodes() const { return nodes_; }
  pb::FleetStatusReply status(int64_t now_ms, int64_t node_timeout_ms) const;

 private:
  Node& heard(Node& n, int64_t now_ms);
  pb::Alert silent_alert(const Node& n, bool cleared) const;
  std::map<std::string, Node> nodes_;
  int64_t started_ms_ = 0;
};

// A node's health events are level-triggered (republished unchanged); the
// outbox keeps only those that say something new: a new state or findings.
std::string health_signature(const pb::GatewayHealth& health);

// Which of the owner's requests a node carries out for its hub: reading
// status and history, and the same repair, pause and resume the bot offers
// on the node's own gateways. Never config, never secrets. "" = allowed,
// else why not.
std::string refusal_of_call(const pb::FleetCall& call, const std::vector<std::string>& gateways);
// "repair", "pause", ... for the log; "other" for the rest.
std::string request_kind(const pb::Request& request);
// Who asked (a repair's, pause's or resume's actor); "" for the rest.
std::string request_actor(const pb::Request& request);
// The actor a node records for a command that came through the hub.
void mark_relayed(pb::Request& request, const std::string& hub);

}  // namespace gwr::fleet
