// gwr-prober: placeholder worker that only takes part in the process model
// (heartbeats, config, control). Its job is not implemented yet and its
// heartbeat says so.
#include "common/worker.h"

namespace {

class IdleWorker final : public gwr::Worker {
 public:
  void start(gwr::WorkerContext& ctx) override { ctx.set_activity("idle: not implemented yet"); }
  void on_config(gwr::WorkerContext&, const std::vector<std::string>&) override {}
  void on_event(gwr::WorkerContext&, const gwr::pb::Event&) override {}
  gwr::pb::Reply on_request(gwr::WorkerContext&, const gwr::pb::Request&) override { return {}; }
  gwr::SteadyTime on_tick(gwr::WorkerContext&, gwr::SteadyTime now) override { return now + std::chrono::seconds(1); }
  void stop(gwr::WorkerContext&) override {}
};

}  // namespace

int main(int argc, char** argv) {
  IdleWorker worker;
  return gwr::run_worker("prober", worker, argc, argv);
}
