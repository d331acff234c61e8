// End to end: the real gwr daemon against the real OpenClaw gateway
// (openclaw@2026.9.6 on Node 24, installed by install_openclaw.sh into a
// cache reused across runs). The gateway runs in a temp HOME on a free
// loopback port, started and stopped through openclaw-service.sh, which is
// what gwr's gateway.commands point at (these machines have no service
// manager). One gateway is shared by the scenarios to save its ~12 s cold
// start; every scenario brings it to "healthy" first and uses a fresh gwr
// daemon, so none depends on another's leftovers. The shared gateway runs
// without channels (OPENCLAW_SKIP_CHANNELS=1); the channel scenarios run a
// gateway of their own with a Telegram channel, in their own HOME, so its
// channel and OpenClaw's crash-loop breaker never reach the shared one.
//
// main() installs (or finds) OpenClaw first: when the npm registry cannot be
// reached it prints why and exits 77, which ctest reports as skipped.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <cstdlib>
#include <ctime>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/http_client.h"
#include "common/platform/proc.h"
#include "common/sqlite.h"
#include "tests/support/gateway_fakes.h"

namespace gwr::testing {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr int kSkipExitCode = 77;

std::string g_cache;                  // where install_openclaw.sh put Node and openclaw
std::vector<std::string> g_figures;   // measured figures, printed again at the end

double seconds_since(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A figure for the report: printed at once, kept for the summary, and
// recorded in the test's XML output.
void figure(const std::string& name, double value, const std::string& unit) {
  char text[200];
  std::snprintf(text, sizeof text, "%-34s %8.1f %s", name.c_str(), value, unit.c_str());
  g_figures.emplace_back(text);
  std::fprintf(stderr, "[e2e] %s\n", text);
  if (::testing::UnitTest::GetInstance()->current_test_info() != nullptr) {
    ::testing::Test::RecordProperty(name, std::to_string(value) + " " + unit);
  }
}

// Polls every period (not every 10 ms: each try may be an HTTP request).
::testing::AssertionResult poll_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                                      const std::string& what, std::chrono::milliseconds period = 100ms) {
  const auto deadline = SteadyClock::now() + timeout;
  while (true) {
    if (condition()) return ::testing::AssertionSuccess();
    if (SteadyClock::now() >= deadline) {
      return ::testing::AssertionFailure() << "timed out after " << timeout.count() << " ms waiting for: " << what;
    }
    std::this_thread::sleep_for(period);
  }
}

std::string quoted(const std::string& s) { return nlohmann::json(s).dump(); }

std::string yaml_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + quoted(items[i]);
  return out + "]";
}

// VmRSS of a process in MB, from /proc (0 if it is gone).
double vm_rss_mb(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

std::string comm_of(pid_t pid) {
  std::string comm = read_file("/proc/" + std::to_string(pid) + "/comm");
  while (!comm.empty() && comm.back() == '\n') comm.pop_back();
  return comm;
}

// Messages containing needle that OpenClaw wrote to its file log
// (/tmp/openclaw/openclaw-*.log, JSON lines shared by every gateway on the
// machine) at or after since_ms. The file has a message as it was logged;
// the gateway's console output drops a prefix that repeats the subsystem
// ("[gateway] restart-loop breaker tripped: ..." there, "gateway
// restart-loop breaker tripped: ..." here).
std::vector<std::string> file_log_messages(const std::string& needle, int64_t since_ms) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/tmp/openclaw", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("openclaw-", 0) != 0 || !name.ends_with(".log")) continue;
    std::istringstream lines(read_file(entry.path().string()));
    for (std::string line; std::getline(lines, line);) {
      if (line.find(needle) == std::string::npos) continue;
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object() || !j.contains("_meta") || !j["_meta"].contains("date") || !j["_meta"]["date"].is_string() ||
          !j.contains("message") || !j["message"].is_string()) {
        continue;
      }
      // _meta.date is UTC: 2026-12-02T16:21:54.655Z
      std::tm tm{};
      int ms = 0;
      if (std::sscanf(j["_meta"]["date"].get_ref<const std::string&>().c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year,
                      &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7) {
        continue;
      }
      tm.tm_year -= 1900;
      tm.tm_mon -= 1;
      if (static_cast<int64_t>(::timegm(&tm)) * 1000 + ms < since_ms) continue;
      out.push_back(j["message"].get_ref<const std::string&>());
    }
  }
  return out;
}

// The gateway's HOME: a temp dir of its own (not /tmp/gwrt-*, which other
// runs' clean-ups may sweep while this long-lived gateway still uses it).
class GatewayHome {
 public:
  GatewayHome() {
    char tmpl[] = "/tmp/gwr-e2e-home-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~GatewayHome() {
    if (std::getenv("GWR_TEST_KEEP") != nullptr) {
      std::fprintf(stderr, "keeping %s\n", path_.c_str());
      return;
    }
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  GatewayHome(const GatewayHome&) = delete;
  GatewayHome& operator=(const GatewayHome&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

// A bot token of the right shape that no bot has: Telegram would refuse it,
// and here api.telegram.org does not even resolve, so the channel never
// connects.
constexpr const char* kBogusBotToken = "123456:AAAA-bogus-token-for-gwr-e2e";

// The real gateway under a minimal service manager (openclaw-service.sh).
// Without a channel it runs with OPENCLAW_SKIP_CHANNELS=1; with_telegram
// gives it a Telegram channel (in its openclaw.json, as OpenClaw's docs
// configure one: channels.telegram.{enabled, botToken}) that cannot connect,
// and starts it with its channels.
class OpenclawService {
 public:
  explicit OpenclawService(std::string cache, bool with_telegram = false)
      : cache_(std::move(cache)), port_(free_tcp_port()), telegram_(with_telegram) {
    if (telegram_) {
      std::filesystem::create_directories(state_dir());
      write_file(state_dir() + "/openclaw.json",
                 nlohmann::json{{"channels", {{"telegram", {{"enabled", true}, {"botToken", kBogusBotToken}}}}}}
                     .dump(2) + "\n");
    }
  }
  ~OpenclawService() {
    const auto stopped = service("stop");
    if (stopped.exit_code != 0) {
      std::fprintf(stderr, "[e2e] gateway stop failed: %s", stopped.output.c_str());
      // Never leave a gateway behind: its group, if it is still ours.
      if (last_pid_ > 0 && comm_of(last_pid_).rfind("openclaw", 0) == 0) ::kill(-last_pid_, SIGKILL);
    }
  }
  OpenclawService(const OpenclawService&) = delete;
  OpenclawService& operator=(const OpenclawService&) = delete;

  int port() const { return port_; }
  const std::string& home() const { return home_.path(); }
  std::string state_dir() const { return home_ / ".openclaw"; }
  std::string output() const { return read_file(home_ / "service/gateway.out"); }

  std::vector<std::string> argv(const std::string& action) const {
    std::vector<std::string> a = {"/bin/bash", source_path("tests/e2e/openclaw-service.sh"), action, "--home",
                                  home_.path(), "--port", std::to_string(port_), "--cache", cache_};
    if (telegram_) a.emplace_back("--with-channels");
    return a;
  }
  CommandOutput service(const std::string& action) const { return run(argv(action), 60s); }

  // The service's gateway if it is alive (the pidfile's pid), else 0.
  pid_t pid() const {
    const std::string text = read_file(home_ / "service/gateway.pid");
    if (text.empty()) return 0;
    const auto pid = static_cast<pid_t>(std::stol(text));
    if (!pid_alive(pid)) return 0;
    last_pid_ = pid;
    return pid;
  }

  // GET /health answers 200 {"ok":true,...}.
  bool healthy(std::chrono::milliseconds timeout = 1500ms) const {
    CurlHttpClient http;
    HttpRequest req;
    req.url = "http://127.0.0.1:" + std::to_string(port_) + "/health";
    req.timeout = timeout;
    const auto r = http.send(req);
    return r.status == 200 && r.body.find("\"ok\":true") != std::string::npos;
  }

  // GET /readyz from loopback: OpenClaw's own view (failing, suppressed).
  HttpResponse readyz(std::chrono::milliseconds timeout = 3000ms) const {
    CurlHttpClient http;
    HttpRequest req;
    req.url = "http://127.0.0.1:" + std::to_string(port_) + "/readyz";
    req.timeout = timeout;
    return http.send(req);
  }

  // OpenClaw's record of its boots (gateway_boot_lifecycle in its state
  // database), read-only: all rows, and the open ones (never completed: the
  // running boot, and every unclean one). -1 when it cannot be read.
  struct BootRows {
    int64_t total = -1;
    int64_t open = -1;
    int64_t open_recent = -1;  // open and started in the breaker's 300 s window
    int64_t tripped = -1;      // boots that started with the breaker tripped
  };
  BootRows boot_rows() const {
    BootRows out;
    auto db = Database::open_read_only(state_dir() + "/state/openclaw.sqlite", /*live=*/true);
    if (!db.ok()) return out;
    auto q = (*db)->prepare(
        "SELECT count(*), coalesce(sum(completed_at_ms IS NULL), 0), "
        "coalesce(sum(completed_at_ms IS NULL AND started_at_ms >= ?1), 0), "
        "coalesce(sum(startup_reason = 'gateway.crash_loop_breaker'), 0) FROM gateway_boot_lifecycle");
    if (!q.ok()) return out;
    q->bind(1, wall_ms() - 300'000);
    if (!q->step()) return out;
    out.total = q->int64(0);
    out.open = q->int64(1);
    out.open_recent = q->int64(2);
    out.tripped = q->int64(3);
    return out;
  }

  // The gateway: section of a gwr config watching this gateway. An observer
  // gets commands that do nothing: whatever it decides, it cannot touch the
  // gateway, and only what it sees counts.
  std::string gateway_yaml(bool observer = false) const {
    const std::vector<std::string> noop = {"/bin/true"};
    return "gateway:\n"
           "  port: " + std::to_string(port_) + "\n"
           "  process_match: \"openclaw-gateway\"\n"
           "  state_dir: " + quoted(state_dir()) + "\n"
           // OpenClaw logs to its secure temp root whatever HOME is.
           "  log_files: [\"/tmp/openclaw/openclaw-*.log\"]\n"
           "  commands:\n"
           "    restart: " + yaml_list(observer ? noop : argv("restart")) + "\n"
           "    stop: " + yaml_list(observer ? noop : argv("stop")) + "\n"
           "    start: " + yaml_list(observer ? noop : argv("start")) + "\n"
           // Tier 2 runs doctor only when its deep clean did not help, which
           // no scenario here expects; `openclaw doctor --fix
           // --non-interactive` takes ~35 s on 2 cores and rewrites
           // openclaw.json, so a wrong turn is cut short instead.
           "    doctor: []\n";
  }

 private:
  GatewayHome home_;
  std::string cache_;
  int port_;
  bool telegram_;
  mutable pid_t last_pid_ = 0;
};

class OpenclawE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { service_ = new OpenclawService(g_cache); }
  static void TearDownTestSuite() {
    delete service_;
    service_ = nullptr;
  }
  void TearDown() override {
    // gwr goes first, so no repair of it races the next scenario's setup
    // (or restarts a scenario's own gateway while it is stopped).
    bus_.reset();
    daemon_.reset();
    if (HasFailure()) {
      std::fprintf(stderr, "[e2e] gateway service output (tail):\n%s\n", tail(service_->output(), 4000).c_str());
      if (own_) {
        std::fprintf(stderr, "[e2e] the scenario's own gateway's output (tail):\n%s\n",
                     tail(own_->output(), 6000).c_str());
      }
    }
    if (own_) {
      const auto t0 = SteadyClock::now();
      own_.reset();
      std::fprintf(stderr, "[e2e] the scenario's own gateway stopped in %.1f s\n", seconds_since(t0));
    }
  }

  static std::string tail(const std::string& s, size_t n) { return s.size() > n ? s.substr(s.size() - n) : s; }

  // gwr with probes fast enough for a test, and its defaults otherwise
  // (memory threshold, tier deadlines, the 2 min startup grace: the real
  // gateway needs ~12-24 s here, and a restart onto a squatted port must not
  // wait it out).
  static std::string fast_yaml(bool observer = false) { return fast_yaml(*service_, observer); }
  static std::string fast_yaml(const OpenclawService& service, bool observer = false) {
    return service.gateway_yaml(observer) +
           "probes:\n"
           "  process: {interval: 1s}\n"
           "  port: {interval: 1s}\n"
           "  health: {interval: 1s}\n"
           "  memory: {interval: 2s}\n"
           "  recheck_interval: 250ms\n"
           "  republish_interval: 1s\n"
           "repair:\n"
           "  tier3: {enabled: false}\n";
  }
  // gwr exactly as shipped, except where the gateway is and no Tier 3.
  static std::string default_yaml(bool observer = false) {
    return service_->gateway_yaml(observer) + "repair:\n  tier3: {enabled: false}\n";
  }

  // /health answers again. Right after "http server listening" the gateway
  // is still busy loading (its event loop stalls for a second or two), so a
  // single slow answer is allowed for.
  static ::testing::AssertionResult answers_health() {
    return poll_until([] { return service_->healthy(3s); }, 15s, "the gateway answering /health", 200ms);
  }

  // The shared gateway, running and answering /health (a cold start if not).
  void ensure_healthy() {
    if (service_->pid() != 0 && service_->healthy()) return;
    const auto r = service_->service("restart");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ASSERT_TRUE(poll_until([] { return service_->healthy(); }, 120s, "the gateway answering /health", 200ms))
        << tail(service_->output(), 4000);
  }

  void start_daemon(const std::string& yaml) {
    daemon_ = std::make_unique<Daemon>(yaml);
    ASSERT_TRUE(daemon_->start(30s));
    bus_ = std::make_unique<BusWatcher>(daemon_->runtime_dir(), std::vector<std::string>{"gateway_health", "repair_event"});
  }

  // gwr sees the gateway as healthy, with this pid.
  void wait_watching_healthy(pid_t pid) {
    ASSERT_TRUE(bus_->wait_health([&](const pb::GatewayHealth& h) {
      return h.state() == pb::HEALTHY && h.pid() == static_cast<uint32_t>(pid);
    }, 30s)) << "gwr never saw pid " << pid << " healthy";
  }

  std::optional<pb::Event> wait_repair(pb::RepairEvent::Kind kind, std::chrono::milliseconds timeout,
                                       const std::function<bool(const pb::RepairEvent&)>& extra = nullptr) {
    return bus_->wait_for(
        [&](const pb::Event& e) {
          return e.has_repair_event() && e.repair_event().kind() == kind && (!extra || extra(e.repair_event()));
        },
        timeout);
  }

  static int count(const BusWatcher& bus, pb::RepairEvent::Kind kind) {
    int n = 0;
    for (const auto& e : bus.events()) n += e.has_repair_event() && e.repair_event().kind() == kind;
    return n;
  }

  static nlohmann::json gwrctl_json(Daemon& daemon, const std::vector<std::string>& args) {
    std::vector<std::string> a = args;
    a.push_back("--json");
    const auto out = daemon.gwrctl(a);
    EXPECT_EQ(out.exit_code, 0) << out.output;
    return nlohmann::json::parse(out.output, nullptr, false);
  }

  // Every state the prober logged, in order (its log is complete, unlike a
  // bus subscription that starts after the daemon).
  static std::vector<std::string> logged_states(const Daemon& daemon) {
    std::vector<std::string> out;
    // find() and get_ref(), not value(): GCC's -Wnull-dereference sees a
    // null in json::value()'s inlined string conversion here.
    for (const auto& l : read_json_lines(daemon.log_file("gwr-prober"))) {
      const auto event = l.find("event");
      if (event == l.end() || *event != "gateway_state") continue;
      const auto to = l.find("to");
      out.push_back(to != l.end() && to->is_string() ? to->get_ref<const std::string&>() : std::string("?"));
    }
    return out;
  }

  static std::string joined(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : " -> ") + s;
    return out;
  }

  // gwrctl status --json tells the truth about this gateway. Its RSS comes
  // from a memory probe every 2 s, and a gateway that has just started grows
  // by tens of MB a second, so the figures are compared until they agree
  // (at once for a settled gateway).
  static void expect_status_truthful(Daemon& daemon, pid_t pid) {
    nlohmann::json status;
    double proc_rss = 0;
    const auto agree = poll_until(
        [&] {
          status = gwrctl_json(daemon, {"status"});
          proc_rss = vm_rss_mb(pid);
          return status.is_object() && status["gateway"]["rss_mb"].is_number() &&
                 std::abs(status["gateway"]["rss_mb"].get<double>() - proc_rss) <= std::max(25.0, proc_rss * 0.05);
        },
        20s, "gwrctl's rss_mb close to /proc's VmRSS", 500ms);
    EXPECT_TRUE(agree) << "gwrctl says " << status["gateway"]["rss_mb"] << " MB, /proc says " << proc_rss << " MB";
    ASSERT_TRUE(status.is_object());
    EXPECT_EQ(status["gateway"]["state"], "healthy") << status.dump(2);
    EXPECT_EQ(status["gateway"]["pid"], pid) << status.dump(2);
    EXPECT_EQ(status["repair"]["in_progress"], false);
    EXPECT_EQ(status["repair"]["paused"], false);
    EXPECT_TRUE(status["repair"]["cooldown_until"].is_null());
    ASSERT_EQ(status["components"].size(), 4u) << status.dump(2);
    for (const auto& c : status["components"]) EXPECT_EQ(c["state"], "running") << c.dump();
  }

  // gwrctl history --json lists exactly one automatic repair, fixed by the
  // last of these tiers after trying them all.
  static void expect_history(Daemon& daemon, const std::vector<uint32_t>& tiers) {
    auto history = gwrctl_json(daemon, {"history"});
    ASSERT_EQ(history["repairs"].size(), 1u) << history.dump(2);
    const auto& r = history["repairs"][0];
    EXPECT_EQ(r["status"], "succeeded") << r.dump(2);
    EXPECT_EQ(r["trigger"], "auto");
    EXPECT_EQ(r["fixed_by_tier"], tiers.back());
    ASSERT_TRUE(r["tiers_tried"].is_array()) << r.dump(2);
    EXPECT_EQ(r["tiers_tried"].get<std::vector<uint32_t>>(), tiers) << r.dump(2);
    EXPECT_GT(r["duration_ms"].get<int64_t>(), 0);
  }

  // A gateway of the scenario's own (its own HOME and port), started and
  // answering /health; the cold start's figures are printed.
  static void start_own(OpenclawService& gw, const std::string& what) {
    const auto t0 = SteadyClock::now();
    const auto r = gw.service("start");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ASSERT_TRUE(poll_until([&] { return gw.healthy(3s); }, 120s, what + " answering /health", 200ms))
        << tail(gw.output(), 4000);
    figure(what + ": /health 200 after", seconds_since(t0), "s");
  }

  // The finding of this kind about this subject, if the health has one.
  static const pb::Finding* finding(const pb::GatewayHealth& h, pb::Finding::Kind kind, const std::string& subject) {
    for (const auto& f : h.findings()) {
      if (f.kind() == kind && f.subject() == subject) return &f;
    }
    return nullptr;
  }
  static bool has_finding_json(const nlohmann::json& status, const std::string& kind, const std::string& subject) {
    if (!status.is_object() || !status["gateway"]["findings"].is_array()) return false;
    for (const auto& f : status["gateway"]["findings"]) {
      const auto k = f.find("kind");
      const auto s = f.find("subject");
      if (k != f.end() && *k == kind && s != f.end() && *s == subject) return true;
    }
    return false;
  }

  static OpenclawService* service_;
  std::unique_ptr<OpenclawService> own_;
  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<BusWatcher> bus_;
};

OpenclawService* OpenclawE2E::service_ = nullptr;

// (d) and (e): the gateway's ~12 s cold start and its ~0.85 GB RSS raise no
// alarm, with fast probes or with the defaults, and gwrctl status describes
// it as /proc does.
//
// Two kinds of watchers see the same cold start:
// - "at boot": gwr started together with the gateway (0.1 s after it). For
//   its first ~5-8 s the gateway's process is still called "openclaw" (it
//   renames itself "openclaw-gateway" once its CLI has loaded), so these run
//   as observers with do-nothing commands: a false alarm shows in what they
//   report, and cannot restart the gateway under the others. gwr knows the
//   gateway by its launch name then (gateway.launch_match, "openclaw"), for
//   at most the startup grace.
// - gwr with real commands, started once the process carries its final name
//   (the rest of the start: ~6-9 s before /health answers).
TEST_F(OpenclawE2E, ColdStartAndLargeRssRaiseNoFalseAlarm) {
  service_->service("stop");
  ASSERT_EQ(service_->pid(), 0);
  ASSERT_TRUE(poll_until([] { return listening_pids(static_cast<uint16_t>(service_->port())).empty(); }, 15s,
                         "the gateway port free"));
  const auto t0 = SteadyClock::now();
  const auto started = service_->service("start");
  ASSERT_EQ(started.exit_code, 0) << started.output;
  const pid_t pid = service_->pid();
  ASSERT_GT(pid, 0);

  Daemon boot_fast(fast_yaml(true));
  Daemon boot_defaults(default_yaml(true));
  ASSERT_TRUE(boot_fast.start(30s));
  ASSERT_TRUE(boot_defaults.start(30s));

  ASSERT_TRUE(poll_until([&] { return comm_of(pid) == "openclaw-gatewa"; }, 60s, "the process renamed", 50ms))
      << "comm is " << comm_of(pid);
  figure("cold start: named openclaw-gateway after", seconds_since(t0), "s");
  Daemon fast(fast_yaml());
  Daemon defaults(default_yaml());
  ASSERT_TRUE(fast.start(30s));
  ASSERT_TRUE(defaults.start(30s));
  BusWatcher fast_bus(fast.runtime_dir(), {"gateway_health", "repair_event"});
  BusWatcher default_bus(defaults.runtime_dir(), {"gateway_health", "repair_event"});

  ASSERT_TRUE(poll_until([] { return service_->healthy(); }, 90s, "the gateway answering /health", 100ms))
      << tail(service_->output(), 4000);
  const double cold_start = seconds_since(t0);
  figure("cold start: /health 200 after", cold_start, "s");
  EXPECT_LT(cold_start, 60.0);
  const auto healthy = fast_bus.wait_health(
      [&](const pb::GatewayHealth& h) { return h.state() == pb::HEALTHY && h.pid() == static_cast<uint32_t>(pid); },
      15s);
  ASSERT_TRUE(healthy) << "prober states: " << joined(logged_states(fast));

  // A quiet period: the gateway settles (sidecars, caches) while gwr watches.
  fast_bus.pump(20s);
  default_bus.pump(100ms);
  EXPECT_EQ(service_->pid(), pid) << "the gateway was restarted";

  const std::vector<std::pair<const char*, Daemon*>> watchers = {
      {"fast probes", &fast}, {"default probes", &defaults},
      {"fast probes, started at boot", &boot_fast}, {"default probes, started at boot", &boot_defaults}};
  for (const auto& [name, d] : watchers) {
    const auto states = logged_states(*d);
    SCOPED_TRACE(std::string(name) + ": " + joined(states));
    EXPECT_EQ(std::count(states.begin(), states.end(), "down"), 0)
        << "a false alarm" << (d == &boot_fast || d == &boot_defaults
                                   ? ": the gateway was still named \"openclaw\" when gwr started"
                                   : "");
    EXPECT_EQ(std::count(states.begin(), states.end(), "degraded"), 0);
    ASSERT_FALSE(states.empty());
    EXPECT_EQ(states.back(), "healthy");
    const auto history = gwrctl_json(*d, {"history"});
    EXPECT_EQ(history["repairs"].size(), 0u) << history.dump(2);
  }
  for (const BusWatcher* b : {&fast_bus, &default_bus}) {
    EXPECT_EQ(count(*b, pb::RepairEvent::STARTED), 0);
    for (const auto& h : b->healths()) {
      EXPECT_NE(h.state(), pb::DOWN);
      EXPECT_NE(h.state(), pb::DEGRADED);
      EXPECT_EQ(h.recommended_tier(), 0u);
    }
  }
  // The fast prober saw the start: STARTING first, then HEALTHY.
  const auto fast_states = logged_states(fast);
  const auto first_starting = std::find(fast_states.begin(), fast_states.end(), "starting") - fast_states.begin();
  const auto first_healthy = std::find(fast_states.begin(), fast_states.end(), "healthy") - fast_states.begin();
  EXPECT_LT(first_starting, first_healthy) << "never STARTING before HEALTHY: " << joined(fast_states);

  const auto last = fast_bus.healths().back();
  const double rss_mb = static_cast<double>(last.rss_bytes()) / (1024.0 * 1024.0);
  figure("gateway RSS after start (gwr)", rss_mb, "MB");
  figure("gateway RSS after start (/proc)", vm_rss_mb(pid), "MB");
  EXPECT_GT(rss_mb, 200.0);  // really measured: a Node gateway, not a stub
  expect_status_truthful(fast, pid);
  auto status = gwrctl_json(fast, {"status"});
  EXPECT_EQ(status["repair"]["repairs_last_hour"], 0);
  EXPECT_EQ(status["gateway"]["recommended_tier"], 0);
}

// (a) kill -9: seen at once, restarted by Tier 1.
TEST_F(OpenclawE2E, KilledGatewayIsRecoveredByTier1) {
  ASSERT_NO_FATAL_FAILURE(ensure_healthy());
  ASSERT_NO_FATAL_FAILURE(start_daemon(fast_yaml()));
  const pid_t old = service_->pid();
  ASSERT_NO_FATAL_FAILURE(wait_watching_healthy(old));

  const auto t0 = SteadyClock::now();
  const int64_t killed_at = wall_ms();
  ASSERT_EQ(::kill(old, SIGKILL), 0);
  const auto started = wait_repair(pb::RepairEvent::STARTED, 10s);
  ASSERT_TRUE(started);
  const double detect = static_cast<double>(started->sent_at_ms() - killed_at) / 1000.0;
  figure("kill -9: repair started after", detect, "s");
  EXPECT_LT(detect, 3.0);

  const auto done = wait_repair(pb::RepairEvent::FINISHED, 120s);
  ASSERT_TRUE(done);
  const double recovered = seconds_since(t0);
  figure("kill -9: healthy again (Tier 1) after", recovered, "s");
  EXPECT_TRUE(done->repair_event().success()) << done->repair_event().details();
  EXPECT_EQ(done->repair_event().tier(), 1u) << done->repair_event().details();
  EXPECT_EQ(std::vector<uint32_t>(done->repair_event().tiers_tried().begin(), done->repair_event().tiers_tried().end()),
            std::vector<uint32_t>{1});
  EXPECT_LT(recovered, 60.0);

  EXPECT_TRUE(answers_health());
  const pid_t fresh = service_->pid();
  ASSERT_GT(fresh, 0);
  EXPECT_NE(fresh, old);
  EXPECT_EQ(comm_of(fresh), "openclaw-gatewa");
  ASSERT_NO_FATAL_FAILURE(wait_watching_healthy(fresh));
  bus_->pump(3s);
  EXPECT_EQ(count(*bus_, pb::RepairEvent::STARTED), 1) << "a second repair";
  expect_history(*daemon_, {1});
  expect_status_truthful(*daemon_, fresh);
}

// (b) SIGSTOP: the process is there and the port accepts connections, but
// nothing answers. The hang is found and the gateway replaced, without the
// test ever sending SIGCONT.
TEST_F(OpenclawE2E, StoppedGatewayIsFoundHungAndReplaced) {
  ASSERT_NO_FATAL_FAILURE(ensure_healthy());
  ASSERT_NO_FATAL_FAILURE(start_daemon(fast_yaml()));
  const pid_t old = service_->pid();
  ASSERT_NO_FATAL_FAILURE(wait_watching_healthy(old));

  const auto t0 = SteadyClock::now();
  ASSERT_EQ(::kill(old, SIGSTOP), 0);
  const auto down = bus_->wait_health([](const pb::GatewayHealth& h) { return h.state() == pb::DOWN; }, 30s);
  ASSERT_TRUE(down);
  figure("SIGSTOP: DOWN after", seconds_since(t0), "s");
  EXPECT_LT(seconds_since(t0), 15.0);
  EXPECT_EQ(down->pid(), static_cast<uint32_t>(old));  // still there: a hang, not a crash
  EXPECT_EQ(down->recommended_tier(), 2u);

  const auto done = wait_repair(pb::RepairEvent::FINISHED, 150s);
  ASSERT_TRUE(done);
  const double recovered = seconds_since(t0);
  figure("SIGSTOP: healthy again after", recovered, "s");
  figure("SIGSTOP: repair duration", static_cast<double>(done->repair_event().duration_ms()) / 1000.0, "s");
  EXPECT_TRUE(done->repair_event().success()) << done->repair_event().details();
  EXPECT_EQ(done->repair_event().tier(), 2u);
  EXPECT_LT(recovered, 90.0);

  EXPECT_TRUE(poll_until([&] { return !pid_alive(old); }, 10s, "the stopped gateway gone"));
  EXPECT_TRUE(answers_health());
  const pid_t fresh = service_->pid();
  ASSERT_GT(fresh, 0);
  EXPECT_NE(fresh, old);
  ASSERT_NO_FATAL_FAILURE(wait_watching_healthy(fresh));
  expect_history(*daemon_, {2});
  expect_status_truthful(*daemon_, fresh);
}

// (c) The gateway died and something else now holds its port: a restart
// cannot bind, so Tier 1 fails; Tier 2 stops the squatter and starts it.
TEST_F(OpenclawE2E, StaleProcessOnThePortIsClearedByTier2) {
  ASSERT_NO_FATAL_FAILURE(ensure_healthy());
  ASSERT_NO_FATAL_FAILURE(start_daemon(fast_yaml()));
  const pid_t old = service_->pid();
  ASSERT_NO_FATAL_FAILURE(wait_watching_healthy(old));
  const auto port = static_cast<uint16_t>(service_->port());

  // Paused while the stage is set, so the squatter is in place before gwr acts.
  const auto paused = daemon_->gwrctl({"pause", "--reason", "e2e: staging a squatter"});
  ASSERT_EQ(paused.exit_code, 0) << paused.output;
  ASSERT_EQ(::kill(old, SIGKILL), 0);
  ASSERT_TRUE(poll_until([&] { return !pid_alive(old) && listening_pids(port).empty(); }, 15s, "the port free"));
  // Any listener that is not an OpenClaw gateway: the fake one, renamed.
  Process squatter;
  int attempts = 0;
  ASSERT_TRUE(poll_until(
      [&] {
        if (!squatter.running()) {
          // The port is free, yet a bind right after the gateway's death
          // sometimes still fails (EADDRINUSE): try again.
          if (attempts++ > 0) {
            std::fprintf(stderr, "[e2e] squatter attempt %d failed: %s", attempts - 1,
                         read_file(daemon_->dir() / "squatter.out").c_str());
          }
          squatter = Process::start({fake_path("fake-gateway"), "--port", std::to_string(port), "--mode", "hang",
                                     "--name", "stale-squatter"},
                                    {}, daemon_->dir() / "squatter.out");
        }
        return listening_pids(port) == std::vector<pid_t>{squatter.pid()};
      },
      15s, "a squatter listening on the port", 250ms));
  ASSERT_TRUE(bus_->wait_health(
      [](const pb::GatewayHealth& h) { return h.state() == pb::DOWN && h.recommended_tier() == 1; }, 15s));

  const auto t0 = SteadyClock::now();
  const auto resumed = daemon_->gwrctl({"resume"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  const auto done = wait_repair(pb::RepairEvent::FINISHED, 240s);
  ASSERT_TRUE(done);
  const auto& ev = done->repair_event();
  figure("squatter: healthy again (Tier 1 -> 2) after", seconds_since(t0), "s");
  EXPECT_TRUE(ev.success()) << ev.details();
  EXPECT_EQ(ev.tier(), 2u) << ev.details();
  EXPECT_EQ(std::vector<uint32_t>(ev.tiers_tried().begin(), ev.tiers_tried().end()), (std::vector<uint32_t>{1, 2}));
  EXPECT_LT(seconds_since(t0), 90.0);

  const auto tier1_failed =
      wait_repair(pb::RepairEvent::TIER_FAILED, 0ms, [](const pb::RepairEvent& e) { return e.tier() == 1; });
  ASSERT_TRUE(tier1_failed);
  figure("squatter: Tier 1 gave up after", static_cast<double>(tier1_failed->repair_event().duration_ms()) / 1000.0,
         "s");
  // Its 10 s deadline, not the 2 min startup grace: the gateway it launched
  // can never have the squatter's port.
  EXPECT_LT(tier1_failed->repair_event().duration_ms(), 15'000) << tier1_failed->repair_event().details();
  const auto tier2_started = bus_->wait_for(
      [](const pb::Event& e) {
        return e.has_repair_event() && e.repair_event().kind() == pb::RepairEvent::STEP &&
               e.repair_event().step().tier() == 2 && e.repair_event().step().name() == "stop";
      },
      0ms);
  if (tier2_started) {
    figure("squatter: Tier 2 took", static_cast<double>(done->sent_at_ms() - tier2_started->repair_event().step().started_at_ms()) / 1000.0, "s");
  }
  const auto killed = wait_repair(pb::RepairEvent::STEP, 0ms,
                                  [](const pb::RepairEvent& e) { return e.step().name() == "kill_port_owners"; });
  ASSERT_TRUE(killed);
  EXPECT_NE(killed->repair_event().step().detail().find("pid " + std::to_string(squatter.pid())), std::string::npos)
      << killed->repair_event().step().detail();
  EXPECT_TRUE(poll_until([&] { return !squatter.running(); }, 5s, "the squatter gone"));

  EXPECT_TRUE(answers_health());
  const pid_t fresh = service_->pid();
  ASSERT_GT(fresh, 0);
  EXPECT_EQ(listening_pids(port), std::vector<pid_t>{fresh});
  ASSERT_NO_FATAL_FAILURE(wait_watching_healthy(fresh));
  expect_history(*daemon_, {1, 2});
  expect_status_truthful(*daemon_, fresh);
}

// A Telegram channel that cannot connect (a bogus token; api.telegram.org
// does not resolve here). OpenClaw keeps the gateway live and its own health
// monitor restarts the channel; /readyz names it as failing once its connect
// grace (120 s) is over. gwr reports it as DEGRADED, recommends nothing, and
// leaves the gateway alone (the one Tier 1 restart comes only after
// probes.readiness.channel_grace, 15 min by default).
TEST_F(OpenclawE2E, AFailingTelegramChannelIsReportedNotRestarted) {
  // One gateway on the machine at a time: the shared one is not needed here
  // (the next scenario that is brings it back).
  service_->service("stop");
  own_ = std::make_unique<OpenclawService>(g_cache, /*with_telegram=*/true);
  OpenclawService& gw = *own_;
  const int64_t launched_ms = wall_ms();
  ASSERT_NO_FATAL_FAILURE(start_own(gw, "telegram gateway"));
  const pid_t pid = gw.pid();
  ASSERT_GT(pid, 0);
  ASSERT_NO_FATAL_FAILURE(start_daemon(fast_yaml(gw)));
  ASSERT_NO_FATAL_FAILURE(wait_watching_healthy(pid));

  // Throughout: /health every 2 s (it must never fail), and /readyz until
  // OpenClaw itself names the channel (to tell its grace from gwr's delay).
  int health_checks = 0;
  int health_failures = 0;
  int64_t readyz_failing_ms = 0;
  std::string readyz_body;
  auto next_health = SteadyClock::now();
  const auto check_http = [&] {
    if (readyz_failing_ms == 0) {
      const auto r = gw.readyz();
      if (r.status == 503 && r.body.find("\"telegram\"") != std::string::npos) {
        readyz_failing_ms = wall_ms();
        readyz_body = r.body;
      }
    }
    if (SteadyClock::now() < next_health) return;
    next_health = SteadyClock::now() + 2s;
    ++health_checks;
    if (!gw.healthy(5s)) {
      ++health_failures;
      std::fprintf(stderr, "[e2e] /health failed %.0f s after the launch\n", (wall_ms() - launched_ms) / 1000.0);
    }
  };
  const auto named_by_gwr = [](const pb::Event& e) {
    return e.has_gateway_health() && e.gateway_health().state() == pb::DEGRADED &&
           finding(e.gateway_health(), pb::Finding::CHANNEL_FAILING, "telegram") != nullptr;
  };
  std::optional<pb::Event> named;
  const auto deadline = SteadyClock::now() + 240s;
  while (!named && SteadyClock::now() < deadline) {
    check_http();
    named = bus_->wait_for(named_by_gwr, 500ms);
  }
  ASSERT_TRUE(named) << "gwr never reported the failing channel; /readyz: " << gw.readyz().body
                     << "\nprober states: " << joined(logged_states(*daemon_));
  check_http();  // the /readyz the prober has just seen, if the test has not yet
  const double named_after = static_cast<double>(named->sent_at_ms() - launched_ms) / 1000.0;
  if (readyz_failing_ms != 0) {
    figure("telegram: /readyz 503 failing after", static_cast<double>(readyz_failing_ms - launched_ms) / 1000.0, "s");
    std::fprintf(stderr, "[e2e] /readyz said: %s\n", readyz_body.c_str());
  }
  figure("telegram: gwr named it CHANNEL_FAILING after", named_after, "s");
  EXPECT_LT(named_after, 180.0) << "from the gateway's launch";
  EXPECT_NE(readyz_failing_ms, 0) << "gwr named a channel /readyz never named";
  const auto& h = named->gateway_health();
  EXPECT_EQ(h.recommended_tier(), 0u);
  EXPECT_EQ(h.pid(), static_cast<uint32_t>(pid));
  const pb::Finding* f = finding(h, pb::Finding::CHANNEL_FAILING, "telegram");
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->cause(), pb::CAUSE_PAST_GRACE);  // 15 min of grace are far away

  // gwrctl says the same, and a while later nothing was done about it.
  nlohmann::json status;
  EXPECT_TRUE(poll_until(
      [&] {
        status = gwrctl_json(*daemon_, {"status"});
        return status.is_object() && status["gateway"]["state"] == "degraded" &&
               has_finding_json(status, "CHANNEL_FAILING", "telegram");
      },
      15s, "gwrctl status naming the failing channel", 500ms))
      << status.dump(2);
  std::fprintf(stderr, "[e2e] gwrctl status: %s\n", status["gateway"]["reasons"].dump().c_str());
  EXPECT_EQ(status["gateway"]["recommended_tier"], 0) << status.dump(2);
  EXPECT_EQ(status["repair"]["in_progress"], false);
  const auto settle = SteadyClock::now() + 10s;
  while (SteadyClock::now() < settle) {
    check_http();
    bus_->pump_some(1s);
  }

  EXPECT_EQ(health_failures, 0) << "of " << health_checks << " /health checks";
  EXPECT_GT(health_checks, 30);
  EXPECT_EQ(count(*bus_, pb::RepairEvent::STARTED), 0) << "a repair of a gateway that is up";
  const auto history = gwrctl_json(*daemon_, {"history"});
  EXPECT_EQ(history["repairs"].size(), 0u) << history.dump(2);
  EXPECT_EQ(gw.pid(), pid) << "the gateway was restarted";
  const auto states = logged_states(*daemon_);
  EXPECT_EQ(std::count(states.begin(), states.end(), "down"), 0) << joined(states);
}

// OpenClaw's crash-loop breaker: three unclean boots (kill -9) within 300 s
// and the fourth boot keeps its channels off ("suppressed"), while /health
// and even /readyz say 200. A restart now would be one more unclean boot
// and keep it tripped, so gwr reports the suppressed channel, recommends
// nothing and starts no repair, and OpenClaw's boot table shows no boot of
// its making.
TEST_F(OpenclawE2E, ThreeQuickKillsTripTheBreakerAndGwrStopsRepairing) {
  service_->service("stop");
  // Its own HOME: the breaker's state is in the state database there, and
  // must not reach the shared gateway.
  own_ = std::make_unique<OpenclawService>(g_cache, /*with_telegram=*/true);
  OpenclawService& gw = *own_;
  const auto port = static_cast<uint16_t>(gw.port());
  const auto t_first = SteadyClock::now();
  ASSERT_NO_FATAL_FAILURE(start_own(gw, "breaker: boot 1"));
  ASSERT_NO_FATAL_FAILURE(start_daemon(fast_yaml(gw)));
  ASSERT_NO_FATAL_FAILURE(wait_watching_healthy(gw.pid()));
  const auto paused = daemon_->gwrctl({"pause", "--reason", "e2e: three quick kills"});
  ASSERT_EQ(paused.exit_code, 0) << paused.output;

  // Three unclean boots: each one killed once it answers /health (its boot
  // row is written by then), and the gateway started again.
  int64_t tripped_launch_ms = 0;
  int64_t tripped_health_ms = 0;
  for (int boot = 2; boot <= 4; ++boot) {
    const pid_t victim = gw.pid();
    ASSERT_GT(victim, 0);
    ASSERT_EQ(::kill(victim, SIGKILL), 0);
    ASSERT_TRUE(poll_until([&] { return !pid_alive(victim) && listening_pids(port).empty(); }, 15s,
                           "the killed gateway gone and its port free"));
    if (boot == 4) tripped_launch_ms = wall_ms();
    ASSERT_NO_FATAL_FAILURE(start_own(gw, "breaker: boot " + std::to_string(boot)));
    if (boot == 4) tripped_health_ms = wall_ms();
    const auto rows = gw.boot_rows();
    std::fprintf(stderr, "[e2e] boot %d up: %lld boot rows, %lld open (%lld in the last 300 s)\n", boot,
                 static_cast<long long>(rows.total), static_cast<long long>(rows.open),
                 static_cast<long long>(rows.open_recent));
  }
  const double window = seconds_since(t_first);
  figure("breaker: 4 boots, 3 kills took", window, "s");
  ASSERT_LT(window, 280.0) << "the kills were not quick enough for OpenClaw's 300 s window";

  // OpenClaw's own word: /readyz 200 with the channel suppressed, the
  // tripped boot in its boot table and a stability bundle of this pid, the
  // ERROR line in its file log and the WARN line on its output.
  HttpResponse ready;
  ASSERT_TRUE(poll_until(
      [&] {
        ready = gw.readyz();
        return ready.status == 200 && ready.body.find("\"suppressed\":[\"telegram\"]") != std::string::npos;
      },
      60s, "/readyz 200 with telegram suppressed", 250ms))
      << ready.status << " " << ready.body;
  figure("breaker: /readyz suppressed after /health", static_cast<double>(wall_ms() - tripped_health_ms) / 1000.0,
         "s");
  std::fprintf(stderr, "[e2e] /readyz said: %s\n", ready.body.c_str());
  const pid_t pid = gw.pid();
  ASSERT_GT(pid, 0);
  EXPECT_EQ(gw.boot_rows().tripped, 1) << "boot 4's startup_reason is not gateway.crash_loop_breaker";
  std::vector<std::string> tripped_lines;
  EXPECT_TRUE(poll_until(
      [&] {
        tripped_lines = file_log_messages("gateway restart-loop breaker tripped", tripped_launch_ms - 1000);
        return !tripped_lines.empty();
      },
      20s, "\"gateway restart-loop breaker tripped\" in /tmp/openclaw/openclaw-*.log", 500ms));
  for (const auto& l : tripped_lines) std::fprintf(stderr, "[e2e] gateway file log (ERROR): %s\n", l.c_str());
  {
    const std::string out = gw.output();
    const auto at = out.find("restart-loop breaker tripped");
    std::fprintf(stderr, "[e2e] gateway output (ERROR): %s\n",
                 at == std::string::npos ? "(not there)" : out.substr(at, std::min<size_t>(80, out.size() - at)).c_str());
  }
  std::vector<std::string> bundles;
  {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(gw.state_dir() + "/logs/stability", ec)) {
      bundles.push_back(e.path().filename().string());
    }
  }
  EXPECT_TRUE(std::any_of(bundles.begin(), bundles.end(), [&](const std::string& b) {
    return b.find("-" + std::to_string(pid) + "-gateway.crash_loop_breaker.json") != std::string::npos;
  })) << "no stability bundle of pid " << pid << " in " << gw.state_dir() << "/logs/stability: " << joined(bundles);
  {
    const std::string out = gw.output();
    const auto at = out.find("channel autostart suppressed");
    EXPECT_NE(at, std::string::npos) << tail(out, 4000);
    if (at != std::string::npos) {
      std::fprintf(stderr, "[e2e] gateway output (WARN): %s\n", out.substr(at, out.find('\n', at) - at).c_str());
    }
  }

  const auto resumed = daemon_->gwrctl({"resume"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  const auto rows_at_resume = gw.boot_rows();
  ASSERT_GE(rows_at_resume.total, 4);
  EXPECT_GE(rows_at_resume.open_recent, 4) << "three unclean boots and the running one";

  const auto suppressed = bus_->wait_for(
      [&](const pb::Event& e) {
        return e.has_gateway_health() && e.gateway_health().state() == pb::DEGRADED &&
               e.gateway_health().pid() == static_cast<uint32_t>(pid) &&
               finding(e.gateway_health(), pb::Finding::CHANNEL_SUPPRESSED, "telegram") != nullptr;
      },
      30s);
  ASSERT_TRUE(suppressed) << "prober states: " << joined(logged_states(*daemon_));
  figure("breaker: gwr CHANNEL_SUPPRESSED after /health",
         static_cast<double>(suppressed->sent_at_ms() - tripped_health_ms) / 1000.0, "s");
  EXPECT_EQ(suppressed->gateway_health().recommended_tier(), 0u);

  // 30 s after the resume: no repair, still DEGRADED for the same reason,
  // the same gateway, and no boot OpenClaw did not see already.
  const auto resumed_at = SteadyClock::now();
  while (SteadyClock::now() < resumed_at + 30s) {
    bus_->pump_some(1s);
    const auto rows = gw.boot_rows();
    EXPECT_EQ(rows.total, rows_at_resume.total) << "a boot after the resume";
    EXPECT_EQ(rows.open, rows_at_resume.open) << "an unclean boot after the resume";
    if (rows.total != rows_at_resume.total || rows.open != rows_at_resume.open) break;
  }
  EXPECT_EQ(count(*bus_, pb::RepairEvent::STARTED), 0) << "a repair of a gateway OpenClaw's breaker holds";
  const auto last = bus_->healths().back();
  EXPECT_EQ(last.state(), pb::DEGRADED);
  EXPECT_EQ(last.recommended_tier(), 0u);
  const auto* held = finding(last, pb::Finding::CHANNEL_SUPPRESSED, "telegram");
  EXPECT_NE(held, nullptr);
  if (held != nullptr) {
    // What OpenClaw counted when it tripped, and when it should lift (its
    // health monitor's first look after the window drains: about 6 min).
    EXPECT_EQ(held->count(), 3u) << held->DebugString();
    EXPECT_GT(held->eta_in_ms(), 4 * 60'000) << held->DebugString();
    EXPECT_LT(held->eta_in_ms(), 7 * 60'000) << held->DebugString();
    figure("breaker: gwr says it lifts in", static_cast<double>(held->eta_in_ms()) / 1000.0, "s");
  }
  EXPECT_EQ(gw.pid(), pid) << "the gateway was restarted";
  EXPECT_TRUE(gw.healthy(5s));

  const auto status = gwrctl_json(*daemon_, {"status"});
  EXPECT_EQ(status["gateway"]["state"], "degraded") << status.dump(2);
  EXPECT_TRUE(has_finding_json(status, "CHANNEL_SUPPRESSED", "telegram")) << status.dump(2);
  EXPECT_EQ(status["gateway"]["recommended_tier"], 0);
  EXPECT_EQ(status["repair"]["paused"], false);
  EXPECT_EQ(status["repair"]["in_progress"], false);
  std::fprintf(stderr, "[e2e] gwrctl status: %s\n", status["gateway"]["reasons"].dump().c_str());
  const auto history = gwrctl_json(*daemon_, {"history"});
  EXPECT_EQ(history["repairs"].size(), 0u) << history.dump(2);
  const auto rows = gw.boot_rows();
  std::fprintf(stderr, "[e2e] boot rows 30 s after the resume: %lld (%lld open); at the resume %lld (%lld open)\n",
               static_cast<long long>(rows.total), static_cast<long long>(rows.open),
               static_cast<long long>(rows_at_resume.total), static_cast<long long>(rows_at_resume.open));
}

}  // namespace
}  // namespace gwr::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (GTEST_FLAG_GET(list_tests)) return RUN_ALL_TESTS();

  using gwr::testing::figure;
  const auto t0 = std::chrono::steady_clock::now();
  const auto install = gwr::testing::run({"/bin/bash", gwr::testing::source_path("tests/e2e/install_openclaw.sh")},
                                         std::chrono::seconds(420));
  std::fprintf(stderr, "%s", install.output.c_str());
  if (install.exit_code == gwr::testing::kSkipExitCode) {
    // CI sets GWR_E2E_REQUIRED=1: there, a run that did not reach the real
    // gateway is a failure, not a quiet skip.
    const char* required = std::getenv("GWR_E2E_REQUIRED");
    if (required != nullptr && std::string(required) == "1") {
      std::fprintf(stderr, "openclaw_e2e: FAILED: the npm registry cannot be reached (reason above) and "
                           "GWR_E2E_REQUIRED=1 says the real-gateway tests must run\n");
      return 1;
    }
    std::fprintf(stderr, "openclaw_e2e: SKIPPED: the npm registry cannot be reached (reason above)\n");
    return gwr::testing::kSkipExitCode;
  }
  if (install.exit_code != 0) {
    std::fprintf(stderr, "openclaw_e2e: FAILED: install_openclaw.sh exited %d\n", install.exit_code);
    return 1;
  }
  std::istringstream lines(install.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("GWR_E2E_CACHE=", 0) == 0) gwr::testing::g_cache = line.substr(14);
  }
  if (gwr::testing::g_cache.empty()) {
    std::fprintf(stderr, "openclaw_e2e: FAILED: install_openclaw.sh did not name its cache\n");
    return 1;
  }
  figure("install (or cache check)", gwr::testing::seconds_since(t0), "s");

  const int rc = RUN_ALL_TESTS();
  // ctest splits the scenarios with --gtest_filter: a filter that matches
  // nothing (a scenario renamed) must fail, not pass having run nothing.
  if (::testing::UnitTest::GetInstance()->test_to_run_count() == 0) {
    std::fprintf(stderr, "openclaw_e2e: FAILED: no scenario matches --gtest_filter\n");
    return 1;
  }
  std::fprintf(stderr, "\n[e2e] figures (openclaw 2026.9.6, %u cores):\n", std::thread::hardware_concurrency());
  for (const auto& f : gwr::testing::g_figures) std::fprintf(stderr, "[e2e]   %s\n", f.c_str());
  return rc;
}
