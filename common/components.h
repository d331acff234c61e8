// Component names: process names ("gwr-" + name), control sockets and the
// sources of heartbeats.
#pragma once

namespace gwr {

inline constexpr const char* kSupervisor = "supervisor";
inline constexpr const char* kProber = "prober";
inline constexpr const char* kRepairer = "repairer";
inline constexpr const char* kTelegramBridge = "telegram-bridge";
// Optional: only when http.listen is set.
inline constexpr const char* kWeb = "web";

}  // namespace gwr
