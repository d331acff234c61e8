// The names of the protocol's enum values and of the bus topics, without
// protobuf's reflection: Kind_Name() and friends build the whole descriptor
// pool (~1 MB of RSS per process, issue #16) the first time they are called.
// Each name is the enumerator's own spelling (the macro stringifies it), and
// a unit test checks every value against the descriptors, so a value added
// to gwr.proto without a name here fails the build's tests.
#pragma once

#include <string>

#include "gwr.pb.h"

namespace gwr {

// As Finding::Kind_Name(): "NOT_RUNNING"; "" for a value this build does not know.
std::string finding_kind_name(pb::Finding::Kind kind);
std::string cause_name(pb::Cause cause);                 // "CAUSE_TIMEOUT"
std::string error_code_name(pb::Error::Code code);       // "NOT_FOUND"
std::string repair_event_kind_name(pb::RepairEvent::Kind kind);  // "STARTED"
std::string defer_reason_name(pb::DeferReason reason);   // "DEFER_PAUSED"
// The bus topic of an Event: the name of its body's field ("gateway_health");
// "" when it has none.
std::string event_topic(pb::Event::BodyCase body);

}  // namespace gwr
