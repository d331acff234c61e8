// Protobuf message -> JSON for humans and scripts: field names as in the
// .proto, 64-bit integers as numbers (not strings, unlike the proto3 JSON
// mapping), enums as lower-case names, unset sub-messages omitted.
#pragma once

#include <google/protobuf/message.h>
#include <nlohmann/json.hpp>

namespace gwr {

nlohmann::json to_json(const google::protobuf::Message& message);

}  // namespace gwr
