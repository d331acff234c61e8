// Control sockets: REQ clients, ROUTER servers (REP semantics without REP's
// receive/send lock-step, which one malformed peer can wedge), one frame per
// request and reply. Servers answer every request exactly once, with
// Reply.error for anything they cannot serve. Clients never block forever: each attempt has a timeout, after which
// the socket is thrown away and the request retried on a fresh one
// (the "lazy pirate" pattern), up to a retry budget.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include <zmq.hpp>

#include "common/control_port.h"
#include "common/result.h"
#include "gwr.pb.h"

namespace gwr {

class ControlServer {
 public:
  using Handler = std::function<pb::Reply(const pb::Request&)>;
  ControlServer(zmq::context_t& ctx, const std::string& endpoint);
  ~ControlServer();
  zmq::socket_t& socket() { return socket_; }
  // Serves every request waiting on the socket; never blocks.
  void serve_pending(const Handler& handler);
  // Requests that did not decode (or had a foreign protocol version) so far.
  uint64_t malformed() const { return malformed_; }

 private:
  zmq::socket_t socket_;
  std::string path_;
  uint64_t malformed_ = 0;
};

class ControlClient {
 public:
  ControlClient(zmq::context_t& ctx, std::string endpoint, std::string client_name);
  // Sends the request and waits for its reply. A missing socket file fails at
  // once; a silent server fails after (retries + 1) * timeout.
  Result<pb::Reply> call(pb::Request request, std::chrono::milliseconds timeout = std::chrono::milliseconds(2000),
                         int retries = 1);
  const std::string& endpoint() const { return endpoint_; }

 private:
  void reset_socket();
  zmq::context_t& ctx_;
  std::string endpoint_;
  std::string client_;
  std::optional<zmq::socket_t> socket_;
  uint64_t next_id_ = 1;
};

// One call on a throw-away client, for tools and tests.
Result<pb::Reply> control_call(zmq::context_t& ctx, const std::string& endpoint, const pb::Request& request,
                               std::chrono::milliseconds timeout = std::chrono::milliseconds(2000), int retries = 1);

}  // namespace gwr
