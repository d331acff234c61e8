#include "common/platform/ps_lsof.h"

#include <array>

#include "common/strings.h"

namespace gwr {

namespace {

struct Word {
  std::string_view text;
  size_t end = 0;  // offset just past it in the line
};

std::vector<Word> split_words(std::string_view line, size_t max_words) {
  std::vector<Word> out;
  size_t i = 0;
  while (i < line.size() && out.size() < max_words) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) break;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    out.push_back({line.substr(start, i - start), i});
  }
  return out;
}

int index_of(std::string_view word, const std::array<const char*, 12>& names, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (word == names[i]) return static_cast<int>(i);
  }
  return -1;
}

constexpr std::array<const char*, 12> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// The lstart in words[k..k+5), if those words are one.
std::optional<int64_t> lstart_at(const std::vector<Word>& words, size_t k) {
  if (k + 5 > words.size()) return std::nullopt;
  std::vector<std::string_view> w;
  for (size_t i = k; i < k + 5; ++i) w.push_back(words[i].text);
  return parse_lstart(w);
}

}  // namespace

std::vector<std::string> ps_argv() {
  return {"ps", "-A", "-ww", "-o", "pid=,ppid=,pgid=,uid=,rss=,state=,time=,ucomm=,lstart=,args="};
}

std::optional<int64_t> parse_lstart(const std::vector<std::string_view>& w) {
  if (w.size() != 5 || index_of(w[0], kDays, 7) < 0) return std::nullopt;
  const int month = index_of(w[1], kMonths, 12);
  const auto day = parse_decimal<int>(w[2]);
  const auto year = parse_decimal<int>(w[4]);
  const std::string_view t = w[3];
  if (month < 0 || !day || *day < 1 || *day > 31 || !year || *year < 1970 || *year > 9999 || t.size() != 8 ||
      t[2] != ':' || t[5] != ':') {
    return std::nullopt;
  }
  const auto h = parse_decimal<int>(t.substr(0, 2));
  const auto m = parse_decimal<int>(t.substr(3, 2));
  const auto s = parse_decimal<int>(t.substr(6, 2));
  if (!h || !m || !s || *h > 23 || *m > 59 || *s > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = *year - 1900;
  tm.tm_mon = month;
  tm.tm_mday = *day;
  tm.tm_hour = *h;
  tm.tm_min = *m;
  tm.tm_sec = *s;
  tm.tm_isdst = -1;  // ps printed local time; mktime knows whether DST applied
  const std::time_t at = std::mktime(&tm);
  if (at == static_cast<std::time_t>(-1)) return std::nullopt;
  return static_cast<int64_t>(at);
}

std::optional<uint64_t> parse_cpu_time(std::string_view text) {
  uint64_t days = 0;
  if (const auto dash = text.find('-'); dash != std::string_view::npos) {
    const auto d = parse_decimal<uint64_t>(text.substr(0, dash));
    if (!d) return std::nullopt;
    days = *d;
    text = text.substr(dash + 1);
  }
  uint64_t hundredths = 0;
  if (const auto dot = text.find('.'); dot != std::string_view::npos) {
    const std::string_view frac = text.substr(dot + 1);
    const auto f = parse_decimal<uint64_t>(frac);
    if (!f || frac.size() > 2) return std::nullopt;
    hundredths = frac.size() == 1 ? *f * 10 : *f;
    text = text.substr(0, dot);
  }
  std::vector<uint64_t> parts;
  while (true) {
    const auto colon = text.find(':');
    const auto part = parse_decimal<uint64_t>(text.substr(0, colon));
    if (!part) return std::nullopt;
    parts.push_back(*part);
    if (colon == std::string_view::npos) break;
    text = text.substr(colon + 1);
  }
  if (parts.size() < 2 || parts.size() > 3) return std::nullopt;
  uint64_t seconds = 0;
  for (uint64_t p : parts) seconds = seconds * 60 + p;
  return (days * 86'400 + seconds) * 100 + hundredths;
}

std::optional<ProcInfo> parse_ps_row(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  // pid ppid pgid uid rss state time, then ucomm (maybe with spaces), then
  // the five words of lstart, then args: found where lstart is.
  const auto words = split_words(line, 64);
  if (words.size() < 13) return std::nullopt;
  ProcInfo p;
  const auto pid = parse_decimal<pid_t>(words[0].text);
  const auto ppid = parse_decimal<pid_t>(words[1].text);
  const auto pgid = parse_decimal<pid_t>(words[2].text);
  const auto uid = parse_decimal<uid_t>(words[3].text);
  const auto rss = parse_decimal<uint64_t>(words[4].text);
  const auto cpu = parse_cpu_time(words[6].text);
  if (!pid || *pid <= 0 || !ppid || !pgid || !uid || !rss || !cpu || words[5].text.empty()) return std::nullopt;
  p.pid = *pid;
  p.ppid = *ppid;
  p.pgrp = *pgid;
  p.uid = *uid;
  p.rss_kib = *rss;
  p.state = words[5].text[0];
  p.cpu_ticks = *cpu;
  size_t k = 8;  // ucomm is at least one word
  std::optional<int64_t> started;
  while (k + 5 <= words.size() && !(started = lstart_at(words, k))) ++k;
  if (!started) return std::nullopt;
  const size_t comm_begin = words[7].end - words[7].text.size();
  p.comm = std::string(line.substr(comm_begin, words[k - 1].end - comm_begin));
  p.start_ticks = static_cast<uint64_t>(*started);
  std::string_view args = line.substr(words[k + 4].end);
  size_t i = 0;
  while (i < args.size()) {
    while (i < args.size() && args[i] == ' ') ++i;
    if (i >= args.size()) break;
    const size_t start = i;
    while (i < args.size() && args[i] != ' ') ++i;
    p.argv.emplace_back(args.substr(start, i - start));
  }
  return p;
}

std::vector<ProcInfo> parse_ps_table(std::string_view text, size_t* skipped) {
  std::vector<ProcInfo> out;
  size_t bad = 0;
  for (const auto line : split_lines(text)) {
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    if (auto p = parse_ps_row(line)) {
      out.push_back(std::move(*p));
    } else {
      ++bad;
    }
  }
  if (skipped != nullptr) *skipped = bad;
  return out;
}

std::vector<std::string> ps_environ_argv(pid_t pid) {
#ifdef __APPLE__
  return {"ps", "-E", "-ww", "-o", "args=", "-p", std::to_string(pid)};
#else
  return {"ps", "e", "-ww", "-o", "args=", "-p", std::to_string(pid)};
#endif
}

std::optional<std::map<std::string, std::string>> parse_ps_environ(std::string_view output, std::string_view args) {
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.remove_suffix(1);
  while (!output.empty() && output.front() == ' ') output.remove_prefix(1);
  if (args.empty() || output.substr(0, args.size()) != args) return std::nullopt;
  output.remove_prefix(args.size());
  if (!output.empty() && output.front() != ' ') return std::nullopt;  // args was only a prefix of a longer word
  auto is_name_start = [](std::string_view w) {
    const auto eq = w.find('=');
    if (eq == std::string_view::npos || eq == 0) return false;
    for (size_t i = 0; i < eq; ++i) {
      const char c = w[i];
      const bool ok = c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (i > 0 && c >= '0' && c <= '9');
      if (!ok) return false;
    }
    return true;
  };
  std::map<std::string, std::string> env;
  std::string* value = nullptr;
  size_t i = 0;
  while (i < output.size()) {
    if (output[i] == ' ') {
      ++i;
      continue;
    }
    const size_t start = i;
    while (i < output.size() && output[i] != ' ') ++i;
    const std::string_view word = output.substr(start, i - start);
    if (is_name_start(word)) {
      const auto eq = word.find('=');
      value = &env[std::string(word.substr(0, eq))];
      *value = std::string(word.substr(eq + 1));
    } else if (value != nullptr) {
      value->append(" ").append(word);
    }
  }
  return env;
}

std::vector<pid_t> parse_lsof_pids(std::string_view text) {
  std::vector<pid_t> out;
  std::set<pid_t> seen;
  for (const auto line : split_lines(text)) {
    if (line.size() < 2 || line[0] != 'p') continue;
    std::string_view digits = line.substr(1);
    while (!digits.empty() && digits.back() == '\r') digits.remove_suffix(1);
    if (const auto pid = parse_decimal<pid_t>(digits); pid && *pid > 0 && seen.insert(*pid).second) out.push_back(*pid);
  }
  return out;
}

std::set<std::string> parse_lsof_names(std::string_view text) {
  std::set<std::string> out;
  for (auto line : split_lines(text)) {
    while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() >= 2 && line[0] == 'n') out.emplace(line.substr(1));
  }
  return out;
}

std::optional<uint16_t> lsof_local_port(std::string_view name) {
  if (const auto arrow = name.find("->"); arrow != std::string_view::npos) name = name.substr(0, arrow);
  // lsof may add " (LISTEN)" when asked for more than -F fields.
  if (const auto space = name.find(' '); space != std::string_view::npos) name = name.substr(0, space);
  const auto colon = name.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  return parse_port(name.substr(colon + 1));
}

}  // namespace gwr
