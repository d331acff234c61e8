// gwr-fleet's Worker (issue #18): the shell around fleet_core. Started by
// the supervisor only when fleet.role is hub or node.
//
// Node: a DEALER with CURVE to fleet.hub. Its gateways' repair events,
// alerts and health changes go into fleet.db's outbox and from there to the
// hub, in order, until the hub acknowledges them; the owner's commands come
// back as FleetCalls, checked (refusal_of_call), audited, and put to the
// node's own prober or repairer.
//
// Hub: a ROUTER with CURVE on fleet.listen, and a ZAP handler that lets in
// only the keys in fleet.authorized_keys (re-read every few seconds, so a
// key removed is refused from then on). A node's events go to the Telegram
// bridge (FleetDeliver) and are acknowledged once it took them; /repair
// NODE/NAME comes from the bridge as a FleetRelay and waits for the node's
// answer. A node not heard from for fleet.node_timeout is a NODE_SILENT
// alert.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "common/worker.h"
#include "fleet/fleet_core.h"
#include "fleet/fleet_store.h"

namespace gwr::fleet {

class FleetWorker final : public Worker {
 public:
  FleetWorker();
  ~FleetWorker() override;
  std::vector<std::string> topics() const override;
  void start(WorkerContext& ctx) override;
  void on_config(WorkerContext& ctx, const std::vector<std::string>& changed) override;
  void on_event(WorkerContext& ctx, const pb::Event& event) override;
  pb::Reply on_request(WorkerContext& ctx, const pb::Request& request) override;
  SteadyTime on_tick(WorkerContext& ctx, SteadyTime now) override;
  std::vector<zmq::pollitem_t> poll_items() override;
  void on_ready(WorkerContext& ctx, size_t index) override;
  void stop(WorkerContext& ctx) override;

 private:
  struct Incoming {
    std::string routing;
    std::string user_id;
    std::string address;
    std::string payload;
  };
  void off(WorkerContext& ctx, const std::string& why);
  void close_sockets();
  // Hub
  void start_hub(WorkerContext& ctx);
  void serve_zap();
  // The authorized keys again; an unreadable directory keeps the list it had (and says why).
  Status reread_keys(bool log_changes);
  std::optional<Incoming> receive_router();
  // false: the frame was only partly handled (the pass's time ran out); it is handled again next pass.
  bool handle_hub_frame(WorkerContext& ctx, const Incoming& in);
  // One pass of the worker's loop may wait this much longer (see kPassBudget).
  int64_t budget_left_ms() const;
  std::chrono::steady_clock::time_point pass_started_{};
  void drain_hub(WorkerContext& ctx);
  void send_to(const std::string& routing, const pb::FleetFrame& frame);
  void save_node(const std::string& name);
  pb::Reply relay(const pb::FleetRelayRequest& relay);
  // Hands a node's new events to the bridge; false: the pass's time ran out first.
  bool deliver_events(WorkerContext& ctx, const std::string& name, const std::string& routing,
                      const HubBook::Taken& taken);
  void hub_tick(WorkerContext& ctx, int64_t now_ms);
  // Node
  void start_node(WorkerContext& ctx);
  void node_receive(WorkerContext& ctx);
  void answer_call(WorkerContext& ctx, const pb::FleetCall& call);
  void node_flush(WorkerContext& ctx, int64_t now_ms);
  // The events heard since the last tick go into the outbox together (one
  // transaction, one fsync): a burst costs one write, not one per event.
  void keep_pending(int64_t now_ms);
  std::vector<pb::Event> pending_;
  int64_t handled_since_trim_ = 0;
  int64_t next_trim_ms_ = 0;
  void trim_memory(int64_t now_ms);

  std::string role_;
  bool running_ = false;
  std::unique_ptr<zmq::context_t> zctx_;
  std::unique_ptr<zmq::socket_t> router_;  // hub
  std::unique_ptr<zmq::socket_t> zap_;     // hub
  std::unique_ptr<zmq::socket_t> dealer_;  // node
  std::unique_ptr<zmq::socket_t> monitor_;  // node: the dealer's handshakes (a refused key is said in the log)
  void node_monitor();
  std::unique_ptr<FleetStore> store_;
  const Clock* clock_ = nullptr;
  int64_t node_timeout_ms_ = 90'000;

  // Hub
  HubBook book_;
  std::string keys_dir_;
  std::map<std::string, std::string> keys_;  // name -> Z85 public key
  int64_t next_key_scan_ms_ = 0;
  int64_t next_alert_republish_ms_ = 0;
  std::map<std::string, int64_t> saved_seen_ms_;
  std::map<std::string, int64_t> quiet_logs_;  // rate-limited log lines: key -> when last written
  std::deque<Incoming> stash_;                // frames that came while a relay waited
  uint64_t relay_seq_ = 0;
  int64_t bridge_retry_at_ms_ = 0;  // a delivery to the bridge failed: not tried again before then
  std::string host_;

  // Node
  std::unique_ptr<NodeLink> link_;
  NodeLink::Settings link_settings_;
  std::vector<std::string> gateway_names_;
  std::map<std::string, std::string> health_sent_;  // gateway -> health_signature of the last kept
  std::string hub_name_;
  bool was_up_ = false;

  bool quiet(const std::string& key, int64_t now_ms, int64_t every_ms = 60'000);
};

}  // namespace gwr::fleet
