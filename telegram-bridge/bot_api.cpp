#include "telegram-bridge/bot_api.h"

#include <algorithm>

#include "common/redact.h"

namespace gwr::telegram {

BotApi::BotApi(HttpClient& http, std::string base_url, std::string token)
    : http_(http), base_url_(std::move(base_url)), token_(std::move(token)) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  for (const char* host : {"://127.", "://localhost", "://[::1]"}) {
    loopback_ = loopback_ || base_url_.find(host) != std::string::npos;
  }
}

ApiResult BotApi::call(const std::string& method, const nlohmann::json& params, std::chrono::milliseconds timeout,
                       size_t max_response_bytes) {
  HttpRequest req;
  req.method = "POST";
  req.url = base_url_ + "/bot" + token_ + "/" + method;
  req.headers = {"Content-Type: application/json"};
  req.body = params.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  req.timeout = timeout;
  req.connect_timeout = std::min<std::chrono::milliseconds>(timeout, std::chrono::milliseconds(5000));
  req.max_response_bytes = max_response_bytes;
  // api.telegram.org may only be reachable through the operator's proxy; a
  // local Bot API server never is.
  req.use_proxy = !loopback_;
  ApiResult r = parse_api_response(http_.send(req));
  // Whatever the transport or the server said, it is shown without secrets.
  r.description = SharedRedactor::instance().redact(r.description);
  return r;
}

}  // namespace gwr::telegram
