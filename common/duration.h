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

// Rounded for people, two units at most: 850 -> "850ms", 4200 -> "4.2s",
// 42000 -> "42s", 185000 -> "3m5s", 2 h 1 m -> "2h1m", 76 h -> "3d4h".
// Negative counts as 0.
std::string human_duration(long long ms);

}  // namespace gwr
