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

std::map<std::string, std::string> channel_restart_reasons(std::string_view lines) {
  static constexpr std::string_view kMarker = "] health-monitor: restarting (reason: ";
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos < lines.size()) {
    const size_t end = std::min(lines.find('\n', pos), lines.size());
    const std::string_view line = lines.substr(pos, end - pos);
    pos = end + 1;
    if (line.find("health-monitor: restarting") == std::string_view::npos) continue;
    std::string message(line);
    if (!line.empty() && line.front() == '{') {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object()) continue;
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
    std::string reason = valid_utf8(message.substr(mark + kMarker.size(), close - mark - kMarker.size()));
    for (auto& c : reason) {
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    }
    if (out.size() >= 16 && !out.count(channel)) continue;
    out[clip_end(valid_utf8(channel), 32)] = clip_end(reason, 80);
  }
  return out;
}

}  // namespace gwr
