// The real ControlPort: gwr::ControlClient per component, created on the
// thread that uses it (zmq sockets belong to one thread; the context is
// shared). Short-lived on purpose: the poller makes one per update, so no
// socket is open while it waits on Telegram and a shutdown never waits for it.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <zmq.hpp>

#include "common/control.h"
#include "telegram-bridge/command_handler.h"

namespace gwr::telegram {

class ZmqControlPort final : public ControlPort {
 public:
  ZmqControlPort(zmq::context_t& ctx, std::string runtime_dir) : ctx_(ctx), runtime_dir_(std::move(runtime_dir)) {}
  Result<pb::Reply> call(const std::string& component, const pb::Request& request,
                         std::chrono::milliseconds timeout) override;
  // Each request on its own short-lived thread with its own ControlClient.
  std::vector<Result<pb::Reply>> call_all(const std::vector<Call>& calls, std::chrono::milliseconds timeout) override;

 private:
  zmq::context_t& ctx_;
  std::string runtime_dir_;
  std::map<std::string, std::unique_ptr<ControlClient>> clients_;
};

}  // namespace gwr::telegram
