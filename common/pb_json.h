// Protobuf message -> JSON for humans and scripts: field names as in the
// .proto, 64-bit integers as numbers (not strings, unlike the proto3 JSON
// mapping), enums as lower-case names, unset sub-messages omitted.
#pragma once

#include <string>

#include <google/protobuf/message.h>
#include <nlohmann/json.hpp>

#include "common/findings.h"  // the words for the enums (gateway_state_name, ...)
#include "gwr.pb.h"

namespace gwr {

nlohmann::json to_json(const google::protobuf::Message& message);

// Findings for scripts: each with its stable key, its fields and the words
// people read ("text").
nlohmann::json findings_json(const google::protobuf::RepeatedPtrField<pb::Finding>& findings);

}  // namespace gwr
