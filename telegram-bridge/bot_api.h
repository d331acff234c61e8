// BotApi: Bot API calls over an HttpClient (one per thread). The URL is
// api_base_url + "/bot" + token + "/" + method; the token lives only in that
// URL, in memory. Nothing this class returns or logs contains it: errors
// name the method and pass through the SharedRedactor.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "common/http_client.h"
#include "telegram-bridge/api_result.h"

namespace gwr::telegram {

class BotApi {
 public:
  BotApi(HttpClient& http, std::string base_url, std::string token);
  // POSTs params as JSON. timeout bounds the whole exchange (a long poll
  // included); the connection itself must succeed within a few seconds.
  ApiResult call(const std::string& method, const nlohmann::json& params, std::chrono::milliseconds timeout,
                 size_t max_response_bytes = 1 << 20);

 private:
  HttpClient& http_;
  std::string base_url_;
  std::string token_;
  bool loopback_ = false;
};

}  // namespace gwr::telegram
