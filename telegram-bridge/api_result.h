// What one Bot API call came to, read from the HTTP exchange, and what kind
// of failure it is. Pure: the HTTP client lives in bot_api.h.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/http_client.h"

namespace gwr::telegram {

struct ApiResult {
  enum class Kind {
    kOk,           // {"ok":true,"result":...}
    kApiError,     // {"ok":false,"error_code":N,"description":...}
    kTransport,    // no HTTP answer: refused, timed out, reset
    kBadResponse,  // an answer that is not the Bot API's JSON (a proxy's HTML page, garbage)
  };
  Kind kind = Kind::kTransport;
  int http_status = 0;
  int error_code = 0;          // kApiError: Telegram's error_code (else the HTTP status)
  std::string description;     // kApiError: Telegram's description; otherwise what went wrong
  int64_t retry_after_s = 0;   // parameters.retry_after of a 429
  bool timed_out = false;      // kTransport: the client gave up waiting
  nlohmann::json result;       // kOk: the result field

  bool ok() const { return kind == Kind::kOk; }
  // One line for logs: "HTTP 400: Bad Request: message is not modified".
  std::string describe() const;
};

// Reads an exchange. Never throws; the description is not yet redacted.
ApiResult parse_api_response(const HttpResponse& response);

// The classes of outcome that call for different handling.
enum class Failure {
  kNone,          // success
  kNotModified,   // 400 "message is not modified": an edit that is already in place (success)
  kPermanent,     // 400/403 and other client errors: this request will never succeed; drop it
  kRateLimited,   // 429: wait exactly retry_after
  kUnauthorized,  // 401: the bot token is rejected; back off for minutes
  kConflict,      // 409: another getUpdates poller or a webhook
  kUnreachable,   // transport errors, 5xx, garbage: back off exponentially
};
Failure classify(const ApiResult& result);
const char* failure_name(Failure failure);

}  // namespace gwr::telegram
