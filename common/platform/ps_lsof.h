// Pure parsers for what the POSIX platform asks ps and lsof. Compiled in
// every build (so their tests run everywhere); only posix.cpp runs the tools.
//
// ps: `ps -A -ww -o pid=,ppid=,pgid=,uid=,rss=,state=,time=,ucomm=,lstart=,args=`
// with LC_ALL=C. Both procps (Linux) and BSD ps (macOS) accept these
// keywords; what differs is parsed here: state is "S" or "Ss+", time is
// "01:02:03" / "1-02:03:04" (procps) or "62:03.25" (BSD), ucomm may hold a
// space, and args joins argv with spaces (boundaries inside an argument are
// lost; matching only needs argv[0], argv[1] and flags).
//
// lsof: `-nP -w -iTCP:PORT -sTCP:LISTEN -Fp` and friends, the "field" output:
// one field per line, the first letter naming it (p = pid, f = fd, n = name).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/platform/proc.h"

namespace gwr {

// The argv the POSIX build gives ps for the whole table (add "-p", PID for one).
std::vector<std::string> ps_argv();

// "Wed Dec  2 18:25:38 2026" in the local time zone -> seconds since the
// epoch; nullopt when it is not that shape. Words are split on any
// whitespace, so the padded day and a single space both read.
std::optional<int64_t> parse_lstart(const std::vector<std::string_view>& words);

// CPU time in hundredths of a second from procps ("[DD-]HH:MM:SS") or BSD
// ("[HH:]MM:SS.ss") form; nullopt when it is neither.
std::optional<uint64_t> parse_cpu_time(std::string_view text);

// One row of ps_argv()'s output; nullopt for a header, a warning or a
// truncated line. start_ticks is lstart in seconds since the epoch;
// cpu_ticks in hundredths of a second.
std::optional<ProcInfo> parse_ps_row(std::string_view line);
// Every row that parses; the count of those that did not, in *skipped.
std::vector<ProcInfo> parse_ps_table(std::string_view text, size_t* skipped = nullptr);

// The argv the POSIX build gives ps for one process's arguments followed by
// its environment (BSD ps -E on macOS, procps's BSD-style "e" elsewhere).
std::vector<std::string> ps_environ_argv(pid_t pid);
// Its output, given the args ps shows for that process (args=): the
// environment after them as NAME=value pairs. A value may hold spaces (a
// word that is not NAME=... continues the value before it). nullopt when
// the output does not begin with the args (the process changed, or ps
// could not read its environment).
std::optional<std::map<std::string, std::string>> parse_ps_environ(std::string_view output, std::string_view args);

// The pids in lsof -F output (p lines), in order, without repeats.
std::vector<pid_t> parse_lsof_pids(std::string_view text);
// The distinct names (n lines) in lsof -F output.
std::set<std::string> parse_lsof_names(std::string_view text);
// The local port of an lsof TCP name: "*:18789", "127.0.0.1:18789",
// "[::1]:18789", "127.0.0.1:18789->127.0.0.1:50123"; nullopt otherwise.
std::optional<uint16_t> lsof_local_port(std::string_view name);

}  // namespace gwr
