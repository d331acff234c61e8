#include "tests/fakes/ai/fake_chat.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace gwr::testing {

struct FakeChatServer::Impl {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  mutable std::mutex mu;
  std::condition_variable cv;
  std::vector<Call> calls;
  int status = 200;
  std::string body;
  bool hang = false;
  bool stopping = false;
};

FakeChatServer::FakeChatServer() : impl_(std::make_unique<Impl>()) {
  answer("DIAGNOSIS: nothing\nSCRIPT:\n```sh\n```\n");
  impl_->server.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    std::unique_lock lock(impl_->mu);
    impl_->calls.push_back({nlohmann::json::parse(req.body, nullptr, false), req.get_header_value("Authorization")});
    impl_->cv.wait_for(lock, std::chrono::seconds(120), [&] { return !impl_->hang || impl_->stopping; });
    res.status = impl_->status;
    res.set_content(impl_->body, "application/json");
  });
  impl_->port = impl_->server.bind_to_any_port("127.0.0.1");
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
  while (!impl_->server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

FakeChatServer::~FakeChatServer() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::string FakeChatServer::base_url() const { return "http://127.0.0.1:" + std::to_string(impl_->port) + "/v1"; }

void FakeChatServer::answer(const std::string& text) {
  nlohmann::json j = {{"id", "chatcmpl-fake"},
                      {"object", "chat.completion"},
                      {"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", text}}}, {"finish_reason", "stop"}}}}};
  std::lock_guard lock(impl_->mu);
  impl_->status = 200;
  impl_->body = j.dump();
}

void FakeChatServer::fail(int http_status, const std::string& body) {
  std::lock_guard lock(impl_->mu);
  impl_->status = http_status;
  impl_->body = body;
}

void FakeChatServer::raw(const std::string& body) {
  std::lock_guard lock(impl_->mu);
  impl_->status = 200;
  impl_->body = body;
}

void FakeChatServer::hang(bool on) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->hang = on;
  }
  impl_->cv.notify_all();
}

std::vector<FakeChatServer::Call> FakeChatServer::calls() const {
  std::lock_guard lock(impl_->mu);
  return impl_->calls;
}

}  // namespace gwr::testing
