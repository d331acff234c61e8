#include "common/zmq_control_port.h"

#include <future>

#include "common/bus.h"
#include "common/message_text.h"

namespace gwr {
namespace {

// What the bot shows is redacted here, whole, before any renderer cuts it.
Result<pb::Reply> redacted(Result<pb::Reply> reply) {
  if (reply) redact_strings(*reply, SharedRedactor::instance());
  return reply;
}

}  // namespace

Result<pb::Reply> ZmqControlPort::call(const std::string& component, const pb::Request& request,
                                       std::chrono::milliseconds timeout) {
  auto& client = clients_[component];
  if (!client) {
    client = std::make_unique<ControlClient>(ctx_, control_endpoint(runtime_dir_, component),
                                             identity_);
  }
  // No retry: a side effect (a repair) must not be sent twice because an answer was slow.
  return redacted(client->call(request, timeout, 0));
}

std::vector<Result<pb::Reply>> ZmqControlPort::call_all(const std::vector<Call>& calls,
                                                        std::chrono::milliseconds timeout) {
  std::vector<std::future<Result<pb::Reply>>> pending;
  pending.reserve(calls.size());
  for (const auto& c : calls) {
    const std::string endpoint = control_endpoint(runtime_dir_, c.component);
    pending.push_back(std::async(std::launch::async, [this, endpoint, request = c.request, timeout] {
      // zmq sockets belong to one thread: this client lives and dies on this one.
      ControlClient client(ctx_, endpoint, identity_);
      return redacted(client.call(request, timeout, 0));
    }));
  }
  std::vector<Result<pb::Reply>> out;
  out.reserve(pending.size());
  for (auto& f : pending) out.push_back(f.get());
  return out;
}

}  // namespace gwr
