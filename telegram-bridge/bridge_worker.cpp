#include "telegram-bridge/bridge_worker.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "common/config.h"
#include "common/openclaw_config.h"
#include "common/config_schema.h"
#include "common/bus.h"
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

std::vector<zmq::pollitem_t> BridgeWorker::poll_items() {
  if (!pinger_) return {};
  return {{nullptr, pinger_->notify_fd(), ZMQ_POLLIN, 0}};
}

void BridgeWorker::on_ready(WorkerContext& /*ctx*/, size_t index) {
  if (index != 0 || !pinger_) return;
  const int64_t now = clock_->wall_ms();
  for (auto& r : pinger_->drain()) {
    const bool ok = r.response.completed() && r.response.status >= 200 && r.response.status < 300;
    log::Fields f = {{"url", url_for_logs(r.ping.url)}, {"http_status", r.response.status},
                     {"latency_ms", r.response.latency_us / 1000}};
    if (r.ping.fail) f["repair_id"] = r.ping.repair_id;
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
  const std::string openclaw = openclaw_config_path(current_environment(), cfg.gateway().state_dir());
  if (auto clash = bot_token_clash(cfg.telegram().bot_token(), openclaw)) {
    enabled_ = false;
    start_pending_ = false;
    ctx.set_activity("Telegram off: its bot token is OpenClaw's own bot");
    log::error("telegram_bot_shared", {{"details", *clash}, {"openclaw_config", openclaw}});
    return;
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
    planner_ = NotificationPlanner(PlannerSettings::from_config(cfg));
    for (const auto& stored : store_->incident_states()) planner_.restore_incident(stored);
    for (const auto& w : store_->warnings()) planner_.restore_warning(w);
    if (auto notices = store_->meta_blob("planner")) planner_.restore_notices(*notices);
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
  planner_.set_settings(PlannerSettings::from_config(cfg));
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
  const bool restart = restarts_worker(changed, kTelegramBridge);
  if (enabled_ && (has(changed, "telegram.chat_id") || has(changed, "telegram.allowed_user_ids"))) {
    chat_id_ = cfg.telegram().chat_id();
    if (threads_) threads_->shared()->set_access(AccessPolicy::from_config(cfg.telegram()));
    log::info("telegram_access_changed", {{"chat_id", chat_id_}, {"allowed_users", cfg.telegram().allowed_user_ids_size()}});
  }
  if (has(changed, "telegram.reminder_interval")) planner_.set_settings(PlannerSettings::from_config(cfg));
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

void BridgeWorker::on_event(WorkerContext& /*ctx*/, const pb::Event& event) {
  const int64_t now = clock_->wall_ms();
  if (event.has_gateway_health()) heartbeat_.on_health(event.gateway_health().state(), now);
  if (event.has_repair_event()) heartbeat_.on_repair_event(event.repair_event(), now);
  send_heartbeats(now);
  if (!enabled_ || !store_) return;
  if (event.has_repair_event()) {
    handle_repair_event(event.repair_event(), now);
  } else if (event.has_gateway_health()) {
    // Redacted whole before the planner cuts anything out of it.
    pb::GatewayHealth health = event.gateway_health();
    redact_strings(health, SharedRedactor::instance());
    save(planner_.on_health(health, now), "", 0, now);
  } else if (event.has_alert()) {
    pb::Alert alert = event.alert();
    redact_strings(alert, SharedRedactor::instance());
    save(planner_.on_alert(alert, now), "", 0, now);
  }
}

void BridgeWorker::handle_repair_event(const pb::RepairEvent& e, int64_t now_ms) {
  const std::string key = repair_event_key(e);
  if (store_->seen_event(key)) return;
  pb::RepairEvent event = e;
  redact_strings(event, SharedRedactor::instance());
  save(planner_.on_repair_event(event, now_ms), key, e.at_ms() > 0 ? e.at_ms() : now_ms, now_ms);
}

void BridgeWorker::save(const std::vector<Outgoing>& messages, const std::string& seen_key, int64_t seen_at_ms,
                        int64_t now_ms) {
  auto changes = planner_.take_changes();
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
  for (const auto& [key, state] : changes.incidents) (void)store_->save_incident_state(key, state, now_ms);
  for (const auto& key : changes.incidents_forgotten) (void)store_->forget_incident_state(key);
  for (const auto& w : changes.warnings) (void)store_->save_warning(w);
  for (const auto& key : changes.warnings_removed) (void)store_->delete_warning(key);
  if (changes.misc) (void)store_->set_meta_blob("planner", planner_.notices_bytes());
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
  pb::Request status;
  status.mutable_repair_status();
  if (auto r = ctx.call(kRepairer, status, 1000ms, 0); r && r->has_repair_status()) {
    planner_.set_paused(r->repair_status().paused());
  }
  pb::Request logs;
  logs.mutable_logs()->set_limit(50);
  auto r = ctx.call(kRepairer, logs, 1000ms, 0);
  if (!r || !r->has_logs()) {
    save({}, "", 0, now_ms);
    return;
  }
  for (const auto& e : r->logs().events()) {
    if (e.at_ms() < watermark_ms_ || e.at_ms() < now_ms - kCatchUpWindowMs) continue;
    handle_repair_event(e, now_ms);
  }
  save({}, "", 0, now_ms);
}

pb::Reply BridgeWorker::on_request(WorkerContext& /*ctx*/, const pb::Request& /*request*/) {
  return {};  // nothing to serve beyond ping
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
  if (!enabled_ || !store_) return now + 1s;
  save(planner_.on_tick(wall), "", 0, wall);
  if (wall >= next_catch_up_ms_) {
    catch_up(ctx, wall);
    next_catch_up_ms_ = wall + kCatchUpEveryMs;
  }
  if (wall >= next_prune_ms_) {
    store_->prune(wall);
    next_prune_ms_ = wall + kPruneEveryMs;
  }
  if (wall >= next_checkpoint_ms_) {
    store_->checkpoint();  // the Telegram threads never do (see open_store)
    next_checkpoint_ms_ = wall + kCheckpointEveryMs;
  }
  if (wall >= next_activity_ms_) update_activity(ctx, wall);
  const int64_t due = planner_.next_due_ms();
  auto next = now + 1s;
  if (due != std::numeric_limits<int64_t>::max()) {
    next = std::min(next, now + std::chrono::milliseconds(std::max<int64_t>(0, due - wall)));
  }
  return next;
}

void BridgeWorker::update_activity(WorkerContext& ctx, int64_t now_ms) {
  next_activity_ms_ = now_ms + 500;
  if (!enabled_) {
    ctx.set_activity("Telegram off: no bot token");
    return;
  }
  if (!threads_) {
    ctx.set_activity("restarting the Telegram connection");
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
  ctx.set_activity(a);
}

void BridgeWorker::stop(WorkerContext& /*ctx*/) {
  // Whatever a thread is doing, the process must exit within a second or two.
  if (threads_) abandoned_ |= !threads_->stop(1200ms);
  for (auto& t : retiring_) abandoned_ |= !t->stop(0ms);
  if (pinger_) abandoned_ |= !pinger_->stop(200ms);  // a ping blocked in its 10 s call is left behind
  pinger_.reset();
  threads_.reset();
  retiring_.clear();
}

}  // namespace gwr::telegram
