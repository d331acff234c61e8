// Component names: process names ("gwr-" + name), control sockets and the
// sources of heartbeats.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gwr {

inline constexpr const char* kSupervisor = "supervisor";
inline constexpr const char* kProber = "prober";
inline constexpr const char* kRepairer = "repairer";
inline constexpr const char* kTelegramBridge = "telegram-bridge";
// Optional: only when http.listen is set.
inline constexpr const char* kWeb = "web";
// Optional: only when fleet.role is hub or node (several hosts, one bot).
inline constexpr const char* kFleet = "fleet";

// Several gateways (config `gateways:`): each has a prober and a repairer of
// its own. Those of the gateway named "main" (the one a single `gateway:`
// section describes) keep the plain names, sockets, logs and gwr.db of a
// one-gateway gwr; another gateway's are "prober.NAME", "repairer.NAME".
inline constexpr const char* kMainGateway = "main";

// A gateway's name: 1-12 of a-z, 0-9, '-', starting with a letter or digit
// (it goes into socket, log and directory names; sockets must fit 108 bytes).
inline constexpr size_t kMaxGatewayName = 12;
inline bool valid_gateway_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxGatewayName || name.front() == '-') return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

// Whether a component works for one gateway (and so has one per gateway).
inline bool is_per_gateway(std::string_view base) { return base == kProber || base == kRepairer; }

// The component of base (kProber, kRepairer) that works for gateway.
inline std::string gateway_component(std::string_view base, std::string_view gateway) {
  if (gateway.empty() || gateway == kMainGateway) return std::string(base);
  return std::string(base) + "." + std::string(gateway);
}

// "prober.rescue" -> {"prober", "rescue"}; "prober" -> {"prober", "main"};
// "telegram-bridge" -> {"telegram-bridge", ""}.
struct ComponentName {
  std::string base;
  std::string gateway;
};
inline ComponentName split_component(std::string_view name) {
  const auto dot = name.find('.');
  if (dot == std::string_view::npos) {
    return {std::string(name), is_per_gateway(name) ? std::string(kMainGateway) : std::string()};
  }
  return {std::string(name.substr(0, dot)), std::string(name.substr(dot + 1))};
}

}  // namespace gwr
