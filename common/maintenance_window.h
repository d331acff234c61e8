// Maintenance windows (repair.maintenance_windows): local-time spans in which
// automatic repairs wait and only notify, because the owner works on the
// gateway then. Pure: parsing and "is this moment inside one" take a local
// time the caller read.
//
// Format, one window per list item:   DAY HH:MM-HH:MM
//   DAY   Mon Tue Wed Thu Fri Sat Sun (any case, or the full English name),
//         daily, weekdays (Mon-Fri), weekends (Sat, Sun)
//   times 24-hour local time; an end at or before the start runs past
//         midnight into the next day ("Sat 23:30-00:30"); 24:00 is the end of
//         the day. A window never lasts 24 hours or more.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace gwr {

struct MaintenanceWindow {
  uint8_t days = 0;       // bit d set: starts on weekday d (0 = Sunday, as struct tm)
  int start_minute = 0;   // minutes after local midnight, 0..1439
  int length_minutes = 0; // 1..1439
  std::string text;       // as written, for people
};

// One item; the error says what is wrong with it, for the key's message.
Result<MaintenanceWindow> parse_maintenance_window(const std::string& text);
// Every item, or the first error ("\"Sun 3:00-04:00\": ...").
Result<std::vector<MaintenanceWindow>> parse_maintenance_windows(const std::vector<std::string>& items);

// A local moment: weekday (0 = Sunday) and minute of the day, as localtime
// gives them, and the seconds into that minute.
struct LocalMoment {
  int weekday = 0;
  int minute_of_day = 0;
  int second = 0;
};

// The window `now` is in, and how many ms until it ends (the latest end when
// windows overlap or follow each other); nullopt outside every window.
struct WindowHit {
  const MaintenanceWindow* window = nullptr;
  int64_t ends_in_ms = 0;
};
std::optional<WindowHit> maintenance_window_at(const std::vector<MaintenanceWindow>& windows, const LocalMoment& now);

// The local moment of a wall-clock time (localtime_r: the process's TZ).
LocalMoment local_moment(int64_t wall_ms);

}  // namespace gwr
