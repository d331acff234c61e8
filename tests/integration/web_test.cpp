// gwr-web (http.listen, issue #17 part 3) on the real binaries: started only
// when asked for; /metrics in the Prometheus format (checked by Debian's
// promtool) with the gateway's state and a repair counted as it happens;
// the token; what is not a scrape; slow clients; the alert rules shipped in
// deploy/prometheus pass promtool too.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <httplib.h>

#include <gtest/gtest.h>

#include "tests/support/repair_scenario.h"

namespace gwr::testing {
namespace {

using namespace std::chrono_literals;

std::string promtool() {
  for (const char* p : {"/usr/bin/promtool", "/usr/local/bin/promtool", "/opt/homebrew/bin/promtool"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "";
}

// `promtool check metrics` reads the page on its standard input.
CommandOutput promtool_check_metrics(const std::string& page, const std::string& dir) {
  const std::string file = dir + "/metrics.txt";
  std::ofstream(file) << page;
  return run({"/bin/sh", "-c", "\"$0\" check metrics < \"$1\" 2>&1", promtool(), file});
}

int connect_idle(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

class WebTest : public RepairScenario {
 protected:
  std::string get(const std::string& path, const httplib::Headers& headers = {}, int* status = nullptr) {
    httplib::Client c("127.0.0.1", web_port_);
    c.set_connection_timeout(2);
    c.set_read_timeout(5);
    auto r = c.Get(path, headers);
    if (status != nullptr) *status = r ? r->status : 0;
    return r ? r->body : "";
  }
  int web_port_ = free_tcp_port();
};

TEST_F(WebTest, MetricsTellTheGatewayAndItsRepairsAndPassPromtool) {
  ASSERT_FALSE(promtool().empty()) << "promtool is missing: scripts/deps.sh test installs Debian's prometheus";
  start("http:\n  listen: 127.0.0.1:" + std::to_string(web_port_) + "\n");
  ASSERT_TRUE(daemon_->wait_all_heartbeating(10s));
  nlohmann::json st;
  EXPECT_TRUE(wait_until(
      [&] {
        st = status();
        for (const auto& c : st["components"]) {
          if (c.value("name", "") == "web" && c.value("state", "") == "running") return true;
        }
        return false;
      },
      5s, "gwr-web among the running components"))
      << st.dump(2);

  int code = 0;
  ASSERT_TRUE(wait_until([&] { return get("/metrics", {}, &code).find("gwr_gateway_up 1") != std::string::npos; }, 10s,
                         "gwr_gateway_up 1"));
  EXPECT_EQ(code, 200);
  ::kill(service_->gateway_pid(), SIGKILL);
  ASSERT_TRUE(wait_repair(pb::RepairEvent::FINISHED, 20s));
  std::string page;
  ASSERT_TRUE(wait_until(
      [&] {
        page = get("/metrics");
        return page.find("gwr_repairs_total{tier=\"1\",trigger=\"auto\",outcome=\"success\"} 1") != std::string::npos &&
               page.find("gwr_component_up{component=\"web\"} 1") != std::string::npos &&
               page.find("gwr_repairs_per_hour_limit 3") != std::string::npos &&
               page.find("gwr_gateway_up 1") != std::string::npos;
      },
      10s, "the repair and the components on the page"))
      << page;
  EXPECT_NE(page.find("gwr_repairs_started_total{trigger=\"auto\"} 1"), std::string::npos) << page;
  EXPECT_NE(page.find("gwr_repair_duration_seconds_count 1"), std::string::npos) << page;
  EXPECT_NE(page.find("gwr_probe_duration_seconds_bucket{check=\"health\",le=\"+Inf\"}"), std::string::npos);
  EXPECT_NE(page.find("gwr_repairs_per_hour_limit 3"), std::string::npos);
  const auto checked = promtool_check_metrics(page, dir_.path());
  EXPECT_EQ(checked.exit_code, 0) << checked.output << "\n" << page;
  EXPECT_TRUE(checked.output.empty()) << "promtool's lint: " << checked.output;

  // HEAD is a GET without the body; what is not a page is said so.
  httplib::Client c("127.0.0.1", web_port_);
  auto head = c.Head("/metrics");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
  auto post = c.Post("/metrics", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  get("/nothing-here", {}, &code);
  EXPECT_EQ(code, 404);

  // Clients that connect and say nothing hold a slot for 2 s, not the server.
  std::vector<int> idle;
  for (int i = 0; i < 3; ++i) idle.push_back(connect_idle(web_port_));
  const auto t0 = std::chrono::steady_clock::now();
  get("/metrics", {}, &code);
  EXPECT_EQ(code, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  for (int fd : idle) ::close(fd);
  // Garbage is a 400, and the server still serves.
  const int raw = connect_idle(web_port_);
  ASSERT_GE(raw, 0);
  const std::string junk = "\x16\x03\x01 not http at all\r\n\r\n";
  ASSERT_EQ(::send(raw, junk.data(), junk.size(), 0), static_cast<ssize_t>(junk.size()));
  char buf[64] = {};
  ASSERT_GT(::recv(raw, buf, sizeof buf - 1, 0), 0);
  EXPECT_EQ(std::string(buf).rfind("HTTP/1.1 400", 0), 0u) << buf;
  ::close(raw);
  get("/metrics", {}, &code);
  EXPECT_EQ(code, 200);
}

TEST_F(WebTest, WithATokenEveryRequestNeedsItAndNoLogHasIt) {
  const std::string token = "m3tr1cs-t0ken-9c2e";
  start("http:\n  listen: 127.0.0.1:" + std::to_string(web_port_) + "\n  token: " + token + "\n");
  int code = 0;
  ASSERT_TRUE(wait_until([&] { return !get("/metrics", {{"Authorization", "Bearer " + token}}, &code).empty(); }, 10s,
                         "a page with the token"));
  EXPECT_EQ(code, 200);
  get("/metrics", {}, &code);
  EXPECT_EQ(code, 401);
  get("/metrics", {{"Authorization", "Bearer " + token + "x"}}, &code);
  EXPECT_EQ(code, 401);
  get("/metrics", {{"Authorization", "Bearer " + token.substr(0, token.size() - 1)}}, &code);
  EXPECT_EQ(code, 401);
  get("/metrics?token=" + token, {}, &code);
  EXPECT_EQ(code, 200);
  for (const char* process : {"gwr-supervisor", "gwr-web", "gwr-repairer", "gwr-telegram-bridge"}) {
    EXPECT_EQ(read_file(daemon_->log_file(process)).find(token), std::string::npos) << process << " logged the token";
  }
}

TEST_F(WebTest, OffByDefaultAndRefusedOffLoopbackWithoutAToken) {
  // No http.listen: no gwr-web process at all.
  start();
  for (const auto& c : status()["components"]) EXPECT_NE(c.value("name", ""), "web");
  for (const std::string& bad : {std::string("http:\n  listen: 0.0.0.0:9477\n"), std::string("http:\n  listen: 9477\n"),
                                 std::string("http:\n  listen: \"127.0.0.1:99999\"\n"),
                                 std::string("http:\n  listen: \"::1:9477\"\n")}) {
    Daemon d(yaml(bad));
    const auto out = d.gwrctl({"config", "check"});
    EXPECT_NE(out.exit_code, 0) << bad;
    EXPECT_NE(out.output.find("http.listen"), std::string::npos) << out.output;
  }
  Daemon ok(yaml("http:\n  listen: 0.0.0.0:9477\n  token: abc\n"));
  EXPECT_EQ(ok.gwrctl({"config", "check"}).exit_code, 0);
}

std::string chromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "";
}

TEST_F(WebTest, TheStatusPageShowsTheStateAndTheIncidentInARealBrowser) {
  ASSERT_FALSE(chromium().empty()) << "chromium is missing: scripts/deps.sh test installs Debian's chromium";
  start("http:\n  listen: 127.0.0.1:" + std::to_string(web_port_) + "\n");
  ::kill(service_->gateway_pid(), SIGKILL);
  ASSERT_TRUE(wait_repair(pb::RepairEvent::FINISHED, 20s));
  nlohmann::json history;
  ASSERT_TRUE(wait_until(
      [&] {
        history = nlohmann::json::parse(get("/api/history"), nullptr, false);
        return history.is_object() && history["incidents"].size() == 1 &&
               nlohmann::json::parse(get("/api/status"), nullptr, false).value("gateway", nlohmann::json::object()).value("state", "") ==
                   "healthy";
      },
      10s, "the incident in /api/history and HEALTHY in /api/status"))
      << history.dump(2);
  EXPECT_EQ(history["incidents"][0]["id"], 1);
  EXPECT_EQ(history["incidents"][0]["outcome"], "repaired");
  EXPECT_EQ(history["incidents"][0]["trigger"], "auto");
  EXPECT_GE(history["timeline"].size(), 3u) << history["timeline"].dump();  // down, then healthy again

  httplib::Client c("127.0.0.1", web_port_);
  auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("default-src 'none'"), std::string::npos);

  // What a browser makes of it: the DOM after parsing, and a phone-sized screenshot.
  const std::string profile = dir_.path() + "/chromium";
  const std::string url = "http://127.0.0.1:" + std::to_string(web_port_) + "/";
  const std::vector<std::string> common = {chromium(), "--headless=new", "--no-sandbox", "--disable-gpu",
                                           "--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=" + profile};
  auto args = common;
  args.insert(args.end(), {"--dump-dom", url});
  const auto t0 = std::chrono::steady_clock::now();
  const auto dom = run(args, 60s);
  const auto render_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(dom.exit_code, 0) << dom.output;
  EXPECT_NE(dom.output.find("id=\"state\""), std::string::npos) << dom.output;
  EXPECT_NE(dom.output.find(">healthy</span>"), std::string::npos) << dom.output;
  EXPECT_NE(dom.output.find("id=\"repair-1\""), std::string::npos) << dom.output;
  EXPECT_NE(dom.output.find("<svg id=\"timeline\""), std::string::npos) << dom.output;
  const std::string shot = std::string(GWR_BIN_DIR) + "/../web-status.png";
  args = common;
  args.insert(args.end(), {"--hide-scrollbars", "--window-size=412,1400", "--screenshot=" + shot, url});
  const auto png = run(args, 60s);
  ASSERT_EQ(png.exit_code, 0) << png.output;
  const std::string bytes = read_file(shot);
  ASSERT_GT(bytes.size(), 2000u) << shot;
  EXPECT_EQ(bytes.substr(1, 3), "PNG");
  std::printf("[web] the page rendered in headless Chromium in %lld ms (DOM dump, browser start included); screenshot %s\n",
              static_cast<long long>(render_ms), shot.c_str());
}

TEST(WebRules, TheShippedAlertRulesPassPromtool) {
  ASSERT_FALSE(promtool().empty()) << "promtool is missing: scripts/deps.sh test installs Debian's prometheus";
  const auto out = run({promtool(), "check", "rules", source_path("deploy/prometheus/gwr-rules.yml")});
  EXPECT_EQ(out.exit_code, 0) << out.output;
  const auto dash = nlohmann::json::parse(read_file(source_path("deploy/prometheus/grafana-dashboard.json")), nullptr, false);
  ASSERT_TRUE(dash.is_object());
  EXPECT_GE(dash["panels"].size(), 6u);
}

}  // namespace
}  // namespace gwr::testing
