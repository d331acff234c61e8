// Small helpers shared by the benchmark programs: percentiles and /proc.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace gwr::bench {

inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double rank = p / 100.0 * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = static_cast<size_t>(std::ceil(rank));
  return v[lo] + (v[hi] - v[lo]) * (rank - static_cast<double>(lo));
}

// Resident set size in KiB (VmRSS), 0 when the process is gone.
inline uint64_t rss_kib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream ss(line.substr(6));
      uint64_t kb = 0;
      ss >> kb;
      return kb;
    }
  }
  return 0;
}

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
