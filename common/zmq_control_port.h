// The real ControlPort: a gwr::ControlClient per component, created on the
// thread that uses it (zmq sockets belong to one thread; the context is
// shared). Short-lived on purpose: the bridge's poller makes one per update,
// so no socket is open while it waits on Telegram and a shutdown never
// waits for it. Replies are redacted whole (what a chat shows must carry no
// secret), before anything cuts them.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <zmq.hpp>

#include "common/control.h"
#include "common/control_port.h"

namespace gwr {

class ZmqControlPort final : public ControlPort {
 public:
  // identity: what the clients announce ("gwr-telegram-bridge").
  ZmqControlPort(zmq::context_t& ctx, std::string runtime_dir, std::string identity)
      : ctx_(ctx), runtime_dir_(std::move(runtime_dir)), identity_(std::move(identity)) {}
  Result<pb::Reply> call(const std::string& component, const pb::Request& request,
                         std::chrono::milliseconds timeout) override;
  // Each request on its own short-lived thread with its own ControlClient.
  std::vector<Result<pb::Reply>> call_all(const std::vector<Call>& calls, std::chrono::milliseconds timeout) override;

 private:
  zmq::context_t& ctx_;
  std::string runtime_dir_;
  std::string identity_;
  std::map<std::string, std::unique_ptr<ControlClient>> clients_;
};

}  // namespace gwr
