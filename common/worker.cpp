#include "common/worker.h"

#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <csignal>
#include <cstdio>
#include <cstring>
#include <thread>

#include "common/bus.h"
#include "common/config.h"
#include "common/control.h"
#include "common/decode_watch.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/version.h"
#include "common/zmq_control_port.h"

namespace gwr {

using namespace std::chrono_literals;

WorkerContext::WorkerContext(std::string component, std::string runtime_dir, Environment env, Transport& transport)
    : component_(std::move(component)), runtime_dir_(std::move(runtime_dir)), env_(std::move(env)), transport_(transport) {}

std::vector<pb::GatewayEntryInfo> WorkerContext::watched_gateways() const {
  if (!gateways_.empty()) return gateways_;
  pb::GatewayEntryInfo main;
  main.set_name(kMainGateway);
  main.set_host(config_.gateway().host());
  main.set_port(config_.gateway().port());
  return {main};
}

void WorkerContext::publish_alert(pb::Alert alert) {
  alert.set_component(component_);
  pb::Event ev;
  *ev.mutable_alert() = std::move(alert);
  publish(std::move(ev));
}

void WorkerContext::request_stop(std::string reason) {
  if (!stopping_) {
    stopping_ = true;
    stop_reason_ = std::move(reason);
  }
}

namespace {

// The real transport: a bus publisher and cached control clients, all on
// the worker's main thread.
class ZmqTransport final : public Transport {
 public:
  ZmqTransport(zmq::context_t& ctx, std::string component, std::string runtime_dir)
      : ctx_(ctx), component_(std::move(component)), runtime_dir_(std::move(runtime_dir)) {}
  void open_bus() { bus_ = std::make_unique<BusPublisher>(ctx_, runtime_dir_, component_); }
  void publish(pb::Event event) override {
    if (bus_) bus_->publish(std::move(event));
  }
  Result<pb::Reply> call(const std::string& component, const pb::Request& request, std::chrono::milliseconds timeout,
                         int retries) override {
    for (auto& [name, c] : clients_) {
      if (name == component) return c->call(request, timeout, retries);
    }
    clients_.emplace_back(component, std::make_unique<ControlClient>(ctx_, control_endpoint(runtime_dir_, component),
                                                                     "gwr-" + component_));
    return clients_.back().second->call(request, timeout, retries);
  }
  std::unique_ptr<ControlPort> new_port() override {
    return std::make_unique<ZmqControlPort>(ctx_, runtime_dir_, "gwr-" + component_);
  }
  zmq::context_t& zmq() { return ctx_; }

 private:
  zmq::context_t& ctx_;
  std::string component_;
  std::string runtime_dir_;
  std::unique_ptr<BusPublisher> bus_;
  std::vector<std::pair<std::string, std::unique_ptr<ControlClient>>> clients_;
};

}  // namespace

class WorkerLoop {
 public:
  WorkerLoop(WorkerContext& ctx, ZmqTransport& transport, Worker& worker)
      : ctx_(ctx), transport_(transport), worker_(worker) {}

  // Fetches the config (with secrets) from the supervisor.
  bool fetch_config(std::chrono::milliseconds budget) {
    const auto deadline = std::chrono::steady_clock::now() + budget;
    pb::Request req;
    req.mutable_get_config()->set_include_secrets(true);
    req.mutable_get_config()->set_gateway(ctx_.gateway());
    std::string last_error;
    while (std::chrono::steady_clock::now() < deadline) {
      auto reply = ctx_.call(kSupervisor, req, 1000ms, 0);
      if (reply && reply->has_config()) {
        ctx_.set_config(reply->config().config(), reply->config().version());
        ctx_.set_gateways({reply->config().gateways().begin(), reply->config().gateways().end()});
        ctx_.set_secret_values({reply->config().secret_values().begin(), reply->config().secret_values().end()});
        return true;
      }
      if (reply && reply->has_error() && reply->error().code() == pb::Error::NOT_FOUND) {
        // This gateway left the config: the supervisor stops this worker.
        last_error = describe_error(reply->error());
        break;
      }
      last_error = reply ? describe_error(reply->error()) : reply.message();
      std::this_thread::sleep_for(50ms);
    }
    log::error("config_fetch_failed", {{"error", last_error}});
    return false;
  }

  void apply_config_update(uint64_t version) {
    if (version <= ctx_.config_version()) return;
    const pb::Config before = ctx_.config();
    if (!fetch_config(3s)) return;
    log::set_secrets(ctx_.secret_values());
    log::set_level(ctx_.config().log().level());
    const auto changed = config_diff(before, ctx_.config());
    log::info("config_applied", {{"version", ctx_.config_version()}, {"changed", changed}});
    worker_.on_config(ctx_, changed);
  }

  int run() {
    SignalPipe signals({SIGTERM, SIGINT, SIGHUP});
    ::signal(SIGPIPE, SIG_IGN);
    const pid_t original_parent = ::getppid();
    transport_.open_bus();
    const auto started = std::chrono::steady_clock::now();

    std::vector<std::string> topics = worker_.topics();
    topics.push_back("config_updated");
    topics.push_back("shutdown");
    BusSubscriber sub(transport_.zmq(), ctx_.runtime_dir(), topics);
    ControlServer control(transport_.zmq(), control_endpoint(ctx_.runtime_dir(), ctx_.component()));
    worker_.start(ctx_);
    log::info("worker_started", {{"component", ctx_.component()}, {"config_version", ctx_.config_version()}});

    uint64_t hb_seq = 0;
    DecodeWatch decode_watch(ctx_.component());
    auto next_alert_republish = std::chrono::steady_clock::now() + 30s;
    auto raise = [&](const std::vector<pb::Alert>& alerts) {
      for (const auto& a : alerts) {
        log::write(a.cleared() ? log::Level::kInfo : log::Level::kError,
                   a.cleared() ? "bus_undecodable_cleared" : "bus_undecodable_messages",
                   {{"topic", a.topic()}, {"count", a.count()}, {"detail", a.detail()}});
        ctx_.publish_alert(a);
      }
    };
    auto next_heartbeat = std::chrono::steady_clock::now();
    auto next_tick = std::chrono::steady_clock::now();
    const auto heartbeat_every = std::chrono::milliseconds(ctx_.config().supervisor().heartbeat_interval());

    auto handler = [&](const pb::Request& req) -> pb::Reply {
      if (req.has_ping()) {
        pb::Reply r;
        r.mutable_pong()->set_component(ctx_.component());
        r.mutable_pong()->set_pid(static_cast<uint32_t>(::getpid()));
        r.mutable_pong()->set_version(kGwrVersion);
        return r;
      }
      return worker_.on_request(ctx_, req);
    };

    while (!ctx_.stopping()) {
      auto now = std::chrono::steady_clock::now();
      if (now >= next_heartbeat) {
        pb::Event ev;
        auto* hb = ev.mutable_heartbeat();
        hb->set_component(ctx_.component());
        hb->set_pid(static_cast<uint32_t>(::getpid()));
        hb->set_seq(++hb_seq);
        hb->set_uptime_ms(std::chrono::duration_cast<std::chrono::milliseconds>(now - started).count());
        hb->set_activity(ctx_.activity());
        hb->set_config_version(ctx_.config_version());
        hb->set_decode_errors(sub.dropped());
        hb->set_control_errors(control.malformed());
        ctx_.publish(std::move(ev));
        const int64_t wall = ctx_.clock().wall_ms();
        raise(decode_watch.on_tick(wall));
        if (now >= next_alert_republish) {
          // Level-triggered: a bridge that restarted hears it again.
          for (const auto& a : decode_watch.active()) ctx_.publish_alert(a);
          next_alert_republish = now + 30s;
        }
        // A new PUB socket learns the subscriptions only after its connection
        // handshake, and drops what it sends before that (the "slow joiner").
        // Early heartbeats are therefore repeated quickly, so the supervisor
        // hears from a restarted worker within milliseconds, not a full interval.
        next_heartbeat = now + (now - started < 300ms ? std::min<std::chrono::milliseconds>(20ms, heartbeat_every)
                                                     : heartbeat_every);
      }
      if (now >= next_tick) next_tick = worker_.on_tick(ctx_, now);
      if (::getppid() != original_parent) {
        ctx_.request_stop("supervisor died");
        break;
      }

      std::vector<zmq::pollitem_t> items = {
          {sub.socket().handle(), 0, ZMQ_POLLIN, 0},
          {control.socket().handle(), 0, ZMQ_POLLIN, 0},
          {nullptr, signals.fd(), ZMQ_POLLIN, 0},
      };
      const auto extra = worker_.poll_items();
      items.insert(items.end(), extra.begin(), extra.end());
      now = std::chrono::steady_clock::now();
      auto wake = std::min({next_heartbeat, next_tick, now + 1s});
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now);
      if (wait.count() < 0) wait = 0ms;
      try {
        zmq::poll(items.data(), items.size(), wait);
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) log::warn("poll_failed", {{"error", e.what()}});
        continue;
      }
      if (items[2].revents & ZMQ_POLLIN) {
        for (int s : signals.drain()) {
          if (s == SIGTERM || s == SIGINT) ctx_.request_stop(std::string("signal ") + ::strsignal(s));
        }
      }
      if (items[0].revents & ZMQ_POLLIN) {
        while (auto ev = sub.receive()) {
          if (ctx_.foreign(*ev)) continue;
          if (ev->has_config_updated()) {
            apply_config_update(ev->config_updated().version());
          } else if (ev->has_shutdown()) {
            ctx_.request_stop("shutdown: " + ev->shutdown().reason());
          } else {
            worker_.on_event(ctx_, *ev);
          }
        }
        for (const auto& topic : sub.take_dropped_topics()) raise(decode_watch.on_drop(topic, ctx_.clock().wall_ms()));
      }
      if (items[1].revents & ZMQ_POLLIN) control.serve_pending(handler);
      for (size_t i = 0; i < extra.size(); ++i) {
        if (items[3 + i].revents & (ZMQ_POLLIN | ZMQ_POLLOUT | ZMQ_POLLERR)) worker_.on_ready(ctx_, i);
      }
      // Whatever just happened may have made work due: tick again at once.
      bool any = false;
      for (const auto& item : items) any |= item.revents != 0;
      if (any) next_tick = std::chrono::steady_clock::now();
    }
    log::info("worker_stopping", {{"component", ctx_.component()}, {"reason", ctx_.stop_reason()}});
    worker_.stop(ctx_);
    log::info("worker_stopped", {{"component", ctx_.component()}});
    log::flush();
    return 0;
  }

 private:
  WorkerContext& ctx_;
  ZmqTransport& transport_;
  Worker& worker_;
};

namespace {

void usage(const std::string& component, FILE* out) {
  std::fprintf(out,
               "usage: gwr-%s --runtime-dir DIR%s\n"
               "  Started by gwr-supervisor; fetches its config over DIR/supervisor.sock.\n",
               component.c_str(), is_per_gateway(component) ? " [--gateway NAME]" : "");
}

}  // namespace

int run_worker(const std::string& base, Worker& worker, int argc, char** argv, const Environment& env) {
  std::string runtime_dir;
  std::string gateway = is_per_gateway(base) ? kMainGateway : "";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--runtime-dir" && i + 1 < argc) {
      runtime_dir = argv[++i];
    } else if (a == "--gateway" && i + 1 < argc && is_per_gateway(base)) {
      gateway = argv[++i];
      if (!valid_gateway_name(gateway)) {
        std::fprintf(stderr, "gwr-%s: --gateway: not a gateway name: %s\n", base.c_str(), gateway.c_str());
        return 2;
      }
    } else if (a == "--help" || a == "-h") {
      usage(base, stdout);
      return 0;
    } else if (a == "--version") {
      std::printf("gwr-%s %s\n", base.c_str(), kGwrVersion);
      return 0;
    } else {
      usage(base, stderr);
      return 2;
    }
  }
  if (runtime_dir.empty()) {
    usage(base, stderr);
    return 2;
  }
#ifdef __GLIBC__
  // A few threads, little memory: one malloc arena per thread would only
  // spread the heap thin.
  ::mallopt(M_ARENA_MAX, 2);
#endif
  const std::string component = gateway_component(base, gateway);
  (void)log::init({.process = "gwr-" + component, .gateway = gateway, .log_dir = "", .level = "info"});
  zmq::context_t zctx(1);
  int rc = 1;
  {
    ZmqTransport transport(zctx, component, runtime_dir);
    WorkerContext ctx(component, runtime_dir, env, transport);
    ctx.set_gateway(gateway);
    WorkerLoop loop(ctx, transport, worker);
    if (!loop.fetch_config(5s)) {
      log::error("worker_exit", {{"reason", "no config from gwr-supervisor"}});
      return 1;
    }
    const auto& cfg = ctx.config();
    log::set_secrets(ctx.secret_values());
    auto st = log::init({.process = "gwr-" + component,
                         .gateway = gateway,
                         .log_dir = cfg.paths().log_dir(),
                         .level = cfg.log().level(),
                         .max_size_mb = cfg.log().max_size_mb(),
                         .max_files = cfg.log().max_files()});
    if (!st) log::warn("log_file_unavailable", {{"error", st.message()}});
    rc = loop.run();
  }
  log::shutdown();
  zctx.shutdown();
  return rc;
}

}  // namespace gwr
