// fake-gateway: a loopback HTTP server standing in for the OpenClaw gateway in
// gwr's integration tests, benchmarks and demo. It answers the gateway's probe
// endpoints (/health, /healthz, /ready, /readyz, /startup, /startupz) according
// to a "mode" that tests switch at run time (POST /_fake/mode) or persistently
// across restarts (--mode-file). See README.md next to this file.

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#elif defined(__APPLE__)
#include <mach-o/dyld.h>
#include <mach/mach.h>
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <charconv>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <random>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
using std::chrono::milliseconds;

constexpr auto kHangLimit = std::chrono::minutes(10);
constexpr auto kPollPeriod = milliseconds(50);
constexpr auto kPeerCheckPeriod = milliseconds(200);
constexpr std::size_t kLeakBlock = std::size_t{1} << 20;  // 1 MiB

// ---------------------------------------------------------------- utilities

int64_t epoch_ms() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string iso_from_ms(int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[96];
  std::snprintf(out, sizeof out, "%.*s.%03dZ", static_cast<int>(n), buf,
                static_cast<int>(ms % 1000));
  return out;
}

std::string iso_now() { return iso_from_ms(epoch_ms()); }

std::string dump(const json &j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<int64_t> parse_int(std::string_view s) {
  int64_t v = 0;
  const char *end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, v);
  if (s.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

std::string trim(std::string_view s) {
  const auto ws = " \t\r\n\f\v";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(ws);
  return std::string(s.substr(b, e - b + 1));
}

std::string first_line(const std::string &text) {
  return trim(text.substr(0, text.find('\n')));
}

bool read_file(const std::string &path, std::string &out,
               std::size_t limit = 65536) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(limit, '\0');
  in.read(out.data(), static_cast<std::streamsize>(limit));
  out.resize(static_cast<std::size_t>(in.gcount()));
  return true;
}

const char *reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status >= 500 ? "Server Error" : status >= 400 ? "Client Error" : "Status";
  }
}

long rss_kb() {
#ifdef __APPLE__
  mach_task_basic_info_data_t info{};
  mach_msg_type_number_t count = MACH_TASK_BASIC_INFO_COUNT;
  if (task_info(mach_task_self(), MACH_TASK_BASIC_INFO, reinterpret_cast<task_info_t>(&info), &count) != KERN_SUCCESS) {
    return -1;
  }
  return static_cast<long>(info.resident_size / 1024);
#else
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::strtol(line.c_str() + 6, nullptr, 10);
    }
  }
  return -1;
#endif
}

bool pid_alive(int64_t pid) {
  if (pid <= 0 || pid > 0x3fffffff) return false;
  if (kill(static_cast<pid_t>(pid), 0) == 0) return true;
  return errno == EPERM;
}

// ---------------------------------------------------------------- options

struct Options {
  std::string host = "127.0.0.1";
  int port = -1;
  std::string state_dir;
  std::string mode_file;
  std::string mode_line = "healthy";
  std::string pidfile;
  std::string name;
  std::string log_file;
  std::string launch_name;  // comm while "loading", before --name (the real one: "openclaw")
  int64_t launch_ms = 0;
  int children = 0;
  int64_t drain_ms = 0;
  int64_t linger_ms = 0;  // after SIGTERM: listener closed, process still alive
  bool breaker = false;  // keep boot records; OpenClaw's crash-loop breaker
  int64_t breaker_recover_ms = 330000;
  bool child = false;
  pid_t parent_pid = 0;
};

Options g_opts;
Clock::time_point g_start;
int64_t g_start_epoch_ms = 0;
int g_bound_port = 0;
std::vector<pid_t> g_children;

const char *kUsage =
    "usage: fake-gateway --port P [--host 127.0.0.1] [--state-dir DIR]\n"
    "                    [--mode-file FILE] [--mode \"MODE ARGS\"] [--pidfile FILE]\n"
    "                    [--name COMM] [--children N] [--log-file FILE] [--drain-ms N]\n"
    "                    [--launch-name COMM --launch-ms N] [--linger-ms N]\n"
    "                    [--breaker [--breaker-recover-ms N]]   (--breaker needs --state-dir)\n";

[[noreturn]] void usage_error(const std::string &msg) {
  std::cerr << "fake-gateway: " << msg << "\n" << kUsage;
  std::exit(2);
}

Options parse_args(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_value = false;
    if (const auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    auto take = [&]() -> std::string {
      if (has_value) return value;
      if (i + 1 >= argc) usage_error("missing value for " + arg);
      return argv[++i];
    };
    auto take_int = [&](int64_t lo, int64_t hi) -> int64_t {
      const std::string v = take();
      const auto n = parse_int(v);
      if (!n || *n < lo || *n > hi) usage_error("bad value for " + arg + ": " + v);
      return *n;
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else if (arg == "--port") {
      o.port = static_cast<int>(take_int(0, 65535));
    } else if (arg == "--host") {
      o.host = take();
    } else if (arg == "--state-dir") {
      o.state_dir = take();
    } else if (arg == "--mode-file") {
      o.mode_file = take();
    } else if (arg == "--mode") {
      o.mode_line = take();
    } else if (arg == "--pidfile") {
      o.pidfile = take();
    } else if (arg == "--name") {
      o.name = take();
    } else if (arg == "--launch-name") {
      o.launch_name = take();
    } else if (arg == "--launch-ms") {
      o.launch_ms = take_int(0, 10LL * 60 * 1000);
    } else if (arg == "--children") {
      o.children = static_cast<int>(take_int(0, 64));
    } else if (arg == "--log-file") {
      o.log_file = take();
    } else if (arg == "--drain-ms") {
      o.drain_ms = take_int(0, 24LL * 3600 * 1000);
    } else if (arg == "--linger-ms") {
      o.linger_ms = take_int(0, 24LL * 3600 * 1000);
    } else if (arg == "--breaker") {
      o.breaker = true;
    } else if (arg == "--breaker-recover-ms") {
      o.breaker_recover_ms = take_int(0, 24LL * 3600 * 1000);
    } else if (arg == "--child") {
      o.child = true;
    } else if (arg == "--parent-pid") {
      o.parent_pid = static_cast<pid_t>(take_int(1, 0x3fffffff));
    } else {
      usage_error("unknown argument: " + arg);
    }
  }
  if (!o.child && o.port < 0) usage_error("--port is required");
  if (o.breaker && o.state_dir.empty()) usage_error("--breaker needs --state-dir");
  return o;
}

// ---------------------------------------------------------------- logging

// One tslog-shaped JSON line per notable event, plus a plain line on stderr.
void log_event(const char *level, const std::string &msg) {
  const std::string now = iso_now();
  std::fprintf(stderr, "%s [fake-gateway %d] %s %s\n", now.c_str(),
               static_cast<int>(getpid()), level, msg.c_str());
  std::fflush(stderr);
  if (g_opts.log_file.empty()) return;
  const json line = {{"0", msg},
                     {"_meta", {{"logLevelName", level}, {"date", now}, {"name", "fake-gateway"}}},
                     {"time", now}};
  const std::string text = dump(line) + "\n";
  const int fd = ::open(g_opts.log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  const ssize_t n = ::write(fd, text.data(), text.size());
  (void)n;
  ::close(fd);
}

// ---------------------------------------------------------------- modes

enum class Kind {
  Healthy, Hang, Slow, Unhealthy, Error, Starting, Leak, Crash, StaleLock, NeedsDoctor,
  ChannelFailing, Breaker, DatabaseRefused, Wedged, Lagging, PluginReloadFailed
};

struct Mode {
  Kind kind = Kind::Healthy;
  std::string line = "healthy";
  int64_t delay_ms = 1000;
  int64_t status = 500;
  int64_t startup_ms = 10000;
  bool no_startupz = false;
  int64_t mb_per_s = 10;
  int64_t max_mb = 4096;
  int64_t after_ms = 0;
  int64_t code = 1;
  int64_t signal = 0;
  std::string raw_body;  // error mode: answer these bytes instead of JSON (body_hex=...)
};

struct ParamSpec {
  const char *key;
  int64_t lo;
  int64_t hi;
  int64_t Mode::*field;
};

struct ModeSpec {
  const char *word;
  Kind kind;
  std::vector<ParamSpec> params;
};

const std::vector<ModeSpec> &mode_specs() {
  static const std::vector<ModeSpec> specs = {
      {"healthy", Kind::Healthy, {}},
      {"hang", Kind::Hang, {}},
      {"slow", Kind::Slow, {{"delay_ms", 0, 3600000, &Mode::delay_ms}}},
      {"unhealthy", Kind::Unhealthy, {}},
      {"error", Kind::Error, {{"status", 200, 599, &Mode::status}}},
      {"starting", Kind::Starting, {{"startup_ms", 0, 24LL * 3600000, &Mode::startup_ms}}},
      {"leak",
       Kind::Leak,
       {{"mb_per_s", 1, 100000, &Mode::mb_per_s}, {"max_mb", 1, 1 << 20, &Mode::max_mb}}},
      {"crash",
       Kind::Crash,
       {{"after_ms", 0, 24LL * 3600000, &Mode::after_ms},
        {"code", 0, 255, &Mode::code},
        {"signal", 1, 31, &Mode::signal}}},
      {"stale_lock", Kind::StaleLock, {}},
      {"needs_doctor", Kind::NeedsDoctor, {}},
      {"channel_failing", Kind::ChannelFailing, {}},
      {"breaker", Kind::Breaker, {}},
      {"database_refused", Kind::DatabaseRefused, {}},
      // /readyz 200 with eventLoop degraded (OpenClaw's own figures), /health fine.
      {"lagging", Kind::Lagging, {}},
      {"plugin_reload_failed", Kind::PluginReloadFailed, {}},
      // hang, and SIGTERM/SIGINT are ignored too (a blocked event loop).
      {"wedged", Kind::Wedged, {}},
  };
  return specs;
}

// Parses "word [key=value ...]". On failure returns false and sets err.
bool parse_mode(const std::string &text, Mode &out, std::string &err) {
  std::istringstream in(text);
  std::vector<std::string> tokens{std::istream_iterator<std::string>(in),
                                  std::istream_iterator<std::string>()};
  if (tokens.empty()) {
    err = "empty mode line";
    return false;
  }
  const auto &specs = mode_specs();
  const auto spec = std::find_if(specs.begin(), specs.end(),
                                 [&](const ModeSpec &s) { return tokens[0] == s.word; });
  if (spec == specs.end()) {
    err = "unknown mode '" + tokens[0] + "'";
    return false;
  }
  Mode m;
  m.kind = spec->kind;
  std::string line = tokens[0];
  for (std::size_t i = 1; i < tokens.size(); ++i) {
    const std::string &tok = tokens[i];
    const auto eq = tok.find('=');
    if (eq == std::string::npos || eq == 0) {
      err = "bad parameter '" + tok + "' (want key=value)";
      return false;
    }
    const std::string key = tok.substr(0, eq);
    const std::string val = tok.substr(eq + 1);
    if (spec->kind == Kind::Error && key == "body_hex") {
      // Any bytes at all (the point is bodies the fakes never produced, such
      // as UTF-8 cut in the middle of a character).
      if (val.size() % 2 != 0 || val.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
        err = "body_hex must be an even number of hex digits";
        return false;
      }
      m.raw_body.clear();
      for (std::size_t k = 0; k < val.size(); k += 2) {
        m.raw_body += static_cast<char>(std::stoi(val.substr(k, 2), nullptr, 16));
      }
      line += " " + tok;
      continue;
    }
    if (spec->kind == Kind::Starting && key == "no_startupz") {
      if (val != "0" && val != "1") {
        err = "no_startupz must be 0 or 1";
        return false;
      }
      m.no_startupz = val == "1";
      line += " " + tok;
      continue;
    }
    const auto p = std::find_if(spec->params.begin(), spec->params.end(),
                                [&](const ParamSpec &ps) { return key == ps.key; });
    if (p == spec->params.end()) {
      err = "mode '" + tokens[0] + "' has no parameter '" + key + "'";
      return false;
    }
    const auto n = parse_int(val);
    if (!n || *n < p->lo || *n > p->hi) {
      err = "bad value for " + key + ": '" + val + "' (want " + std::to_string(p->lo) + ".." +
            std::to_string(p->hi) + ")";
      return false;
    }
    m.*(p->field) = *n;
    line += " " + tok;
  }
  m.line = line;
  out = m;
  return true;
}

// ---------------------------------------------------------------- state

struct State {
  std::mutex mu;
  std::condition_variable cv;
  Mode mode;
  std::string source = "default";
  uint64_t gen = 0;
  Clock::time_point applied_at;
  int64_t leak_base_mb = 0;
  bool draining = false;
  std::map<std::string, uint64_t> requests;
};

State g_state;
std::atomic<int64_t> g_leaked_mb{0};
Mode g_cli_mode;  // the --mode line, used when there is no (longer a) mode file

// Caller holds g_state.mu.
void apply_mode_locked(const Mode &m, const std::string &source, Clock::time_point at,
                       bool quiet = false) {
  g_state.mode = m;
  g_state.source = source;
  g_state.applied_at = at;
  g_state.leak_base_mb = g_leaked_mb.load();
  ++g_state.gen;
  g_state.cv.notify_all();
  if (quiet) return;
  log_event("INFO", "fake mode set to '" + m.line + "' (from " + source + ")");
  if ((m.kind == Kind::StaleLock || m.kind == Kind::NeedsDoctor) && g_opts.state_dir.empty()) {
    log_event("WARN", "mode '" + m.line + "' needs --state-dir; answering healthy");
  }
}

void apply_mode(const Mode &m, const std::string &source) {
  std::lock_guard lk(g_state.mu);
  apply_mode_locked(m, source, Clock::now());
}

// ---------------------------------------------------------------- mode file

struct FileSig {
  bool exists = false;
  ino_t ino = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileSig &) const = default;
};

FileSig file_sig(const std::string &path) {
  struct stat st {};
  FileSig s;
  if (::stat(path.c_str(), &st) != 0) return s;
  s.exists = true;
  s.ino = st.st_ino;
  s.size = st.st_size;
#ifdef __APPLE__
  const struct timespec &mt = st.st_mtimespec;
#else
  const struct timespec &mt = st.st_mtim;
#endif
  s.mtime_ns = static_cast<int64_t>(mt.tv_sec) * 1000000000LL + mt.tv_nsec;
  return s;
}

// Reads the first line of the mode file; nullopt if missing/unreadable/empty.
std::optional<std::string> read_mode_file(const std::string &path) {
  std::string text;
  if (!read_file(path, text, 4096)) return std::nullopt;
  std::string line = first_line(text);
  if (line.empty()) return std::nullopt;
  return line;
}

FileSig g_mode_file_sig;

// Called from the ticker thread every kPollPeriod.
void poll_mode_file() {
  const FileSig sig = file_sig(g_opts.mode_file);
  if (sig == g_mode_file_sig) return;
  if (!sig.exists) {
    g_mode_file_sig = sig;
    log_event("INFO", "mode file " + g_opts.mode_file + " removed; back to the --mode line");
    apply_mode(g_cli_mode, "cli");
    return;
  }
  const auto line = read_mode_file(g_opts.mode_file);
  if (!line) return;  // empty (maybe half-written): keep the mode, look again next poll
  g_mode_file_sig = sig;
  Mode m;
  std::string err;
  if (!parse_mode(*line, m, err)) {
    log_event("WARN", "ignoring mode file line '" + *line + "': " + err);
    return;
  }
  apply_mode(m, "file");
}

// ---------------------------------------------------------------- crash, leak

[[noreturn]] void do_crash(const Mode &m) {
  if (m.signal > 0) {
    const int sig = static_cast<int>(m.signal);
    log_event("ERROR", "fake crash: raising signal " + std::to_string(sig));
    struct sigaction sa {};
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, nullptr);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    raise(sig);
    std::_Exit(128 + sig);  // the signal's default action was to ignore it
  }
  log_event("ERROR", "fake crash: exiting with code " + std::to_string(m.code));
  std::_Exit(static_cast<int>(m.code));
}

std::vector<void *> g_leak_blocks;  // owned by the ticker thread; never freed
bool g_leak_failed = false;

void leak_to(int64_t target_mb) {
  while (!g_leak_failed && g_leaked_mb.load() < target_mb) {
    void *p = std::malloc(kLeakBlock);
    if (p == nullptr) {
      g_leak_failed = true;
      log_event("WARN", "leak: malloc failed at " + std::to_string(g_leaked_mb.load()) + " MB");
      return;
    }
    std::memset(p, 0xA5, kLeakBlock);
    g_leak_blocks.push_back(p);
    g_leaked_mb.fetch_add(1);
  }
}

void ticker_thread() {
  for (;;) {
    if (!g_opts.mode_file.empty()) poll_mode_file();

    std::unique_lock lk(g_state.mu);
    const Mode m = g_state.mode;
    const auto applied = g_state.applied_at;
    const int64_t base = g_state.leak_base_mb;
    const auto now = Clock::now();
    auto wake = now + kPollPeriod;

    if (m.kind == Kind::Crash) {
      const auto deadline = applied + milliseconds(m.after_ms);
      if (now >= deadline) {
        lk.unlock();
        do_crash(m);
      }
      wake = std::min(wake, deadline);
    } else if (m.kind == Kind::Leak) {
      lk.unlock();
      const double secs = std::chrono::duration<double>(now - applied).count();
      const auto grown = static_cast<int64_t>(static_cast<double>(m.mb_per_s) * secs);
      leak_to(std::min(m.max_mb, base + grown));
      lk.lock();
    }
    const uint64_t gen = g_state.gen;
    g_state.cv.wait_until(lk, wake, [&] { return g_state.gen != gen; });
  }
}

// ---------------------------------------------------------------- health checks

std::optional<std::string> find_stale_lock() {
  if (g_opts.state_dir.empty()) return std::nullopt;
  const std::string pattern = g_opts.state_dir + "/agents/*/sessions/*.jsonl.lock";
  glob_t g{};
  std::optional<std::string> found;
  if (::glob(pattern.c_str(), 0, nullptr, &g) == 0) {
    for (std::size_t i = 0; i < g.gl_pathc && !found; ++i) {
      const std::string path = g.gl_pathv[i];
      std::string text;
      if (!read_file(path, text)) continue;  // vanished meanwhile
      const json j = json::parse(text, nullptr, false);
      std::string pid_text = "undefined";
      std::string age_text = "NaN";
      bool alive = false;
      if (j.is_object()) {
        const auto pit = j.find("pid");
        if (pit != j.end() && pit->is_number_integer()) {
          const int64_t pid = pit->get<int64_t>();
          pid_text = std::to_string(pid);
          alive = pid_alive(pid);
        }
        const auto cit = j.find("createdAt");
        if (cit != j.end() && cit->is_number()) {
          age_text = std::to_string(epoch_ms() - cit->get<int64_t>());
        }
      }
      if (alive) continue;
      found = "session file locked (timeout 60000ms): pid=" + pid_text +
              " alive=false ageMs=" + age_text + " " + path;
    }
  }
  ::globfree(&g);
  return found;
}

bool needs_doctor() {
  if (g_opts.state_dir.empty()) return false;
  return ::access((g_opts.state_dir + "/.needs-doctor").c_str(), F_OK) == 0;
}

enum class Endpoint { Health, Ready, Startup };

struct Answer {
  int status;
  json body;
  std::string raw;  // sent as it is, when set
};

int64_t uptime_ms() {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - g_start).count();
}

json ready_body(bool ready, const std::vector<std::string> &failing) {
  return {{"ready", ready}, {"failing", failing}, {"uptimeMs", uptime_ms()}};
}

Answer healthy_answer(Endpoint ep) {
  switch (ep) {
    case Endpoint::Health: return {200, {{"ok", true}, {"status", "live"}}};
    case Endpoint::Ready: return {200, ready_body(true, {})};
    case Endpoint::Startup: return {200, {{"status", "started"}}};
  }
  return {500, json::object()};
}

// A gateway that started but cannot serve: health carries `health`, readiness fails.
Answer failing_answer(Endpoint ep, int health_status, json health, const std::string &reason) {
  switch (ep) {
    case Endpoint::Health: return {health_status, std::move(health)};
    case Endpoint::Ready: {
      json b = ready_body(false, {reason});
      if (health.contains("error")) b["error"] = health["error"];
      return {503, b};
    }
    case Endpoint::Startup: return {200, {{"status", "started"}}};
  }
  return {500, json::object()};
}

// Answer for every mode that does not wait (all but hang and slow).
Answer evaluate(Endpoint ep, const Mode &m) {
  switch (m.kind) {
    case Kind::Healthy:
    case Kind::Leak:
    case Kind::Crash:
    case Kind::Hang:
    case Kind::Wedged:
    case Kind::Slow: return healthy_answer(ep);
    case Kind::Unhealthy:
      return failing_answer(ep, 200, {{"ok", false}, {"status", "degraded"}}, "degraded");
    case Kind::Error: {
      const int st = static_cast<int>(m.status);
      if (!m.raw_body.empty()) return {st, nullptr, m.raw_body};
      return {st, {{"ok", false}, {"error", reason(st)}, {"code", st}}};
    }
    case Kind::Starting: {
      const bool starting = uptime_ms() < m.startup_ms;
      if (ep == Endpoint::Startup && m.no_startupz) return {404, {{"error", "Not Found"}}};
      if (!starting) return healthy_answer(ep);
      switch (ep) {
        case Endpoint::Health: return {503, {{"ok", false}, {"status", "starting"}}};
        case Endpoint::Ready: return {503, ready_body(false, {"startup-sidecars"})};
        case Endpoint::Startup: return {503, {{"status", "starting"}}};
      }
      break;
    }
    // What OpenClaw 2026.9's /readyz says while /health stays 200.
    case Kind::ChannelFailing:
      if (ep == Endpoint::Ready) return {503, ready_body(false, {"telegram"})};
      return healthy_answer(ep);
    case Kind::Breaker:
      if (ep == Endpoint::Ready) {
        json b = ready_body(true, {});
        b["suppressed"] = {"telegram"};
        return {200, b};
      }
      return healthy_answer(ep);
    case Kind::DatabaseRefused:
      if (ep == Endpoint::Ready) return {503, ready_body(false, {"agent-database:main"})};
      return healthy_answer(ep);
    case Kind::Lagging:
      if (ep == Endpoint::Ready) {
        json b = ready_body(true, {});
        b["eventLoop"] = {{"degraded", true},        {"reasons", {"event_loop_delay", "cpu"}},
                          {"intervalMs", 1001.2},    {"delayP99Ms", 1450.2},
                          {"delayMaxMs", 3017.8},    {"utilization", 0.97},
                          {"cpuCoreRatio", 0.95}};
        return {200, b};
      }
      return healthy_answer(ep);
    case Kind::PluginReloadFailed:
      if (ep == Endpoint::Ready) return {503, ready_body(false, {"plugin-reload"})};
      return healthy_answer(ep);
    case Kind::StaleLock: {
      if (auto msg = find_stale_lock()) {
        return failing_answer(ep, 503, {{"ok", false}, {"error", *msg}}, "session-lock");
      }
      return healthy_answer(ep);
    }
    case Kind::NeedsDoctor: {
      if (needs_doctor()) {
        return failing_answer(
            ep, 503,
            {{"ok", false},
             {"status", "legacy session store not migrated; run openclaw doctor --fix"}},
            "legacy-session-store");
      }
      return healthy_answer(ep);
    }
  }
  return healthy_answer(ep);
}

// ---------------------------------------------------------------- boot records, crash-loop breaker

// OpenClaw 2026.9 records every boot in STATE/state/openclaw.sqlite and, when
// too many recent boots never finished cleanly, keeps channel auto-start off
// for that process. --breaker imitates it. Every SQLite failure is logged and
// ignored (fail open), like the real gateway.

constexpr int64_t kBreakerWindowMs = 300000;
constexpr int64_t kBreakerThreshold = 3;
constexpr auto kBreakerCheckPeriod = std::chrono::seconds(1);
constexpr const char *kBreakerReason = "gateway.crash_loop_breaker";

std::string g_boot_id;
int64_t g_unclean_at_start = 0;
std::atomic<bool> g_breaker_tripped{false};

bool mkdir_p(const std::string &dir) {
  std::string cur;
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    cur = dir.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) return false;
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return false;
  if (S_ISDIR(st.st_mode)) return true;
  errno = ENOTDIR;
  return false;
}

std::string random_hex_id() {
  std::random_device rd;
  std::string out;
  char buf[9];
  for (int i = 0; i < 4; ++i) {
    std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rd()));
    out += buf;
  }
  return out;
}

// One connection per use: open, configure, make sure the table exists.
class BootDb {
 public:
  BootDb() {
    const std::string dir = g_opts.state_dir + "/state";
    if (!mkdir_p(dir)) {
      error_ = "cannot create " + dir + ": " + std::strerror(errno);
      return;
    }
    const std::string path = dir + "/openclaw.sqlite";
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        nullptr) != SQLITE_OK) {
      fail("open " + path);
      return;
    }
    sqlite3_busy_timeout(db_, 2000);
    if (!exec("PRAGMA journal_mode=WAL") ||
        !exec("CREATE TABLE IF NOT EXISTS gateway_boot_lifecycle (\n"
              "  boot_id TEXT NOT NULL PRIMARY KEY,\n"
              "  pid INTEGER NOT NULL,\n"
              "  started_at_ms INTEGER NOT NULL,\n"
              "  completed_at_ms INTEGER,\n"
              "  outcome TEXT,\n"
              "  startup_reason TEXT,\n"
              "  reason TEXT\n"
              ") STRICT")) {
      return;
    }
    ok_ = true;
  }
  BootDb(const BootDb &) = delete;
  BootDb &operator=(const BootDb &) = delete;
  ~BootDb() { sqlite3_close(db_); }

  bool ok() const { return ok_; }
  const std::string &error() const { return error_; }

  // Unclean boots in the window ending at now_ms, the way OpenClaw counts them.
  std::optional<int64_t> count_unclean(int64_t now_ms, const std::string &exclude_boot_id) {
    std::string sql =
        "SELECT count(*) FROM gateway_boot_lifecycle WHERE (startup_reason IS NULL OR "
        "startup_reason NOT IN ('gateway.maintenance_required',"
        "'gateway.agent_media_migration_required')) AND ((completed_at_ms IS NULL AND "
        "started_at_ms >= ?1) OR (outcome = 'startup_failed' AND completed_at_ms >= ?1))";
    if (!exclude_boot_id.empty()) sql += " AND boot_id <> ?2";
    sqlite3_stmt *st = prepare(sql);
    if (st == nullptr) return std::nullopt;
    sqlite3_bind_int64(st, 1, now_ms - kBreakerWindowMs);
    if (!exclude_boot_id.empty()) {
      sqlite3_bind_text(st, 2, exclude_boot_id.c_str(), -1, SQLITE_TRANSIENT);
    }
    std::optional<int64_t> n;
    if (sqlite3_step(st) == SQLITE_ROW) {
      n = sqlite3_column_int64(st, 0);
    } else {
      fail("count unclean boots");
    }
    sqlite3_finalize(st);
    return n;
  }

  bool insert_boot(const std::string &boot_id, int64_t now_ms, bool tripped) {
    sqlite3_stmt *st = prepare(
        "INSERT INTO gateway_boot_lifecycle (boot_id, pid, started_at_ms, completed_at_ms, "
        "outcome, startup_reason, reason) VALUES (?1, ?2, ?3, NULL, NULL, ?4, NULL)");
    if (st == nullptr) return false;
    sqlite3_bind_text(st, 1, boot_id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, static_cast<int64_t>(getpid()));
    sqlite3_bind_int64(st, 3, now_ms);
    if (tripped) {
      sqlite3_bind_text(st, 4, kBreakerReason, -1, SQLITE_STATIC);
    } else {
      sqlite3_bind_null(st, 4);
    }
    return step_done(st, "insert boot row");
  }

  // Returns the number of rows changed, or nullopt on error.
  std::optional<int> complete_boot(const std::string &boot_id, int64_t now_ms) {
    sqlite3_stmt *st = prepare(
        "UPDATE gateway_boot_lifecycle SET completed_at_ms = ?1, outcome = 'clean_stop' "
        "WHERE boot_id = ?2");
    if (st == nullptr) return std::nullopt;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_text(st, 2, boot_id.c_str(), -1, SQLITE_TRANSIENT);
    if (!step_done(st, "complete boot row")) return std::nullopt;
    return sqlite3_changes(db_);
  }

 private:
  void fail(const std::string &what) {
    error_ = what + ": " + (db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory");
  }
  bool exec(const char *sql) {
    char *msg = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) == SQLITE_OK) return true;
    error_ = std::string(sql).substr(0, 40) + ": " + (msg != nullptr ? msg : "error");
    sqlite3_free(msg);
    return false;
  }
  sqlite3_stmt *prepare(const std::string &sql) {
    sqlite3_stmt *st = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
      fail("prepare");
      sqlite3_finalize(st);
      return nullptr;
    }
    return st;
  }
  bool step_done(sqlite3_stmt *st, const std::string &what) {
    const bool done = sqlite3_step(st) == SQLITE_DONE;
    if (!done) fail(what);
    sqlite3_finalize(st);
    return done;
  }

  sqlite3 *db_ = nullptr;
  bool ok_ = false;
  std::string error_;
};

void warn_db(const std::string &error) { log_event("WARN", "boot lifecycle (sqlite): " + error); }

void write_stability_bundle(const std::string &message, int64_t unclean, int64_t now_ms) {
  const std::string dir = g_opts.state_dir + "/logs/stability";
  if (!mkdir_p(dir)) {
    log_event("WARN", "cannot create " + dir + ": " + std::strerror(errno));
    return;
  }
  std::string stamp = iso_from_ms(now_ms);
  std::replace(stamp.begin(), stamp.end(), ':', '-');
  const std::string pid = std::to_string(getpid());
  const std::string path =
      dir + "/openclaw-stability-" + stamp + "-" + pid + "-" + kBreakerReason + ".json";
  const nlohmann::ordered_json bundle = {{"reason", kBreakerReason},
                                         {"message", message},
                                         {"uncleanBoots", unclean},
                                         {"windowMs", kBreakerWindowMs},
                                         {"pid", static_cast<int64_t>(getpid())},
                                         {"createdAtMs", now_ms}};
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << bundle.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    if (!out) {
      log_event("WARN", "cannot write stability bundle " + path);
      std::remove(tmp.c_str());
      return;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    log_event("WARN", "cannot write stability bundle " + path + ": " + std::strerror(errno));
    std::remove(tmp.c_str());
  }
}

// At start-up, once bound: count the unclean boots, record ours, trip if needed.
void breaker_start() {
  g_boot_id = random_hex_id();
  const int64_t now = epoch_ms();
  BootDb db;
  if (!db.ok()) {
    warn_db(db.error());
    return;
  }
  if (const auto n = db.count_unclean(now, "")) {
    g_unclean_at_start = *n;
  } else {
    warn_db(db.error());  // fail open: not tripped
  }
  const bool tripped = g_unclean_at_start >= kBreakerThreshold;
  if (!db.insert_boot(g_boot_id, now, tripped)) warn_db(db.error());
  if (!tripped) return;
  g_breaker_tripped.store(true);
  const std::string message =
      "gateway restart-loop breaker tripped: " + std::to_string(g_unclean_at_start) +
      " unclean boot(s) within " + std::to_string(kBreakerWindowMs) +
      "ms; suppressing channel/provider account auto-start. Inspect the stability bundle and "
      "fix the startup crash before restarting the service.";
  log_event("ERROR", message);
  log_event("WARN", "channel autostart suppressed by crash-loop breaker; refusing automatic "
                    "start for telegram");
  write_stability_bundle(message, g_unclean_at_start, now);
}

// While tripped: once --breaker-recover-ms have passed and no other unclean
// boot is left in the window, auto-start comes back.
void breaker_thread() {
  std::string last_error;
  while (g_breaker_tripped.load()) {
    std::this_thread::sleep_for(kBreakerCheckPeriod);
    if (uptime_ms() < g_opts.breaker_recover_ms) continue;
    BootDb db;
    std::optional<int64_t> n;
    if (db.ok()) n = db.count_unclean(epoch_ms(), g_boot_id);
    if (!n) {
      if (db.error() != last_error) warn_db(db.error());  // once per distinct error
      last_error = db.error();
      continue;
    }
    last_error.clear();
    if (*n == 0) {
      g_breaker_tripped.store(false);
      log_event("INFO", "gateway restart-loop breaker recovered; channel auto-start restored");
    }
  }
}

// At clean exit: close our boot record.
void breaker_finish() {
  if (!g_opts.breaker || g_boot_id.empty()) return;
  BootDb db;
  std::optional<int> changed;
  if (db.ok()) changed = db.complete_boot(g_boot_id, epoch_ms());
  if (!changed) {
    warn_db(db.error());
  } else if (*changed == 0) {
    warn_db("no boot row " + g_boot_id + " to complete");
  }
}

// A /readyz answer that says ready with nothing failing.
bool ready_and_healthy(const Answer &a) {
  if (a.status != 200 || !a.raw.empty() || !a.body.is_object()) return false;
  const auto it = a.body.find("ready");
  return it != a.body.end() && it->is_boolean() && it->get<bool>();
}

// ---------------------------------------------------------------- client liveness

std::string sockaddr_host(const sockaddr_storage &ss) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    const auto *a = reinterpret_cast<const sockaddr_in *>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
  } else if (ss.ss_family == AF_INET6) {
    const auto *a = reinterpret_cast<const sockaddr_in6 *>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

int sockaddr_port(const sockaddr_storage &ss) {
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in *>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6 *>(&ss)->sin6_port);
  }
  return -1;
}

// httplib does not hand the socket to handlers; find it by its address pair so
// a hanging handler can notice that its client gave up and free its thread.
int find_conn_fd(const httplib::Request &req) {
#ifdef __linux__
  DIR *d = ::opendir("/proc/self/fd");
#else
  DIR *d = ::opendir("/dev/fd");  // macOS: this process's descriptors
#endif
  if (d == nullptr) return -1;
  int found = -1;
  while (const dirent *e = ::readdir(d)) {
    const auto fd = parse_int(e->d_name);
    if (!fd || *fd == ::dirfd(d)) continue;
    const int f = static_cast<int>(*fd);
    sockaddr_storage peer{}, local{};
    socklen_t pl = sizeof peer, ll = sizeof local;
    if (::getpeername(f, reinterpret_cast<sockaddr *>(&peer), &pl) != 0) continue;
    if (::getsockname(f, reinterpret_cast<sockaddr *>(&local), &ll) != 0) continue;
    if (sockaddr_port(peer) == req.remote_port && sockaddr_port(local) == req.local_port &&
        sockaddr_host(peer) == req.remote_addr) {
      found = f;
      break;
    }
  }
  ::closedir(d);
  return found;
}

bool peer_closed(int fd) {
  char c;
  const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return false;
  if (n == 0) return true;
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

// ---------------------------------------------------------------- HTTP handlers

void send_json(httplib::Response &res, int status, const json &body) {
  res.status = status;
  res.set_content(dump(body), "application/json; charset=utf-8");
}

enum class Wake { Changed, Deadline, Gone };

// Waits (lock held on entry/exit) until the mode generation moves, the
// deadline passes, or the client closes its connection.
Wake wait_for_change(std::unique_lock<std::mutex> &lk, uint64_t gen, Clock::time_point deadline,
                     const httplib::Request &req, int &fd) {
  for (;;) {
    if (g_state.gen != gen) return Wake::Changed;
    const auto now = Clock::now();
    if (now >= deadline) return Wake::Deadline;
    g_state.cv.wait_until(lk, std::min(deadline, now + kPeerCheckPeriod));
    if (g_state.gen != gen) return Wake::Changed;
    if (Clock::now() >= deadline) return Wake::Deadline;
    lk.unlock();
    if (fd == -2) fd = find_conn_fd(req);
    const bool gone = fd >= 0 && peer_closed(fd);
    lk.lock();
    if (gone) return Wake::Gone;
  }
}

void handle_probe(const httplib::Request &req, httplib::Response &res, Endpoint ep) {
  const auto t0 = Clock::now();
  int fd = -2;  // not looked up yet
  std::unique_lock lk(g_state.mu);
  for (;;) {
    const Mode m = g_state.mode;
    const uint64_t gen = g_state.gen;
    Answer a{0, nullptr};
    const bool hangs = m.kind == Kind::Hang || m.kind == Kind::Wedged;
    if (hangs || m.kind == Kind::Slow) {
      const auto deadline = hangs ? t0 + kHangLimit : t0 + milliseconds(m.delay_ms);
      const Wake w = wait_for_change(lk, gen, deadline, req, fd);
      if (w == Wake::Changed) continue;
      if (w == Wake::Gone) {
        res.status = 503;  // nobody is listening any more
        return;
      }
      a = hangs ? Answer{503, {{"ok", false}, {"error", "fake hang gave up after 10 minutes"}}}
                : healthy_answer(ep);
    }
    const bool draining = g_state.draining;
    lk.unlock();
    if (a.status == 0) a = evaluate(ep, m);
    if (ep == Endpoint::Ready && g_breaker_tripped.load() && ready_and_healthy(a)) {
      Mode breaker;
      breaker.kind = Kind::Breaker;
      a = evaluate(ep, breaker);  // the same answer as the `breaker` mode
    }
    if (draining && ep == Endpoint::Ready) a = {503, ready_body(false, {"draining"})};
    if (draining && ep == Endpoint::Startup && a.status != 404) {
      a = {503, {{"status", "draining"}}};
    }
    if (!a.raw.empty()) {
      res.status = a.status;
      res.set_content(a.raw, "text/plain");
    } else {
      send_json(res, a.status, a.body);
    }
    return;
  }
}

json state_json() {
  std::lock_guard lk(g_state.mu);
  json requests = json::object();
  for (const auto &[path, n] : g_state.requests) requests[path] = n;
  json j = {{"mode", g_state.mode.line},
          {"source", g_state.source},
          {"pid", static_cast<int>(getpid())},
          {"host", g_opts.host},
          {"port", g_bound_port},
          {"requests", requests},
          {"started_at_ms", g_start_epoch_ms},
          {"uptime_ms", uptime_ms()},
          {"rss_kb", rss_kb()},
          {"leaked_mb", g_leaked_mb.load()},
          {"draining", g_state.draining},
          {"children", g_children}};
  if (g_opts.breaker) {
    j["breaker_tripped"] = g_breaker_tripped.load();
    j["unclean_boots_at_start"] = g_unclean_at_start;
    j["boot_id"] = g_boot_id;
  }
  return j;
}

// TaskQueue::enqueue returns void up to cpp-httplib 0.14 (Debian 12 has
// 0.11) and, since 0.15 (Homebrew's), bool: whether it took the task.
using EnqueueResult = decltype(std::declval<httplib::TaskQueue &>().enqueue(std::function<void()>()));

// Runs every connection on its own thread, so however many probes hang, the
// control endpoints are still answered.
class ThreadPerConnection : public httplib::TaskQueue {
 public:
  EnqueueResult enqueue(std::function<void()> fn) override {
    active_.fetch_add(1);
    bool taken = true;
    try {
      std::thread([this, f = std::move(fn)]() mutable {
        f();
        active_.fetch_sub(1);
      }).detach();
    } catch (const std::system_error &) {
      active_.fetch_sub(1);  // out of threads: the moved-from fn is lost; the
                             // connection is dropped like an overloaded server would
      taken = false;
    }
    return static_cast<EnqueueResult>(taken);
  }
  void shutdown() override {
    const auto until = Clock::now() + std::chrono::seconds(2);
    while (active_.load() > 0 && Clock::now() < until) std::this_thread::sleep_for(milliseconds(10));
  }

 private:
  std::atomic<int> active_{0};
};

void setup_routes(httplib::Server &svr) {
  svr.new_task_queue = [] { return new ThreadPerConnection(); };
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);  // never SO_REUSEPORT
  });
  svr.set_tcp_nodelay(true);
  svr.set_keep_alive_max_count(1000);
  svr.set_default_headers({{"Cache-Control", "no-store"}});

  svr.set_pre_routing_handler([](const httplib::Request &req, httplib::Response &) {
    std::lock_guard lk(g_state.mu);
    ++g_state.requests[req.path];
    return httplib::Server::HandlerResponse::Unhandled;
  });
  svr.set_error_handler([](const httplib::Request &, httplib::Response &res) {
    if (res.body.empty()) {
      send_json(res, res.status, {{"error", reason(res.status)}});
    }
  });
  svr.set_exception_handler(
      [](const httplib::Request &, httplib::Response &res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception &e) {
          what = e.what();
        } catch (...) {
        }
        send_json(res, 500, {{"ok", false}, {"error", what}});
      });

  const std::pair<const char *, Endpoint> probes[] = {
      {"/health", Endpoint::Health}, {"/healthz", Endpoint::Health},
      {"/ready", Endpoint::Ready},   {"/readyz", Endpoint::Ready},
      {"/startup", Endpoint::Startup}, {"/startupz", Endpoint::Startup}};
  for (const auto &[path, ep] : probes) {
    const Endpoint e = ep;
    svr.Get(path, [e](const httplib::Request &req, httplib::Response &res) {
      handle_probe(req, res, e);
    });
  }

  svr.Post("/_fake/mode", [](const httplib::Request &req, httplib::Response &res) {
    const std::string line = first_line(req.body);
    Mode m;
    std::string err;
    if (!parse_mode(line, m, err)) {
      log_event("WARN", "rejected POST /_fake/mode '" + line + "': " + err);
      std::lock_guard lk(g_state.mu);
      send_json(res, 400, {{"ok", false}, {"error", err}, {"mode", g_state.mode.line}});
      return;
    }
    apply_mode(m, "post");
    send_json(res, 200, {{"ok", true}, {"mode", m.line}});
  });
  svr.Get("/_fake/state", [](const httplib::Request &, httplib::Response &res) {
    send_json(res, 200, state_json());
  });
}

// ---------------------------------------------------------------- process plumbing

void write_pidfile() {
  if (g_opts.pidfile.empty()) return;
  const std::string tmp = g_opts.pidfile + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << getpid() << "\n";
    if (!out) {
      log_event("WARN", "cannot write pidfile " + g_opts.pidfile);
      return;
    }
  }
  if (std::rename(tmp.c_str(), g_opts.pidfile.c_str()) != 0) {
    log_event("WARN", "cannot write pidfile " + g_opts.pidfile + ": " + std::strerror(errno));
    std::remove(tmp.c_str());
  }
}

void remove_pidfile() {
  if (g_opts.pidfile.empty()) return;
  std::string text;
  if (!read_file(g_opts.pidfile, text, 64)) return;
  // Only remove it if it still names us (a newer instance may own it now).
  if (parse_int(trim(text)) == static_cast<int64_t>(getpid())) std::remove(g_opts.pidfile.c_str());
}

std::atomic<bool> g_stopping{false};  // the listener was closed on purpose

// Closes the listening socket (the port is free once this returns). httplib's
// stop() only acts once the accept loop runs, so wait for that first.
void close_listener(httplib::Server &svr) {
  g_stopping.store(true);
  const auto until = Clock::now() + std::chrono::seconds(5);
  while (!svr.is_running() && Clock::now() < until) std::this_thread::sleep_for(milliseconds(1));
  svr.stop();
}

void signal_thread(sigset_t set, httplib::Server *svr) {
  int sig = 0;
  std::string name;
  for (;;) {
    if (sigwait(&set, &sig) != 0) continue;
    name = sig == SIGINT ? "SIGINT" : "SIGTERM";
    bool wedged = false;
    {
      std::lock_guard lk(g_state.mu);
      wedged = g_state.mode.kind == Kind::Wedged;
    }
    if (!wedged) break;
    // The real gateway's blocked event loop never runs its signal handler.
    log_event("WARN", "received " + name + "; ignored (event loop blocked)");
  }
  const bool linger = g_opts.linger_ms > 0;
  if (!linger || g_opts.drain_ms > 0) {
    log_event("INFO", "received " + name + "; draining for " + std::to_string(g_opts.drain_ms) +
                          " ms");
  }
  {
    std::lock_guard lk(g_state.mu);
    g_state.draining = true;
  }
  if (g_opts.drain_ms > 0) std::this_thread::sleep_for(milliseconds(g_opts.drain_ms));
  if (linger) {
    // Like the real gateway with a channel: the port is free at once, the
    // process stays until its shutdown deadline.
    close_listener(*svr);
    log_event("INFO", "received " + name + "; closing the listener, lingering " +
                          std::to_string(g_opts.linger_ms) + " ms");
    std::this_thread::sleep_for(milliseconds(g_opts.linger_ms));
    log_event("INFO", "shutdown deadline reached");
  }
  breaker_finish();
  remove_pidfile();
  log_event("INFO", "gateway stopped");
  std::_Exit(0);
}

// ---------------------------------------------------------------- process name

// What ps calls this process. Linux renames it in place (PR_SET_NAME sets
// comm). Nothing renames a running process for macOS's ps, so there the fake
// execs itself again, same pid and same start time, with argv[0] = the name:
// ps's args then begin with it, and argv[0] is what gwr's process_match
// reads on macOS (the real gateway's process.title works the same way).
// When it started, and whether --launch-name is over, travel across the exec
// in FAKE_GATEWAY_REEXEC.

char **g_argv = nullptr;
#ifndef __linux__
constexpr const char *kReexecVar = "FAKE_GATEWAY_REEXEC";
#endif

// This executable, to exec again (children, a rename).
std::string self_exe() {
#if defined(__linux__)
  return "/proc/self/exe";
#elif defined(__APPLE__)
  char buf[PATH_MAX];
  uint32_t size = sizeof buf;
  if (_NSGetExecutablePath(buf, &size) == 0) return buf;
  return g_argv[0];
#else
  return g_argv[0];
#endif
}

// launched: the --launch-name phase is over (only the exec needs to know).
void set_process_name(const std::string &name, [[maybe_unused]] bool launched) {
#ifdef __linux__
  prctl(PR_SET_NAME, name.c_str(), 0, 0, 0);
#else
  if (name == g_argv[0]) return;
  std::vector<char *> args = {const_cast<char *>(name.c_str())};
  for (char **a = g_argv + 1; *a != nullptr; ++a) args.push_back(*a);
  args.push_back(nullptr);
  const std::string state = std::to_string(g_start_epoch_ms) + (launched ? ":launched" : ":launching");
  ::setenv(kReexecVar, state.c_str(), 1);
  const std::string exe = self_exe();
  ::execv(exe.c_str(), args.data());
  const int err = errno;
  ::unsetenv(kReexecVar);
  log_event("WARN", "cannot exec " + exe + " as " + name + ": " + std::strerror(err));
#endif
}

// After set_process_name's exec: the start time it carried, and whether the
// --launch-name phase is over. Nothing to do on Linux (no exec).
bool resume_after_rename() {
#ifdef __linux__
  return false;
#else
  const char *carried = std::getenv(kReexecVar);
  if (carried == nullptr) return false;
  const std::string v = carried;
  ::unsetenv(kReexecVar);
  if (const auto started = parse_int(v.substr(0, v.find(':')))) {
    g_start_epoch_ms = *started;
    g_start = Clock::now() - milliseconds(std::max<int64_t>(0, epoch_ms() - *started));
  }
  return v.find(":launched") != std::string::npos;
#endif
}

[[noreturn]] void run_child() {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
#ifdef __linux__
  prctl(PR_SET_NAME, "fake-gw-child", 0, 0, 0);
  prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
#endif
  if (g_opts.parent_pid != 0 && getppid() != g_opts.parent_pid) std::_Exit(0);
#ifdef __linux__
  for (;;) pause();
#else
  // No parent-death signal to ask for: notice the parent's end by polling.
  for (;;) {
    std::this_thread::sleep_for(kPeerCheckPeriod);
    if (g_opts.parent_pid != 0 && getppid() != g_opts.parent_pid) std::_Exit(0);
  }
#endif
}

void spawn_children() {
  const std::string parent = std::to_string(getpid());
  const std::string exe = self_exe();
  for (int i = 0; i < g_opts.children; ++i) {
    const pid_t pid = fork();
    if (pid < 0) {
      log_event("WARN", std::string("fork failed: ") + std::strerror(errno));
      return;
    }
    if (pid == 0) {
#ifdef __linux__
      execl(exe.c_str(), "fake-gateway", "--child", "--parent-pid", parent.c_str(), static_cast<char *>(nullptr));
#else
      // Named by argv[0] where there is no PR_SET_NAME.
      execl(exe.c_str(), "fake-gw-child", "--child", "--parent-pid", parent.c_str(), static_cast<char *>(nullptr));
#endif
      std::_Exit(127);
    }
    g_children.push_back(pid);
  }
}

// Explains a failed bind the way Node does.
void report_bind_failure() {
  int err = 0;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo *res = nullptr;
  const std::string port = std::to_string(g_opts.port);
  if (::getaddrinfo(g_opts.host.c_str(), port.c_str(), &hints, &res) == 0 && res != nullptr) {
    const int s = ::socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    if (s >= 0) {
      int yes = 1;
      ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      if (::bind(s, res->ai_addr, res->ai_addrlen) != 0) err = errno;
      ::close(s);
    }
    ::freeaddrinfo(res);
  } else {
    err = EADDRNOTAVAIL;
  }
  const std::string where = g_opts.host + ":" + port;
  std::string msg;
  switch (err) {
    case EACCES: msg = "Error: listen EACCES: permission denied " + where; break;
    case EADDRNOTAVAIL: msg = "Error: listen EADDRNOTAVAIL: address not available " + where; break;
    default: msg = "Error: listen EADDRINUSE: address already in use " + where; break;
  }
  std::fprintf(stderr, "%s\n", msg.c_str());
  std::fflush(stderr);
  if (!g_opts.log_file.empty()) {
    // Not log_event: stderr must carry only the Node-like line above.
    const std::string now = iso_now();
    const json line = {{"0", msg},
                       {"_meta", {{"logLevelName", "ERROR"}, {"date", now}, {"name", "fake-gateway"}}},
                       {"time", now}};
    std::ofstream(g_opts.log_file, std::ios::app) << dump(line) << "\n";
  }
}

}  // namespace

int main(int argc, char **argv) {
  g_start = Clock::now();
  g_start_epoch_ms = epoch_ms();
  g_argv = argv;
  g_opts = parse_args(argc, argv);
  if (g_opts.child) run_child();
  const bool launched = resume_after_rename();

  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGCHLD, SIG_IGN);  // children reap themselves
  if (!g_opts.launch_name.empty() && !launched) {
    // Like the real gateway: called something else while its CLI loads,
    // nothing bound yet, then renamed.
    set_process_name(g_opts.launch_name, false);
    std::this_thread::sleep_for(std::chrono::milliseconds(g_opts.launch_ms));
  }
  if (!g_opts.name.empty()) set_process_name(g_opts.name, true);
  spawn_children();

  // SIGTERM/SIGINT go to a dedicated thread; block them before any thread starts.
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigaddset(&term, SIGINT);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);

  // Initial mode: the mode file wins, then --mode, then healthy.
  {
    std::string err;
    if (!parse_mode(g_opts.mode_line, g_cli_mode, err)) {
      log_event("WARN", "ignoring --mode '" + g_opts.mode_line + "': " + err);
      g_cli_mode = Mode{};
    }
    Mode initial = g_cli_mode;
    std::string source = "cli";
    if (!g_opts.mode_file.empty()) {
      g_mode_file_sig = file_sig(g_opts.mode_file);
      if (const auto line = read_mode_file(g_opts.mode_file)) {
        Mode m;
        if (parse_mode(*line, m, err)) {
          initial = m;
          source = "file";
        } else {
          log_event("WARN", "ignoring mode file line '" + *line + "': " + err);
        }
      } else {
        g_mode_file_sig = FileSig{};  // empty or missing: look again on the first poll
      }
    }
    std::lock_guard lk(g_state.mu);
    // Timers count from process start; logged once the port is bound.
    apply_mode_locked(initial, source, g_start, /*quiet=*/true);
  }

  httplib::Server svr;
  setup_routes(svr);
  bool bound = false;
  if (g_opts.port == 0) {
    g_bound_port = svr.bind_to_any_port(g_opts.host);
    bound = g_bound_port > 0;
  } else {
    bound = svr.bind_to_port(g_opts.host, g_opts.port);
    g_bound_port = g_opts.port;
  }
  if (!bound) {
    report_bind_failure();
    return 1;
  }

  write_pidfile();
  log_event("INFO", "listening on " + g_opts.host + ":" + std::to_string(g_bound_port) +
                        " (pid " + std::to_string(getpid()) + ")");
  if (g_opts.breaker) breaker_start();  // before the first request is accepted
  {
    std::lock_guard lk(g_state.mu);
    const Mode m = g_state.mode;
    const std::string src = g_state.source;
    apply_mode_locked(m, src, g_start);
  }
  std::printf("fake-gateway listening on %s:%d (pid %d)\n", g_opts.host.c_str(), g_bound_port,
              static_cast<int>(getpid()));
  std::fflush(stdout);

  std::thread(signal_thread, term, &svr).detach();
  std::thread(ticker_thread).detach();
  if (g_breaker_tripped.load()) std::thread(breaker_thread).detach();

  svr.listen_after_bind();
  if (g_stopping.load()) {
    // --linger-ms closed the listener; the signal thread ends the process.
    for (;;) pause();
  }
  log_event("ERROR", "server loop ended unexpectedly");
  std::_Exit(1);
}
