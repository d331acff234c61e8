// HTTP over libcurl behind a small interface, so cores and tests can swap it.
// Never uses a proxy for loopback gateways, never follows redirects, bounds
// the body it keeps, and reports a timeout as such.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gwr {

struct HttpRequest {
  std::string method = "GET";           // GET, POST, HEAD
  std::string url;
  std::vector<std::string> headers;     // "Content-Type: application/json"
  std::string body;
  std::chrono::milliseconds timeout{5000};
  std::chrono::milliseconds connect_timeout{0};  // 0 = same as timeout
  size_t max_response_bytes = 1 << 20;
  bool use_proxy = false;               // honour http(s)_proxy from the environment
};

struct HttpResponse {
  int status = 0;                       // 0 when no HTTP answer arrived
  std::string body;
  std::string error;                    // empty on a completed exchange
  bool timed_out = false;
  bool connect_failed = false;          // refused, unreachable, DNS
  bool truncated = false;
  int64_t latency_us = 0;
  bool completed() const { return error.empty(); }
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual HttpResponse send(const HttpRequest& request) = 0;
};

// One curl easy handle; use one instance per thread. libcurl is loaded when
// the first request is sent (a process that never sends one never maps it,
// nor its TLS stack); if it cannot be, every request fails saying so.
class CurlHttpClient final : public HttpClient {
 public:
  CurlHttpClient();
  ~CurlHttpClient() override;
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;
  HttpResponse send(const HttpRequest& request) override;

 private:
  void* curl_ = nullptr;
};

// https (or a request that must go through a proxy) through libcurl, plain
// http through PlainHttpClient: the gateway and local engines never load
// libcurl. One instance per thread, like CurlHttpClient.
class SplitHttpClient final : public HttpClient {
 public:
  HttpResponse send(const HttpRequest& request) override;

 private:
  std::unique_ptr<HttpClient> plain_;
  std::unique_ptr<HttpClient> curl_;
};

// application/x-www-form-urlencoded escaping.
std::string url_encode(const std::string& text);

}  // namespace gwr
