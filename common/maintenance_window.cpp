#include "common/maintenance_window.h"

#include <time.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "common/strings.h"

namespace gwr {

namespace {

constexpr int kDay = 24 * 60;

// "HH:MM" -> minutes; 24:00 allowed only as an end.
std::optional<int> parse_clock(const std::string& s, bool end) {
  const auto colon = s.find(':');
  if (colon == std::string::npos || colon == 0 || colon > 2 || s.size() != colon + 3) return std::nullopt;
  for (char c : s) {
    if (c != ':' && !std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  const int h = std::stoi(s.substr(0, colon));
  const int m = std::stoi(s.substr(colon + 1));
  if (m > 59) return std::nullopt;
  if (h == 24 && m == 0 && end) return kDay;
  if (h > 23) return std::nullopt;
  return h * 60 + m;
}

std::optional<uint8_t> parse_days(const std::string& word) {
  const std::string w = to_lower(word);
  if (w == "daily" || w == "everyday") return 0x7f;
  if (w == "weekdays") return 0x3e;
  if (w == "weekends") return 0x41;
  static const std::array<const char*, 7> names = {"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"};
  for (size_t d = 0; d < names.size(); ++d) {
    const std::string full = names[d];
    if (w == full || w == full.substr(0, 3)) return static_cast<uint8_t>(1u << d);
  }
  return std::nullopt;
}

}  // namespace

Result<MaintenanceWindow> parse_maintenance_window(const std::string& text) {
  const std::string t = trim(text);
  const auto space = t.find_first_of(" \t");
  const std::string shape = "; expected \"DAY HH:MM-HH:MM\" (DAY: Mon..Sun, daily, weekdays or weekends)";
  if (space == std::string::npos) return make_error("no time span" + shape);
  const std::string day_word = t.substr(0, space);
  const std::string span = trim(t.substr(space));
  const auto days = parse_days(day_word);
  if (!days) return make_error("\"" + day_word + "\" is not a day" + shape);
  const auto dash = span.find('-');
  if (dash == std::string::npos) return make_error("no '-' between start and end" + shape);
  const auto start = parse_clock(trim(span.substr(0, dash)), false);
  const auto end = parse_clock(trim(span.substr(dash + 1)), true);
  if (!start) return make_error("start \"" + trim(span.substr(0, dash)) + "\" is not a 24-hour HH:MM" + shape);
  if (!end) return make_error("end \"" + trim(span.substr(dash + 1)) + "\" is not a 24-hour HH:MM" + shape);
  if (*end == *start) return make_error("start and end are the same: a window is shorter than a day" + shape);
  MaintenanceWindow w;
  w.days = *days;
  w.start_minute = *start;
  w.length_minutes = *end > *start ? *end - *start : kDay - *start + *end;
  w.text = t;
  return w;
}

Result<std::vector<MaintenanceWindow>> parse_maintenance_windows(const std::vector<std::string>& items) {
  std::vector<MaintenanceWindow> out;
  for (const auto& item : items) {
    auto w = parse_maintenance_window(item);
    if (!w) return make_error("\"" + item + "\": " + w.message());
    out.push_back(std::move(*w));
  }
  return out;
}

std::optional<WindowHit> maintenance_window_at(const std::vector<MaintenanceWindow>& windows, const LocalMoment& now) {
  // Minutes since Sunday 00:00 (of this week), and each window's occurrences
  // this week and the week before (one that started Saturday night may run
  // into Sunday).
  const int week = 7 * kDay;
  const int at = now.weekday * kDay + now.minute_of_day;
  std::optional<WindowHit> best;
  int best_end = -1;
  for (const auto& w : windows) {
    for (int d = 0; d < 7; ++d) {
      if (!(w.days & (1u << d))) continue;
      for (int shift : {0, -week}) {
        const int begin = d * kDay + w.start_minute + shift;
        const int end = begin + w.length_minutes;
        if (at >= begin && at < end && end > best_end) {
          best_end = end;
          best = WindowHit{&w, 0};
        }
      }
    }
  }
  if (!best) return std::nullopt;
  // Windows that begin where (or before) this one ends continue it.
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& w : windows) {
      for (int d = 0; d < 7; ++d) {
        if (!(w.days & (1u << d))) continue;
        for (int shift : {0, -week, week}) {
          const int begin = d * kDay + w.start_minute + shift;
          const int end = begin + w.length_minutes;
          if (begin <= best_end && begin > at && end > best_end) {
            best_end = end;
            grew = true;
          }
        }
      }
    }
    if (best_end - at > week) break;  // windows that cover the whole week: stop counting
  }
  best->ends_in_ms = (static_cast<int64_t>(best_end - at) * 60 - now.second) * 1000;
  return best;
}

LocalMoment local_moment(int64_t wall_ms) {
  const time_t t = static_cast<time_t>(wall_ms / 1000);
  struct tm tm {};
  localtime_r(&t, &tm);
  return LocalMoment{tm.tm_wday, tm.tm_hour * 60 + tm.tm_min, tm.tm_sec};
}

}  // namespace gwr
