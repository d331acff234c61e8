// The parts of config.cpp that config_yaml.cpp builds on (setting a field
// from text, a field as text, the environment names, "~/" in paths). Not for
// use beyond those two files.
#pragma once

#include <map>
#include <optional>
#include <string>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include "common/config.h"
#include "common/config_schema.h"

namespace gwr::config_detail {

std::optional<std::string> set_scalar(google::protobuf::Message& msg, const google::protobuf::FieldDescriptor* f,
                                      const std::string& raw);
std::string scalar_text(const google::protobuf::Message& msg, const google::protobuf::FieldDescriptor* f, int index);
std::string leaf_text(const google::protobuf::Message& msg, const google::protobuf::FieldDescriptor* f, bool reveal);
std::optional<ConfigError> apply_env(pb::Config& config, const KeyInfo& k, const std::string& value,
                                     const ConfigOrigin& origin, std::map<std::string, ConfigOrigin>& origins);
void expand_homes(pb::Config& c, const EnvMap& env);

}  // namespace gwr::config_detail
