#include "common/gateway_log.h"

#include <glob.h>
#include <sys/stat.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "common/text.h"

namespace gwr {

std::string newest_match(const std::vector<std::string>& globs) {
  std::string best;
  int64_t best_mtime = -1;
  for (const auto& pattern : globs) {
    glob_t g{};
    if (::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) {
        struct stat st {};
        if (::stat(g.gl_pathv[i], &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime > best_mtime) {
          best_mtime = st.st_mtime;
          best = g.gl_pathv[i];
        }
      }
    }
    ::globfree(&g);
  }
  return best;
}

std::string read_tail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const auto size = static_cast<int64_t>(in.tellg());
  const int64_t from = std::max<int64_t>(0, size - static_cast<int64_t>(max_bytes));
  in.seekg(from);
  std::string out(static_cast<size_t>(size - from), '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<size_t>(in.gcount()));
  if (from > 0) {
    const auto nl = out.find('\n');
    out = nl == std::string::npos ? std::string() : out.substr(nl + 1);
  }
  return out;
}

int64_t iso_time_ms(std::string_view t) {
  auto num = [&](size_t at, size_t n, int& out) {
    if (at + n > t.size()) return false;
    out = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
      out = out * 10 + (t[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, se;
  if (!num(0, 4, y) || t.size() < 19 || t[4] != '-' || !num(5, 2, mo) || t[7] != '-' || !num(8, 2, d) ||
      (t[10] != 'T' && t[10] != ' ') || !num(11, 2, h) || t[13] != ':' || !num(14, 2, mi) || t[16] != ':' ||
      !num(17, 2, se) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) {
    return 0;
  }
  size_t at = 19;
  int ms = 0;
  if (at < t.size() && t[at] == '.') {
    ++at;
    int digits = 0;
    while (at < t.size() && t[at] >= '0' && t[at] <= '9') {
      if (digits < 3) ms = ms * 10 + (t[at] - '0');
      ++digits;
      ++at;
    }
    for (; digits < 3; ++digits) ms *= 10;
  }
  int offset_min = 0;
  if (at < t.size() && (t[at] == '+' || t[at] == '-')) {
    int oh, om;
    if (!num(at + 1, 2, oh) || at + 3 >= t.size() || t[at + 3] != ':' || !num(at + 4, 2, om)) return 0;
    offset_min = (t[at] == '+' ? 1 : -1) * (oh * 60 + om);
  } else if (at < t.size() && t[at] != 'Z') {
    return 0;
  }
  // Days from the civil date (proleptic Gregorian), without the C library's time zone.
  const int yy = y - (mo <= 2);
  const int era = (yy >= 0 ? yy : yy - 399) / 400;
  const int yoe = yy - era * 400;
  const int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = static_cast<int64_t>(era) * 146097 + doe - 719468;
  return ((days * 24 + h) * 60 + mi - offset_min) * 60'000LL + se * 1000LL + ms;
}

std::map<std::string, std::string> channel_restart_reasons(std::string_view lines, int64_t since_ms) {
  static constexpr std::string_view kMarker = "] health-monitor: restarting (reason: ";
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos < lines.size()) {
    const size_t end = std::min(lines.find('\n', pos), lines.size());
    const std::string_view line = lines.substr(pos, end - pos);
    pos = end + 1;
    if (line.find("health-monitor: restarting") == std::string_view::npos) continue;
    std::string message(line);
    if (since_ms > 0 && (line.empty() || line.front() != '{')) continue;  // a plain line has no time to trust
    if (!line.empty() && line.front() == '{') {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object()) continue;
      if (since_ms > 0) {
        const auto time = j.find("time");
        if (time == j.end() || !time->is_string() || iso_time_ms(time->get_ref<const std::string&>()) < since_ms) continue;
      }
      if (j.contains("1") && j["1"].is_string()) {
        message = j["1"].get<std::string>();
      } else if (j.contains("message") && j["message"].is_string()) {
        message = j["message"].get<std::string>();
      } else {
        continue;
      }
    }
    const auto open = message.find('[');
    const auto mark = message.find(kMarker);
    if (open == std::string::npos || mark == std::string::npos || mark < open) continue;
    const std::string target = message.substr(open + 1, mark - open - 1);  // channel:account
    const std::string channel = target.substr(0, target.find(':'));
    const auto close = message.find(')', mark + kMarker.size());
    if (channel.empty() || close == std::string::npos) continue;
    const std::string reason = one_line_utf8(message.substr(mark + kMarker.size(), close - mark - kMarker.size()));
    if (out.size() >= 16 && !out.count(channel)) continue;
    out[clip_end(valid_utf8(channel), 32)] = clip_end(reason, 80);
  }
  return out;
}

}  // namespace gwr
