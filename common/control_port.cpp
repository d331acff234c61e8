#include "common/control_port.h"

#include "common/enum_names.h"

namespace gwr {

pb::Reply error_reply(pb::Error::Code code, const std::string& message) {
  pb::Reply reply;
  reply.set_protocol_version(pb::PROTOCOL_VERSION_CURRENT);
  reply.mutable_error()->set_code(code);
  reply.mutable_error()->set_message(message);
  return reply;
}

std::string describe_error(const pb::Error& error) {
  return error_code_name(error.code()) + ": " + error.message();
}

std::vector<Result<pb::Reply>> ControlPort::call_all(const std::vector<Call>& calls, std::chrono::milliseconds timeout) {
  std::vector<Result<pb::Reply>> out;
  out.reserve(calls.size());
  for (const auto& c : calls) out.push_back(call(c.component, c.request, timeout));
  return out;
}

}  // namespace gwr
