// Small helpers shared by the benchmark programs: percentiles and their
// table cells, counting failed runs, and /proc.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace gwr::bench {

// The p-th percentile (0..100, linear interpolation) of a non-empty set.
// There is none of an empty set: use percentile_of() or stat_ms() where the
// set may be empty.
// Milliseconds since t, on the steady clock (what every figure is timed with).
inline double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) throw std::logic_error("percentile of an empty sample set");
  std::sort(v.begin(), v.end());
  const double rank = p / 100.0 * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = static_cast<size_t>(std::ceil(rank));
  return v[lo] + (v[hi] - v[lo]) * (rank - static_cast<double>(lo));
}

// The p-th percentile of v, or nothing when v is empty.
inline std::optional<double> percentile_of(const std::vector<double>& v, double p) {
  if (v.empty()) return std::nullopt;
  return percentile(v, p);
}

inline std::optional<double> mean_of(const std::vector<double>& v) {
  if (v.empty()) return std::nullopt;
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

// a - b, or nothing when either is missing.
inline std::optional<double> difference(std::optional<double> a, std::optional<double> b) {
  if (!a || !b) return std::nullopt;
  return *a - *b;
}

// A table cell: x with `decimals` decimals and then `unit` (e.g. " ms"), or
// "n/a" when there is no figure (every run of the row failed).
inline std::string format_stat(std::optional<double> x, int decimals, const char* unit = "") {
  if (!x) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f%s", decimals, *x, unit);
  return buf;
}

// The p-th percentile of samples in milliseconds, as "12.3 ms" or "n/a".
inline std::string stat_ms(const std::vector<double>& samples_ms, double p, int decimals = 1) {
  return format_stat(percentile_of(samples_ms, p), decimals, " ms");
}

// The same samples (in milliseconds) shown in seconds: "5.00 s" or "n/a".
inline std::string stat_s(const std::vector<double>& samples_ms, double p, int decimals = 2) {
  auto x = percentile_of(samples_ms, p);
  if (x) *x /= 1000.0;
  return format_stat(x, decimals, " s");
}

// Failure accounting for a benchmark: every attempted run ends in ok() or
// fail(why). A failed run is never silently dropped: fail() says so on
// stderr, finish() prints one summary line to stdout and gives the exit code.
//
//   Runs runs("detection");
//   if (!seen) runs.fail("kill -9: no DOWN within 10 s"); else runs.ok();
//   ...
//   return runs.finish();  // "all 65 runs succeeded", or
//                          // "FAILED: 3 of 65 runs failed (kill -9: no DOWN within 10 s: 2, hang: ...: 1)"
//
// `why` is a short category, counted per distinct text (keep per-run details
// such as pids in a stderr line of your own); past kMaxReasons distinct
// reasons the rest are counted as "other".
class Runs {
 public:
  static constexpr size_t kMaxReasons = 8;

  // bench prefixes the stderr lines; noun names what is counted ("runs").
  explicit Runs(std::string bench, std::string noun = "runs") : bench_(std::move(bench)), noun_(std::move(noun)) {}

  void ok() { ++attempted_; }

  void fail(const std::string& why) {
    ++attempted_;
    ++failed_;
    std::fprintf(stderr, "%s: run %d FAILED: %s\n", bench_.c_str(), attempted_, why.c_str());
    for (auto& r : reasons_) {
      if (r.first == why) {
        ++r.second;
        return;
      }
    }
    if (reasons_.size() < kMaxReasons) {
      reasons_.emplace_back(why, 1);
    } else {
      ++other_;
    }
  }

  // What the runs need failed (the daemon did not start...): the bench cannot
  // measure, and finish() says so and exits non-zero. The first one is kept.
  void setup_failed(const std::string& why) {
    std::fprintf(stderr, "%s: setup FAILED: %s\n", bench_.c_str(), why.c_str());
    if (setup_error_.empty()) setup_error_ = why;
  }

  int attempted() const { return attempted_; }
  int failed() const { return failed_; }

  // "all 40 runs succeeded", "FAILED: 3 of 40 runs failed (reason: n, ...)"
  // or "FAILED: setup: the daemon did not start".
  std::string summary() const {
    std::string out;
    if (!setup_error_.empty()) {
      out = "FAILED: setup: " + setup_error_;
      if (attempted_ == 0) return out;
      out += "; ";
    } else if (failed_ == 0) {
      return attempted_ == 0 ? "no " + noun_ + " attempted"
                             : "all " + std::to_string(attempted_) + " " + noun_ + " succeeded";
    } else {
      out = "FAILED: ";
    }
    out += std::to_string(failed_) + " of " + std::to_string(attempted_) + " " + noun_ + " failed";
    if (failed_ == 0) return out;
    out += " (";
    for (size_t i = 0; i < reasons_.size(); ++i) {
      out += (i ? ", " : "") + reasons_[i].first + ": " + std::to_string(reasons_[i].second);
    }
    if (other_) out += ", other: " + std::to_string(other_);
    return out + ")";
  }

  // 0 when nothing failed, 1 otherwise.
  int exit_code() const { return failed_ == 0 && setup_error_.empty() ? 0 : 1; }

  // Prints the summary as its own paragraph on stdout; returns exit_code().
  int finish() const {
    std::printf("\n%s\n", summary().c_str());
    std::fflush(stdout);
    return exit_code();
  }

 private:
  std::string bench_, noun_, setup_error_;
  int attempted_ = 0, failed_ = 0, other_ = 0;
  std::vector<std::pair<std::string, int>> reasons_;
};

// A "Name:   123 kB" line of /proc/PID/status in KiB, 0 when absent or gone.
inline uint64_t status_kib(pid_t pid, const std::string& name) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(name + ":", 0) == 0) {
      std::istringstream ss(line.substr(name.size() + 1));
      uint64_t kb = 0;
      ss >> kb;
      return kb;
    }
  }
  return 0;
}

// Resident set size in KiB (VmRSS), 0 when the process is gone.
inline uint64_t rss_kib(pid_t pid) { return status_kib(pid, "VmRSS"); }

// Peak resident set size in KiB since the process started (VmHWM), 0 when gone.
inline uint64_t peak_rss_kib(pid_t pid) { return status_kib(pid, "VmHWM"); }

// Proportional set size in KiB (Pss from smaps_rollup): shared library pages
// divided among the processes that map them, so the sum over processes is
// what they really cost together (a sum of RSS counts those pages N times).
inline uint64_t pss_kib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("Pss:", 0) == 0) {
      std::istringstream ss(line.substr(4));
      uint64_t kb = 0;
      ss >> kb;
      return kb;
    }
  }
  return 0;
}

// utime + stime in clock ticks.
inline uint64_t cpu_ticks(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  std::getline(f, s);
  const auto rp = s.rfind(')');
  if (rp == std::string::npos) return 0;
  std::istringstream ss(s.substr(rp + 2));
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && ss >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return utime + stime;
}

inline std::string machine_summary() {
  std::ifstream cpu("/proc/cpuinfo");
  std::string line, model = "?";
  int cores = 0;
  while (std::getline(cpu, line)) {
    if (line.rfind("model name", 0) == 0 && model == "?") model = line.substr(line.find(':') + 2);
    if (line.rfind("processor", 0) == 0) ++cores;
  }
  std::ifstream mem("/proc/meminfo");
  std::string total;
  std::getline(mem, total);
  return model + ", " + std::to_string(cores) + " cores, " + total;
}

}  // namespace gwr::bench
