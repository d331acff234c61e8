// gwr-web's Worker (issue #17): started by the supervisor only when
// http.listen is set, so a fault here cannot touch detection, repair or
// Telegram, and the default footprint does not grow. It listens to the bus
// (gateway health, repair events), asks the repairer, the supervisor and the
// Telegram bridge for their state every few seconds, and serves what it
// knows read-only: /metrics (Prometheus), the status page `/` and its data
// as /api/status and /api/history (page.h); the timeline's states and RSS
// samples are kept in web.db (web_store.h). Off loopback, or whenever
// http.token is set, every request needs the token (Authorization: Bearer,
// or ?token=), compared in constant time.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "common/worker.h"
#include "web/http_server.h"
#include "web/metrics.h"
#include "web/page.h"
#include "web/web_store.h"

namespace gwr::web {

class WebWorker final : public Worker {
 public:
  std::vector<std::string> topics() const override { return {"gateway_health", "repair_event"}; }
  void start(WorkerContext& ctx) override;
  void on_config(WorkerContext& ctx, const std::vector<std::string>& changed) override;
  void on_event(WorkerContext& ctx, const pb::Event& event) override;
  pb::Reply on_request(WorkerContext& ctx, const pb::Request& request) override;
  SteadyTime on_tick(WorkerContext& ctx, SteadyTime now) override;
  void stop(WorkerContext& ctx) override;

 private:
  // What the connection threads read: replaced whole, under the mutex.
  struct Shared {
    std::mutex mu;
    std::shared_ptr<const std::string> metrics = std::make_shared<const std::string>();
    std::shared_ptr<const std::string> page = std::make_shared<const std::string>();
    std::shared_ptr<const std::string> status = std::make_shared<const std::string>("{}");
    std::shared_ptr<const std::string> history = std::make_shared<const std::string>("{}");
    std::string token;
    uint64_t scrapes = 0;
  };
  void refresh(WorkerContext& ctx);
  void publish_page();
  static WebResponse handle(Shared& shared, const WebRequest& request);

  void record_health(const pb::GatewayHealth& health, int64_t now_ms);
  void refresh_history(WorkerContext& ctx);

  Metrics metrics_;
  PageData data_;
  std::unique_ptr<WebStore> store_;
  bool history_due_ = true;
  int64_t now_ms_ = 0;
  int64_t next_prune_ms_ = 0;
  SteadyTime next_history_{};
  std::string version_;
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  std::unique_ptr<HttpServer> server_;
  SteadyTime next_refresh_{};
  bool complete_ = false;  // the last refresh heard from every component
};

}  // namespace gwr::web
