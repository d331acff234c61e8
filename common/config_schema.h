// The config schema: every key of gwr.yaml, read from its one declaration
// in proto/gwr.proto (the field and its (key) = {...} KeySpec). Defaults,
// checks, environment names, path expansion and what a change needs all come
// from here, as does config/gwr.example.yaml (generated: a test fails when
// the checked-in copy differs) and `gwrctl config keys`.
#pragma once

#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <nlohmann/json.hpp>

#include "gwr.pb.h"

namespace gwr {

struct KeyInfo {
  std::string key;                               // "probes.health.interval"
  const google::protobuf::FieldDescriptor* field = nullptr;
  const pb::KeySpec* spec = nullptr;
  bool secret = false;
  bool duration = false;
  bool runtime_settable = false;
  // "duration", "integer", "number", "true/false", "text", "list of text",
  // "list of integers".
  std::string type() const;
  // "live", "restarts the prober", "after a restart of gwr".
  std::string reload_text() const;
};

// Every leaf key, in declaration order.
const std::vector<KeyInfo>& config_schema();
// nullptr for a name that is not a key.
const KeyInfo* key_info(const std::string& key);

// Whether any changed key asks `worker` ("prober", "telegram-bridge") to
// start its work over.
bool restarts_worker(const std::vector<std::string>& changed, const std::string& worker);
// The changed keys that take effect only when gwr restarts.
std::vector<std::string> keys_needing_restart(const std::vector<std::string>& changed);

// The values a KeySpec's choices allow ("a|b" -> {a, b}).
std::vector<std::string> choice_list(const pb::KeySpec& spec);
// "[a, b]" (or "a, b") -> {a, b}.
std::vector<std::string> split_list_text(std::string text);

// `gwrctl config keys --json`: one object per key.
nlohmann::json config_keys_json();
// config/gwr.example.yaml, exactly.
std::string render_example_config();

}  // namespace gwr
