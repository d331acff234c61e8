// gwr-web's Worker (issue #17): started by the supervisor only when
// http.listen is set, so a fault here cannot touch detection, repair or
// Telegram, and the default footprint does not grow. It listens to the bus
// (gateway health, repair events), asks the repairer, the supervisor and the
// Telegram bridge for their state every few seconds, and serves what it
// knows read-only: /metrics (Prometheus). Off loopback, or whenever
// http.token is set, every request needs the token (Authorization: Bearer,
// or ?token=), compared in constant time.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "common/worker.h"
#include "web/http_server.h"
#include "web/metrics.h"

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
    std::string token;
    uint64_t scrapes = 0;
  };
  void refresh(WorkerContext& ctx);
  void publish_page();
  static WebResponse handle(Shared& shared, const WebRequest& request);

  Metrics metrics_;
  std::string version_;
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  std::unique_ptr<HttpServer> server_;
  SteadyTime next_refresh_{};
  bool complete_ = false;  // the last refresh heard from every component
};

}  // namespace gwr::web
