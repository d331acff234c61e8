// The gateway's own log (gateway.log_files, OpenClaw's tslog JSON lines):
// finding its newest file, reading its tail, and what its health monitor
// said about channels it restarted.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace gwr {

// The newest regular file matching any of the globs ("" if none).
std::string newest_match(const std::vector<std::string>& globs);

// At most the last max_bytes of a file ("" when it cannot be read); starts at a line.
std::string read_tail(const std::string& path, size_t max_bytes);

// Pure: channel id -> the reason of OpenClaw's last
// "[<channel>:<account>] health-monitor: restarting (reason: <reason>)" in
// these lines (the message is field "1" or "message" of each JSON line; plain
// lines are read as they are). Reasons are one line, valid UTF-8, at most 80
// bytes; at most 16 channels. since_ms > 0: only lines whose "time" is at or
// after it — OpenClaw's log file is one for every gateway on the machine, and
// what a gateway that ran before the watched one said is not about it.
std::map<std::string, std::string> channel_restart_reasons(std::string_view log_lines, int64_t since_ms = 0);

// Pure: "2026-12-02T16:28:22.951+00:00" / "...Z" / without fraction -> epoch
// ms; 0 when it is not such a time.
int64_t iso_time_ms(std::string_view text);

}  // namespace gwr
