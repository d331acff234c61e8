// Test-side handles for the fake gateway, the fake openclaw CLI, and a bus
// watcher for GatewayHealth and repair events.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "common/bus.h"
#include "tests/support/test_support.h"

namespace gwr::testing {

// The process name a test's gateway runs under: unique per port, so tests
// running in parallel never mistake each other's gateways for their own.
std::string gateway_name_for(int port);

// Switches the fake gateway listening on 127.0.0.1:port into a mode, through
// its control endpoint (that instance only). False if it did not accept.
bool post_fake_mode(int port, const std::string& mode_line);

// A fake-gateway started directly by the test (not through the CLI), named
// gateway_name_for(port) unless extra_args give a --name.
class FakeGateway {
 public:
  FakeGateway(const std::string& dir, int port, const std::string& mode = "healthy",
              const std::vector<std::string>& extra_args = {});
  pid_t pid() const { return process_.pid(); }
  Process& process() { return process_; }
  int port() const { return port_; }
  const std::string& state_dir() const { return state_dir_; }
  // Persistent mode for this and every later instance (atomic write).
  void set_mode_file(const std::string& mode_line);
  // This instance only, through the control endpoint.
  bool post_mode(const std::string& mode_line);
  bool healthy();

 private:
  std::string dir_;
  std::string state_dir_;
  std::string mode_file_;
  int port_;
  Process process_;
};

// A fake openclaw "service" home: the CLI starts/stops fake-gateway on port.
class FakeOpenclaw {
 public:
  FakeOpenclaw(const std::string& dir, int port, const std::string& extra_config = "");
  std::vector<std::string> argv(const std::vector<std::string>& args) const;
  // gateway.commands.* pointing at this home, as YAML under "gateway:".
  std::string commands_yaml() const;
  // The name its gateway runs under (gateway.process_match).
  const std::string& process_name() const { return name_; }
  const std::string& home() const { return home_; }
  const std::string& state_dir() const { return state_dir_; }
  const std::string& mode_file() const { return mode_file_; }
  void set_mode(const std::string& mode_line);  // persistent, atomic
  pid_t gateway_pid() const;                     // from the service pidfile, 0 if none
  std::vector<std::string> calls() const;        // calls.log lines without the timestamp
  void set_switch(const std::string& name, const std::string& content = "");
  void clear_switch(const std::string& name);
  CommandOutput run(const std::vector<std::string>& args) const;
  // Starts the service and waits until it answers /health.
  ::testing::AssertionResult start_healthy(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~FakeOpenclaw();

 private:
  std::string home_;
  std::string state_dir_;
  std::string mode_file_;
  std::string name_;
  int port_;
};

// Everything the bus carries on the topics asked for, collected on demand.
class BusWatcher {
 public:
  BusWatcher(const std::string& runtime_dir, const std::vector<std::string>& topics);
  // Waits for an event satisfying pred (events seen earlier count too).
  std::optional<pb::Event> wait_for(const std::function<bool(const pb::Event&)>& pred,
                                    std::chrono::milliseconds timeout);
  std::optional<pb::GatewayHealth> wait_health(const std::function<bool(const pb::GatewayHealth&)>& pred,
                                               std::chrono::milliseconds timeout);
  // Collects events for exactly this long.
  void pump(std::chrono::milliseconds for_how_long);
  // Waits at most this long; returns as soon as something arrived.
  bool pump_some(std::chrono::milliseconds at_most);
  const std::vector<pb::Event>& events() const { return events_; }
  std::vector<pb::GatewayHealth> healths() const;
  void clear() { events_.clear(); }

 private:
  zmq::context_t ctx_{1};
  BusSubscriber sub_;
  std::vector<pb::Event> events_;
};

}  // namespace gwr::testing
