#include "common/control.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/bus.h"
#include "common/log.h"
#include "common/message_text.h"

namespace gwr {

ControlServer::ControlServer(zmq::context_t& ctx, const std::string& endpoint)
    : socket_(ctx, zmq::socket_type::router), path_(ipc_path(endpoint)) {
  socket_.set(zmq::sockopt::linger, 0);
  // Requests larger than this are garbage; the peer is disconnected.
  socket_.set(zmq::sockopt::maxmsgsize, int64_t{4} * 1024 * 1024);
  std::error_code ec;
  std::filesystem::remove(path_, ec);
  socket_.bind(endpoint);
  ::chmod(path_.c_str(), 0600);
}

ControlServer::~ControlServer() {
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

// A ROUTER socket rather than REP: REP's strict receive/send alternation can
// be wedged for good by one malformed peer, ROUTER has no such state. A REQ
// client's request arrives as [routing id][empty delimiter][request]; the
// reply goes back as [routing id][empty delimiter][reply].
void ControlServer::serve_pending(const Handler& handler) {
  while (true) {
    std::vector<zmq::message_t> frames;
    try {
      zmq::message_t msg;
      if (!socket_.recv(msg, zmq::recv_flags::dontwait)) return;
      frames.push_back(std::move(msg));
      while (frames.back().more()) {
        zmq::message_t part;
        if (!socket_.recv(part, zmq::recv_flags::dontwait)) break;
        if (frames.size() < 8) {
          frames.push_back(std::move(part));
        } else if (!part.more()) {
          break;
        }
      }
    } catch (const zmq::error_t& e) {
      log::warn("control_receive_failed", {{"error", e.what()}});
      return;
    }
    pb::Reply reply;
    pb::Request request;
    const bool has_delimiter = frames.size() >= 2 && frames[1].size() == 0;
    const size_t body_frames = has_delimiter ? frames.size() - 2 : 0;
    if (!has_delimiter) {
      reply = error_reply(pb::Error::MALFORMED, "not a REQ envelope");
    } else if (body_frames != 1) {
      reply = error_reply(pb::Error::MALFORMED, "expected one frame, got " + std::to_string(body_frames));
    } else if (!request.ParseFromArray(frames[2].data(), static_cast<int>(frames[2].size()))) {
      reply = error_reply(pb::Error::MALFORMED, "request did not decode");
    } else if (request.protocol_version() != pb::PROTOCOL_VERSION_CURRENT) {
      reply = error_reply(pb::Error::VERSION_MISMATCH,
                          "protocol version " + std::to_string(request.protocol_version()) + " not supported");
    } else if (request.body_case() == pb::Request::BODY_NOT_SET) {
      reply = error_reply(pb::Error::UNRECOGNIZED, "request has no body this version knows");
    } else {
      try {
        reply = handler(request);
      } catch (const std::exception& e) {
        log::error("control_handler_failed", {{"error", e.what()}});
        reply = error_reply(pb::Error::INTERNAL, e.what());
      }
    }
    if (reply.body_case() == pb::Reply::BODY_NOT_SET) {
      const auto* oneof = pb::Request::descriptor()->FindOneofByName("body");
      const auto* field = request.GetReflection()->GetOneofFieldDescriptor(request, oneof);
      reply = error_reply(pb::Error::UNRECOGNIZED,
                          "this component does not serve \"" + (field ? std::string(field->name()) : std::string("?")) + "\"");
    }
    if (reply.body_case() == pb::Reply::kError &&
        (reply.error().code() == pb::Error::MALFORMED || reply.error().code() == pb::Error::VERSION_MISMATCH)) {
      ++malformed_;
      log::error("control_request_rejected", {{"reason", reply.error().message()}, {"rejected_total", malformed_}});
    }
    reply.set_protocol_version(pb::PROTOCOL_VERSION_CURRENT);
    reply.set_request_id(request.request_id());
    std::string bytes;
    if (const size_t repaired = serialize_decodable(reply, bytes); repaired > 0) {
      log::warn("control_text_repaired", {{"fields", repaired}});
    }
    try {
      // Unroutable replies (the peer left) are dropped by ROUTER.
      socket_.send(frames[0], zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      socket_.send(zmq::message_t(), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      socket_.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
    } catch (const zmq::error_t& e) {
      log::warn("control_reply_failed", {{"error", e.what()}});
    }
  }
}

ControlClient::ControlClient(zmq::context_t& ctx, std::string endpoint, std::string client_name)
    : ctx_(ctx), endpoint_(std::move(endpoint)), client_(std::move(client_name)) {
  next_id_ = (static_cast<uint64_t>(::getpid()) << 32) | 1;
}

void ControlClient::reset_socket() {
  socket_.reset();
  socket_.emplace(ctx_, zmq::socket_type::req);
  socket_->set(zmq::sockopt::linger, 0);
  socket_->set(zmq::sockopt::maxmsgsize, int64_t{16} * 1024 * 1024);
  socket_->connect(endpoint_);
}

Result<pb::Reply> ControlClient::call(pb::Request request, std::chrono::milliseconds timeout, int retries) {
  const std::string path = ipc_path(endpoint_);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return make_error("not running (no socket at " + path + ")");
  request.set_protocol_version(pb::PROTOCOL_VERSION_CURRENT);
  request.set_client(client_);
  const uint64_t id = next_id_++;
  request.set_request_id(id);
  std::string bytes;
  if (const size_t repaired = serialize_decodable(request, bytes); repaired > 0) {
    log::warn("control_text_repaired", {{"fields", repaired}, {"endpoint", endpoint_}});
  }
  for (int attempt = 0; attempt <= retries; ++attempt) {
    try {
      if (!socket_) reset_socket();
      socket_->send(zmq::buffer(bytes), zmq::send_flags::dontwait);
      const auto deadline = std::chrono::steady_clock::now() + timeout;
      while (true) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        zmq::pollitem_t item{socket_->handle(), 0, ZMQ_POLLIN, 0};
        zmq::poll(&item, 1, left);
        if (!(item.revents & ZMQ_POLLIN)) continue;
        zmq::message_t msg;
        if (!socket_->recv(msg, zmq::recv_flags::dontwait)) continue;
        pb::Reply reply;
        if (!reply.ParseFromArray(msg.data(), static_cast<int>(msg.size()))) {
          socket_.reset();
          return make_error("reply from " + endpoint_ + " did not decode");
        }
        if (reply.request_id() != id) continue;  // a late answer to an abandoned request
        return reply;
      }
    } catch (const zmq::error_t& e) {
      socket_.reset();
      if (attempt == retries) return make_error(std::string("control call failed: ") + e.what());
      continue;
    }
    // No answer: this REQ socket is now stuck waiting; discard it.
    socket_.reset();
  }
  return make_error("no reply from " + endpoint_ + " within " + std::to_string(timeout.count() * (retries + 1)) + " ms");
}

Result<pb::Reply> control_call(zmq::context_t& ctx, const std::string& endpoint, const pb::Request& request,
                               std::chrono::milliseconds timeout, int retries) {
  ControlClient client(ctx, endpoint, "tool");
  return client.call(request, timeout, retries);
}

}  // namespace gwr
