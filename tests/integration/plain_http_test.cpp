// The prober's plain HTTP client (issue #16) against a scripted server on
// loopback: every answer a gateway (or whatever holds its port) may give,
// well-formed or not, fast or dripping, and the same answers through libcurl,
// which the prober used before, so that dropping libcurl changed no verdict.
#include "common/plain_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/http_client.h"
#include "tests/support/test_support.h"

namespace gwr {
namespace {

using namespace std::chrono_literals;

// One step of a scripted answer: bytes to write, then a pause.
struct Step {
  std::string bytes;
  std::chrono::milliseconds pause{0};
};

// Accepts connections on 127.0.0.1 (or ::1) and answers each with the script;
// keeps the last request it read. Closes after the script unless told to hold.
class ScriptedServer {
 public:
  ScriptedServer(std::vector<Step> script, bool hold_open = false, bool v6 = false)
      : script_(std::move(script)), hold_(hold_open) {
    fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (v6) {
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_addr = in6addr_loopback;
      ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    }
    ok_ = ok_ && ::listen(fd_, 8) == 0;
    sockaddr_storage s{};
    socklen_t len = sizeof s;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&s), &len);
    port_ = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&s)->sin6_port : reinterpret_cast<sockaddr_in*>(&s)->sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  bool ok() const { return ok_; }
  int port() const { return port_; }
  std::string url(const std::string& path = "/health") const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  std::string last_request() const {
    std::lock_guard<std::mutex> lock(mu_);
    return request_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 2000) <= 0) break;
        const ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        request_ = req;
      }
      for (const auto& s : script_) {
        if (stop_) break;
        if (!s.bytes.empty()) (void)::send(c, s.bytes.data(), s.bytes.size(), MSG_NOSIGNAL);
        auto until = std::chrono::steady_clock::now() + s.pause;
        while (!stop_ && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
      }
      while (hold_ && !stop_) std::this_thread::sleep_for(5ms);
      ::close(c);
    }
  }

  std::vector<Step> script_;
  bool hold_;
  int fd_ = -1;
  int port_ = 0;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::string request_;
  std::thread thread_;
};

HttpResponse get(HttpClient& c, const std::string& url, std::chrono::milliseconds timeout = 2000ms, size_t max = 64 * 1024,
                 const std::string& method = "GET") {
  HttpRequest r;
  r.method = method;
  r.url = url;
  r.timeout = timeout;
  r.max_response_bytes = max;
  return c.send(r);
}

const std::string kOk = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 28\r\n\r\n"
                        "{\"ok\":true,\"status\":\"live\"}\n";

TEST(PlainHttp, ReadsAnAnswerWithContentLengthAndSendsAWellFormedRequest) {
  ScriptedServer s({{kOk}});
  ASSERT_TRUE(s.ok());
  PlainHttpClient c;
  const auto r = get(c, s.url("/health?x=1#frag"));
  EXPECT_TRUE(r.completed()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"ok\":true,\"status\":\"live\"}\n");
  EXPECT_FALSE(r.truncated);
  EXPECT_GT(r.latency_us, 0);
  const std::string req = s.last_request();
  EXPECT_EQ(req.rfind("GET /health?x=1 HTTP/1.1\r\n", 0), 0u) << req;
  EXPECT_NE(req.find("\r\nHost: 127.0.0.1:" + std::to_string(s.port()) + "\r\n"), std::string::npos) << req;
  EXPECT_NE(req.find("\r\nConnection: close\r\n"), std::string::npos) << req;
}

TEST(PlainHttp, ChunkedAnswersInPiecesWithExtensionsAndTrailers) {
  ScriptedServer s({{"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n", 20ms},
                    {"5;ext=1\r\nnot r", 20ms},
                    {"\r\n6\r\neady: \r\n", 20ms},
                    {"C\r\ndraining €\r\n0\r\nX-Trailer: 1\r\n\r\n"}},
                   true);  // held open: the chunked end, not the close, ends it
  PlainHttpClient c;
  const auto r = get(c, s.url("/readyz"));
  EXPECT_TRUE(r.completed()) << r.error;
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "not ready: draining €");
}

TEST(PlainHttp, AnAnswerWithoutLengthEndsAtTheCloseAnInterimAnswerIsSkipped) {
  ScriptedServer s({{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\nServer: old\r\n\r\nbody until", 30ms}, {" the close"}});
  PlainHttpClient c;
  const auto r = get(c, s.url());
  EXPECT_TRUE(r.completed()) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "body until the close");
}

TEST(PlainHttp, ABodyOverTheLimitIsCutAndTheRestNotWaitedFor) {
  // A peer that streams forever after a large first piece: the client keeps
  // the limit's worth and returns at once instead of waiting for an end.
  ScriptedServer s({{"HTTP/1.1 200 OK\r\n\r\n" + std::string(100000, 'x'), 5000ms}}, true);
  PlainHttpClient c;
  const auto began = std::chrono::steady_clock::now();
  const auto r = get(c, s.url(), 3000ms, 1000);
  EXPECT_LT(std::chrono::steady_clock::now() - began, 2000ms);
  EXPECT_TRUE(r.completed()) << r.error;
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.body.size(), 1000u);
  // Chunked alike.
  ScriptedServer t({{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7D0\r\n" + std::string(2000, 'y') + "\r\n", 5000ms}}, true);
  const auto u = get(c, t.url(), 3000ms, 1000);
  EXPECT_TRUE(u.completed()) << u.error;
  EXPECT_TRUE(u.truncated);
  EXPECT_EQ(u.body, std::string(1000, 'y'));
}

TEST(PlainHttp, TheTimeoutBoundsTheWholeExchangeEvenWhenBytesDrip) {
  // One byte of the header every 100 ms: each read succeeds, the answer never completes in time.
  std::vector<Step> drip;
  for (char ch : std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")) drip.push_back({std::string(1, ch), 100ms});
  ScriptedServer s(drip);
  PlainHttpClient c;
  const auto began = std::chrono::steady_clock::now();
  const auto r = get(c, s.url(), 500ms);
  const auto took = std::chrono::steady_clock::now() - began;
  EXPECT_FALSE(r.completed());
  EXPECT_TRUE(r.timed_out) << r.error;
  EXPECT_GE(took, 450ms);
  EXPECT_LT(took, 1500ms);
  // A listener that accepts and never answers (a wedged gateway).
  ScriptedServer hang({}, true);
  const auto h = get(c, hang.url(), 300ms);
  EXPECT_TRUE(h.timed_out);
  EXPECT_FALSE(h.connect_failed);
}

TEST(PlainHttp, RefusedAndUnresolvableAreConnectFailures) {
  PlainHttpClient c;
  const int port = testing::free_tcp_port();
  const auto r = get(c, "http://127.0.0.1:" + std::to_string(port) + "/health");
  EXPECT_TRUE(r.connect_failed);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.error, "connection refused");
  const auto n = get(c, "http://no-such-host.invalid:18789/health");
  EXPECT_TRUE(n.connect_failed);
  EXPECT_FALSE(n.completed());
}

TEST(PlainHttp, MalformedAnswersAreErrorsNotVerdicts) {
  PlainHttpClient c;
  for (const std::string& bad : {std::string("SSH-2.0-OpenSSH_9.2\r\n\r\n"), std::string("HTTP/1.1 2x0 OK\r\n\r\n"),
                                std::string("HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n"),
                                std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc"),
                                std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
                                std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcdef\r\n"),
                                std::string("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n")}) {
    ScriptedServer s({{bad}});
    const auto r = get(c, s.url());
    EXPECT_FALSE(r.completed()) << bad;
    EXPECT_FALSE(r.error.empty()) << bad;
  }
  // Headers without end.
  ScriptedServer endless({{"HTTP/1.1 200 OK\r\n" + std::string(70 * 1024, 'h')}}, true);
  const auto e = get(c, endless.url());
  EXPECT_FALSE(e.completed());
  EXPECT_NE(e.error.find("64 KiB"), std::string::npos) << e.error;
  // Closed early: short of the Content-Length, or before any answer.
  ScriptedServer early({{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"}});
  EXPECT_FALSE(get(c, early.url()).completed());
  ScriptedServer mute({});
  EXPECT_NE(get(c, mute.url()).error.find("without an answer"), std::string::npos);
}

TEST(PlainHttp, UrlsThatCouldSmuggleOrLeakAreRefusedBeforeAnyConnection) {
  PlainHttpClient c;
  for (const char* bad : {"https://127.0.0.1:1/health", "ftp://x/", "http://127.0.0.1:1/a b",
                                "http://127.0.0.1:1/a\r\nX: y", "http://user:pw@127.0.0.1:1/", "http://127.0.0.1:0/",
                                "http://127.0.0.1:99999/", "http://:80/", "http://[::1/", "http://127.0.0.1:x/"}) {
    const auto r = get(c, bad);
    EXPECT_FALSE(r.completed()) << bad;
    EXPECT_FALSE(r.connect_failed) << bad;
  }
  // A header with a line break is dropped, not sent as two.
  ScriptedServer s({{kOk}});
  HttpRequest r;
  r.url = s.url();
  r.headers = {"X-Ok: 1", "X-Bad: 1\r\nX-Injected: 1"};
  EXPECT_TRUE(c.send(r).completed());
  EXPECT_NE(s.last_request().find("X-Ok: 1\r\n"), std::string::npos);
  EXPECT_EQ(s.last_request().find("X-Injected"), std::string::npos);
}

TEST(PlainHttp, HeadAndNoContentHaveNoBodyAndIpv6Works) {
  ScriptedServer s({{"HTTP/1.1 204 No Content\r\n\r\n"}}, true);
  PlainHttpClient c;
  const auto r = get(c, s.url(), 1000ms);
  EXPECT_TRUE(r.completed()) << r.error;
  EXPECT_EQ(r.status, 204);
  ScriptedServer h({{"HTTP/1.1 200 OK\r\nContent-Length: 28\r\n\r\n"}}, true);
  const auto hr = get(c, h.url(), 1000ms, 1024, "HEAD");
  EXPECT_TRUE(hr.completed()) << hr.error;
  EXPECT_EQ(hr.status, 200);
  EXPECT_EQ(h.last_request().rfind("HEAD /health HTTP/1.1\r\n", 0), 0u);
  ScriptedServer v6({{kOk}}, false, true);
  if (!v6.ok()) GTEST_SKIP() << "no IPv6 loopback here";
  const auto r6 = get(c, "http://[::1]:" + std::to_string(v6.port()) + "/health");
  EXPECT_TRUE(r6.completed()) << r6.error;
  EXPECT_EQ(r6.status, 200);
  EXPECT_NE(v6.last_request().find("Host: [::1]:"), std::string::npos);
}

// The prober's verdicts come from status, body, truncated, timed_out and
// connect_failed: for every answer both clients finish, they must agree.
TEST(PlainHttp, AgreesWithLibcurlOnEveryAnswerBothFinish) {
  const std::vector<std::vector<Step>> answers = {
      {{kOk}},
      {{"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 23\r\n\r\n{\"error\":\"boom € ünï\"}"}},
      {{"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwait\r\n0\r\n\r\n"}},
      {{"HTTP/1.1 404 Not Found\r\n\r\nno length, ends at close"}},
      {{"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'z')}},
      {{"HTTP/1.1 301 Moved\r\nLocation: http://example.invalid/\r\nContent-Length: 0\r\n\r\n"}},
      {{"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab", 50ms}, {"cd"}},
  };
  PlainHttpClient plain;
  CurlHttpClient curl;
  for (size_t i = 0; i < answers.size(); ++i) {
    ScriptedServer a(answers[i]);
    const auto p = get(plain, a.url(), 2000ms, 1000);
    const auto q = get(curl, a.url(), 2000ms, 1000);
    EXPECT_EQ(p.completed(), q.completed()) << i << ": " << p.error << " / " << q.error;
    EXPECT_EQ(p.status, q.status) << i;
    EXPECT_EQ(p.body, q.body) << i;
    EXPECT_EQ(p.truncated, q.truncated) << i;
  }
}

}  // namespace
}  // namespace gwr
