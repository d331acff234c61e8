#include "common/bus.h"

#include <unistd.h>

#include <chrono>

#include "common/enum_names.h"
#include "common/log.h"
#include "common/message_text.h"
#include "common/text.h"

namespace gwr {

namespace {
int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

std::string bus_in_endpoint(const std::string& runtime_dir) { return "ipc://" + runtime_dir + "/bus-in.sock"; }
std::string bus_out_endpoint(const std::string& runtime_dir) { return "ipc://" + runtime_dir + "/bus-out.sock"; }
std::string control_endpoint(const std::string& runtime_dir, const std::string& component) {
  return "ipc://" + runtime_dir + "/" + component + ".sock";
}
std::string ipc_path(const std::string& endpoint) {
  constexpr std::string_view kPrefix = "ipc://";
  return endpoint.rfind(kPrefix, 0) == 0 ? endpoint.substr(kPrefix.size()) : endpoint;
}

std::string topic_of(const pb::Event& event) { return event_topic(event.body_case()); }

std::string encode_event(const pb::Event& event) { return event.SerializeAsString(); }

Result<pb::Event> decode_event(const std::vector<zmq::message_t>& frames) {
  if (frames.size() != 2) return make_error("expected 2 frames, got " + std::to_string(frames.size()));
  pb::Event event;
  if (!event.ParseFromArray(frames[1].data(), static_cast<int>(frames[1].size()))) {
    pb::Event probe;
    const bool utf8 = parse_repairing_utf8(probe, frames[1].to_string_view());
    return make_error("undecodable event (" + std::to_string(frames[1].size()) + " bytes" +
                      (utf8 ? "): a text field is not valid UTF-8" : ")"));
  }
  if (event.protocol_version() != pb::PROTOCOL_VERSION_CURRENT) {
    return make_error("protocol version " + std::to_string(event.protocol_version()) + " not supported");
  }
  const std::string topic = topic_of(event);
  if (topic.empty()) return make_error("event without a body");
  if (frames[0].to_string() != topic) return make_error("topic \"" + frames[0].to_string() + "\" does not match body " + topic);
  return event;
}

BusPublisher::BusPublisher(zmq::context_t& ctx, const std::string& runtime_dir, std::string source)
    : socket_(ctx, zmq::socket_type::pub), source_(std::move(source)) {
  socket_.set(zmq::sockopt::linger, 200);
  socket_.set(zmq::sockopt::sndhwm, 10000);
  socket_.connect(bus_in_endpoint(runtime_dir));
}

void BusPublisher::publish(pb::Event event) {
  event.set_protocol_version(pb::PROTOCOL_VERSION_CURRENT);
  event.set_source(source_);
  event.set_source_pid(static_cast<uint32_t>(::getpid()));
  event.set_sent_at_ms(now_ms());
  event.set_seq(++seq_);
  const std::string topic = topic_of(event);
  if (topic.empty()) {
    log::error("bus_publish_empty_event");
    return;
  }
  // An entry point let text through that is not UTF-8: receivers could not
  // decode the message at all. Repair it here and say where it came from.
  std::string bytes;
  if (const size_t repaired = serialize_decodable(event, bytes); repaired > 0) {
    log::warn("bus_text_repaired", {{"topic", topic}, {"fields", repaired}});
  }
  try {
    socket_.send(zmq::buffer(topic), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    socket_.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    log::warn("bus_publish_failed", {{"topic", topic}, {"error", e.what()}});
  }
}

BusSubscriber::BusSubscriber(zmq::context_t& ctx, const std::string& runtime_dir,
                             const std::vector<std::string>& topics)
    : socket_(ctx, zmq::socket_type::sub) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.set(zmq::sockopt::rcvhwm, 10000);
  for (const auto& t : topics) socket_.set(zmq::sockopt::subscribe, t);
  socket_.connect(bus_out_endpoint(runtime_dir));
}

std::optional<pb::Event> BusSubscriber::receive() {
  while (true) {
    std::vector<zmq::message_t> frames;
    try {
      zmq::message_t msg;
      if (!socket_.recv(msg, zmq::recv_flags::dontwait)) return std::nullopt;
      frames.push_back(std::move(msg));
      while (frames.back().more() && frames.size() < 16) {
        zmq::message_t part;
        if (!socket_.recv(part, zmq::recv_flags::dontwait)) break;
        frames.push_back(std::move(part));
      }
      // Drain what is left of an oversized multipart message.
      while (frames.back().more()) {
        zmq::message_t part;
        if (!socket_.recv(part, zmq::recv_flags::dontwait)) break;
        if (!part.more()) break;
      }
    } catch (const zmq::error_t& e) {
      log::warn("bus_receive_failed", {{"error", e.what()}});
      return std::nullopt;
    }
    auto event = decode_event(frames);
    if (event) return std::move(event).value();
    ++dropped_;
    ++dropped_since_log_;
    const std::string topic = frames.empty() ? std::string() : valid_utf8(utf8_prefix(frames[0].to_string_view(), 40));
    if (dropped_topics_.size() < 1000) dropped_topics_.push_back(topic);
    const int64_t now = now_ms();
    if (now - last_drop_log_ms_ >= 1000) {
      last_drop_log_ms_ = now;
      log::error("bus_message_dropped", {{"topic", topic},
                                         {"reason", event.message()},
                                         {"dropped_since_last_line", dropped_since_log_},
                                         {"dropped_total", dropped_}});
      dropped_since_log_ = 0;
    }
  }
}

std::vector<std::string> BusSubscriber::take_dropped_topics() {
  std::vector<std::string> out;
  out.swap(dropped_topics_);
  return out;
}

}  // namespace gwr
