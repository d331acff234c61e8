#include "web/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "common/strings.h"

namespace gwr::web {

namespace {

constexpr size_t kMaxHead = 8 * 1024;
constexpr int kIoTimeoutS = 2;

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

void write_all(int fd, const std::string& data) {
#ifdef MSG_NOSIGNAL
  constexpr int kFlags = MSG_NOSIGNAL;
#else
  constexpr int kFlags = 0;  // macOS: SO_NOSIGPIPE on the socket instead
#endif
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, kFlags);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return;  // the client left or stalled past SO_SNDTIMEO
    }
  }
}

std::string answer(const WebResponse& r, bool head_only) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason(r.status) + "\r\n";
  out += "Content-Type: " + r.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  out += "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n";
  for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
  out += "\r\n";
  if (!head_only) out += r.body;
  return out;
}

}  // namespace

bool equal_in_constant_time(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

Result<WebRequest> parse_request_head(const std::string& head) {
  WebRequest r;
  const size_t eol = head.find("\r\n");
  const std::string line = head.substr(0, eol);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string::npos ? std::string::npos : line.find(' ', sp1 + 1);
  if (sp2 == std::string::npos || line.compare(sp2 + 1, 7, "HTTP/1.") != 0) return make_error("not an HTTP/1.x request line");
  r.method = line.substr(0, sp1);
  const std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (target.empty() || target[0] != '/') return make_error("the target is not a path");
  const size_t q = target.find('?');
  r.path = percent_decode(target.substr(0, q));
  if (q != std::string::npos) {
    size_t start = q + 1;
    while (start <= target.size()) {
      size_t amp = target.find('&', start);
      if (amp == std::string::npos) amp = target.size();
      const std::string kv = target.substr(start, amp - start);
      const size_t eq = kv.find('=');
      if (!kv.empty()) r.query[percent_decode(kv.substr(0, eq))] = eq == std::string::npos ? "" : percent_decode(kv.substr(eq + 1));
      start = amp + 1;
    }
  }
  size_t at = eol == std::string::npos ? head.size() : eol + 2;
  while (at < head.size()) {
    size_t end = head.find("\r\n", at);
    if (end == std::string::npos) end = head.size();
    const std::string h = head.substr(at, end - at);
    const size_t colon = h.find(':');
    if (colon != std::string::npos && to_lower(h.substr(0, colon)) == "authorization") {
      r.authorization = trim(h.substr(colon + 1));
    }
    at = end + 2;
  }
  return r;
}

struct HttpServer::State {
  int listen_fd = -1;
  int stop_r = -1, stop_w = -1;
  std::atomic<int> connections{0};
  WebHandler handler;
  std::thread acceptor;
  ~State() {
    for (int fd : {listen_fd, stop_r, stop_w}) {
      if (fd >= 0) ::close(fd);
    }
  }
};

namespace {

void serve(int fd, const WebHandler& handler) {
  timeval tv{kIoTimeoutS, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string head;
  char buf[2048];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kIoTimeoutS);
  bool complete = false;
  while (head.size() <= kMaxHead && std::chrono::steady_clock::now() < deadline) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      head.append(buf, static_cast<size_t>(n));
      if (head.find("\r\n\r\n") != std::string::npos) {
        complete = true;
        break;
      }
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  WebResponse r;
  bool head_only = false;
  if (!complete) {
    if (head.size() > kMaxHead) {
      r.status = 431;
      r.body = "request head over 8 KiB\n";
      write_all(fd, answer(r, false));
    }
    ::close(fd);
    return;
  }
  head.resize(head.find("\r\n\r\n"));
  auto req = parse_request_head(head);
  if (!req) {
    r.status = 400;
    r.body = req.message() + "\n";
  } else if (req->method != "GET" && req->method != "HEAD") {
    r.status = 405;
    r.body = "only GET and HEAD\n";
    r.headers["Allow"] = "GET, HEAD";
  } else {
    head_only = req->method == "HEAD";
    try {
      r = handler(*req);
    } catch (const std::exception& e) {
      r = WebResponse{};
      r.status = 503;
      r.body = "not available\n";
      log::error("web_handler_failed", {{"path", req->path.substr(0, 100)}, {"error", e.what()}});
    }
  }
  write_all(fd, answer(r, head_only));
  ::shutdown(fd, SHUT_WR);
  ::close(fd);
}

}  // namespace

HttpServer::HttpServer(std::shared_ptr<State> state, uint16_t port) : state_(std::move(state)), port_(port) {}

Result<std::unique_ptr<HttpServer>> HttpServer::start(const ListenAddress& where, WebHandler handler) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(where.port);
  if (int rc = ::getaddrinfo(where.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return make_error("cannot resolve " + where.host + ": " + ::gai_strerror(rc));
  }
  auto state = std::make_shared<State>();
  std::string last = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 16) == 0) {
      state->listen_fd = fd;
      break;
    }
    last = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(found);
  if (state->listen_fd < 0) return make_error("cannot listen on " + where.host + ":" + port + ": " + last);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(state->listen_fd, reinterpret_cast<sockaddr*>(&bound), &len);
  const uint16_t actual = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return make_error(std::string("pipe: ") + std::strerror(errno));
  state->stop_r = pipe_fds[0];
  state->stop_w = pipe_fds[1];
  state->handler = std::move(handler);
  state->acceptor = std::thread([s = state.get(), weak = std::weak_ptr<State>(state)] {
    for (;;) {
      pollfd fds[2] = {{s->listen_fd, POLLIN, 0}, {s->stop_r, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents != 0) return;
      if ((fds[0].revents & POLLIN) == 0) continue;
      const int fd = ::accept(s->listen_fd, nullptr, nullptr);
      if (fd < 0) continue;
      ::fcntl(fd, F_SETFD, FD_CLOEXEC);
#ifdef SO_NOSIGPIPE
      const int on = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on);
#endif
      auto keep = weak.lock();
      if (!keep || s->connections.load() >= kMaxConnections) {
        ::close(fd);  // busy: the client tries again
        continue;
      }
      ++s->connections;
      std::thread([keep, fd] {
        serve(fd, keep->handler);
        --keep->connections;
      }).detach();
    }
  });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(state), actual));
}

HttpServer::~HttpServer() {
  if (!state_) return;
  const char b = 1;
  ssize_t ignored = ::write(state_->stop_w, &b, 1);
  (void)ignored;
  if (state_->acceptor.joinable()) state_->acceptor.join();
}

}  // namespace gwr::web
