#include "common/log.h"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>

#include <google/protobuf/stubs/common.h>  // GOOGLE_PROTOBUF_VERSION
// Protobuf before 22 (Debian 12 has 3.21) logs through a handler of its own;
// from 22 on (Homebrew's) it logs through Abseil and has no such handler.
#if GOOGLE_PROTOBUF_VERSION < 4022000
#include <google/protobuf/stubs/logging.h>
#define GWR_PROTOBUF_LOG_HANDLER 1
#endif
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "common/redact.h"

namespace gwr::log {

namespace {

std::string g_process = "gwr";
std::string g_gateway_field;  // ",\"gateway\":\"rescue\"" or ""
long g_pid = 0;

const char* level_name(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "info";
  }
}

spdlog::level::level_enum parse_level(const std::string& s) {
  if (s == "trace") return spdlog::level::trace;
  if (s == "debug") return spdlog::level::debug;
  if (s == "warn") return spdlog::level::warn;
  if (s == "error") return spdlog::level::err;
  return spdlog::level::info;
}

// Renders a JSON line as "12:00:01.234 INFO  gwr-prober[42] event k=v ..." for a terminal.
std::string human_line(const std::string& json_line) {
  auto j = nlohmann::json::parse(json_line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return json_line;
  std::string ts = j.value("timestamp", "");
  if (ts.size() >= 23) ts = ts.substr(11, 12);
  std::string lvl = j.value("level", "info");
  for (auto& ch : lvl) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  lvl.resize(5, ' ');
  std::string out = ts + " " + lvl + " " + j.value("process", "") + "[" + std::to_string(j.value("pid", 0)) + "] " +
                    j.value("event", "");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const auto& k = it.key();
    if (k == "timestamp" || k == "level" || k == "process" || k == "pid" || k == "event") continue;
    out += " " + k + "=" + (it->is_string() ? it->get<std::string>() : it->dump());
  }
  return out;
}

// Formats the record as a complete JSON line, redacts it, and hands the
// finished line to the file and stderr sinks.
class RedactingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  RedactingSink(std::shared_ptr<spdlog::sinks::sink> file, bool to_stderr, bool stderr_human)
      : file_(std::move(file)), to_stderr_(to_stderr), stderr_human_(stderr_human) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    std::string line;
    line.reserve(msg.payload.size() + 128);
    line += "{\"timestamp\":\"";
    line += iso_time(ms);
    line += "\",\"level\":\"";
    line += level_name(msg.level);
    line += "\",\"process\":";
    line += nlohmann::json(g_process).dump();
    line += ",\"pid\":";
    line += std::to_string(g_pid);
    line += g_gateway_field;
    if (msg.payload.size() > 0) {
      line += ",";
      line.append(msg.payload.data(), msg.payload.size());
    }
    line += "}";
    const std::string safe = SharedRedactor::instance().redact(line);
    if (file_) {
      spdlog::details::log_msg out(msg.logger_name, msg.level, safe);
      out.time = msg.time;
      file_->log(out);
    }
    if (to_stderr_) {
      const std::string text = (stderr_human_ ? human_line(safe) : safe) + "\n";
      // One write per line keeps lines whole when processes share a terminal.
      ssize_t ignored = ::write(STDERR_FILENO, text.data(), text.size());
      (void)ignored;
    }
  }
  void flush_() override {
    if (file_) file_->flush();
  }

 private:
  std::shared_ptr<spdlog::sinks::sink> file_;
  bool to_stderr_;
  bool stderr_human_;
};

std::shared_ptr<spdlog::logger> g_logger;
std::mutex g_init_mu;

#ifdef GWR_PROTOBUF_LOG_HANDLER
// libprotobuf prints parse complaints (e.g. invalid UTF-8 in garbage from a
// peer) straight to stderr; route them into our log instead.
void protobuf_log_handler(google::protobuf::LogLevel level, const char* filename, int line, const std::string& message) {
  const bool serious = level >= google::protobuf::LOGLEVEL_ERROR;
  write(serious ? Level::kDebug : Level::kTrace, "protobuf_message",
        {{"message", message}, {"source", std::string(filename) + ":" + std::to_string(line)}});
}
#endif

}  // namespace

std::string iso_time(int64_t wall_ms) {
  const std::time_t secs = static_cast<std::time_t>(wall_ms / 1000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char off[16];
  std::strftime(off, sizeof off, "%z", &tm);  // +0800
  std::string offset(off);
  if (offset.size() == 5) offset = offset.substr(0, 3) + ":" + offset.substr(3);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(wall_ms % 1000));
  return std::string(buf) + frac + offset;
}

Status init(const Options& options) {
  std::lock_guard lock(g_init_mu);
  g_process = options.process;
  g_gateway_field = options.gateway.empty() ? "" : ",\"gateway\":" + nlohmann::json(options.gateway).dump();
  g_pid = static_cast<long>(::getpid());
#ifdef GWR_PROTOBUF_LOG_HANDLER
  google::protobuf::SetLogHandler(protobuf_log_handler);
#endif
  Status status;
  std::shared_ptr<spdlog::sinks::sink> file;
  if (!options.log_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.log_dir, ec);
    try {
      auto rotating = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
          options.log_dir + "/" + options.process + ".log", size_t{options.max_size_mb} * 1024 * 1024,
          options.max_files);
      rotating->set_pattern("%v");
      file = rotating;
    } catch (const spdlog::spdlog_ex& e) {
      status = make_error(std::string("cannot open log file in ") + options.log_dir + ": " + e.what());
    }
  }
  const bool human = options.to_stderr && ::isatty(STDERR_FILENO) == 1;
  auto sink = std::make_shared<RedactingSink>(file, options.to_stderr, human);
  auto logger = std::make_shared<spdlog::logger>(options.process, sink);
  logger->set_level(parse_level(options.level));
  logger->flush_on(spdlog::level::trace);  // lines must survive a crash
  g_logger = logger;
  return status;
}

void set_level(const std::string& level) {
  if (g_logger) g_logger->set_level(parse_level(level));
}

void set_secrets(std::vector<std::string> secrets) { SharedRedactor::instance().set_secrets(std::move(secrets)); }

void flush() {
  if (g_logger) g_logger->flush();
}

void shutdown() {
  std::lock_guard lock(g_init_mu);
  if (g_logger) g_logger->flush();
  g_logger.reset();
}

void write(Level level, std::string_view event, const Fields& fields) {
  auto logger = g_logger;
  spdlog::level::level_enum l = spdlog::level::info;
  switch (level) {
    case Level::kTrace: l = spdlog::level::trace; break;
    case Level::kDebug: l = spdlog::level::debug; break;
    case Level::kInfo: l = spdlog::level::info; break;
    case Level::kWarn: l = spdlog::level::warn; break;
    case Level::kError: l = spdlog::level::err; break;
  }
  if (logger && !logger->should_log(l)) return;
  nlohmann::json body = nlohmann::json::object();
  body["event"] = std::string(event);
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) {
      // The header owns these names; a field may not shadow them.
      const std::string& k = it.key();
      const bool reserved = k == "timestamp" || k == "level" || k == "process" || k == "pid" || k == "event" ||
                            (k == "gateway" && !g_gateway_field.empty());
      body[reserved ? "field_" + k : k] = it.value();
    }
  }
  // Invalid UTF-8 from a peer must not throw: replace it.
  std::string dumped = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const std::string inner = dumped.substr(1, dumped.size() - 2);
  if (logger) {
    logger->log(l, spdlog::string_view_t(inner.data(), inner.size()));
  } else {
    const std::string line = SharedRedactor::instance().redact("{" + inner + "}") + "\n";
    ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
    (void)ignored;
  }
}

}  // namespace gwr::log
