#include "common/message_text.h"

#include <memory>
#include <string>
#include <utility>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/unknown_field_set.h>

#include "common/text.h"

namespace gwr {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

namespace {

// Calls fn(std::string&) on every string value; fn returns whether it changed it.
template <class Fn>
size_t for_each_string(Message& m, const Fn& fn) {
  size_t changed = 0;
  const Descriptor* d = m.GetDescriptor();
  const Reflection* r = m.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->type() == FieldDescriptor::TYPE_STRING) {
      if (f->is_repeated()) {
        for (int k = 0; k < r->FieldSize(m, f); ++k) {
          std::string v = r->GetRepeatedString(m, f, k);
          if (fn(v)) {
            r->SetRepeatedString(&m, f, k, std::move(v));
            ++changed;
          }
        }
      } else if (r->HasField(m, f) || !f->has_presence()) {
        std::string v = r->GetString(m, f);
        if (fn(v)) {
          r->SetString(&m, f, std::move(v));
          ++changed;
        }
      }
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int k = 0; k < r->FieldSize(m, f); ++k) changed += for_each_string(*r->MutableRepeatedMessage(&m, f, k), fn);
      } else if (r->HasField(m, f)) {
        changed += for_each_string(*r->MutableMessage(&m, f), fn);
      }
    }
  }
  return changed;
}

// Rewrites the string fields of serialized bytes of type d as valid UTF-8.
bool repair_bytes(const Descriptor* d, std::string& bytes, int depth) {
  if (depth > 32) return false;
  UnknownFieldSet set;
  if (!set.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  for (int i = 0; i < set.field_count(); ++i) {
    UnknownField* u = set.mutable_field(i);
    if (u->type() != UnknownField::TYPE_LENGTH_DELIMITED) continue;
    const FieldDescriptor* f = d->FindFieldByNumber(u->number());
    if (f == nullptr) continue;
    // Read, then set back: protobuf 31 dropped mutable_length_delimited().
    if (f->type() == FieldDescriptor::TYPE_STRING) {
      const std::string v(u->length_delimited());
      if (!is_valid_utf8(v)) u->set_length_delimited(valid_utf8(v));
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      std::string v(u->length_delimited());
      if (!repair_bytes(f->message_type(), v, depth + 1)) return false;
      u->set_length_delimited(std::move(v));
    }
  }
  bytes.clear();
  return set.SerializeToString(&bytes);
}

template <class AnyRedactor>
void redact_each(Message& message, const AnyRedactor& redactor) {
  for_each_string(message, [&](std::string& v) {
    std::string r = redactor.redact(v);
    if (r == v) return false;
    v = std::move(r);
    return true;
  });
}

}  // namespace

size_t serialize_decodable(Message& message, std::string& bytes) {
  {
    // protobuf logs an error for each such string while serializing and
    // parsing; the repair below is what gwr says about it.
    google::protobuf::LogSilencer quiet;
    bytes = message.SerializeAsString();
    std::unique_ptr<Message> back(message.New());
    if (back->ParseFromString(bytes)) return 0;
  }
  const size_t repaired = make_valid_utf8(message);
  bytes = message.SerializeAsString();
  return repaired;
}

size_t make_valid_utf8(Message& message) {
  return for_each_string(message, [](std::string& v) {
    if (is_valid_utf8(v)) return false;
    v = valid_utf8(v);
    return true;
  });
}

void redact_strings(Message& message, const Redactor& redactor) { redact_each(message, redactor); }
void redact_strings(Message& message, const SharedRedactor& redactor) { redact_each(message, redactor); }

bool parse_repairing_utf8(Message& message, std::string_view bytes) {
  if (message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return true;
  std::string repaired(bytes);
  if (!repair_bytes(message.GetDescriptor(), repaired, 0)) return false;
  return message.ParseFromString(repaired);
}

}  // namespace gwr
