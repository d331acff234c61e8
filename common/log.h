// Structured logging: one JSON-lines file per process (<log_dir>/<process>.log)
// plus stderr for journald. Every line carries timestamp, level, process, pid
// and event; call sites add fields. Redaction happens in the sink, after
// formatting, so no call site can leak a configured or secret-shaped value.
//
//   log::info("repair_completed", {{"tier", 1}, {"duration_ms", 3200}});
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace gwr::log {

using Fields = nlohmann::json;

struct Options {
  std::string process;      // "gwr-prober"
  std::string gateway;      // a per-gateway worker's gateway ("main", "rescue"): on every line
  std::string log_dir;      // "" = stderr only
  std::string level = "info";
  unsigned max_size_mb = 10;
  unsigned max_files = 5;
  bool to_stderr = true;
};

// Sets up the process logger. A log file that cannot be opened is reported
// in the Status and logging continues on stderr.
Status init(const Options& options);
void set_level(const std::string& level);
void set_secrets(std::vector<std::string> secrets);
void flush();
void shutdown();

enum class Level { kTrace, kDebug, kInfo, kWarn, kError };
void write(Level level, std::string_view event, const Fields& fields = Fields::object());

inline void trace(std::string_view e, const Fields& f = Fields::object()) { write(Level::kTrace, e, f); }
inline void debug(std::string_view e, const Fields& f = Fields::object()) { write(Level::kDebug, e, f); }
inline void info(std::string_view e, const Fields& f = Fields::object()) { write(Level::kInfo, e, f); }
inline void warn(std::string_view e, const Fields& f = Fields::object()) { write(Level::kWarn, e, f); }
inline void error(std::string_view e, const Fields& f = Fields::object()) { write(Level::kError, e, f); }

// ISO-8601 local time with offset and milliseconds: 2026-02-25T03:14:15.123+08:00
std::string iso_time(int64_t wall_ms);

}  // namespace gwr::log
