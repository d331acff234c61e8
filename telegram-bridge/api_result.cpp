#include "telegram-bridge/api_result.h"

#include <algorithm>

#include "common/text.h"

namespace gwr::telegram {

std::string ApiResult::describe() const {
  switch (kind) {
    case Kind::kOk: return "ok";
    case Kind::kApiError:
      return "HTTP " + std::to_string(http_status) + ": " + std::to_string(error_code) + " " + description;
    case Kind::kTransport: return (timed_out ? "timed out: " : "transport error: ") + description;
    case Kind::kBadResponse: return "HTTP " + std::to_string(http_status) + ": " + description;
  }
  return description;
}

ApiResult parse_api_response(const HttpResponse& response) {
  ApiResult r;
  r.http_status = response.status;
  if (!response.completed()) {
    r.kind = ApiResult::Kind::kTransport;
    r.timed_out = response.timed_out;
    r.description = response.error;
    return r;
  }
  const nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    r.kind = ApiResult::Kind::kBadResponse;
    r.description = response.truncated ? "answer too large" : "answer is not Bot API JSON";
    return r;
  }
  const auto ok = body.find("ok");
  if (ok != body.end() && ok->is_boolean() && ok->get<bool>()) {
    if (response.status != 200) {
      r.kind = ApiResult::Kind::kBadResponse;
      r.description = "ok:true with a non-200 status";
      return r;
    }
    r.kind = ApiResult::Kind::kOk;
    const auto res = body.find("result");
    if (res != body.end()) r.result = *res;
    return r;
  }
  if (ok == body.end() || !ok->is_boolean()) {
    r.kind = ApiResult::Kind::kBadResponse;
    r.description = "answer has no \"ok\" field";
    return r;
  }
  r.kind = ApiResult::Kind::kApiError;
  const auto code = body.find("error_code");
  r.error_code = code != body.end() && code->is_number_integer() ? code->get<int>() : response.status;
  const auto desc = body.find("description");
  if (desc != body.end() && desc->is_string()) r.description = clip_end(desc->get<std::string>(), 500);
  const auto params = body.find("parameters");
  if (params != body.end() && params->is_object()) {
    const auto ra = params->find("retry_after");
    if (ra != params->end() && ra->is_number()) r.retry_after_s = std::max<int64_t>(0, ra->get<int64_t>());
  }
  return r;
}

Failure classify(const ApiResult& r) {
  switch (r.kind) {
    case ApiResult::Kind::kOk: return Failure::kNone;
    case ApiResult::Kind::kTransport:
    case ApiResult::Kind::kBadResponse: return Failure::kUnreachable;
    case ApiResult::Kind::kApiError: break;
  }
  const int code = r.error_code != 0 ? r.error_code : r.http_status;
  if (code == 429) return Failure::kRateLimited;
  if (code == 401) return Failure::kUnauthorized;
  if (code == 409) return Failure::kConflict;
  if (code == 400 && r.description.find("message is not modified") != std::string::npos) return Failure::kNotModified;
  // 404 is a wrong base URL or method, not a wrong message: keep the message, retry later.
  if (code == 404 || code >= 500 || code < 400) return Failure::kUnreachable;
  return Failure::kPermanent;
}

const char* failure_name(Failure f) {
  switch (f) {
    case Failure::kNone: return "none";
    case Failure::kNotModified: return "not_modified";
    case Failure::kPermanent: return "permanent";
    case Failure::kRateLimited: return "rate_limited";
    case Failure::kUnauthorized: return "unauthorized";
    case Failure::kConflict: return "conflict";
    case Failure::kUnreachable: return "unreachable";
  }
  return "?";
}

}  // namespace gwr::telegram
