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

#include "common/bus.h"
#include "common/clock.h"
#include "common/control.h"
#include "gwr.pb.h"

namespace gwr {

class WorkerContext {
 public:
  WorkerContext(zmq::context_t& ctx, std::string component, std::string runtime_dir);

  zmq::context_t& zmq() { return ctx_; }
  const std::string& component() const { return component_; }
  const std::string& runtime_dir() const { return runtime_dir_; }
  const pb::Config& config() const { return config_; }
  uint64_t config_version() const { return config_version_; }
  const Clock& clock() const { return SystemClock::instance(); }
  BusPublisher& bus() { return *bus_; }
  // A client for another component's control socket (cached).
  ControlClient& client(const std::string& component);
  // What the heartbeat says this worker is doing.
  void set_activity(std::string activity) { activity_ = std::move(activity); }
  const std::string& activity() const { return activity_; }
  void request_stop(std::string reason);
  bool stopping() const { return stopping_; }
  // Publishes an Alert about this component (component filled in).
  void publish_alert(pb::Alert alert);

 private:
  friend class WorkerLoop;
  zmq::context_t& ctx_;
  std::string component_;
  std::string runtime_dir_;
  pb::Config config_;
  uint64_t config_version_ = 0;
  std::unique_ptr<BusPublisher> bus_;
  std::vector<std::pair<std::string, std::unique_ptr<ControlClient>>> clients_;
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

// Parses the worker's command line, runs it until it stops, returns the exit code.
int run_worker(const std::string& component, Worker& worker, int argc, char** argv);

}  // namespace gwr
