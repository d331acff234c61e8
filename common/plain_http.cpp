#include "common/plain_http.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <utility>

#include "common/strings.h"

namespace gwr {

namespace {

using Steady = std::chrono::steady_clock;

constexpr size_t kMaxHeaderBytes = 64 * 1024;
constexpr size_t kMaxChunkLine = 1024;

struct Url {
  std::string host;         // without brackets
  std::string port = "80";
  std::string authority;    // as written, for the Host header
  std::string target = "/";
};

bool visible(const std::string& s) {
  for (unsigned char c : s) {
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

std::optional<Url> parse_url(const std::string& url, std::string* why) {
  if (url.rfind("https://", 0) == 0) {
    *why = "https is not spoken by the plain HTTP client (the gateway's endpoints are http)";
    return std::nullopt;
  }
  if (url.rfind("http://", 0) != 0) {
    *why = "not an http:// URL";
    return std::nullopt;
  }
  Url u;
  const std::string rest = url.substr(7);
  const size_t slash = rest.find('/');
  u.authority = rest.substr(0, slash);
  if (slash != std::string::npos) u.target = rest.substr(slash);
  if (const size_t hash = u.target.find('#'); hash != std::string::npos) u.target.resize(hash);
  // A target or host with spaces or line breaks would be a second request.
  if (!visible(u.authority) || !visible(u.target) || u.authority.find('@') != std::string::npos) {
    *why = "the URL has spaces, control characters or user info";
    return std::nullopt;
  }
  std::string port;
  if (!u.authority.empty() && u.authority[0] == '[') {
    const size_t close = u.authority.find(']');
    if (close == std::string::npos) {
      *why = "unclosed [ in the URL's host";
      return std::nullopt;
    }
    u.host = u.authority.substr(1, close - 1);
    const std::string after = u.authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        *why = "junk after ] in the URL's host";
        return std::nullopt;
      }
      port = after.substr(1);
    }
  } else {
    const size_t colon = u.authority.rfind(':');
    u.host = u.authority.substr(0, colon);
    if (colon != std::string::npos) port = u.authority.substr(colon + 1);
  }
  if (!port.empty() || u.authority.find(':') != std::string::npos) {
    if (!parse_port(port)) {
      *why = "the URL's port is not 1..65535";
      return std::nullopt;
    }
    u.port = port;
  }
  if (u.host.empty()) {
    *why = "the URL has no host";
    return std::nullopt;
  }
  return u;
}

int remaining_ms(Steady::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left, 60 * 60 * 1000));
}

// 1 ready, 0 deadline passed, -1 error (errno).
int wait_for(int fd, short events, Steady::time_point deadline) {
  for (;;) {
    const int ms = remaining_ms(deadline);
    if (ms == 0) return 0;
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, ms);
    if (r > 0) return 1;
    if (r == 0) continue;  // re-check the deadline
    if (errno != EINTR) return -1;
  }
}

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// A connected, non-blocking socket, or -1 with `out` saying why.
int connect_to(const Url& u, Steady::time_point deadline, HttpResponse& out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const int gai = ::getaddrinfo(u.host.c_str(), u.port.c_str(), &hints, &res);
  if (gai != 0 || res == nullptr) {
    out.connect_failed = true;
    out.error = "could not resolve host " + u.host + ": " + ::gai_strerror(gai);
    return -1;
  }
  std::string last = "no address to connect to";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    Socket s(::socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol));
    if (s.fd() < 0) {
      last = std::strerror(errno);
      continue;
    }
    ::fcntl(s.fd(), F_SETFD, FD_CLOEXEC);
    ::fcntl(s.fd(), F_SETFL, ::fcntl(s.fd(), F_GETFL) | O_NONBLOCK);
#ifdef SO_NOSIGPIPE
    int one = 1;
    ::setsockopt(s.fd(), SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    int rc = ::connect(s.fd(), ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      const int w = wait_for(s.fd(), POLLOUT, deadline);
      if (w == 0) {
        ::freeaddrinfo(res);
        out.timed_out = true;
        out.error = "connect timed out";
        return -1;
      }
      int err = 0;
      socklen_t len = sizeof err;
      if (w < 0 || ::getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc == 0) {
      ::freeaddrinfo(res);
      return s.release();
    }
    if (errno == ECONNREFUSED) out.connect_failed = true;
    last = errno == ECONNREFUSED ? "connection refused" : std::strerror(errno);
  }
  ::freeaddrinfo(res);
  out.connect_failed = true;  // refused or unreachable, as curl's "couldn't connect"
  out.error = last;
  return -1;
}

bool send_all(int fd, const std::string& data, Steady::time_point deadline, HttpResponse& out) {
#ifdef MSG_NOSIGNAL
  constexpr int kFlags = MSG_NOSIGNAL;
#else
  constexpr int kFlags = 0;
#endif
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, kFlags);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      const int w = wait_for(fd, POLLOUT, deadline);
      if (w == 0) {
        out.timed_out = true;
        out.error = "sending the request timed out";
        return false;
      }
      if (w > 0) continue;
    }
    out.error = std::string("sending the request failed: ") + std::strerror(errno);
    return false;
  }
  return true;
}

std::string trim_ows(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return s.substr(b, e - b);
}

struct Head {
  int status = 0;
  std::optional<uint64_t> content_length;
  bool chunked = false;
};

// The status line and headers of one answer (without the blank line).
std::optional<Head> parse_head(const std::string& block, std::string* why) {
  Head h;
  size_t eol = block.find('\n');
  const std::string status_line = trim_ows(block.substr(0, eol));
  // "HTTP/1.1 200 OK"
  if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12 || status_line[8] != ' ' ||
      !std::isdigit(static_cast<unsigned char>(status_line[9])) || !std::isdigit(static_cast<unsigned char>(status_line[10])) ||
      !std::isdigit(static_cast<unsigned char>(status_line[11])) || (status_line.size() > 12 && status_line[12] != ' ')) {
    *why = "not an HTTP/1.x status line";
    return std::nullopt;
  }
  h.status = std::stoi(status_line.substr(9, 3));
  while (eol != std::string::npos) {
    const size_t start = eol + 1;
    eol = block.find('\n', start);
    const std::string line = trim_ows(block.substr(start, eol == std::string::npos ? std::string::npos : eol - start));
    if (line.empty()) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0) {
      *why = "a header line without a name";
      return std::nullopt;
    }
    const std::string name = to_lower(trim_ows(line.substr(0, colon)));
    const std::string value = trim_ows(line.substr(colon + 1));
    if (name == "content-length") {
      if (value.empty() || value.size() > 18 || value.find_first_not_of("0123456789") != std::string::npos) {
        *why = "a Content-Length that is not a number";
        return std::nullopt;
      }
      const uint64_t n = std::stoull(value);
      if (h.content_length && *h.content_length != n) {
        *why = "two different Content-Length headers";
        return std::nullopt;
      }
      h.content_length = n;
    } else if (name == "transfer-encoding") {
      const std::string v = to_lower(value);
      h.chunked = v.size() >= 7 && v.compare(v.size() - 7, 7, "chunked") == 0;
    }
  }
  return h;
}

// Incremental chunked decoding of `raw` (what arrived after the headers).
class Dechunker {
 public:
  // Moves what `raw` holds into `body` (at most `limit` bytes kept). Returns
  // false on a malformed stream (`why` says how).
  bool feed(std::string& raw, std::string& body, size_t limit, bool& truncated, std::string* why) {
    size_t pos = 0;
    while (!done_ && !truncated) {
      if (state_ == kSize || state_ == kTrailer) {
        const size_t eol = raw.find('\n', pos);
        if (eol == std::string::npos) {
          if (raw.size() - pos > kMaxChunkLine) {
            *why = "a chunk line longer than 1 KiB";
            return false;
          }
          break;
        }
        const std::string line = trim_ows(raw.substr(pos, eol - pos));
        pos = eol + 1;
        if (state_ == kTrailer) {
          if (line.empty()) done_ = true;
          continue;
        }
        const std::string hex = line.substr(0, line.find(';'));
        if (hex.empty() || hex.size() > 15 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
          *why = "a chunk size that is not hexadecimal";
          return false;
        }
        left_ = std::stoull(hex, nullptr, 16);
        state_ = left_ == 0 ? kTrailer : kData;
      } else if (state_ == kData) {
        const size_t take = std::min<uint64_t>(left_, raw.size() - pos);
        if (take == 0) break;
        const size_t room = limit > body.size() ? limit - body.size() : 0;
        body.append(raw, pos, std::min(take, room));
        if (take > room) truncated = true;
        pos += take;
        left_ -= take;
        if (left_ == 0) state_ = kDataEnd;
      } else {  // kDataEnd: the CRLF after a chunk's data
        const size_t eol = raw.find('\n', pos);
        if (eol == std::string::npos) {
          if (raw.size() - pos > 2) {
            *why = "chunk data longer than its size";
            return false;
          }
          break;
        }
        if (!trim_ows(raw.substr(pos, eol - pos)).empty()) {
          *why = "chunk data longer than its size";
          return false;
        }
        pos = eol + 1;
        state_ = kSize;
      }
    }
    raw.erase(0, pos);
    return true;
  }
  bool done() const { return done_; }

 private:
  enum State { kSize, kData, kDataEnd, kTrailer };
  State state_ = kSize;
  uint64_t left_ = 0;
  bool done_ = false;
};

}  // namespace

HttpResponse PlainHttpClient::send(const HttpRequest& request) {
  HttpResponse out;
  const auto start = Steady::now();
  const auto finish = [&]() -> HttpResponse {
    out.latency_us = std::chrono::duration_cast<std::chrono::microseconds>(Steady::now() - start).count();
    return std::move(out);
  };
  std::string why;
  const auto url = parse_url(request.url, &why);
  if (!url) {
    out.error = why;
    return finish();
  }
  if (request.method != "GET" && request.method != "HEAD" && request.method != "POST") {
    out.error = "unsupported method " + request.method;
    return finish();
  }
  const auto deadline = start + request.timeout;
  const auto connect_deadline =
      request.connect_timeout.count() > 0 ? std::min(deadline, start + request.connect_timeout) : deadline;
  Socket sock(connect_to(*url, connect_deadline, out));
  if (sock.fd() < 0) return finish();

  std::string req = request.method + " " + url->target + " HTTP/1.1\r\nHost: " + url->authority +
                    "\r\nUser-Agent: gwr\r\nAccept: */*\r\nConnection: close\r\n";
  for (const auto& h : request.headers) {
    // One header per entry; a line break inside one would be a header (or a request) of its own.
    if (h.find_first_of("\r\n") != std::string::npos) continue;
    req += h + "\r\n";
  }
  if (request.method == "POST") req += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  req += "\r\n";
  if (request.method == "POST") req += request.body;
  if (!send_all(sock.fd(), req, deadline, out)) return finish();

  const bool head_request = request.method == "HEAD";
  std::string raw;          // received and not yet consumed
  std::optional<Head> head;
  Dechunker dechunker;
  bool eof = false;
  char buf[16 * 1024];
  for (;;) {
    // Parse what arrived.
    if (!head) {
      size_t end = raw.find("\r\n\r\n");
      size_t skip = 4;
      if (end == std::string::npos) {
        end = raw.find("\n\n");
        skip = 2;
      }
      if (end == std::string::npos) {
        if (raw.size() > kMaxHeaderBytes) {
          out.error = "the answer's headers exceed 64 KiB";
          return finish();
        }
      } else {
        auto h = parse_head(raw.substr(0, end), &why);
        if (!h) {
          out.error = "malformed HTTP answer: " + why;
          return finish();
        }
        raw.erase(0, end + skip);
        if (h->status >= 100 && h->status < 200) continue;  // an interim answer (100 Continue): the real one follows
        head = h;
        out.status = h->status;
      }
    }
    if (head) {
      const bool no_body = head_request || head->status == 204 || head->status == 304;
      if (no_body) return finish();
      if (head->chunked) {
        if (!dechunker.feed(raw, out.body, request.max_response_bytes, out.truncated, &why)) {
          out.error = "malformed HTTP answer: " + why;
          return finish();
        }
        if (dechunker.done() || out.truncated) return finish();
      } else {
        const size_t room = request.max_response_bytes > out.body.size() ? request.max_response_bytes - out.body.size() : 0;
        size_t take = raw.size();
        if (head->content_length) take = std::min<uint64_t>(take, *head->content_length - out.body.size());
        if (take > room) {
          out.body.append(raw, 0, room);
          out.truncated = true;
          return finish();
        }
        out.body.append(raw, 0, take);
        raw.clear();
        if (head->content_length && out.body.size() >= *head->content_length) return finish();
      }
    }
    if (eof) {
      // Closed: a complete answer only when its length was not announced.
      if (head && !head->chunked && !head->content_length) return finish();
      out.error = head ? "the connection closed before the answer was complete" : "the connection closed without an answer";
      return finish();
    }
    // Read more.
    const ssize_t n = ::recv(sock.fd(), buf, sizeof buf, 0);
    if (n > 0) {
      raw.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      eof = true;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      const int w = wait_for(sock.fd(), POLLIN, deadline);
      if (w == 0) {
        out.timed_out = true;
        out.error = "no complete answer within " + std::to_string(request.timeout.count()) + " ms";
        return finish();
      }
      if (w > 0) continue;
    }
    out.error = std::string("reading the answer failed: ") + std::strerror(errno);
    return finish();
  }
}

}  // namespace gwr
