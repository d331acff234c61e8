#include "fleet/fleet_worker.h"

#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <iterator>

#include "common/components.h"
#include "common/control_port.h"
#include "common/fleet_keys.h"
#include "common/log.h"
#include "common/message_text.h"
#include "common/redact.h"
#include "common/version.h"

namespace gwr::fleet {

using namespace std::chrono_literals;

namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
constexpr int kMaxFrameBytes = 8 << 20;
constexpr int64_t kKeyScanEveryMs = 3000;
constexpr int64_t kAlertRepublishMs = 30'000;
constexpr int64_t kSaveSeenEveryMs = 30'000;
// gwr-fleet waits for its bridge and for a node on its own loop, so each
// wait stays well inside supervisor.heartbeat_timeout (5 s by default).
constexpr auto kDeliverTimeout = 2000ms;
constexpr int64_t kBridgeRetryMs = 2000;  // after a delivery failed: the nodes keep their events meanwhile
constexpr uint32_t kDefaultRelayMs = 2000;
constexpr uint32_t kMaxRelayMs = 3000;
constexpr size_t kDeliverChunk = 16;      // events per call to the bridge
constexpr size_t kMaxBatchBytes = 512 * 1024;
// Time one pass of the loop may spend waiting on the bridge and on nodes
// before it goes round again (and heartbeats).
constexpr auto kPassBudget = 2500ms;

std::string frame_bytes(const pb::FleetFrame& f) {
  std::string bytes;
  (void)f.SerializeToString(&bytes);
  return bytes;
}

std::string property(const zmq::message_t& m, const char* name) {
  const char* v = zmq_msg_gets(const_cast<zmq_msg_t*>(m.handle()), name);
  return v ? std::string(v) : std::string();
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "hub";
  return buf;
}

void common_options(zmq::socket_t& s) {
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxFrameBytes));
  s.set(zmq::sockopt::heartbeat_ivl, 2000);
  s.set(zmq::sockopt::heartbeat_timeout, 6000);
  s.set(zmq::sockopt::heartbeat_ttl, 6000);
}

}  // namespace

FleetWorker::FleetWorker() = default;

FleetWorker::~FleetWorker() {
  close_sockets();
  if (zctx_) zctx_->shutdown();
}

void FleetWorker::close_sockets() {
  if (dealer_ && monitor_) (void)zmq_socket_monitor(dealer_->handle(), nullptr, 0);
  monitor_.reset();
  router_.reset();
  zap_.reset();
  dealer_.reset();
}

bool FleetWorker::quiet(const std::string& key, int64_t now_ms, int64_t every_ms) {
  auto it = quiet_logs_.find(key);
  if (it != quiet_logs_.end() && now_ms - it->second < every_ms) return true;
  quiet_logs_[key] = now_ms;
  if (quiet_logs_.size() > 1000) quiet_logs_.clear();
  return false;
}

std::vector<std::string> FleetWorker::topics() const {
  // A node forwards what the owner must hear of; a hub listens to no one's bus but its own components.
  return {"repair_event", "gateway_health", "alert"};
}

void FleetWorker::off(WorkerContext& ctx, const std::string& why) {
  running_ = false;
  close_sockets();
  ctx.set_activity("fleet off: " + why);
  log::error("fleet_not_running", {{"role", role_}, {"error", why}});
}

void FleetWorker::start(WorkerContext& ctx) {
  clock_ = &ctx.clock();
  const auto& f = ctx.config().fleet();
  role_ = f.role();
  on_config(ctx, {});
  host_ = host_name();
  zctx_ = std::make_unique<zmq::context_t>(1);
  auto store = FleetStore::open(ctx.config().paths().state_dir() + "/fleet.db");
  if (!store) return off(ctx, "fleet.db: " + store.message());
  store_ = std::move(*store);
  try {
    if (role_ == "hub") {
      start_hub(ctx);
    } else if (role_ == "node") {
      start_node(ctx);
    } else {
      off(ctx, "fleet.role is " + role_ + ": nothing to do");
    }
  } catch (const zmq::error_t& e) {
    off(ctx, std::string("ZeroMQ: ") + e.what());
  }
}

void FleetWorker::on_config(WorkerContext& ctx, const std::vector<std::string>& /*changed*/) {
  node_timeout_ms_ = ctx.config().fleet().node_timeout() > 0 ? ctx.config().fleet().node_timeout() : 90'000;
}

// ---------------------------------------------------------------------------
// Hub
// ---------------------------------------------------------------------------

Status FleetWorker::reread_keys(bool log_changes) {
  auto keys = read_authorized_keys(keys_dir_);
  const int64_t now = clock_->wall_ms();
  next_key_scan_ms_ = now + kKeyScanEveryMs;
  if (!keys) {
    // Keep the list it had: a half-written directory must not lock every node out, nor let one in.
    if (log_changes && !quiet("keys:" + keys.message(), now)) log::error("fleet_keys_unreadable", {{"error", keys.message()}});
    return make_error(keys.message());
  }
  std::map<std::string, std::string> now_keys;
  for (const auto& k : *keys) now_keys[k.name] = k.key;
  if (now_keys == keys_) return Status::Ok();
  if (log_changes) {
    std::vector<std::string> added, removed;
    for (const auto& [n, k] : now_keys) {
      auto it = keys_.find(n);
      if (it == keys_.end() || it->second != k) added.push_back(n);
    }
    for (const auto& [n, k] : keys_) {
      auto it = now_keys.find(n);
      if (it == now_keys.end() || it->second != k) removed.push_back(n);
    }
    log::info("fleet_keys_changed", {{"authorized", added}, {"revoked", removed}});
  }
  keys_ = std::move(now_keys);
  book_.set_keys(keys_);
  return Status::Ok();
}

void FleetWorker::start_hub(WorkerContext& ctx) {
  const auto& f = ctx.config().fleet();
  auto secret = read_secret_key(f.secret_key());
  if (!secret) return off(ctx, "fleet.secret_key: " + secret.message());
  auto rows = store_->nodes();
  if (!rows) return off(ctx, "fleet.db: " + rows.message());
  for (const auto& r : *rows) book_.restore(r.name, r.instance, r.seq, r.last_seen_ms, r.gateways);
  keys_dir_ = f.authorized_keys();
  if (auto st = reread_keys(false); !st) return off(ctx, "fleet.authorized_keys: " + st.message());
  book_.set_started(clock_->wall_ms());
  zap_ = std::make_unique<zmq::socket_t>(*zctx_, zmq::socket_type::rep);
  zap_->set(zmq::sockopt::linger, 0);
  zap_->bind(kZapEndpoint);
  router_ = std::make_unique<zmq::socket_t>(*zctx_, zmq::socket_type::router);
  common_options(*router_);
  router_->set(zmq::sockopt::router_mandatory, 1);
  router_->set(zmq::sockopt::curve_server, 1);
  router_->set(zmq::sockopt::curve_secretkey, *secret);
  router_->set(zmq::sockopt::zap_domain, "gwr-fleet");
  try {
    router_->bind(f.listen());
  } catch (const zmq::error_t& e) {
    return off(ctx, "cannot listen on " + f.listen() + ": " + e.what());
  }
  running_ = true;
  std::vector<std::string> names;
  for (const auto& [n, k] : keys_) names.push_back(n);
  log::info("fleet_hub_listening", {{"listen", f.listen()}, {"authorized", names}, {"node_timeout_ms", node_timeout_ms_}});
  ctx.set_activity("hub: listening on " + f.listen());
}

void FleetWorker::serve_zap() {
  std::vector<zmq::message_t> req;
  while (zap_ && zmq::recv_multipart(*zap_, std::back_inserter(req), zmq::recv_flags::dontwait)) {
    // version, request id, domain, address, routing id, mechanism, credentials...
    const int64_t now = clock_->wall_ms();
    if (now >= next_key_scan_ms_ - kKeyScanEveryMs + 1000) (void)reread_keys(true);  // a new key works within a second
    std::string status = "400";
    std::string text = "not an authorized node key";
    std::string user;
    const std::string address = req.size() > 3 ? req[3].to_string() : "";
    std::string key_text;
    if (req.size() >= 7 && req[5].to_string() == "CURVE" && req[6].size() == 32) {
      std::array<char, kZ85KeyLength + 1> z85{};
      if (zmq_z85_encode(z85.data(), static_cast<const uint8_t*>(req[6].data()), 32)) key_text = z85.data();
      for (const auto& [name, key] : keys_) {
        if (key == key_text) {
          status = "200";
          text = "OK";
          user = name + " " + key;
        }
      }
    } else {
      text = "CURVE only";
    }
    if (status != "200" && !quiet("zap:" + key_text + address.substr(0, address.find(':')), now)) {
      log::warn("fleet_node_refused", {{"address", address}, {"public_key", key_text}, {"reason", text}});
    }
    std::array<zmq::const_buffer, 6> rep = {zmq::buffer(std::string_view("1.0")),
                                            zmq::buffer(req.size() > 1 ? req[1].to_string_view() : std::string_view()),
                                            zmq::buffer(std::string_view(status)),
                                            zmq::buffer(std::string_view(text)),
                                            zmq::buffer(std::string_view(user)),
                                            zmq::buffer(std::string_view())};
    (void)zmq::send_multipart(*zap_, rep);
    req.clear();
  }
}

std::optional<FleetWorker::Incoming> FleetWorker::receive_router() {
  std::vector<zmq::message_t> parts;
  if (!router_ || !zmq::recv_multipart(*router_, std::back_inserter(parts), zmq::recv_flags::dontwait)) return std::nullopt;
  Incoming in;
  if (parts.size() != 2) {
    in.payload.clear();
    in.routing = parts.empty() ? "" : parts[0].to_string();
    in.user_id = "";
    return in;  // refused below: not a frame of ours
  }
  in.routing = parts[0].to_string();
  in.user_id = property(parts[1], "User-Id");
  in.address = property(parts[1], "Peer-Address");
  in.payload = parts[1].to_string();
  return in;
}

void FleetWorker::send_to(const std::string& routing, const pb::FleetFrame& frame) {
  if (!router_) return;
  const std::string bytes = frame_bytes(frame);
  std::array<zmq::const_buffer, 2> parts = {zmq::buffer(routing), zmq::buffer(bytes)};
  try {
    (void)zmq::send_multipart(*router_, parts, zmq::send_flags::dontwait);
  } catch (const zmq::error_t&) {
    // EHOSTUNREACH: it went away; it says hello again when it is back.
  }
}

void FleetWorker::save_node(const std::string& name) {
  const auto* n = book_.find(name);
  if (!n || !store_) return;
  FleetStore::NodeRow row{n->name, n->instance, n->seq, n->last_seen_ms, n->gateways};
  if (auto st = store_->save_node(row); !st) {
    if (!quiet("save:" + name, clock_->wall_ms())) log::error("fleet_db_write_failed", {{"node", name}, {"error", st.message()}});
  }
  saved_seen_ms_[name] = n->last_seen_ms;
}

int64_t FleetWorker::budget_left_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(pass_started_ + kPassBudget -
                                                               std::chrono::steady_clock::now())
      .count();
}

void FleetWorker::drain_hub(WorkerContext& ctx) {
  // What waited first, then the socket, while the pass has time for a call
  // to the bridge; the rest waits in the socket (its high-water mark holds
  // the nodes back) until the next pass.
  while (!stash_.empty() && budget_left_ms() >= kDeliverTimeout.count()) {
    Incoming in = std::move(stash_.front());
    stash_.pop_front();
    if (!handle_hub_frame(ctx, in)) {
      stash_.push_front(std::move(in));
      return;
    }
  }
  while (stash_.empty() && budget_left_ms() >= kDeliverTimeout.count()) {
    auto in = receive_router();
    if (!in) return;
    if (!handle_hub_frame(ctx, *in)) stash_.push_front(std::move(*in));
  }
}

bool FleetWorker::deliver_events(WorkerContext& ctx, const std::string& name, const std::string& routing,
                                 const HubBook::Taken& t) {
  // To the bridge in small parts (each event may cost it a write), each
  // acknowledged once it is stored here too: a part that fails, and all
  // after it, come again.
  const int64_t now = clock_->wall_ms();
  bool finished = true;
  size_t done = 0;
  std::optional<pb::FleetFrame> ack;
  while (done < t.events.size()) {
    pb::Request req;
    auto* d = req.mutable_fleet_deliver();
    d->set_node(name);
    const size_t first = done;
    for (; done < t.events.size() && done - first < kDeliverChunk; ++done) *d->add_events() = t.events[done];
    if (const auto* n = book_.find(name)) {
      for (const auto& g : n->gateways) *d->add_gateways() = g;
    }
    auto r = ctx.call(kTelegramBridge, req, kDeliverTimeout, 0);
    if (!r || !r->has_fleet_deliver()) {
      bridge_retry_at_ms_ = clock_->wall_ms() + kBridgeRetryMs;
      if (!quiet("deliver:" + name, now, 30'000)) {
        // Not acknowledged: the node keeps them and sends them again.
        log::warn("fleet_delivery_failed", {{"node", name}, {"events", t.events.size() - first},
                                            {"error", r ? describe_error(r->error()) : r.message()},
                                            {"effect", "kept in the node's outbox; sent again"}});
      }
      break;
    }
    ack = book_.delivered(name, t.last_seq - (t.events.size() - done));
    save_node(name);  // stored before acknowledged: a hub that dies between them says nothing twice
    handled_since_trim_ += d->events_size();
    if (done < t.events.size() && budget_left_ms() < kDeliverTimeout.count()) {
      finished = false;  // the rest next pass: the loop must go round and heartbeat
      break;
    }
  }
  if (ack) {
    send_to(routing, *ack);
    log::debug("fleet_events_delivered", {{"node", name}, {"seq", ack->ack().seq()}, {"count", done}});
  }
  return finished;
}

bool FleetWorker::handle_hub_frame(WorkerContext& ctx, const Incoming& in) {
  const int64_t now = clock_->wall_ms();
  const auto name = book_.authorized(in.user_id);
  if (!name) {
    // Its key was revoked since it connected (ZAP let it in then).
    if (!quiet("revoked:" + in.user_id, now)) {
      log::warn("fleet_frame_refused", {{"peer", in.user_id.substr(0, in.user_id.find(' '))}, {"address", in.address},
                                        {"reason", "key not authorized (any more)"}});
    }
    pb::FleetFrame r = fleet_frame();
    r.mutable_refused()->set_reason("this node's key is not authorized on the hub");
    send_to(in.routing, r);
    return true;
  }
  pb::FleetFrame f;
  if (in.payload.empty() || !f.ParseFromString(in.payload) || f.body_case() == pb::FleetFrame::BODY_NOT_SET) {
    if (!quiet("undecodable:" + *name, now)) {
      log::warn("fleet_frame_undecodable", {{"node", *name}, {"bytes", in.payload.size()}});
    }
    return true;
  }
  switch (f.body_case()) {
    case pb::FleetFrame::kHello: {
      auto a = book_.on_hello(*name, in.routing, in.address, f.hello(), now, node_timeout_ms_);
      if (a.reply && a.reply->has_welcome()) a.reply->mutable_welcome()->set_hub(host_);
      const bool ok = a.reply && a.reply->has_welcome();
      if (!a.log_event.empty() && (ok || !quiet("hello:" + *name + a.log_event, now))) {
        log::write(ok ? log::Level::kInfo : log::Level::kWarn, a.log_event,
                   {{"node", *name}, {"address", in.address}, {"instance", f.hello().instance().substr(0, 64)},
                    {"version", f.hello().version().substr(0, 40)}, {"gateways", f.hello().gateways_size()},
                    {"acked_seq", ok ? a.reply->welcome().acked_seq() : 0}, {"detail", a.detail}});
      }
      if (a.reply) send_to(in.routing, *a.reply);
      if (ok) save_node(*name);
      return true;
    }
    case pb::FleetFrame::kEvents: {
      auto t = book_.on_events(*name, in.routing, f.events(), now);
      if (t.lost > 0) {
        log::warn("fleet_events_lost", {{"node", *name}, {"count", t.lost},
                                        {"reason", "the node's outbox let them go before the hub had them"}});
      }
      if (t.duplicates > 0) log::debug("fleet_events_duplicate", {{"node", *name}, {"count", t.duplicates}});
      if (!t.events.empty()) {
        if (now < bridge_retry_at_ms_) return true;  // not acknowledged: sent again later
        return deliver_events(ctx, *name, in.routing, t);
      } else if (t.reply) {
        if (t.reply->has_refused() && !quiet("hello-first:" + *name, now)) {
          log::info("fleet_events_before_hello", {{"node", *name}});
        }
        send_to(in.routing, *t.reply);
        if (t.lost > 0) save_node(*name);
      }
      return true;
    }
    case pb::FleetFrame::kBeat:
    case pb::FleetFrame::kAnswer: {
      // An answer outside a relay came too late: its relay already said "no answer".
      if (auto r = book_.on_beat(*name, in.routing, now); r && f.has_beat()) send_to(in.routing, *r);
      if (auto it = saved_seen_ms_.find(*name); it == saved_seen_ms_.end() || now - it->second >= kSaveSeenEveryMs) {
        save_node(*name);
      }
      return true;
    }
    default:
      return true;  // a node has no business sending welcomes, acks or calls
  }
}

pb::Reply FleetWorker::relay(const pb::FleetRelayRequest& rq) {
  const int64_t started = clock_->wall_ms();
  const auto* n = book_.find(rq.node());
  const std::string actor = request_actor(rq.request());
  auto done = [&](pb::Reply reply, const std::string& outcome) {
    log::info("fleet_relay", {{"node", rq.node().substr(0, 40)}, {"component", rq.component().substr(0, 60)},
                              {"request", request_kind(rq.request())}, {"actor", actor}, {"outcome", outcome},
                              {"ms", clock_->wall_ms() - started}});
    return reply;
  };
  if (!running_) return done(error_reply(pb::Error::UNAVAILABLE, "gwr-fleet is not running"), "fleet off");
  if (n == nullptr || n->key.empty()) {
    return done(error_reply(pb::Error::NOT_FOUND, "no node named " + rq.node().substr(0, 40)), "unknown node");
  }
  if (n->routing.empty() || n->silent || started - n->last_seen_ms > node_timeout_ms_) {
    return done(error_reply(pb::Error::UNAVAILABLE, "node " + n->name + " is not connected"), "node not connected");
  }
  auto wait = std::chrono::milliseconds(rq.timeout_ms() > 0 ? std::min<uint32_t>(rq.timeout_ms(), kMaxRelayMs)
                                                             : kDefaultRelayMs);
  // Several relays in one pass (a /status of many nodes) share one budget:
  // the loop must go round and heartbeat.
  const auto left_in_pass = std::chrono::milliseconds(budget_left_ms());
  if (left_in_pass.count() < 100) {
    return done(error_reply(pb::Error::UNAVAILABLE, "gwr-fleet is busy; ask again"), "busy");
  }
  wait = std::min(wait, left_in_pass);
  pb::FleetFrame f = fleet_frame();
  auto* call = f.mutable_call();
  call->set_id(++relay_seq_);
  call->set_component(rq.component());
  *call->mutable_request() = rq.request();
  const std::string routing = n->routing;
  const std::string bytes = frame_bytes(f);
  std::array<zmq::const_buffer, 2> parts = {zmq::buffer(routing), zmq::buffer(bytes)};
  try {
    if (!zmq::send_multipart(*router_, parts, zmq::send_flags::dontwait)) {
      return done(error_reply(pb::Error::UNAVAILABLE, "node " + n->name + " cannot take a message now"), "send blocked");
    }
  } catch (const zmq::error_t& e) {
    return done(error_reply(pb::Error::UNAVAILABLE, "node " + n->name + " is not connected"), "unreachable");
  }
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    std::array<zmq::pollitem_t, 2> items = {zmq::pollitem_t{router_->handle(), 0, ZMQ_POLLIN, 0},
                                            zmq::pollitem_t{zap_->handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items.data(), items.size(), left);
    } catch (const zmq::error_t&) {
      continue;
    }
    if (items[1].revents & ZMQ_POLLIN) serve_zap();
    while (auto in = receive_router()) {
      pb::FleetFrame answer;
      if (in->routing == routing && book_.authorized(in->user_id) == rq.node() && answer.ParseFromString(in->payload) &&
          answer.has_answer() && answer.answer().id() == call->id()) {
        (void)book_.on_beat(rq.node(), routing, clock_->wall_ms());
        const auto& reply = answer.answer().reply();
        return done(reply, reply.has_error() ? "error: " + describe_error(reply.error()) : "ok");
      }
      stash_.push_back(std::move(*in));  // handled once this relay is done
    }
  }
  return done(error_reply(pb::Error::UNAVAILABLE, "node " + n->name + " did not answer within " +
                                                      std::to_string(wait.count() / 1000.0).substr(0, 3) + " s"),
              "no answer");
}

void FleetWorker::hub_tick(WorkerContext& ctx, int64_t now_ms) {
  drain_hub(ctx);
  if (now_ms >= next_key_scan_ms_) (void)reread_keys(true);
  for (const auto& a : book_.on_tick(now_ms, node_timeout_ms_)) {
    log::write(a.cleared() ? log::Level::kInfo : log::Level::kWarn, a.cleared() ? "fleet_node_back" : "fleet_node_silent",
               {{"node", a.topic()}, {"last_seen_ms", a.last_seen_ms()}, {"node_timeout_ms", node_timeout_ms_}});
    ctx.publish_alert(a);
  }
  if (now_ms >= next_alert_republish_ms_) {
    for (const auto& a : book_.active()) ctx.publish_alert(a);
    next_alert_republish_ms_ = now_ms + kAlertRepublishMs;
  }
  for (const auto& [name, n] : book_.nodes()) {
    auto it = saved_seen_ms_.find(name);
    if (n.last_seen_ms > 0 && it != saved_seen_ms_.end() && n.last_seen_ms - it->second >= kSaveSeenEveryMs) save_node(name);
  }
  const auto st = book_.status(now_ms, node_timeout_ms_);
  int connected = 0;
  for (const auto& n : st.nodes()) connected += n.connected() ? 1 : 0;
  ctx.set_activity("hub: " + std::to_string(connected) + " of " + std::to_string(st.nodes_size()) + " nodes connected");
}

// ---------------------------------------------------------------------------
// Node
// ---------------------------------------------------------------------------

void FleetWorker::start_node(WorkerContext& ctx) {
  const auto& f = ctx.config().fleet();
  auto secret = read_secret_key(f.secret_key());
  if (!secret) return off(ctx, "fleet.secret_key: " + secret.message());
  auto pub = public_of_secret(*secret);
  if (!pub) return off(ctx, "fleet.secret_key: " + pub.message());
  auto server = read_public_key(f.hub_public_key());
  if (!server) return off(ctx, "fleet.hub_public_key: " + server.message());
  auto instance = store_->instance();
  if (!instance) return off(ctx, "fleet.db: " + instance.message());
  NodeLink::Settings s;
  s.instance = *instance;
  s.version = kGwrVersion;
  for (auto g : ctx.watched_gateways()) {
    g.clear_state_dir();  // a path on this host: none of the hub's business
    gateway_names_.push_back(g.name());
    s.gateways.push_back(g);
  }
  link_settings_ = s;
  link_ = std::make_unique<NodeLink>(std::move(s));
  dealer_ = std::make_unique<zmq::socket_t>(*zctx_, zmq::socket_type::dealer);
  common_options(*dealer_);
  dealer_->set(zmq::sockopt::immediate, 1);  // the outbox queues; libzmq must not
  dealer_->set(zmq::sockopt::sndhwm, 256);
  dealer_->set(zmq::sockopt::reconnect_ivl, 200);
  dealer_->set(zmq::sockopt::reconnect_ivl_max, 2000);
  dealer_->set(zmq::sockopt::curve_serverkey, *server);
  dealer_->set(zmq::sockopt::curve_publickey, *pub);
  dealer_->set(zmq::sockopt::curve_secretkey, *secret);
  // The hub's ZAP refusal reaches a node only as a failed handshake: watch
  // for it, so that the node's log says what is wrong.
  if (zmq_socket_monitor(dealer_->handle(), "inproc://gwr-fleet-monitor",
                         ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                             ZMQ_EVENT_HANDSHAKE_SUCCEEDED) == 0) {
    monitor_ = std::make_unique<zmq::socket_t>(*zctx_, zmq::socket_type::pair);
    monitor_->set(zmq::sockopt::linger, 0);
    monitor_->connect("inproc://gwr-fleet-monitor");
  }
  try {
    dealer_->connect(f.hub());
  } catch (const zmq::error_t& e) {
    return off(ctx, "cannot connect to " + f.hub() + ": " + e.what());
  }
  running_ = true;
  log::info("fleet_node_started", {{"hub", f.hub()}, {"public_key", *pub}, {"instance", *instance},
                                   {"outbox", store_->count() ? *store_->count() : -1}, {"last_seq", store_->last_seq()}});
  ctx.set_activity("node: connecting to " + f.hub());
}

void FleetWorker::keep_pending(int64_t now_ms) {
  if (pending_.empty()) return;
  int64_t dropped = 0;
  auto seq = store_->append_all(pending_, now_ms, &dropped);
  handled_since_trim_ += static_cast<int64_t>(pending_.size());
  if (!seq) {
    if (!quiet("outbox", now_ms)) {
      log::error("fleet_outbox_failed", {{"error", seq.message()}, {"events", pending_.size()},
                                         {"effect", "kept in memory and written again; lost if gwr-fleet stops first"}});
    }
    if (pending_.size() > static_cast<size_t>(kOutboxMax)) pending_.erase(pending_.begin());
    return;  // kept: the next tick writes them again
  }
  pending_.clear();
  if (dropped > 0) {
    log::warn("fleet_outbox_full", {{"dropped", dropped}, {"max", kOutboxMax},
                                    {"effect", "the oldest events, never acknowledged by the hub, were let go"}});
  }
}

void FleetWorker::trim_memory(int64_t now_ms) {
  // A burst (a node's outbox after the hub was away) leaves freed message
  // buffers in malloc's arenas: give them back once it is over.
  if (handled_since_trim_ == 0 || now_ms < next_trim_ms_) return;
  handled_since_trim_ = 0;
  next_trim_ms_ = now_ms + 10'000;
#ifdef __GLIBC__
  ::malloc_trim(0);
#endif
}

void FleetWorker::on_event(WorkerContext& /*ctx*/, const pb::Event& event) {
  // Kept in pending_ and written at the next tick, with what else came in
  // this pass (keep_pending).
  if (role_ != "node" || !running_) return;
  if (event.has_gateway_health()) {
    const std::string sig = health_signature(event.gateway_health());
    auto& last = health_sent_[event.gateway()];
    if (last == sig) return;  // a republish says nothing new
    last = sig;
  } else if (!event.has_repair_event() && !event.has_alert()) {
    return;
  }
  pending_.push_back(event);
  redact_strings(pending_.back(), SharedRedactor::instance());  // as the answer to a call, before it leaves this host
}

void FleetWorker::answer_call(WorkerContext& ctx, const pb::FleetCall& call) {
  const int64_t started = clock_->wall_ms();
  pb::FleetFrame f = fleet_frame();
  f.mutable_answer()->set_id(call.id());
  pb::Reply& reply = *f.mutable_answer()->mutable_reply();
  const std::string why = refusal_of_call(call, gateway_names_);
  const std::string actor = request_actor(call.request());
  std::string outcome;
  if (!why.empty()) {
    reply = error_reply(pb::Error::REFUSED, "not done on this node: " + why);
    outcome = "refused: " + why;
  } else {
    pb::Request request = call.request();
    mark_relayed(request, hub_name_);
    auto r = ctx.call(call.component(), request, 2000ms, 0);
    if (r) {
      reply = *r;
      // The last look for this host's secrets before the answer leaves it
      // (the hub's redactor knows only the hub's).
      redact_strings(reply, SharedRedactor::instance());
      outcome = r->has_error() ? "error: " + describe_error(r->error()) : "ok";
    } else {
      reply = error_reply(pb::Error::UNAVAILABLE, call.component() + " on this node: " + r.message());
      outcome = "unavailable";
    }
  }
  // Audited here as the hub said who asked; the repairer records it too.
  log::write(why.empty() ? log::Level::kInfo : log::Level::kWarn, "fleet_call",
             {{"hub", hub_name_}, {"component", call.component().substr(0, 60)}, {"request", request_kind(call.request())},
              {"actor", actor}, {"outcome", outcome}, {"ms", clock_->wall_ms() - started}});
  const std::string bytes = frame_bytes(f);
  try {
    (void)dealer_->send(zmq::buffer(bytes), zmq::send_flags::dontwait);
  } catch (const zmq::error_t&) {
  }
}

void FleetWorker::node_monitor() {
  std::vector<zmq::message_t> parts;
  while (monitor_ && zmq::recv_multipart(*monitor_, std::back_inserter(parts), zmq::recv_flags::dontwait)) {
    if (parts.size() < 2 || parts[0].size() < 6) {
      parts.clear();
      continue;
    }
    uint16_t event = 0;
    uint32_t value = 0;
    std::memcpy(&event, parts[0].data(), 2);
    std::memcpy(&value, static_cast<const char*>(parts[0].data()) + 2, 4);
    const std::string endpoint = parts[1].to_string();
    parts.clear();
    const int64_t now = clock_->wall_ms();
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH && !quiet("auth", now)) {
      log::error("fleet_key_refused_by_hub", {{"hub", endpoint}, {"status", value},
                                              {"fix", "copy this node's NODE.pub into the hub's fleet.authorized_keys"}});
    } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL && !quiet("protocol", now)) {
      log::error("fleet_handshake_failed", {{"hub", endpoint}, {"code", value},
                                            {"fix", "is fleet.hub_public_key the hub's public key, and fleet.hub a gwr hub?"}});
    } else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      quiet_logs_.erase("auth");
      quiet_logs_.erase("protocol");
    }
  }
}

void FleetWorker::node_receive(WorkerContext& ctx) {
  zmq::message_t m;
  while (dealer_ && dealer_->recv(m, zmq::recv_flags::dontwait)) {
    const int64_t now = clock_->wall_ms();
    pb::FleetFrame f;
    if (!f.ParseFromArray(m.data(), static_cast<int>(m.size()))) {
      if (!quiet("undecodable", now)) log::warn("fleet_frame_undecodable", {{"from", "hub"}, {"bytes", m.size()}});
      continue;
    }
    auto heard = link_->on_frame(f, now);
    if (heard.welcomed && heard.ack > store_->last_seq()) {
      // The hub has more of this instance than this outbox ever numbered
      // (fleet.db restored from a backup): new events would pass for old
      // ones. A new instance starts a new sequence at the hub.
      auto fresh = store_->new_instance();
      log::warn("fleet_sequence_behind_hub", {{"hub_seq", heard.ack}, {"last_seq", store_->last_seq()},
                                              {"instance", fresh ? *fresh : fresh.message()}});
      if (fresh) {
        link_settings_.instance = *fresh;
        link_ = std::make_unique<NodeLink>(link_settings_);
      }
      continue;
    }
    if (heard.welcomed) {
      hub_name_ = heard.hub.substr(0, 64);
      log::info("fleet_hub_connected", {{"hub", hub_name_}, {"acked_seq", heard.ack}, {"last_seq", store_->last_seq()}});
      was_up_ = true;
    }
    if (heard.ack > 0) {
      if (auto st = store_->remove_through(heard.ack); !st && !quiet("remove", now)) {
        log::error("fleet_outbox_failed", {{"error", st.message()}, {"op", "remove"}});
      }
    }
    if (!heard.refused.empty() && !quiet("refused:" + heard.refused, now)) {
      log::warn("fleet_refused_by_hub", {{"reason", heard.refused.substr(0, 300)}});
    }
    if (heard.call) {
      answer_call(ctx, *heard.call);
      return;  // one call a pass: each may wait for a component, and the loop must heartbeat
    }
  }
}

void FleetWorker::node_flush(WorkerContext& ctx, int64_t now_ms) {
  if (!link_ || !dealer_) return;
  auto oldest = store_->oldest_seq();
  auto read = [this](uint64_t after, size_t n) {
    auto r = store_->after(after, n);
    if (!r) return std::vector<pb::FleetEnvelope>{};
    // A frame stays well under what the hub's bridge takes in one request (4 MB).
    size_t bytes = 0;
    size_t keep = 0;
    for (; keep < r->size(); ++keep) {
      bytes += (*r)[keep].ByteSizeLong();
      if (keep > 0 && bytes > kMaxBatchBytes) break;
    }
    r->resize(keep);
    return std::move(*r);
  };
  auto frames = link_->on_tick(now_ms, store_->last_seq(), oldest ? *oldest : 0, read);
  if (link_->lost()) {
    log::warn("fleet_hub_lost", {{"quiet_ms", now_ms - link_->last_heard_ms()},
                                 {"effect", "events wait in the outbox; repairs go on here"}});
    was_up_ = false;
  }
  bool failed = false;
  for (const auto& f : frames) {
    if (!failed) {
      const std::string bytes = frame_bytes(f);
      try {
        failed = !dealer_->send(zmq::buffer(bytes), zmq::send_flags::dontwait);
      } catch (const zmq::error_t&) {
        failed = true;
      }
    }
    if (failed) link_->send_failed(f);
  }
  const uint64_t waiting = store_->last_seq() > link_->acked() ? store_->last_seq() - link_->acked() : 0;
  ctx.set_activity(link_->up() ? "node: hub " + hub_name_ + " connected · " + std::to_string(waiting) + " events unacknowledged"
                               : "node: hub unreachable · " + std::to_string(waiting) + " events waiting");
}

// ---------------------------------------------------------------------------

pb::Reply FleetWorker::on_request(WorkerContext& ctx, const pb::Request& request) {
  if (request.has_fleet_status()) {
    pb::Reply r;
    const int64_t now = clock_->wall_ms();
    if (role_ == "hub") {
      *r.mutable_fleet_status() = book_.status(now, node_timeout_ms_);
    } else {
      auto* s = r.mutable_fleet_status();
      s->set_role(role_);
      s->set_hub(ctx.config().fleet().hub());
      if (link_) {
        s->set_hub_connected(link_->up());
        s->set_hub_last_seen_ms(link_->last_heard_ms());
        s->set_sent_seq(link_->sent());
        s->set_acked_seq(link_->acked());
      }
      if (store_) {
        if (auto c = store_->count(); c) s->set_outbox(static_cast<uint64_t>(*c));
      }
    }
    return r;
  }
  if (request.has_fleet_relay()) {
    if (role_ != "hub") return error_reply(pb::Error::REFUSED, "only a hub relays to nodes");
    return relay(request.fleet_relay());
  }
  return pb::Reply();
}

SteadyTime FleetWorker::on_tick(WorkerContext& ctx, SteadyTime now) {
  pass_started_ = std::chrono::steady_clock::now();
  if (!running_) return now + 5s;
  const int64_t wall = clock_->wall_ms();
  if (role_ == "hub") {
    hub_tick(ctx, wall);
    trim_memory(wall);
    return stash_.empty() ? now + 500ms : now;
  }
  keep_pending(wall);
  node_flush(ctx, wall);
  trim_memory(wall);
  return now + 200ms;
}

std::vector<zmq::pollitem_t> FleetWorker::poll_items() {
  std::vector<zmq::pollitem_t> items;
  if (!running_) return items;
  if (router_) items.push_back({router_->handle(), 0, ZMQ_POLLIN, 0});
  if (zap_) items.push_back({zap_->handle(), 0, ZMQ_POLLIN, 0});
  if (dealer_) items.push_back({dealer_->handle(), 0, ZMQ_POLLIN, 0});
  if (dealer_ && monitor_) items.push_back({monitor_->handle(), 0, ZMQ_POLLIN, 0});
  return items;
}

void FleetWorker::on_ready(WorkerContext& ctx, size_t index) {
  try {
    if (role_ == "hub") {
      if (index == 1) {
        serve_zap();
        return;
      }
      drain_hub(ctx);
    } else if (index == 1) {
      node_monitor();
    } else {
      node_receive(ctx);
    }
  } catch (const zmq::error_t& e) {
    if (!quiet(std::string("zmq:") + e.what(), clock_->wall_ms())) log::warn("fleet_socket_error", {{"error", e.what()}});
  }
}

void FleetWorker::stop(WorkerContext& /*ctx*/) {
  if (role_ == "node" && store_) keep_pending(clock_->wall_ms());
  if (role_ == "hub") {
    for (const auto& [name, n] : book_.nodes()) {
      if (n.last_seen_ms > 0) save_node(name);
    }
  }
  close_sockets();
  running_ = false;
}

}  // namespace gwr::fleet
