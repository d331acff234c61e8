#include "telegram-bridge/bridge_worker.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include <unistd.h>

#include "common/components.h"
#include "common/config.h"
#include "common/openclaw_config.h"
#include "common/config_schema.h"
#include "common/bus.h"
#include "common/findings.h"
#include "common/log.h"
#include "common/message_text.h"
#include "common/redact.h"
#include "telegram-bridge/messages.h"

namespace gwr::telegram {

namespace {

using namespace std::chrono_literals;

constexpr int64_t kCatchUpEveryMs = 60'000;
constexpr int64_t kCatchUpWindowMs = 24 * 3'600'000LL;
constexpr int64_t kPruneEveryMs = 3'600'000;
constexpr int64_t kCheckpointEveryMs = 10'000;


bool has(const std::vector<std::string>& keys, const std::string& key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

}  // namespace

std::string repair_event_key(const pb::RepairEvent& e) {
  // FNV-1a over the serialized event: bus and log copies are the same bytes.
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : e.SerializeAsString()) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::to_string(e.at_ms()) + ":" + std::to_string(static_cast<int>(e.kind())) + ":" +
         std::to_string(e.repair_id()) + ":" + buf;
}

void BridgeWorker::heartbeat_settings(WorkerContext& ctx) {
  heartbeat_.set_settings(HeartbeatSettings::from_config(ctx.config()));
  if (!heartbeat_.settings().enabled() || pinger_) return;
  auto started = PingActor::start({"heartbeat"}, [http = ctx.env().http](PingActor::Self& self) {
    auto client = http();
    self.ready();
    while (auto ping = self.receive()) {
      HttpRequest req;
      req.url = ping->url;
      req.timeout = std::chrono::seconds(10);
      req.max_response_bytes = 4096;
      req.use_proxy = true;  // the internet, like Telegram
      self.post({*ping, client->send(req)});
    }
  });
  if (!started) {
    log::error("heartbeat_unavailable", {{"error", started.message()}});
    return;
  }
  pinger_ = std::move(*started);
  log::info("heartbeat_on", {{"url", url_for_logs(heartbeat_.settings().url)},
                             {"fail_url", url_for_logs(heartbeat_.settings().fail_url)},
                             {"interval_ms", heartbeat_.settings().interval_ms}});
}

void BridgeWorker::send_heartbeats(int64_t now_ms) {
  if (!pinger_) return;
  if (auto ping = heartbeat_.take_due(now_ms)) pinger_->send(*ping);
}

void BridgeWorker::notify_settings(WorkerContext& ctx) {
  const auto& cfg = ctx.config();
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  source_.host = host;
  source_.gateway = cfg.gateway().host() + ":" + std::to_string(cfg.gateway().port());
  make_lanes(ctx);
  const auto targets = channel_targets(cfg);
  const bool any = std::any_of(targets.begin(), targets.end(), [](const ChannelTarget& t) { return t.enabled(); });
  if (any && !notices_) {
    const std::string path = cfg.paths().state_dir() + "/notify.db";
    auto store = NoticeStore::open(path);
    if (!store) {
      // Telegram and the heartbeat go on; the channels wait for a restart.
      log::error("notify_store_unavailable", {{"path", path}, {"error", store.message()}});
      return;
    }
    notices_ = std::move(*store);
    notices_->prune(clock_->wall_ms());
  }
  for (const auto& t : targets) {
    auto it = std::find_if(senders_.begin(), senders_.end(), [&](const auto& s) { return s->channel() == t.channel; });
    auto before = std::find_if(targets_.begin(), targets_.end(), [&](const auto& o) { return o.channel == t.channel; });
    const bool changed = before == targets_.end() || before->url != t.url || before->token != t.token;
    if (!t.enabled()) {
      if (it != senders_.end()) {
        // What waits stays in notify.db for when it is set again.
        abandoned_ |= !(*it)->stop(200ms);
        senders_.erase(it);
        log::info("notify_channel_off", {{"channel", channel_name(t.channel)}});
      }
      continue;
    }
    if (it != senders_.end()) {
      if (changed) (*it)->retarget(t);
      continue;
    }
    ChannelSenderSettings s;
    s.target = t;
    s.source = source_;
    s.db_path = notices_->db().path();
    s.clock = clock_;
    s.http = ctx.env().http;
    auto sender = ChannelSender::start(std::move(s));
    if (!sender) {
      log::error("notify_channel_unavailable", {{"channel", channel_name(t.channel)}, {"error", sender.message()}});
      continue;
    }
    since_ms_[t.channel] = notices_->since(channel_name(t.channel), clock_->wall_ms());
    log::info("notify_channel_on", {{"channel", channel_name(t.channel)},
                                    {"address", url_for_logs(t.url)},
                                    {"queued", notices_->queued(channel_name(t.channel))}});
    senders_.push_back(std::move(*sender));
  }
  targets_ = targets;
  // Events missed while no channel listened are looked up soon.
  if (!senders_.empty() && next_catch_up_ms_ == 0) next_catch_up_ms_ = clock_->wall_ms() + 1'000;
}

void BridgeWorker::notify(const std::optional<Notice>& notice, int64_t event_at_ms, int64_t now_ms) {
  if (!notice || !notices_ || senders_.empty()) return;
  for (auto& sender : senders_) {
    const std::string name = channel_name(sender->channel());
    // History from before the channel was set is not news for it.
    if (event_at_ms < since_ms_[sender->channel()]) continue;
    int64_t evicted = 0;
    auto added = notices_->enqueue(name, *notice, now_ms, &evicted);
    if (!added) {
      log::error("notice_not_queued", {{"channel", name}, {"notice", notice->event}, {"error", added.message()}});
      continue;
    }
    if (evicted > 0) {
      log::warn("notices_evicted", {{"channel", name}, {"count", evicted},
                                    {"reason", "more than " + std::to_string(kNoticeQueueLimit) + " waiting"}});
    }
    if (*added) sender->wake();
  }
}

pb::NotifyStatusReply BridgeWorker::notify_status(int64_t /*now_ms*/) {
  pb::NotifyStatusReply out;
  if (enabled_ && threads_ && store_) {
    auto* t = out.add_channels();
    t->set_name("telegram");
    const auto sender = threads_->shared()->sender();
    const auto poller = threads_->shared()->poller();
    const auto& worst = sender.state == ThreadState::kIdle || sender.state == ThreadState::kSending ? poller : sender;
    switch (worst.state) {
      case ThreadState::kStarting: t->set_state(pb::ChannelStatus::IDLE); break;
      case ThreadState::kUnreachable:
      case ThreadState::kRateLimited: t->set_state(pb::ChannelStatus::RETRYING); break;
      case ThreadState::kTokenRejected:
      case ThreadState::kConflict: t->set_state(pb::ChannelStatus::REJECTED); break;
      default: t->set_state(pb::ChannelStatus::OK); break;
    }
    t->set_detail(std::string(thread_state_text(worst.state)) + (worst.detail.empty() ? "" : ": " + worst.detail));
    t->set_retry_at_ms(worst.retry_at_ms);
    t->set_queued(static_cast<uint32_t>(store_->count_pending()));
  }
  for (auto& sender : senders_) *out.add_channels() = sender->status();
  return out;
}

std::vector<zmq::pollitem_t> BridgeWorker::poll_items() {
  // The pinger first (index 0, or none), then one per channel sender.
  std::vector<zmq::pollitem_t> items;
  if (pinger_) items.push_back({nullptr, pinger_->notify_fd(), ZMQ_POLLIN, 0});
  for (const auto& s : senders_) items.push_back({nullptr, s->notify_fd(), ZMQ_POLLIN, 0});
  return items;
}

void BridgeWorker::on_ready(WorkerContext& /*ctx*/, size_t index) {
  if (!pinger_ || index > 0) {
    const size_t i = index - (pinger_ ? 1 : 0);
    if (i < senders_.size()) (void)senders_[i]->status();  // takes what it reported
    return;
  }
  const int64_t now = clock_->wall_ms();
  for (auto& r : pinger_->drain()) {
    const bool ok = r.response.completed() && r.response.status >= 200 && r.response.status < 300;
    log::Fields f = {{"url", url_for_logs(r.ping.url)}, {"http_status", r.response.status},
                     {"latency_ms", r.response.latency_us / 1000}};
    if (r.ping.fail) {
      f["repair_id"] = r.ping.repair_id;
      if (several()) f["gateway"] = r.ping.gateway;
    }
    if (!ok) f["error"] = r.response.error.empty() ? "HTTP " + std::to_string(r.response.status) : r.response.error;
    const char* event = r.ping.fail ? "heartbeat_fail_sent" : "heartbeat_sent";
    if (ok) {
      log::write(r.ping.fail ? log::Level::kWarn : log::Level::kDebug, event, f);
    } else {
      f["failures_in_a_row"] = heartbeat_.failures() + (r.ping.fail ? 0 : 1);
      log::warn(r.ping.fail ? "heartbeat_fail_not_sent" : "heartbeat_not_sent", f);
    }
    heartbeat_.done(r.ping, ok, now);
  }
  send_heartbeats(now);
}

void BridgeWorker::start(WorkerContext& ctx) {
  clock_ = &ctx.clock();
  heartbeat_settings(ctx);
  notify_settings(ctx);
  if (ctx.config().telegram().bot_token().empty()) {
    ctx.set_activity("Telegram off: no bot token");
    log::info("telegram_off", {{"reason", "no bot token configured (telegram.bot_token / TELEGRAM_BOT_TOKEN)"}});
    return;
  }
  turn_on(ctx);
}

void BridgeWorker::turn_on(WorkerContext& ctx) {
  const auto& cfg = ctx.config();
  // Never poll the gateway's own bot: Telegram would answer one of the two
  // pollers 409 Conflict, and either gwr hears nothing or OpenClaw's channel
  // breaks, which gwr would then try to repair (issue #19).
  std::vector<std::string> state_dirs = {cfg.gateway().state_dir()};
  for (const auto& g : ctx.gateways()) {
    if (!g.state_dir().empty() && g.state_dir() != state_dirs.front()) state_dirs.push_back(g.state_dir());
  }
  for (const auto& dir : state_dirs) {
    const std::string openclaw = openclaw_config_path(current_environment(), dir);
    if (auto clash = bot_token_clash(cfg.telegram().bot_token(), openclaw)) {
      enabled_ = false;
      start_pending_ = false;
      ctx.set_activity("Telegram off: its bot token is OpenClaw's own bot");
      log::error("telegram_bot_shared", {{"details", *clash}, {"openclaw_config", openclaw}});
      return;
    }
  }
  const std::string path = cfg.paths().state_dir() + "/telegram.db";
  if (!store_ || store_->db().path() != path) {
    auto store = BridgeStore::open(path);
    if (!store) {
      log::error("telegram_store_unavailable", {{"path", path}, {"error", store.message()}});
      log::flush();
      std::exit(1);  // the supervisor restarts us; without the outbox nothing can be promised
    }
    store_ = std::move(*store);
    // Each gateway's planner gets back what was said about it: its stored
    // keys carry its lane's prefix (none for main).
    for (auto& lane : lanes_) lane.planner = NotificationPlanner(PlannerSettings::from_config(cfg));
    // "rescue/repair:3" is rescue's; a key whose head is no gateway name
    // ("repair:3", a warning's "f:EXITED/process") is main's.
    auto owner = [&](const std::string& key) -> std::pair<Lane*, std::string> {
      const auto slash = key.find('/');
      if (slash != std::string::npos && valid_gateway_name(std::string_view(key).substr(0, slash))) {
        // "web1/main/repair:3": node web1's gateway main (a hub's).
        if (const auto second = key.find('/', slash + 1); fleet_hub_ && second != std::string::npos) {
          (void)remote_lane(key.substr(0, second), nullptr);
        }
        // The longest prefix: "web1/main/..." is node web1's main, not a local gateway named web1's.
        Lane* best = nullptr;
        for (auto& lane : lanes_) {
          if (!lane.prefix.empty() && key.rfind(lane.prefix, 0) == 0 &&
              (best == nullptr || lane.prefix.size() > best->prefix.size())) {
            best = &lane;
          }
        }
        if (best) return {best, key.substr(best->prefix.size())};
        return {nullptr, key};  // a gateway gwr no longer watches
      }
      for (auto& lane : lanes_) {
        if (lane.prefix.empty()) return {&lane, key};
      }
      return {nullptr, key};
    };
    for (const auto& [key, stored] : store_->incident_states_by_key()) {
      if (auto [lane, rest] = owner(key); lane) lane->planner.restore_incident(stored);
    }
    for (auto w : store_->warnings()) {
      auto [lane, rest] = owner(w.key);
      if (!lane) continue;
      w.key = rest;
      lane->planner.restore_warning(w);
    }
    for (auto& lane : lanes_) {
      if (auto notices = store_->meta_blob("planner" + (lane.prefix.empty() ? "" : "/" + lane.name))) {
        lane.planner.restore_notices(*notices);
      }
    }
    const int64_t now = clock_->wall_ms();
    if (auto w = store_->meta("events_since"); w && !w->empty()) {
      watermark_ms_ = std::atoll(w->c_str());
    } else {
      // The first start: history from before the bridge existed is not news.
      watermark_ms_ = now;
      (void)store_->set_meta("events_since", std::to_string(now));
    }
    store_->prune(now);
  }
  for (auto& lane : lanes_) lane.planner.set_settings(PlannerSettings::from_config(cfg));
  chat_id_ = cfg.telegram().chat_id();
  enabled_ = true;
  start_threads(ctx);
  // Catch up soon, once the bus subscription is surely in place.
  next_catch_up_ms_ = clock_->wall_ms() + 1'000;
  next_prune_ms_ = clock_->wall_ms() + kPruneEveryMs;
  log::info("telegram_on", {{"api", cfg.telegram().api_base_url()},
                            {"chat_id", chat_id_},
                            {"allowed_users", cfg.telegram().allowed_user_ids_size()},
                            {"outbox_pending", store_->count_pending()}});
  update_activity(ctx, clock_->wall_ms());
}

void BridgeWorker::start_threads(WorkerContext& ctx) {
  const auto& cfg = ctx.config();
  ThreadSettings s;
  s.api_base_url = cfg.telegram().api_base_url();
  s.bot_token = cfg.telegram().bot_token();
  s.db_path = store_->db().path();
  s.poll_timeout_ms = std::clamp<int64_t>(cfg.telegram().poll_timeout(), 1'000, 50'000);
  s.clock = &ctx.clock();
  s.http = ctx.env().http;
  s.control_port = [transport = &ctx.transport()] { return transport->new_port(); };
  for (const auto& g : ctx.gateways()) s.gateways.push_back(g.name());
  s.fleet_hub = fleet_hub_;
  threads_ = std::make_unique<BridgeThreads>(s, AccessPolicy::from_config(cfg.telegram()));
  start_pending_ = false;
}

void BridgeWorker::retire_threads() {
  if (!threads_) return;
  threads_->signal_stop();
  retiring_.push_back(std::move(threads_));
  retire_deadline_ = clock_->steady() + 20s;
}

void BridgeWorker::on_config(WorkerContext& ctx, const std::vector<std::string>& changed) {
  const auto& cfg = ctx.config();
  if (std::any_of(changed.begin(), changed.end(), [](const std::string& k) { return k.rfind("heartbeat.", 0) == 0; })) {
    heartbeat_settings(ctx);
  }
  if (std::any_of(changed.begin(), changed.end(), [](const std::string& k) { return k.rfind("notify.", 0) == 0; })) {
    notify_settings(ctx);
  }
  const bool restart = restarts_worker(changed, kTelegramBridge);
  if (enabled_ && (has(changed, "telegram.chat_id") || has(changed, "telegram.allowed_user_ids"))) {
    chat_id_ = cfg.telegram().chat_id();
    if (threads_) threads_->shared()->set_access(AccessPolicy::from_config(cfg.telegram()));
    log::info("telegram_access_changed", {{"chat_id", chat_id_}, {"allowed_users", cfg.telegram().allowed_user_ids_size()}});
  }
  if (has(changed, "telegram.reminder_interval")) {
    for (auto& lane : lanes_) lane.planner.set_settings(PlannerSettings::from_config(cfg));
  }
  if (!restart) return;
  retire_threads();
  if (cfg.telegram().bot_token().empty()) {
    enabled_ = false;
    ctx.set_activity("Telegram off: no bot token");
    log::info("telegram_off", {{"reason", "the bot token was removed from the config"}});
    return;
  }
  // New threads start once the old ones can no longer touch the outbox (on_tick).
  start_pending_ = true;
  log::info("telegram_restarting", {{"reason", "Telegram settings changed"}});
}

void BridgeWorker::make_lanes(WorkerContext& ctx) {
  if (!lanes_.empty()) return;  // which gateways are watched changes only with a restart of gwr
  fleet_hub_ = ctx.config().fleet().role() == "hub";
  const std::vector<pb::GatewayEntryInfo> gateways = ctx.watched_gateways();
  for (const auto& g : gateways) {
    Lane lane;
    lane.name = g.name();
    lane.prefix = g.name() == kMainGateway ? "" : g.name() + "/";
    lane.planner = NotificationPlanner(PlannerSettings::from_config(ctx.config()));
    lane.source.host = source_.host;
    lane.source.gateway = g.host() + ":" + std::to_string(g.port());
    if (gateways.size() > 1) lane.source.gateway = g.name() + " (" + lane.source.gateway + ")";
    lanes_.push_back(std::move(lane));
  }
  if (lanes_.size() > 1) {
    std::vector<std::string> names;
    for (const auto& lane : lanes_) names.push_back(lane.name);
    heartbeat_.set_gateways(names);
  }
}

BridgeWorker::Lane* BridgeWorker::lane_for(const std::string& gateway) {
  if (gateway.empty()) return &lanes_.front();  // gwr's own components, or a gwr before gateways:
  for (auto& lane : lanes_) {
    if (lane.name == gateway) return &lane;
  }
  return nullptr;
}

std::vector<Outgoing> BridgeWorker::labelled(const Lane& lane, std::vector<Outgoing> messages) const {
  if (!several()) return messages;
  for (auto& m : messages) {
    if (!m.incident.empty()) m.incident = lane.prefix + m.incident;
    name_gateway(m, lane.name);
  }
  return messages;
}

void BridgeWorker::on_event(WorkerContext& /*ctx*/, const pb::Event& event) {
  Lane* found = lane_for(event.gateway());
  if (found == nullptr) {
    // Not a gateway this gwr watches: never said as one of ours.
    log::warn("event_of_unknown_gateway", {{"gateway", event.gateway()}, {"source", event.source()}});
    return;
  }
  handle_event(*found, event, event.gateway().empty());
}

void BridgeWorker::handle_event(Lane& lane, const pb::Event& event, bool about_gwr) {
  const int64_t now = clock_->wall_ms();
  // The dead-man's switch pings while every gateway of this host serves
  // (a node's gateways have their own: the hub's NODE_SILENT).
  const bool remote = lane.name.find('/') != std::string::npos;
  if (!remote && event.has_gateway_health()) heartbeat_.on_health(event.gateway_health().state(), now, lane.name);
  if (!remote && event.has_repair_event()) heartbeat_.on_repair_event(event.repair_event(), now, lane.name);
  send_heartbeats(now);
  if (event.has_repair_event()) handle_repair_event(lane, event.repair_event(), now);
  if (event.has_alert()) {
    pb::Alert alert = event.alert();
    redact_strings(alert, SharedRedactor::instance());
    auto notice = notice_for(alert, now, about_gwr && !remote ? source_ : lane.source);
    if (notice && remote) notice->key = lane.prefix + notice->key;  // a node's alerts are its own, not the hub's
    notify(notice, now, now);
  }
  if (!enabled_ || !store_) return;
  if (event.has_gateway_health()) {
    // Redacted whole before the planner cuts anything out of it.
    pb::GatewayHealth health = event.gateway_health();
    redact_strings(health, SharedRedactor::instance());
    save(lane, lane.planner.on_health(health, now), "", 0, now);
  } else if (event.has_alert()) {
    pb::Alert alert = event.alert();
    redact_strings(alert, SharedRedactor::instance());
    save(lane, lane.planner.on_alert(alert, now), "", 0, now, !about_gwr || remote);
  }
}

BridgeWorker::Lane* BridgeWorker::remote_lane(const std::string& name, const pb::GatewayEntryInfo* info) {
  // How notices name it: "web1/main (10.0.0.5:18789)", as the node said in its hello.
  const auto described = [&] {
    return info && info->port() != 0 ? name + " (" + info->host() + ":" + std::to_string(info->port()) + ")" : name;
  };
  for (auto& lane : lanes_) {
    if (lane.name == name) {
      if (info && info->port() != 0) lane.source.gateway = described();
      return &lane;
    }
  }
  const auto slash = name.find('/');
  if (!fleet_hub_ || slash == std::string::npos || !valid_gateway_name(std::string_view(name).substr(0, slash)) ||
      !valid_gateway_name(std::string_view(name).substr(slash + 1)) || lanes_.size() >= kMaxLanes) {
    return nullptr;
  }
  Lane lane;
  lane.name = name;
  lane.prefix = name + "/";
  lane.planner = NotificationPlanner(lanes_.empty() ? PlannerSettings() : lanes_.front().planner.settings());
  lane.source.host = name.substr(0, slash);
  lane.source.gateway = described();
  if (store_) {
    if (auto notices = store_->meta_blob("planner/" + name)) lane.planner.restore_notices(*notices);
  }
  lanes_.push_back(std::move(lane));
  log::info("fleet_lane_added", {{"gateway", name}, {"lanes", lanes_.size()}});
  return &lanes_.back();
}

Result<pb::FleetDeliverReply> BridgeWorker::deliver(const pb::FleetDeliverRequest& request) {
  pb::FleetDeliverReply reply;
  const std::string& node = request.node();
  if (!valid_gateway_name(node) || request.gateways_size() == 0) return make_error("not a node's delivery");
  for (const auto& given : request.events()) {
    // A node's own gwr alerts name no gateway: they go with its first.
    std::string gateway = given.gateway();
    if (gateway.empty()) gateway = request.gateways(0).name();
    const pb::GatewayEntryInfo* info = nullptr;
    for (const auto& g : request.gateways()) {
      if (g.name() == gateway) info = &g;
    }
    // Only what the hub speaks of itself: a node cannot say another node is silent or back.
    const bool hubs_word = given.has_alert() && given.alert().kind() == pb::Alert::NODE_SILENT;
    if (info == nullptr || hubs_word) {
      // Not one of the gateways the node named in its hello: dropped, for good.
      log::warn("fleet_event_dropped", {{"node", node}, {"gateway", gateway.substr(0, 40)},
                                        {"reason", hubs_word ? "a node cannot report nodes silent" : "not a gateway of that node"}});
      reply.set_handled(reply.handled() + 1);
      continue;
    }
    Lane* lane = remote_lane(node + "/" + gateway, info);
    if (lane == nullptr) {
      // Too many gateways for one bot: not taken, so the node keeps it and sends it again.
      log::error("fleet_event_refused", {{"node", node}, {"gateway", gateway}, {"lanes", lanes_.size()},
                                         {"max", kMaxLanes}, {"effect", "kept in the node's outbox"}});
      return make_error("too many gateways (" + std::to_string(kMaxLanes) + ")");
    }
    pb::Event event = given;
    event.set_gateway(lane->name);
    handle_event(*lane, event, false);
    reply.set_handled(reply.handled() + 1);
  }
  return reply;
}

void BridgeWorker::handle_repair_event(Lane& lane, const pb::RepairEvent& e, int64_t now_ms) {
  // Each gateway's repairer counts its repairs from 1: the lane's prefix
  // keeps rescue's #3 apart from main's #3.
  const std::string key = lane.prefix + repair_event_key(e);
  pb::RepairEvent event = e;
  redact_strings(event, SharedRedactor::instance());
  // The channels deduplicate by notice_key in notify.db; Telegram by its seen mark.
  if (!senders_.empty()) {
    notify(notice_for(event, lane.prefix + notice_key(e), lane.source), e.at_ms() > 0 ? e.at_ms() : now_ms, now_ms);
  }
  if (!enabled_ || !store_ || store_->seen_event(key)) return;
  save(lane, lane.planner.on_repair_event(event, now_ms), key, e.at_ms() > 0 ? e.at_ms() : now_ms, now_ms);
}

void BridgeWorker::save(Lane& lane, const std::vector<Outgoing>& planned, const std::string& seen_key,
                        int64_t seen_at_ms, int64_t now_ms, bool label) {
  auto changes = lane.planner.take_changes();
  const std::vector<Outgoing> messages = label ? labelled(lane, planned) : planned;
  if (messages.empty() && changes.empty() && seen_key.empty()) return;
  // The messages, the planner state that produced them and the event's
  // "seen" mark are one transaction: after a crash, all or nothing.
  // When telegram.db cannot take them (a full disk), the messages are sent
  // from memory: a notification must not wait for a disk.
  auto keep_in_memory = [&](const char* op, const std::string& error) {
    log::error("telegram_store_failed", {{"op", op}, {"error", error}, {"messages", messages.size()},
                                         {"effect", "sent from memory; lost only if the bridge dies first"}});
    if (threads_) {
      for (const auto& m : messages) threads_->shared()->keep_unsaved(chat_id_, m, now_ms);
    }
  };
  Transaction tx(store_->db());
  if (!tx.ok()) {
    keep_in_memory("begin", tx.begin_status().message());
    return;
  }
  for (const auto& m : messages) {
    if (auto id = store_->enqueue(chat_id_, m, now_ms); !id) {
      keep_in_memory("enqueue", id.message());
      return;
    }
  }
  const std::string& p = lane.prefix;
  for (const auto& [key, state] : changes.incidents) (void)store_->save_incident_state(p + key, state, now_ms);
  for (const auto& key : changes.incidents_forgotten) (void)store_->forget_incident_state(p + key);
  for (auto w : changes.warnings) {
    w.key = p + w.key;
    (void)store_->save_warning(w);
  }
  for (const auto& key : changes.warnings_removed) (void)store_->delete_warning(p + key);
  if (changes.misc) {
    (void)store_->set_meta_blob("planner" + (p.empty() ? "" : "/" + lane.name), lane.planner.notices_bytes());
  }
  if (!seen_key.empty()) (void)store_->add_seen_event(seen_key, seen_at_ms);
  if (auto st = tx.commit(); !st) {
    keep_in_memory("commit", st.message());
    return;
  }
  if (!messages.empty() && threads_) threads_->shared()->notify_outbox();
}

void BridgeWorker::catch_up(WorkerContext& ctx, int64_t now_ms) {
  // Pub/sub drops what is published while this process restarts; the
  // repairer's log has it. Events already turned into messages are skipped.
  const bool telegram = enabled_ && store_;
  for (auto& lane : lanes_) {
    if (lane.name.find('/') != std::string::npos) continue;  // a node's: its outbox is the catch-up
    const std::string repairer = gateway_component(kRepairer, lane.name);
    if (telegram) {
      pb::Request status;
      status.mutable_repair_status();
      if (auto r = ctx.call(repairer, status, 1000ms, 0); r && r->has_repair_status()) {
        lane.planner.set_paused(r->repair_status().paused());
      }
    }
    pb::Request logs;
    logs.mutable_logs()->set_limit(50);
    auto r = ctx.call(repairer, logs, 1000ms, 0);
    if (r && r->has_logs()) {
      for (const auto& e : r->logs().events()) {
        if (e.at_ms() < now_ms - kCatchUpWindowMs) continue;
        // Telegram's watermark is its own; the channels have theirs (since()).
        if (e.at_ms() < watermark_ms_ && senders_.empty()) continue;
        if (e.at_ms() < watermark_ms_) {
          pb::RepairEvent event = e;
          redact_strings(event, SharedRedactor::instance());
          notify(notice_for(event, lane.prefix + notice_key(e), lane.source), e.at_ms(), now_ms);
          continue;
        }
        handle_repair_event(lane, e, now_ms);
      }
    }
    if (telegram) save(lane, {}, "", 0, now_ms);
  }
}

pb::Reply BridgeWorker::on_request(WorkerContext& /*ctx*/, const pb::Request& request) {
  pb::Reply reply;
  if (request.has_notify_status()) *reply.mutable_notify_status() = notify_status(clock_->wall_ms());
  if (request.has_fleet_deliver()) {
    if (!fleet_hub_) {
      reply.mutable_error()->set_code(pb::Error::REFUSED);
      reply.mutable_error()->set_message("this gwr is not a fleet hub");
    } else if (auto d = deliver(request.fleet_deliver()); d) {
      *reply.mutable_fleet_deliver() = *d;
    } else {
      reply.mutable_error()->set_code(pb::Error::REFUSED);
      reply.mutable_error()->set_message(d.message());
    }
  }
  return reply;
}

SteadyTime BridgeWorker::on_tick(WorkerContext& ctx, SteadyTime now) {
  if (!retiring_.empty()) {
    const bool quiet = std::all_of(retiring_.begin(), retiring_.end(), [](const auto& t) { return t->quiescent(); });
    if (quiet || clock_->steady() >= retire_deadline_) {
      for (auto& t : retiring_) (void)t->stop(0ms);
      retiring_.clear();
    }
  }
  if (start_pending_ && retiring_.empty()) turn_on(ctx);
  const int64_t wall = clock_->wall_ms();
  send_heartbeats(wall);
  if (catching_up() && next_catch_up_ms_ != 0 && wall >= next_catch_up_ms_) {
    catch_up(ctx, wall);
    next_catch_up_ms_ = wall + kCatchUpEveryMs;
  }
  if (notices_ && wall >= next_notice_prune_ms_) {
    notices_->prune(wall);
    next_notice_prune_ms_ = wall + kPruneEveryMs;
  }
  // The next ping is due at its own time, not at the next second's tick
  // (that made every few pings of a 1 s interval come 2 s apart).
  auto wake = now + 1s;
  if (pinger_) {
    if (const int64_t ping = heartbeat_.next_due_ms(wall); ping != std::numeric_limits<int64_t>::max()) {
      wake = std::min(wake, now + std::chrono::milliseconds(std::max<int64_t>(0, ping - wall)));
    }
  }
  if (!enabled_ || !store_) {
    if (wall >= next_activity_ms_) update_activity(ctx, wall);
    return wake;
  }
  for (auto& lane : lanes_) save(lane, lane.planner.on_tick(wall), "", 0, wall);
  if (wall >= next_prune_ms_) {
    store_->prune(wall);
    next_prune_ms_ = wall + kPruneEveryMs;
  }
  if (wall >= next_checkpoint_ms_) {
    store_->checkpoint();  // the Telegram threads never do (see open_store)
    next_checkpoint_ms_ = wall + kCheckpointEveryMs;
  }
  if (wall >= next_activity_ms_) update_activity(ctx, wall);
  int64_t due = std::numeric_limits<int64_t>::max();
  for (const auto& lane : lanes_) due = std::min(due, lane.planner.next_due_ms());
  auto next = wake;
  if (due != std::numeric_limits<int64_t>::max()) {
    next = std::min(next, now + std::chrono::milliseconds(std::max<int64_t>(0, due - wall)));
  }
  return next;
}

void BridgeWorker::update_activity(WorkerContext& ctx, int64_t now_ms) {
  next_activity_ms_ = now_ms + 500;
  // The other channels, after Telegram's own words: "ntfy ok; discord HTTP 404 (2 queued)".
  std::string others;
  for (auto& sender : senders_) {
    const auto& st = sender->status();
    others += "; " + st.name() + " " + channel_state_name(st.state());
    if (st.state() == pb::ChannelStatus::RETRYING || st.state() == pb::ChannelStatus::REJECTED) others += ": " + st.detail();
    if (st.queued() > 0) others += " (" + std::to_string(st.queued()) + " queued)";
  }
  if (!enabled_) {
    ctx.set_activity("Telegram off: no bot token" + others);
    return;
  }
  if (!threads_) {
    ctx.set_activity("restarting the Telegram connection" + others);
    return;
  }
  const auto poller = threads_->shared()->poller();
  const auto sender = threads_->shared()->sender();
  auto retry = [&](int64_t at) { return at > now_ms ? ": retry in " + human_duration(at - now_ms) : std::string(); };
  std::string a;
  if (sender.state == ThreadState::kUnreachable && sender.retry_at_ms > now_ms) {
    a = thread_state_text(sender.state) + retry(sender.retry_at_ms);
  } else {
    a = thread_state_text(poller.state) + retry(poller.retry_at_ms);
  }
  if (sender.state == ThreadState::kRateLimited || sender.state == ThreadState::kTokenRejected) {
    a += std::string("; sender ") + thread_state_text(sender.state) + retry(sender.retry_at_ms);
  }
  a += "; outbox " + std::to_string(store_->count_pending()) + " queued";
  ctx.set_activity(a + others);
}

void BridgeWorker::stop(WorkerContext& /*ctx*/) {
  // Whatever a thread is doing, the process must exit within a second or two.
  if (threads_) abandoned_ |= !threads_->stop(1200ms);
  for (auto& t : retiring_) abandoned_ |= !t->stop(0ms);
  if (pinger_) abandoned_ |= !pinger_->stop(200ms);  // a ping blocked in its 10 s call is left behind
  for (auto& s : senders_) abandoned_ |= !s->stop(200ms);  // so is a notice (it stays queued)
  senders_.clear();
  pinger_.reset();
  threads_.reset();
  retiring_.clear();
}

}  // namespace gwr::telegram
