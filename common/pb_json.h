// Protobuf message -> JSON for humans and scripts: field names as in the
// .proto, 64-bit integers as numbers (not strings, unlike the proto3 JSON
// mapping), enums as lower-case names, unset sub-messages omitted.
#pragma once

#include <string>

#include <google/protobuf/message.h>
#include <nlohmann/json.hpp>

#include "gwr.pb.h"

namespace gwr {

nlohmann::json to_json(const google::protobuf::Message& message);

// The words every process uses for these enums: "healthy", "starting",
// "degraded", "down" ("unknown" otherwise); "process", "port", "health",
// "memory" ("?" otherwise).
std::string gateway_state_name(pb::GatewayState state);
std::string check_kind_name(pb::CheckKind kind);

}  // namespace gwr
