// The skeleton every worker process shares: fetch the config from the
// supervisor, log, heartbeat on the bus, serve the control socket, apply
// config updates, exit on Shutdown, SIGTERM or the supervisor's death.
// A worker plugs its behaviour in through the Worker interface.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "common/clock.h"
#include "common/components.h"
#include "common/control_port.h"
#include "common/environment.h"
#include "common/result.h"
#include "gwr.pb.h"

namespace gwr {

// The bus and the other components' control sockets, as a worker uses them.
// The real one is zmq (run_worker builds it); tests record and answer.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual void publish(pb::Event event) = 0;
  virtual Result<pb::Reply> call(const std::string& component, const pb::Request& request,
                                 std::chrono::milliseconds timeout, int retries) = 0;
  // A ControlPort for a thread of the worker's own (sockets belong to the
  // thread that makes them).
  virtual std::unique_ptr<ControlPort> new_port() = 0;
};

class WorkerContext {
 public:
  WorkerContext(std::string component, std::string runtime_dir, Environment env, Transport& transport);

  const std::string& component() const { return component_; }
  // The gateway a per-gateway worker (prober, repairer) works for ("main"
  // unless started with --gateway); "" for the others.
  const std::string& gateway() const { return gateway_; }
  void set_gateway(std::string gateway) { gateway_ = std::move(gateway); }
  // This worker's counterpart of base for its gateway: peer(kProber) in
  // repairer.rescue is "prober.rescue".
  std::string peer(const char* base) const { return gateway_component(base, gateway_); }
  // Every gateway gwr watches, in config order (as the supervisor said).
  const std::vector<pb::GatewayEntryInfo>& gateways() const { return gateways_; }
  void set_gateways(std::vector<pb::GatewayEntryInfo> gateways) { gateways_ = std::move(gateways); }
  // Those, or the one gateway of the config when the supervisor listed none.
  std::vector<pb::GatewayEntryInfo> watched_gateways() const;
  const std::string& runtime_dir() const { return runtime_dir_; }
  const pb::Config& config() const { return config_; }
  uint64_t config_version() const { return config_version_; }
  void set_config(pb::Config config, uint64_t version) {
    config_ = std::move(config);
    config_version_ = version;
  }
  // The config's secret values, as the supervisor listed them (for the log's redactor).
  const std::vector<std::string>& secret_values() const { return secret_values_; }
  void set_secret_values(std::vector<std::string> values) { secret_values_ = std::move(values); }
  // What the process may ask of the world: its clock, processes, commands, HTTP.
  const Environment& env() const { return env_; }
  const Clock& clock() const { return *env_.clock; }
  Transport& transport() { return transport_; }
  // Publishes on the bus; a per-gateway worker's events name its gateway.
  void publish(pb::Event event) {
    if (!gateway_.empty()) event.set_gateway(gateway_);
    transport_.publish(std::move(event));
  }
  // Whether an event is about another gateway than this worker's (and so
  // not for it); events that name no gateway are everyone's.
  bool foreign(const pb::Event& event) const {
    return !gateway_.empty() && !event.gateway().empty() && event.gateway() != gateway_;
  }
  // A call to another component's control socket.
  Result<pb::Reply> call(const std::string& component, const pb::Request& request,
                         std::chrono::milliseconds timeout = std::chrono::milliseconds(2000), int retries = 1) {
    return transport_.call(component, request, timeout, retries);
  }
  // What the heartbeat says this worker is doing.
  void set_activity(std::string activity) { activity_ = std::move(activity); }
  const std::string& activity() const { return activity_; }
  void request_stop(std::string reason);
  bool stopping() const { return stopping_; }
  const std::string& stop_reason() const { return stop_reason_; }
  // Publishes an Alert about this component (component filled in).
  void publish_alert(pb::Alert alert);

 private:
  std::string component_;
  std::string gateway_;
  std::vector<pb::GatewayEntryInfo> gateways_;
  std::string runtime_dir_;
  Environment env_;
  Transport& transport_;
  pb::Config config_;
  uint64_t config_version_ = 0;
  std::vector<std::string> secret_values_;
  std::string activity_ = "starting";
  bool stopping_ = false;
  std::string stop_reason_;
};

class Worker {
 public:
  virtual ~Worker() = default;
  // Bus topics this worker wants besides config updates and shutdown.
  virtual std::vector<std::string> topics() const { return {}; }
  // Called once the config, logging and sockets are ready.
  virtual void start(WorkerContext& ctx) = 0;
  // Called after a config update was applied; changed holds dotted keys.
  virtual void on_config(WorkerContext& ctx, const std::vector<std::string>& changed) = 0;
  // A bus event on one of topics().
  virtual void on_event(WorkerContext& ctx, const pb::Event& event) = 0;
  // A control request; a Reply with no body is answered "unrecognized".
  virtual pb::Reply on_request(WorkerContext& ctx, const pb::Request& request) = 0;
  // Periodic work; returns when it next wants to be called.
  virtual SteadyTime on_tick(WorkerContext& ctx, SteadyTime now) = 0;
  // Extra sockets or fds to wait on, and what to do when one is ready.
  virtual std::vector<zmq::pollitem_t> poll_items() { return {}; }
  virtual void on_ready(WorkerContext& /*ctx*/, size_t /*index*/) {}
  // Called once before the process exits.
  virtual void stop(WorkerContext& ctx) = 0;
};

// Parses the worker's command line, assembles its transport (zmq) around
// the environment main.cpp built, runs it until it stops, returns the exit code.
int run_worker(const std::string& component, Worker& worker, int argc, char** argv, const Environment& env);

}  // namespace gwr
