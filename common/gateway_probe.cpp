#include "common/gateway_probe.h"

#include <algorithm>

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include <nlohmann/json.hpp>

#include "common/duration.h"
#include "common/redact.h"
#include "common/text.h"

namespace gwr {

const char* to_string(StartupStatus s) {
  switch (s) {
    case StartupStatus::kUnknown: return "unknown";
    case StartupStatus::kNotSupported: return "not supported";
    case StartupStatus::kStarting: return "starting";
    case StartupStatus::kDraining: return "draining";
    case StartupStatus::kStarted: return "started";
  }
  return "?";
}

std::string gateway_base_url(const std::string& host, uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

namespace {

// A non-blocking, close-on-exec socket for one connect attempt: in one call
// where socket() takes the flags (Linux), with fcntl where it does not (macOS).
int nonblocking_socket(const addrinfo* ai) {
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
  return ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
#else
  const int fd = ::socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
  if (fd < 0) return fd;
  const int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 || ::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
    const int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
#endif
}

}  // namespace

PortObservation probe_port(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) {
  PortObservation out;
  const auto start = std::chrono::steady_clock::now();
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* res = nullptr;
  const int gai = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (gai != 0) {
    out.detail = std::string("cannot resolve ") + host + ": " + ::gai_strerror(gai);
    out.cause = pb::CAUSE_TRANSPORT;
    return out;
  }
  std::string last_error = "no address";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    const int fd = nonblocking_socket(ai);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      const auto left = timeout - std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
      if (rc == 0) {
        ::close(fd);
        last_error = "timeout after " + format_duration(timeout);
        out.cause = pb::CAUSE_TIMEOUT;
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc == 0) {
      ::close(fd);
      out.ok = true;
      out.cause = pb::CAUSE_UNSPECIFIED;
      out.latency_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
      ::freeaddrinfo(res);
      return out;
    }
    const bool refused = errno == ECONNREFUSED;
    last_error = refused ? "connection refused" : std::strerror(errno);
    if (out.cause != pb::CAUSE_TIMEOUT) out.cause = refused ? pb::CAUSE_REFUSED : pb::CAUSE_TRANSPORT;
    ::close(fd);
  }
  ::freeaddrinfo(res);
  out.latency_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
  out.detail = last_error;
  return out;
}

namespace {

// A gateway's answer as a reason can show it: redacted first (a body may
// carry a token), then cut on a character boundary, valid UTF-8, one line.
std::string snippet(std::string_view body) {
  std::string s = clip_end(SharedRedactor::instance().redact(valid_utf8(body)), 160);
  for (auto& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return s;
}

// A body the client cut at its limit: the word at the cut is dropped, so
// no part of a secret survives into the redacted snippet.
std::string_view whole_body(const HttpResponse& r) {
  return r.truncated ? head_words(r.body, r.body.size() - 1) : std::string_view(r.body);
}

StartupStatus ask_startup(HttpClient& http, const std::string& base, const std::string& startup_path,
                          std::chrono::milliseconds timeout) {
  HttpRequest req;
  req.url = base + startup_path;
  req.timeout = timeout;
  req.max_response_bytes = 16 * 1024;
  const auto r = http.send(req);
  if (!r.completed()) return StartupStatus::kUnknown;
  if (r.status == 404) return StartupStatus::kNotSupported;
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  const std::string status = (j.is_object() && j.contains("status") && j["status"].is_string()) ? j["status"].get<std::string>() : "";
  if (status == "starting") return StartupStatus::kStarting;
  if (status == "draining") return StartupStatus::kDraining;
  if (r.status == 200) return StartupStatus::kStarted;
  return StartupStatus::kUnknown;
}

}  // namespace

HealthObservation probe_health(HttpClient& http, const std::string& host, uint16_t port, const std::string& path,
                               const std::string& startup_path, std::chrono::milliseconds timeout) {
  HealthObservation out;
  const std::string base = gateway_base_url(host, port);
  HttpRequest req;
  req.url = base + path;
  req.timeout = timeout;
  req.max_response_bytes = 64 * 1024;
  const auto r = http.send(req);
  out.latency_us = r.latency_us;
  out.http_status = r.status;
  if (!r.completed()) {
    out.timed_out = r.timed_out;
    out.refused = r.connect_failed;
    out.cause = r.timed_out ? pb::CAUSE_TIMEOUT : r.connect_failed ? pb::CAUSE_REFUSED : pb::CAUSE_TRANSPORT;
    out.detail = r.timed_out ? "no answer within " + format_duration(timeout)
                             : (r.connect_failed ? "connection refused" : valid_utf8(r.error));
  } else if (r.status != 200) {
    out.cause = pb::CAUSE_HTTP_STATUS;
    out.detail = "HTTP " + std::to_string(r.status) + (r.body.empty() ? "" : ": " + snippet(whole_body(r)));
  } else {
    const auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (!j.is_object()) {
      out.cause = pb::CAUSE_BAD_BODY;
      out.detail = "unexpected body: " + snippet(whole_body(r));
    } else {
      const bool ok_flag = j.contains("ok") && j["ok"].is_boolean() && j["ok"].get<bool>();
      const std::string status = (j.contains("status") && j["status"].is_string()) ? j["status"].get<std::string>() : "";
      if (j.contains("ok") && j["ok"].is_boolean() && !j["ok"].get<bool>()) {
        out.cause = pb::CAUSE_NOT_OK;
        out.detail = "gateway says not ok" + (status.empty() ? "" : " (status " + status + ")");
        if (j.contains("error") && j["error"].is_string()) out.detail += ": " + snippet(j["error"].get<std::string>());
      } else if (ok_flag || status == "live" || status == "ok") {
        out.ok = true;
      } else {
        out.cause = pb::CAUSE_BAD_BODY;
        out.detail = "unexpected body: " + snippet(whole_body(r));
      }
    }
  }
  // Only a gateway that answered HTTP can say it is starting; one that timed
  // out would make the startup request wait for its timeout too.
  if (!out.ok && !startup_path.empty() && r.completed()) {
    out.startup = ask_startup(http, base, startup_path, timeout);
  }
  return out;
}

namespace {

// Names from the gateway, kept as data: valid UTF-8, one line, bounded.
void take_names(const nlohmann::json& j, const char* field, std::vector<std::string>& out) {
  if (!j.contains(field) || !j[field].is_array()) return;
  for (const auto& v : j[field]) {
    if (!v.is_string()) continue;
    std::string name = clip_end(one_line_utf8(v.get_ref<const std::string&>()), 64);
    if (name.empty() || std::find(out.begin(), out.end(), name) != out.end()) continue;
    out.push_back(std::move(name));
    if (out.size() >= kMaxReadinessNames) return;
  }
}

}  // namespace

ReadinessObservation parse_readiness(int http_status, const std::string& body) {
  ReadinessObservation out;
  if (http_status != 200 && http_status != 503) return out;
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("ready") || !j["ready"].is_boolean()) return out;
  out.understood = true;
  out.ready = j["ready"].get<bool>();
  take_names(j, "failing", out.failing);
  take_names(j, "suppressed", out.suppressed);
  if (const auto el = j.find("eventLoop"); el != j.end() && el->is_object()) {
    const auto d = el->find("degraded");
    if (d != el->end() && d->is_boolean()) {
      auto& e = out.event_loop;
      e.known = true;
      e.degraded = d->get<bool>();
      take_names(*el, "reasons", e.reasons);
      // Figures only when they are finite, non-negative numbers; anything else is 0 (not known).
      auto figure = [&](const char* key) {
        const auto v = el->find(key);
        if (v == el->end() || !v->is_number()) return 0.0;
        const double x = v->get<double>();
        return std::isfinite(x) && x >= 0 && x < 1e9 ? x : 0.0;
      };
      e.delay_p99_ms = figure("delayP99Ms");
      e.delay_max_ms = figure("delayMaxMs");
      e.utilization = figure("utilization");
      e.cpu_core_ratio = figure("cpuCoreRatio");
    }
  }
  return out;
}

ReadinessObservation probe_readiness(HttpClient& http, const std::string& host, uint16_t port, const std::string& path,
                                     std::chrono::milliseconds timeout) {
  HttpRequest req;
  req.url = gateway_base_url(host, port) + path;
  req.timeout = timeout;
  req.max_response_bytes = 64 * 1024;
  const auto r = http.send(req);
  if (!r.completed() || r.truncated) return ReadinessObservation{};
  return parse_readiness(r.status, r.body);
}

}  // namespace gwr
