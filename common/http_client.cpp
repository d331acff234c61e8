#include "common/http_client.h"

// The prototypes from curl's own header, called through pointers that are
// resolved when the first request is sent (CurlApi below).
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>

#include <mutex>

#include "common/plain_http.h"

namespace gwr {

namespace {

// libcurl, loaded at the first request rather than at start: it maps OpenSSL,
// GnuTLS, Kerberos, LDAP and SSH (~5 MB of RSS), and a process whose HTTP is
// plain (the repairer with the qwen CLI engine, the bridge with Telegram off)
// never needs it. Issue #16.
struct CurlApi {
  decltype(&curl_global_init) global_init = nullptr;
  decltype(&curl_easy_init) easy_init = nullptr;
  decltype(&curl_easy_cleanup) easy_cleanup = nullptr;
  decltype(&curl_easy_reset) easy_reset = nullptr;
  decltype(&curl_easy_setopt) easy_setopt = nullptr;
  decltype(&curl_easy_perform) easy_perform = nullptr;
  decltype(&curl_easy_getinfo) easy_getinfo = nullptr;
  decltype(&curl_easy_strerror) easy_strerror = nullptr;
  decltype(&curl_slist_append) slist_append = nullptr;
  decltype(&curl_slist_free_all) slist_free_all = nullptr;
  std::string error;  // why it could not be loaded ("" when it was)
};

const CurlApi& curl_api() {
  static CurlApi api;
  static std::once_flag once;
  std::call_once(once, [] {
#ifdef __APPLE__
    const char* names[] = {"libcurl.4.dylib", "libcurl.dylib"};
#else
    const char* names[] = {"libcurl.so.4", "libcurl-gnutls.so.4"};
#endif
    void* lib = nullptr;
    std::string why;
    for (const char* name : names) {
      lib = ::dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (lib != nullptr) break;
      const char* e = ::dlerror();
      why += std::string(why.empty() ? "" : "; ") + (e != nullptr ? e : name);
    }
    if (lib == nullptr) {
      api.error = "libcurl could not be loaded (install libcurl4): " + why;
      return;
    }
    bool all = true;
    auto load = [&](auto& fn, const char* symbol) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(lib, symbol));
      if (fn == nullptr) {
        all = false;
        api.error.assign("libcurl has no ").append(symbol);
      }
    };
    load(api.global_init, "curl_global_init");
    load(api.easy_init, "curl_easy_init");
    load(api.easy_cleanup, "curl_easy_cleanup");
    load(api.easy_reset, "curl_easy_reset");
    load(api.easy_setopt, "curl_easy_setopt");
    load(api.easy_perform, "curl_easy_perform");
    load(api.easy_getinfo, "curl_easy_getinfo");
    load(api.easy_strerror, "curl_easy_strerror");
    load(api.slist_append, "curl_slist_append");
    load(api.slist_free_all, "curl_slist_free_all");
    if (!all) return;  // the handle stays open: nothing of it is used
    if (api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) api.error = "curl_global_init failed";
  });
  return api;
}

struct Sink {
  std::string* body;
  size_t limit;
  bool truncated = false;
};

size_t on_data(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t len = size * n;
  const size_t room = sink->limit > sink->body->size() ? sink->limit - sink->body->size() : 0;
  if (len > room) sink->truncated = true;
  sink->body->append(data, std::min(len, room));
  return len;  // keep reading (and discarding) so the exchange completes
}

}  // namespace

CurlHttpClient::CurlHttpClient() = default;

CurlHttpClient::~CurlHttpClient() {
  if (curl_ != nullptr) curl_api().easy_cleanup(static_cast<CURL*>(curl_));
}

HttpResponse CurlHttpClient::send(const HttpRequest& request) {
  HttpResponse out;
  const CurlApi& api = curl_api();
  if (!api.error.empty()) {
    out.error = api.error;
    return out;
  }
  if (curl_ == nullptr) curl_ = api.easy_init();
  CURL* c = static_cast<CURL*>(curl_);
  if (c == nullptr) {
    out.error = "curl_easy_init failed";
    return out;
  }
  api.easy_reset(c);
  char errbuf[CURL_ERROR_SIZE] = {};
  Sink sink{&out.body, request.max_response_bytes};
  api.easy_setopt(c, CURLOPT_URL, request.url.c_str());
  api.easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  api.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  api.easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  api.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>((request.connect_timeout.count() > 0 ? request.connect_timeout : request.timeout).count()));
  api.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  api.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  api.easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  api.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  if (!request.use_proxy) api.easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_slist* headers = nullptr;
  for (const auto& h : request.headers) headers = api.slist_append(headers, h.c_str());
  headers = api.slist_append(headers, "Expect:");
  api.easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  if (request.method == "POST") {
    api.easy_setopt(c, CURLOPT_POST, 1L);
    api.easy_setopt(c, CURLOPT_POSTFIELDS, request.body.c_str());
    api.easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
  } else if (request.method == "HEAD") {
    api.easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else {
    api.easy_setopt(c, CURLOPT_HTTPGET, 1L);
  }
  const CURLcode rc = api.easy_perform(c);
  api.slist_free_all(headers);
  curl_off_t total_us = 0;
  api.easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &total_us);
  out.latency_us = static_cast<int64_t>(total_us);
  out.truncated = sink.truncated;
  if (rc != CURLE_OK) {
    out.error = errbuf[0] != '\0' ? errbuf : api.easy_strerror(rc);
    out.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    out.connect_failed = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST;
    long code = 0;
    api.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    out.status = static_cast<int>(code);
    return out;
  }
  long code = 0;
  api.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  out.status = static_cast<int>(code);
  return out;
}

HttpResponse SplitHttpClient::send(const HttpRequest& request) {
  // https, or a proxy to honour: libcurl. Everything else is plain HTTP.
  if (request.use_proxy || request.url.rfind("http://", 0) != 0) {
    if (!curl_) curl_ = std::make_unique<CurlHttpClient>();
    return curl_->send(request);
  }
  if (!plain_) plain_ = std::make_unique<PlainHttpClient>();
  return plain_->send(request);
}

std::string url_encode(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : text) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += hex[ch >> 4];
      out += hex[ch & 15];
    }
  }
  return out;
}

}  // namespace gwr
