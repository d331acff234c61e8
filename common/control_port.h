// ControlPort: calls to other components' control sockets, as a thread
// makes them. The real one (ZmqControlPort) owns its sockets on the thread
// that uses it; tests answer from a script.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/result.h"
#include "gwr.pb.h"

namespace gwr {

// A reply that says why a request was not served.
pb::Reply error_reply(pb::Error::Code code, const std::string& message);
// "REFUSED: a repair is already running".
std::string describe_error(const pb::Error& error);

class ControlPort {
 public:
  virtual ~ControlPort() = default;
  // One request, one reply; a component that is down or silent is an error.
  virtual Result<pb::Reply> call(const std::string& component, const pb::Request& request,
                                 std::chrono::milliseconds timeout) = 0;

  struct Call {
    std::string component;
    pb::Request request;
  };
  // Several requests at once, replies in the same order. This one asks one
  // after the other; a real port asks concurrently, so /status waits for the
  // slowest component rather than for the sum of them.
  virtual std::vector<Result<pb::Reply>> call_all(const std::vector<Call>& calls, std::chrono::milliseconds timeout);
};

}  // namespace gwr
