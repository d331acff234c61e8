// Every string field of a protobuf message, walked by reflection. The bus and
// the control sockets pass what they send through make_valid_utf8(), so a
// message gwr sends always decodes: text that slipped past an entry point's
// valid_utf8() (common/text.h) cannot silence a receiver.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <google/protobuf/message.h>

#include "common/redact.h"

namespace gwr {

// Makes every string field valid UTF-8 (bytes fields are left alone);
// returns how many values had to change.
size_t make_valid_utf8(google::protobuf::Message& message);

// The message's bytes, as every receiver can decode them: they are parsed
// back first (no reflection: the descriptor pool costs ~1 MB per process,
// issue #16), and only when a string is not UTF-8 is the message repaired
// with make_valid_utf8() and serialized again. Returns how many values had
// to change (0 almost always).
size_t serialize_decodable(google::protobuf::Message& message, std::string& bytes);

// Redacts every string field in place (with a Redactor, or the process's
// SharedRedactor).
void redact_strings(google::protobuf::Message& message, const Redactor& redactor);
void redact_strings(google::protobuf::Message& message, const SharedRedactor& redactor);

// Parses bytes whose strings may not be valid UTF-8 (history stored by an
// older gwr): invalid bytes become U+FFFD instead of failing the whole
// message. False only when the bytes are not a message at all.
bool parse_repairing_utf8(google::protobuf::Message& message, std::string_view bytes);

}  // namespace gwr
