#include "common/duration.h"

#include <cctype>
#include <cstdint>
#include <limits>

namespace gwr {

namespace {

struct Unit {
  std::string_view name;
  int64_t ms;
};

// Longest names first, so "ms" wins over "m".
constexpr Unit kUnits[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000},
};

}  // namespace

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  const std::string original(text);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  if (text.empty()) return make_error("empty duration; expected e.g. \"250ms\", \"10s\", \"30m\"");

  int64_t total = 0;
  bool any = false;
  while (!text.empty()) {
    if (!std::isdigit(static_cast<unsigned char>(text.front()))) {
      return make_error("invalid duration \"" + original + "\"; expected e.g. \"250ms\", \"10s\", \"30m\"");
    }
    int64_t n = 0;
    while (!text.empty() && std::isdigit(static_cast<unsigned char>(text.front()))) {
      if (n > (std::numeric_limits<int64_t>::max() - 9) / 10) {
        return make_error("duration \"" + original + "\" is too large");
      }
      n = n * 10 + (text.front() - '0');
      text.remove_prefix(1);
    }
    const Unit* unit = nullptr;
    for (const auto& u : kUnits) {
      if (text.substr(0, u.name.size()) == u.name) {
        // "m" must not swallow the "m" of "ms": handled by the order above.
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) {
      return make_error("duration \"" + original + "\" needs a unit (ms, s, m, h, d)");
    }
    text.remove_prefix(unit->name.size());
    if (n > std::numeric_limits<int64_t>::max() / unit->ms ||
        total > std::numeric_limits<int64_t>::max() - n * unit->ms) {
      return make_error("duration \"" + original + "\" is too large");
    }
    total += n * unit->ms;
    any = true;
  }
  if (!any) return make_error("invalid duration \"" + original + "\"");
  return std::chrono::milliseconds(total);
}

std::string format_duration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  const int64_t days = ms / 86'400'000;
  ms %= 86'400'000;
  const int64_t hours = ms / 3'600'000;
  ms %= 3'600'000;
  const int64_t minutes = ms / 60'000;
  ms %= 60'000;
  const int64_t seconds = ms / 1000;
  ms %= 1000;
  if (days) out += std::to_string(days) + "d";
  if (hours) out += std::to_string(hours) + "h";
  if (minutes) out += std::to_string(minutes) + "m";
  if (seconds) out += std::to_string(seconds) + "s";
  if (ms) out += std::to_string(ms) + "ms";
  return out;
}

std::string human_duration(long long ms) {
  if (ms < 0) ms = 0;
  if (ms < 1000) return std::to_string(ms) + "ms";
  if (ms < 10'000) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
    return buf;
  }
  long long s = ms / 1000;
  if (s < 60) return std::to_string(s) + "s";
  long long m = s / 60;
  s %= 60;
  if (m < 60) return std::to_string(m) + "m" + (s ? std::to_string(s) + "s" : "");
  long long h = m / 60;
  m %= 60;
  if (h < 48) return std::to_string(h) + "h" + (m ? std::to_string(m) + "m" : "");
  const long long d = h / 24;
  h %= 24;
  return std::to_string(d) + "d" + (h ? std::to_string(h) + "h" : "");
}

}  // namespace gwr
