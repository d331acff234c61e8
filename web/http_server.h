// A small HTTP/1.1 server for gwr-web's read-only pages: one accepting
// thread, one short-lived thread per connection (at most kMaxConnections at
// once; more are closed at once), a request head of at most 8 KiB read
// within 2 s, one answer, then the connection closes. Only GET and HEAD.
// Enough for a Prometheus scrape or a browser on a phone, and a slow or
// hostile client can hold one slot for 2 s, never the process.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/result.h"
#include "common/strings.h"  // ListenAddress, parse_listen

namespace gwr::web {

struct WebRequest {
  std::string method;   // GET, HEAD
  std::string path;     // without the query
  std::map<std::string, std::string> query;  // decoded
  std::string authorization;                 // the header, as sent
};

struct WebResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::map<std::string, std::string> headers;  // more headers
};

// Called on a connection's thread: must be thread-safe.
using WebHandler = std::function<WebResponse(const WebRequest&)>;

// Parses a request head (up to the blank line). An error says what is wrong.
Result<WebRequest> parse_request_head(const std::string& head);

class HttpServer {
 public:
  static constexpr int kMaxConnections = 8;
  static Result<std::unique_ptr<HttpServer>> start(const ListenAddress& where, WebHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  uint16_t port() const { return port_; }

 private:
  struct State;
  HttpServer(std::shared_ptr<State> state, uint16_t port);
  std::shared_ptr<State> state_;
  uint16_t port_;
};

// Compares without an early exit (a token's prefix cannot be timed out of it).
bool equal_in_constant_time(const std::string& a, const std::string& b);

}  // namespace gwr::web
