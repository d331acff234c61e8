#include "web/web_worker.h"

#include <algorithm>
#include <cstdlib>

#include <unistd.h>

#include "common/components.h"
#include "common/log.h"
#include "common/version.h"

namespace gwr::web {

namespace {
// The repairer of the first gateway gwr watches.
std::string first_repairer(const WorkerContext& ctx) {
  return gateway_component(kRepairer, ctx.gateways().empty() ? std::string(kMainGateway) : ctx.gateways()[0].name());
}
}  // namespace

namespace {

using namespace std::chrono_literals;

constexpr auto kRefreshEvery = 5s;
constexpr int64_t kRssEveryMs = 10 * 60'000;

std::string bearer(const std::string& authorization) {
  static const std::string kPrefix = "Bearer ";
  return authorization.rfind(kPrefix, 0) == 0 ? authorization.substr(kPrefix.size()) : std::string();
}

}  // namespace

void WebWorker::start(WorkerContext& ctx) {
  version_ = kGwrVersion;
  data_.version = version_;
  // Several gateways: the page lists every one; its detail is the first's.
  if (ctx.gateways().size() > 1) {
    data_.gateway = ctx.gateways()[0].name();
    for (size_t i = 1; i < static_cast<size_t>(ctx.gateways().size()); ++i) {
      data_.others.push_back({ctx.gateways()[i].name(), std::nullopt, std::nullopt});
    }
  }
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0) data_.host = host;
  const int64_t now = ctx.clock().wall_ms();
  const std::string path = ctx.config().paths().state_dir() + "/web.db";
  if (auto store = WebStore::open(path)) {
    store_ = std::move(*store);
    data_.states = store_->states(now - kTimelineMs);
    data_.rss = store_->rss(now - kTimelineMs);
  } else {
    log::error("web_store_unavailable", {{"path", path}, {"error", store.message()},
                                         {"effect", "the timeline starts now and is not kept"}});
  }
  const auto& http = ctx.config().http();
  shared_->token = http.token();
  auto where = parse_listen(http.listen());
  if (!where) {
    // The supervisor starts gwr-web only for a valid http.listen; a config
    // that changed under it waits for the restart gwr needs anyway.
    ctx.set_activity("off: http.listen " + where.message());
    log::error("web_off", {{"reason", where.message()}});
    return;
  }
  // Connection threads may outlive this worker: they hold the shared part only.
  auto server = HttpServer::start(*where, [shared = shared_](const WebRequest& r) { return handle(*shared, r); });
  if (!server) {
    log::error("web_listen_failed", {{"listen", http.listen()}, {"error", server.message()}});
    log::flush();
    std::exit(1);  // the supervisor restarts us, with its backoff
  }
  server_ = std::move(*server);
  log::info("web_listening", {{"listen", http.listen()}, {"port", server_->port()}, {"token", !http.token().empty()}});
  ctx.set_activity("serving on " + http.listen());
  refresh(ctx);
}

WebResponse WebWorker::handle(Shared& shared, const WebRequest& r) {
  WebResponse out;
  std::shared_ptr<const std::string> page;
  {
    std::lock_guard lock(shared.mu);
    if (!shared.token.empty()) {
      const auto q = r.query.find("token");
      const std::string given = !r.authorization.empty() ? bearer(r.authorization)
                                : q != r.query.end()     ? q->second
                                                         : std::string();
      if (!equal_in_constant_time(given, shared.token)) {
        out.status = 401;
        out.body = "a token is needed: Authorization: Bearer <http.token>\n";
        out.headers["WWW-Authenticate"] = "Bearer realm=\"gwr\"";
        return out;
      }
    }
    if (r.path == "/metrics") {
      page = shared.metrics;
      ++shared.scrapes;
    } else if (r.path == "/") {
      page = shared.page;
    } else if (r.path == "/api/status") {
      page = shared.status;
    } else if (r.path == "/api/history") {
      page = shared.history;
    }
  }
  if (!page) {
    out.status = 404;
    out.body = "not found: gwr-web serves /, /api/status, /api/history and /metrics\n";
    return out;
  }
  out.body = *page;
  // Nothing on these pages may run or load anything: no script at all, no
  // resource from elsewhere, no framing.
  out.headers["Content-Security-Policy"] =
      "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
  out.headers["Referrer-Policy"] = "no-referrer";
  if (r.path == "/metrics") {
    out.content_type = "text/plain; version=0.0.4; charset=utf-8";
  } else if (r.path == "/") {
    out.content_type = "text/html; charset=utf-8";
  } else {
    out.content_type = "application/json";
  }
  return out;
}

void WebWorker::publish_page() {
  auto metrics = std::make_shared<const std::string>(metrics_.render(version_));
  data_.now_ms = now_ms_;
  auto page = std::make_shared<const std::string>(page_html(data_));
  auto status = std::make_shared<const std::string>(
      status_document(data_).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  auto history = std::make_shared<const std::string>(
      history_document(data_).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  std::lock_guard lock(shared_->mu);
  shared_->metrics = std::move(metrics);
  shared_->page = std::move(page);
  shared_->status = std::move(status);
  shared_->history = std::move(history);
}

void WebWorker::record_health(const pb::GatewayHealth& h, int64_t now) {
  data_.health = h;
  const pb::GatewayState last = data_.states.empty() ? pb::GATEWAY_STATE_UNKNOWN : data_.states.back().state;
  if (data_.states.empty() || h.state() != last) {
    // When the prober says the state began, never before what is recorded.
    const int64_t floor = data_.states.empty() ? 0 : data_.states.back().at_ms;
    const int64_t at = h.state_since_ms() > 0 ? std::clamp(h.state_since_ms(), floor, now) : now;
    const StateChange c{at, h.state()};
    data_.states.push_back(c);
    if (store_) {
      if (auto st = store_->add_state(c); !st) log::warn("web_store_failed", {{"error", st.message()}});
    }
  }
  if (h.rss_bytes() > 0 && (data_.rss.empty() || now - data_.rss.back().at_ms >= kRssEveryMs)) {
    const RssSample s{now, h.rss_bytes()};
    data_.rss.push_back(s);
    if (store_) (void)store_->add_rss(s);
  }
}

void WebWorker::refresh_history(WorkerContext& ctx) {
  pb::Request hist;
  hist.mutable_history()->set_limit(100);
  if (auto r = ctx.call(first_repairer(ctx), hist, 1000ms, 0); r && r->has_history()) {
    data_.history = r->history();
    history_due_ = false;
  }
  pb::Request stats;
  stats.mutable_stats();
  if (auto r = ctx.call(first_repairer(ctx), stats, 1000ms, 0); r && r->has_stats()) data_.stats = r->stats();
}

void WebWorker::refresh(WorkerContext& ctx) {
  now_ms_ = ctx.clock().wall_ms();
  // Short calls: a component that does not answer leaves its part out of
  // the page until it does (its series vanish, which Prometheus reads as
  // "not known" rather than a stale value).
  pb::Request status;
  status.mutable_repair_status();
  auto r = ctx.call(first_repairer(ctx), status, 500ms, 0);
  data_.repair = r && r->has_repair_status() ? std::optional(r->repair_status()) : std::nullopt;
  // /metrics has every gateway's repairer; the page the first one's.
  std::vector<std::string> names;
  for (const auto& g : ctx.gateways()) names.push_back(g.name());
  metrics_.set_gateways(names);
  metrics_.set_repair_status(data_.repair, names.empty() ? "" : names.front());
  for (size_t i = 1; i < names.size(); ++i) {
    auto other = ctx.call(gateway_component(kRepairer, names[i]), status, 500ms, 0);
    auto repair = other && other->has_repair_status() ? std::optional(other->repair_status()) : std::nullopt;
    metrics_.set_repair_status(repair, names[i]);
    if (i - 1 < data_.others.size()) data_.others[i - 1].repair = std::move(repair);
  }
  if (history_due_) refresh_history(ctx);
  pb::Request comps;
  comps.mutable_components();
  auto c = ctx.call(kSupervisor, comps, 500ms, 0);
  metrics_.set_components(c && c->has_components() ? std::optional(c->components()) : std::nullopt);
  pb::Request notify;
  notify.mutable_notify_status();
  auto n = ctx.call(kTelegramBridge, notify, 500ms, 0);
  metrics_.set_notify(n && n->has_notify_status() ? std::optional(n->notify_status()) : std::nullopt);
  // At start the others may not listen yet: ask again soon until all answer.
  complete_ = r && r->has_repair_status() && c && c->has_components() && n && n->has_notify_status();
  publish_page();
}

void WebWorker::on_config(WorkerContext& ctx, const std::vector<std::string>& changed) {
  for (const auto& k : changed) {
    if (k == "http.token") {
      std::lock_guard lock(shared_->mu);
      shared_->token = ctx.config().http().token();
      log::info("web_token_changed", {{"token", !shared_->token.empty()}});
    }
  }
}

void WebWorker::on_event(WorkerContext& ctx, const pb::Event& event) {
  now_ms_ = ctx.clock().wall_ms();
  // /metrics: every gateway (labelled when several). The page: the first.
  if (event.has_gateway_health()) metrics_.on_health(event.gateway_health(), event.gateway());
  if (event.has_repair_event()) metrics_.on_repair_event(event.repair_event(), event.gateway());
  if (!event.gateway().empty() && !ctx.gateways().empty() && event.gateway() != ctx.gateways()[0].name()) {
    // Another gateway: its state on the page's list.
    if (event.has_gateway_health()) {
      for (auto& o : data_.others) {
        if (o.name == event.gateway()) o.health = event.gateway_health();
      }
    }
    publish_page();
    return;
  }
  if (event.has_gateway_health()) record_health(event.gateway_health(), now_ms_);
  if (event.has_repair_event()) {
    // The page's incidents and statistics come from the repairer's history.
    const auto k = event.repair_event().kind();
    if (k == pb::RepairEvent::STARTED || k == pb::RepairEvent::FINISHED) {
      history_due_ = true;
      refresh_history(ctx);
    }
  }
  publish_page();
}

pb::Reply WebWorker::on_request(WorkerContext& /*ctx*/, const pb::Request& /*request*/) { return {}; }

SteadyTime WebWorker::on_tick(WorkerContext& ctx, SteadyTime now) {
  now_ms_ = ctx.clock().wall_ms();
  if (now_ms_ >= next_prune_ms_) {
    const int64_t cut = now_ms_ - kTimelineMs - 24 * 3'600'000LL;
    if (store_) store_->prune(cut);
    // The same in memory: the newest state before the cut opens the window.
    auto& st = data_.states;
    auto first_kept = std::find_if(st.begin(), st.end(), [&](const StateChange& c) { return c.at_ms >= cut; });
    if (first_kept != st.begin()) st.erase(st.begin(), std::prev(first_kept));
    auto& rss = data_.rss;
    rss.erase(rss.begin(), std::find_if(rss.begin(), rss.end(), [&](const RssSample& r) { return r.at_ms >= cut; }));
    next_prune_ms_ = now_ms_ + 3'600'000;
  }
  if (server_ && now >= next_history_) {
    history_due_ = true;  // the statistics' windows move with time
    next_history_ = now + 60s;
  }
  if (server_ && now >= next_refresh_) {
    refresh(ctx);
    next_refresh_ = now + (complete_ ? kRefreshEvery : std::chrono::seconds(1));
    uint64_t scrapes = 0;
    {
      std::lock_guard lock(shared_->mu);
      scrapes = shared_->scrapes;
    }
    ctx.set_activity("serving on " + ctx.config().http().listen() + "; " + std::to_string(scrapes) + " scrapes");
  }
  return std::min(next_refresh_, now + 1s);
}

void WebWorker::stop(WorkerContext& ctx) {
  server_.reset();
  // While gwr-web is not running, nobody watches for the page: "not watched".
  if (store_ && !data_.states.empty() && data_.states.back().state != pb::GATEWAY_STATE_UNKNOWN) {
    (void)store_->add_state({ctx.clock().wall_ms(), pb::GATEWAY_STATE_UNKNOWN});
  }
}

}  // namespace gwr::web
