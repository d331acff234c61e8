#include "web/web_worker.h"

#include <cstdlib>

#include "common/components.h"
#include "common/log.h"
#include "common/version.h"

namespace gwr::web {

namespace {

using namespace std::chrono_literals;

constexpr auto kRefreshEvery = 5s;

std::string bearer(const std::string& authorization) {
  static const std::string kPrefix = "Bearer ";
  return authorization.rfind(kPrefix, 0) == 0 ? authorization.substr(kPrefix.size()) : std::string();
}

}  // namespace

void WebWorker::start(WorkerContext& ctx) {
  version_ = kGwrVersion;
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
  ctx.set_activity("serving /metrics on " + http.listen());
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
    page = shared.metrics;
    if (r.path == "/metrics") ++shared.scrapes;
  }
  if (r.path == "/metrics") {
    out.content_type = "text/plain; version=0.0.4; charset=utf-8";
    out.body = *page;
    return out;
  }
  out.status = 404;
  out.body = "not found: gwr-web serves /metrics\n";
  return out;
}

void WebWorker::publish_page() {
  auto page = std::make_shared<const std::string>(metrics_.render(version_));
  std::lock_guard lock(shared_->mu);
  shared_->metrics = std::move(page);
}

void WebWorker::refresh(WorkerContext& ctx) {
  // Short calls: a component that does not answer leaves its part out of
  // the page until it does (its series vanish, which Prometheus reads as
  // "not known" rather than a stale value).
  pb::Request status;
  status.mutable_repair_status();
  auto r = ctx.call(kRepairer, status, 500ms, 0);
  metrics_.set_repair_status(r && r->has_repair_status() ? std::optional(r->repair_status()) : std::nullopt);
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

void WebWorker::on_event(WorkerContext& /*ctx*/, const pb::Event& event) {
  if (event.has_gateway_health()) metrics_.on_health(event.gateway_health());
  if (event.has_repair_event()) metrics_.on_repair_event(event.repair_event());
  publish_page();
}

pb::Reply WebWorker::on_request(WorkerContext& /*ctx*/, const pb::Request& /*request*/) { return {}; }

SteadyTime WebWorker::on_tick(WorkerContext& ctx, SteadyTime now) {
  if (server_ && now >= next_refresh_) {
    refresh(ctx);
    next_refresh_ = now + (complete_ ? kRefreshEvery : std::chrono::seconds(1));
    uint64_t scrapes = 0;
    {
      std::lock_guard lock(shared_->mu);
      scrapes = shared_->scrapes;
    }
    ctx.set_activity("serving /metrics on " + ctx.config().http().listen() + "; " + std::to_string(scrapes) + " scrapes");
  }
  return std::min(next_refresh_, now + 1s);
}

void WebWorker::stop(WorkerContext& /*ctx*/) { server_.reset(); }

}  // namespace gwr::web
