// gwr-telegram-bridge's Worker: on the WorkerLoop's thread it turns bus
// events (repair events, gateway health) into outbox rows through the
// NotificationPlanner, catches up on repair events it missed while it was
// down (the repairer's log, deduplicated), and reports an honest heartbeat.
// Telegram itself is talked to by the BridgeThreads (poller and sender).
// With no bot token it stays up, heartbeats "Telegram off" and does nothing.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/actor.h"
#include "common/http_client.h"
#include "common/worker.h"
#include "telegram-bridge/bridge_store.h"
#include "telegram-bridge/heartbeat_plan.h"
#include "telegram-bridge/bridge_threads.h"
#include "telegram-bridge/channel_sender.h"
#include "telegram-bridge/notice_store.h"
#include "telegram-bridge/notification_planner.h"

namespace gwr::telegram {

class BridgeWorker final : public Worker {
 public:
  std::vector<std::string> topics() const override { return {"repair_event", "gateway_health", "alert"}; }
  void start(WorkerContext& ctx) override;
  void on_config(WorkerContext& ctx, const std::vector<std::string>& changed) override;
  void on_event(WorkerContext& ctx, const pb::Event& event) override;
  pb::Reply on_request(WorkerContext& ctx, const pb::Request& request) override;
  SteadyTime on_tick(WorkerContext& ctx, SteadyTime now) override;
  std::vector<zmq::pollitem_t> poll_items() override;
  void on_ready(WorkerContext& ctx, size_t index) override;
  void stop(WorkerContext& ctx) override;

  // A Telegram thread was still blocked in an HTTP call at shutdown and was
  // left behind; main() then exits without running static destructors.
  bool abandoned_threads() const { return abandoned_; }

 private:
  const Clock* clock_ = nullptr;
  void turn_on(WorkerContext& ctx);
  void start_threads(WorkerContext& ctx);
  void retire_threads();
  // One per gateway: what was said about it (its planner, whose stored keys
  // and threads carry the lane's prefix) and how its notices name it.
  struct Lane {
    std::string name;    // the gateway's name in the config
    std::string prefix;  // "" for main (a one-gateway gwr's keys); "NAME/" for another
    NotificationPlanner planner;
    NoticeSource source;
  };
  std::vector<Lane> lanes_;
  void make_lanes(WorkerContext& ctx);
  // fleet.role hub: a lane for a node's gateway ("NODE/NAME"), made when the
  // first of its events arrives or its stored incidents are read back; at
  // most kMaxLanes in all. info: what the node said of it (may be null).
  bool fleet_hub_ = false;
  static constexpr size_t kMaxLanes = 2048;
  Lane* remote_lane(const std::string& name, const pb::GatewayEntryInfo* info);
  void handle_event(Lane& lane, const pb::Event& event, bool about_gwr);
  Result<pb::FleetDeliverReply> deliver(const pb::FleetDeliverRequest& request);
  // The lane of an event's gateway ("": the first; one gwr does not watch: none).
  Lane* lane_for(const std::string& gateway);
  bool several() const { return lanes_.size() > 1; }
  // Several gateways: each message names its gateway, its thread and
  // buttons carry the name.
  std::vector<Outgoing> labelled(const Lane& lane, std::vector<Outgoing> messages) const;
  void handle_repair_event(Lane& lane, const pb::RepairEvent& event, int64_t now_ms);
  // label: name the lane's gateway on the messages (not for gwr's own
  // alerts, which are about no gateway).
  void save(Lane& lane, const std::vector<Outgoing>& messages, const std::string& seen_key, int64_t seen_at_ms,
            int64_t now_ms, bool label = true);
  void catch_up(WorkerContext& ctx, int64_t now_ms);
  void update_activity(WorkerContext& ctx, int64_t now_ms);

  bool enabled_ = false;
  int64_t chat_id_ = 0;
  std::unique_ptr<BridgeStore> store_;
  std::unique_ptr<BridgeThreads> threads_;
  std::vector<std::unique_ptr<BridgeThreads>> retiring_;
  bool start_pending_ = false;
  SteadyTime retire_deadline_{};
  int64_t watermark_ms_ = 0;
  int64_t next_catch_up_ms_ = 0;
  int64_t next_prune_ms_ = 0;
  int64_t next_checkpoint_ms_ = 0;
  int64_t next_activity_ms_ = 0;
  int64_t next_notice_prune_ms_ = 0;
  bool abandoned_ = false;

  // The dead-man's switch (heartbeat.*): planned here, sent by one thread
  // (an HTTP call to the internet may take seconds), whether or not
  // Telegram is on.
  struct PingResult {
    HeartbeatPing ping;
    HttpResponse response;
  };
  using PingActor = Actor<HeartbeatPing, PingResult>;
  HeartbeatPlan heartbeat_;
  std::unique_ptr<PingActor> pinger_;
  void heartbeat_settings(WorkerContext& ctx);
  void send_heartbeats(int64_t now_ms);

  // The channels beside Telegram (notify.*): queued in notify.db here, sent
  // by one ChannelSender thread each, whether or not Telegram is on.
  std::unique_ptr<NoticeStore> notices_;
  std::vector<std::unique_ptr<ChannelSender>> senders_;
  std::vector<ChannelTarget> targets_;  // as last configured, one per channel
  std::map<Channel, int64_t> since_ms_;  // when each channel was first set (notify.db's, read once)
  NoticeSource source_;  // this host, for gwr's own alerts
  void notify_settings(WorkerContext& ctx);
  void notify(const std::optional<Notice>& notice, int64_t event_at_ms, int64_t now_ms);
  bool catching_up() const { return (enabled_ && store_) || !senders_.empty(); }
  pb::NotifyStatusReply notify_status(int64_t now_ms);
};

// A repair event's identity, the same whether it came over the bus or from
// the repairer's log.
std::string repair_event_key(const pb::RepairEvent& event);

}  // namespace gwr::telegram
