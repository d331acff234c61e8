// Durations as written in config and on the command line: "250ms", "10s",
// "30m", "1h", "1h30m", "2d". A bare number is rejected by parse_duration;
// callers that accept legacy plain numbers (the PRD's env names) say so.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"

namespace gwr {

Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// Shortest exact form: 90000 -> "1m30s", 250 -> "250ms", 0 -> "0s".
std::string format_duration(std::chrono::milliseconds d);
inline std::string format_duration_ms(long long ms) {
  return format_duration(std::chrono::milliseconds(ms));
}

}  // namespace gwr
