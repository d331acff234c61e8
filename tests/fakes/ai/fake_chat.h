// FakeChatServer: an OpenAI-compatible /chat/completions endpoint on
// loopback for Tier 3's `openai` engine. It records each request (body and
// headers) and answers as scripted: an answer text, an HTTP error, a raw
// body (malformed JSON), or no answer at all (hang).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace gwr::testing {

class FakeChatServer {
 public:
  struct Call {
    nlohmann::json body;
    std::string authorization;
  };
  FakeChatServer();
  ~FakeChatServer();
  std::string base_url() const;  // "http://127.0.0.1:PORT/v1"
  void answer(const std::string& text);      // 200 with this content
  void fail(int http_status, const std::string& body);
  void raw(const std::string& body);         // 200 with this body as is
  void hang(bool on);
  std::vector<Call> calls() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gwr::testing
