// The event bus: PUB sockets connect to the supervisor's XSUB endpoint, SUB
// sockets to its XPUB endpoint. A message is two frames, [topic][Event]; the
// topic is the name of the Event's body field, so subscribers filter by it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "common/components.h"
#include "common/result.h"
#include "gwr.pb.h"

namespace gwr {


std::string bus_in_endpoint(const std::string& runtime_dir);   // publishers connect here
std::string bus_out_endpoint(const std::string& runtime_dir);  // subscribers connect here
std::string control_endpoint(const std::string& runtime_dir, const std::string& component);
// The filesystem path behind an ipc:// endpoint.
std::string ipc_path(const std::string& endpoint);

// "heartbeat", "gateway_health", ...; "" when the body is unset.
std::string topic_of(const pb::Event& event);
// Serialises after checking the body is set.
std::string encode_event(const pb::Event& event);
// Checks frame count, protocol version and that the topic names the body.
Result<pb::Event> decode_event(const std::vector<zmq::message_t>& frames);

class BusPublisher {
 public:
  BusPublisher(zmq::context_t& ctx, const std::string& runtime_dir, std::string source);
  // Fills the envelope header (version, source, pid, time, seq) and sends.
  // Never blocks: with no connected peer the message is dropped, as pub/sub does.
  void publish(pb::Event event);

 private:
  zmq::socket_t socket_;
  std::string source_;
  uint64_t seq_ = 0;
};

class BusSubscriber {
 public:
  BusSubscriber(zmq::context_t& ctx, const std::string& runtime_dir, const std::vector<std::string>& topics);
  zmq::socket_t& socket() { return socket_; }
  // One decoded event if one is waiting; what does not decode is dropped,
  // counted and logged as an error (rate-limited). Never blocks.
  std::optional<pb::Event> receive();
  // Every message dropped so far.
  uint64_t dropped() const { return dropped_; }
  // The topics of the messages dropped since the last call, oldest first.
  std::vector<std::string> take_dropped_topics();

 private:
  zmq::socket_t socket_;
  uint64_t dropped_ = 0;
  int64_t last_drop_log_ms_ = 0;
  uint64_t dropped_since_log_ = 0;
  std::vector<std::string> dropped_topics_;
};

}  // namespace gwr
