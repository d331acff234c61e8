// Reading and writing the config as YAML: the config file, the run-time
// overrides, `gwrctl config` output. Only the supervisor and gwrctl call these.
#include "common/config.h"

// yaml-cpp 0.7's inline iterator code trips GCC 12's -Wdangling-pointer
// (a known false positive in its headers, reported inlined into our code).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif

#include <algorithm>
#include <filesystem>
#include <tuple>
#include <fstream>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <yaml-cpp/yaml.h>

#include "common/components.h"
#include "common/config_detail.h"
#include "common/config_schema.h"
#include "common/env_file.h"

namespace gwr {

namespace fs = std::filesystem;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using config_detail::set_scalar;

namespace {

struct YamlContext {
  std::string source;
  std::map<std::string, ConfigOrigin>* origins;
};

// Sets msg's fields from a YAML mapping; the keys in `skip` are someone
// else's (gateways:, an entry's name/probes/repair) and left alone.
std::optional<ConfigError> apply_yaml_map(const YAML::Node& node, Message& msg, const std::string& prefix,
                                          const YamlContext& ctx, std::initializer_list<std::string_view> skip = {});

std::optional<ConfigError> apply_yaml_value(const YAML::Node& value, Message& msg, const FieldDescriptor* f,
                                            const std::string& key, const YamlContext& ctx) {
  const ConfigOrigin origin{ctx.source, value.Mark().line + 1};
  auto fail = [&](const std::string& m) { return ConfigError{key, origin, m}; };
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    if (value.IsNull()) return std::nullopt;
    if (!value.IsMap()) return fail("expected a mapping of settings");
    return apply_yaml_map(value, *msg.GetReflection()->MutableMessage(&msg, f), key, ctx);
  }
  if (f->is_repeated()) {
    msg.GetReflection()->ClearField(&msg, f);
    if (value.IsNull()) {
      (*ctx.origins)[key] = origin;
      return std::nullopt;
    }
    if (!value.IsSequence()) return fail("expected a list");
    for (const auto& item : value) {
      if (!item.IsScalar()) return ConfigError{key, {ctx.source, item.Mark().line + 1}, "list items must be plain values"};
      if (auto err = set_scalar(msg, f, item.Scalar())) {
        return ConfigError{key, {ctx.source, item.Mark().line + 1}, *err};
      }
    }
    (*ctx.origins)[key] = origin;
    return std::nullopt;
  }
  if (value.IsNull()) {
    // "key:" with nothing after it: an empty string, otherwise an error.
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      msg.GetReflection()->SetString(&msg, f, "");
      (*ctx.origins)[key] = origin;
      return std::nullopt;
    }
    return fail("a value is required");
  }
  if (!value.IsScalar()) return fail("expected a single value, not a list or mapping");
  if (auto err = set_scalar(msg, f, value.Scalar())) return fail(*err);
  (*ctx.origins)[key] = origin;
  return std::nullopt;
}

std::optional<ConfigError> apply_yaml_map(const YAML::Node& node, Message& msg, const std::string& prefix,
                                          const YamlContext& ctx, std::initializer_list<std::string_view> skip) {
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node& k = it->first;
    const std::string name = k.IsScalar() ? k.Scalar() : "?";
    if (std::find(skip.begin(), skip.end(), name) != skip.end()) continue;
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    const FieldDescriptor* f = msg.GetDescriptor()->FindFieldByName(name);
    if (f == nullptr) {
      return ConfigError{key, {ctx.source, k.Mark().line + 1}, "unknown key"};
    }
    if (auto err = apply_yaml_value(it->second, msg, f, key, ctx)) return err;
  }
  return std::nullopt;
}

void emit_message(YAML::Emitter& out, const Message& msg, bool reveal) {
  out << YAML::BeginMap;
  const Descriptor* d = msg.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    out << YAML::Key << std::string(f->name()) << YAML::Value;
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      emit_message(out, msg.GetReflection()->GetMessage(msg, f), reveal);
    } else if (f->is_repeated()) {
      out << YAML::Flow << YAML::BeginSeq;
      const int n = msg.GetReflection()->FieldSize(msg, f);
      for (int j = 0; j < n; ++j) out << config_detail::scalar_text(msg, f, j);
      out << YAML::EndSeq;
    } else {
      const std::string v = config_detail::leaf_text(msg, f, reveal);
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        out << YAML::DoubleQuoted << v;
      } else {
        out << v;
      }
    }
  }
  out << YAML::EndMap;
}

// A gateways: entry as written: its name, its gateway keys (every key but
// name, probes and repair) and its overrides.
struct ListedGateway {
  std::string name;
  int line = 0;
  YAML::Node entry;  // the whole mapping (its gateway keys are every key but these three)
  YAML::Node probes;
  YAML::Node repair;
};

// "gateway.port" of entry rescue -> "gateways[rescue].port".
std::string entry_key(const std::string& name, const std::string& key) {
  const std::string head = "gateways[" + name + "]";
  if (key.rfind("gateway.", 0) == 0) return head + key.substr(7);
  if (key == "gateway") return head;
  return head + "." + key;
}

std::optional<ConfigError> read_gateway_list(const YAML::Node& list, const std::string& source,
                                             std::vector<ListedGateway>& out) {
  const ConfigOrigin at{source, list.Mark().line + 1};
  if (!list.IsSequence() || list.size() == 0) {
    return ConfigError{"gateways", at, "expected a list of gateways, each with a name (- name: main)"};
  }
  for (const auto& item : list) {
    const int line = item.Mark().line + 1;
    if (!item.IsMap()) return ConfigError{"gateways", {source, line}, "each gateway is a mapping with a name"};
    ListedGateway g;
    g.line = line;
    g.entry = static_cast<const YAML::Node&>(item);
    for (auto it = item.begin(); it != item.end(); ++it) {
      const std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
      if (key == "name") {
        g.name = it->second.IsScalar() ? it->second.Scalar() : "";
      } else if (key == "probes") {
        g.probes = it->second;
      } else if (key == "repair") {
        g.repair = it->second;
      }
    }
    if (!valid_gateway_name(g.name)) {
      return ConfigError{"gateways", {source, line},
                         "name \"" + g.name + "\": each gateway needs a name of 1-" + std::to_string(kMaxGatewayName) +
                             " characters a-z, 0-9 or '-' (it names its logs and sockets)"};
    }
    for (const auto& other : out) {
      if (other.name == g.name) return ConfigError{"gateways", {source, line}, "two gateways are named " + g.name};
    }
    out.push_back(std::move(g));
  }
  return std::nullopt;
}

// What the environment (.env, the process's) and the run-time overrides
// said, to be said again over a listed gateway's own keys, as they would be
// over a gateway: section's: the gateway.* ones for main only.
struct LaterValue {
  const KeyInfo* key = nullptr;  // environment; nullptr: a run-time override
  std::string name;              // the dotted key
  std::string value;
  ConfigOrigin origin;
};

// The effective config of one listed gateway: the shared one, with the
// entry's gateway keys over the defaults and its overrides over the shared
// probes: and repair:.
ConfigResult<pb::Config> entry_config(const ListedGateway& g, const pb::Config& shared, const LoadOptions& options,
                                      const std::string& source, const std::vector<LaterValue>& later) {
  pb::Config c = shared;
  *c.mutable_gateway() = default_config(options.environment).gateway();
  std::map<std::string, ConfigOrigin> origins;
  YamlContext ctx{source, &origins};
  auto rename = [&](ConfigError e) {
    e.key = entry_key(g.name, e.key);
    return e;
  };
  if (auto err = apply_yaml_map(g.entry, *c.mutable_gateway(), "gateway", ctx, {"name", "probes", "repair"})) {
    return rename(*err);
  }
  // probes: and repair: are fields of the config: applied as in the shared
  // sections, over them.
  YAML::Node overrides(YAML::NodeType::Map);
  if (g.probes.IsDefined()) overrides["probes"] = g.probes;
  if (g.repair.IsDefined()) overrides["repair"] = g.repair;
  if (auto err = apply_yaml_map(overrides, c, "", ctx)) return rename(*err);
  for (const auto& v : later) {
    if (v.name.rfind("gateway.", 0) == 0 && g.name != kMainGateway) continue;
    if (v.key != nullptr) {
      if (auto err = config_detail::apply_env(c, *v.key, v.value, v.origin, origins)) return rename(*err);
    } else if (auto err = set_config_value(c, v.name, v.value, v.origin)) {
      return rename(*err);
    }
  }
  if (g.name != kMainGateway) c.mutable_paths()->set_state_dir(shared.paths().state_dir() + "/gateways/" + g.name);
  config_detail::expand_homes(c, options.environment);
  if (auto err = validate_config(c, origins)) return rename(*err);
  return c;
}

}  // namespace

std::vector<std::string> config_secret_values(const LoadedConfig& loaded) {
  std::vector<std::string> out = config_secret_values(loaded.config);
  for (const auto& g : loaded.gateways) {
    for (auto& v : config_secret_values(g.config)) {
      if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(std::move(v));
    }
  }
  return out;
}

const GatewayEntry* find_gateway(const LoadedConfig& loaded, const std::string& name) {
  for (const auto& g : loaded.gateways) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

ConfigResult<LoadedConfig> load_config(const LoadOptions& options) {
  LoadedConfig out;
  out.config = default_config(options.environment);
  std::vector<ListedGateway> listed;
  std::vector<LaterValue> later;  // for listed gateways

  auto path = resolve_config_path(options);
  if (auto* err = std::get_if<ConfigError>(&path)) return *err;
  out.config_path = std::get<std::string>(path);

  if (!out.config_path.empty()) {
    YAML::Node root;
    try {
      root = YAML::LoadFile(out.config_path);
    } catch (const YAML::BadFile&) {
      return ConfigError{"--config", {out.config_path, 0}, "cannot read the config file"};
    } catch (const YAML::ParserException& e) {
      return ConfigError{"(syntax)", {out.config_path, e.mark.line + 1}, e.msg};
    }
    if (root.IsDefined() && !root.IsNull()) {
      if (!root.IsMap()) return ConfigError{"(document)", {out.config_path, 1}, "the config must be a YAML mapping"};
      YamlContext ctx{out.config_path, &out.origins};
      // gateways: is read on its own; the rest is the shared config. (No
      // Node handle is assigned to another: yaml-cpp's assignment writes
      // through to the node a handle refers to.)
      const YAML::Node& document = root;  // const: a lookup adds no key
      if (const YAML::Node list = document["gateways"]) {
        if (document["gateway"]) {
          return ConfigError{"gateways", {out.config_path, list.Mark().line + 1},
                             "use either gateway: (one gateway) or gateways: (a list), not both"};
        }
        if (auto err = read_gateway_list(list, out.config_path, listed)) return *err;
      }
      if (auto err = apply_yaml_map(root, out.config, "", ctx, {"gateways"})) return *err;
    }
  }

  // .env: explicit, or beside the config file.
  std::string env_path;
  std::error_code ec;
  if (options.env_file) {
    if (!fs::exists(*options.env_file, ec)) return ConfigError{"--env-file", {*options.env_file, 0}, "env file not found"};
    env_path = *options.env_file;
  } else if (!out.config_path.empty()) {
    const auto beside = fs::path(out.config_path).parent_path() / ".env";
    if (fs::exists(beside, ec)) env_path = beside.string();
  }
  if (!env_path.empty()) {
    auto entries = read_env_file(env_path);
    if (!entries) return ConfigError{"(env file)", {env_path, 0}, entries.message()};
    out.env_path = env_path;
    for (const auto& e : *entries) {
      for (const auto& k : config_schema()) {
        if (k.spec->env().empty() || e.name != k.spec->env()) continue;
        if (auto err = config_detail::apply_env(out.config, k, e.value, {env_path, e.line}, out.origins)) return *err;
        if (k.key.rfind("gateway.", 0) == 0) later.push_back({&k, k.key, e.value, {env_path, e.line}});
      }
    }
  }

  for (const auto& k : config_schema()) {
    if (k.spec->env().empty()) continue;
    auto it = options.environment.find(k.spec->env());
    if (it == options.environment.end()) continue;
    if (auto err = config_detail::apply_env(out.config, k, it->second, {"environment " + k.spec->env(), 0}, out.origins)) {
      return *err;
    }
    if (k.key.rfind("gateway.", 0) == 0) later.push_back({&k, k.key, it->second, {"environment " + k.spec->env(), 0}});
  }

  config_detail::expand_homes(out.config, options.environment);
  if (options.apply_overrides) {
    out.overrides_path = overrides_path_for(out.config);
    if (fs::exists(out.overrides_path, ec)) {
      auto overrides = read_overrides(out.overrides_path);
      if (!overrides) return ConfigError{"(overrides)", {out.overrides_path, 0}, overrides.message()};
      for (const auto& [key, value] : *overrides) {
        if (!is_runtime_settable(key)) {
          return ConfigError{key, {out.overrides_path, 0}, "cannot be changed at run time"};
        }
        if (auto err = set_config_value(out.config, key, value, {out.overrides_path, 0})) return *err;
        later.push_back({nullptr, key, value, {out.overrides_path, 0}});
        out.origins[key] = {out.overrides_path, 0};
        out.overridden_keys.push_back(key);
      }
    }
  }

  config_detail::expand_homes(out.config, options.environment);
  if (options.telegram_unfinished_ok && out.config.telegram().chat_id() == 0) {
    out.config.mutable_telegram()->clear_bot_token();
  }
  if (auto err = validate_config(out.config, out.origins)) return *err;
  if (listed.empty()) {
    out.gateways.push_back({kMainGateway, out.config});
    return out;
  }
  // gateways: each entry's own config. The environment's gateway.* keys
  // (GATEWAY_PORT, OPENCLAW_GATEWAY_TOKEN, ...) are main's; run-time changes
  // apply to every gateway, over what an entry says.
  out.gateway_list = true;
  for (const auto& g : listed) {
    auto c = entry_config(g, out.config, options, out.config_path, later);
    if (auto* err = std::get_if<ConfigError>(&c)) return *err;
    const pb::Config& mine = std::get<pb::Config>(c);
    for (const auto& other : out.gateways) {
      const auto& a = other.config.gateway();
      const auto& b = mine.gateway();
      if (a.port() == b.port()) {
        return ConfigError{entry_key(g.name, "gateway.port"), {out.config_path, g.line},
                           "gateways " + other.name + " and " + g.name + " both say port " + std::to_string(b.port()) +
                               ": a gateway is known by its port, so each needs its own"};
      }
      // Another gateway's commands would stop or restart this one's.
      for (const auto& [what, x, y] : {std::tuple{"restart", &a.commands().restart(), &b.commands().restart()},
                                       std::tuple{"stop", &a.commands().stop(), &b.commands().stop()},
                                       std::tuple{"start", &a.commands().start(), &b.commands().start()}}) {
        if (x->empty() || !std::equal(x->begin(), x->end(), y->begin(), y->end())) continue;
        return ConfigError{entry_key(g.name, std::string("gateway.commands.") + what), {out.config_path, g.line},
                           "gateways " + other.name + " and " + g.name + " have the same " + what +
                               " command, so repairing one would act on the other: give " + g.name +
                               " its own (e.g. openclaw --profile " + g.name + " gateway " + what + ")"};
      }
      if (!a.service().empty() && a.service() == b.service()) {
        return ConfigError{entry_key(g.name, "gateway.service"), {out.config_path, g.line},
                           "gateways " + other.name + " and " + g.name + " name the same service " + b.service() +
                               ": a stop of one would be taken for the other's; give " + g.name + " its own (or \"\")"};
      }
      if (!a.state_dir().empty() && a.state_dir() == b.state_dir()) {
        return ConfigError{entry_key(g.name, "gateway.state_dir"), {out.config_path, g.line},
                           "gateways " + other.name + " and " + g.name + " share the state directory " + b.state_dir() +
                               " (OpenClaw's --profile gives each its own, e.g. ~/.openclaw-rescue)"};
      }
    }
    out.gateways.push_back({g.name, mine});
  }
  *out.config.mutable_gateway() = out.gateways.front().config.gateway();
  return out;
}

std::string render_config_yaml(const pb::Config& config, bool reveal) {
  YAML::Emitter out;
  emit_message(out, config, reveal);
  return std::string(out.c_str()) + "\n";
}

Result<std::map<std::string, std::string>> read_overrides(const std::string& path) {
  std::map<std::string, std::string> out;
  try {
    YAML::Node root = YAML::LoadFile(path);
    if (!root.IsDefined() || root.IsNull()) return out;
    if (!root.IsMap()) return make_error(path + ": expected a mapping of key: value");
    for (auto it = root.begin(); it != root.end(); ++it) {
      if (!it->first.IsScalar() || !it->second.IsScalar()) {
        return make_error(path + " line " + std::to_string(it->first.Mark().line + 1) + ": expected key: value");
      }
      out[it->first.Scalar()] = it->second.Scalar();
    }
  } catch (const YAML::Exception& e) {
    return make_error(path + ": " + e.what());
  }
  return out;
}

Status write_overrides(const std::string& path, const std::map<std::string, std::string>& values) {
  YAML::Emitter out;
  out << YAML::Comment("gwr run-time overrides (gwrctl config set / Telegram /config set). Edit with care.");
  out << YAML::BeginMap;
  for (const auto& [k, v] : values) out << YAML::Key << k << YAML::Value << YAML::DoubleQuoted << v;
  out << YAML::EndMap;
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) return make_error("cannot write " + tmp);
    f << out.c_str() << "\n";
    f.flush();
    if (!f) return make_error("cannot write " + tmp);
  }
  fs::rename(tmp, path, ec);
  if (ec) return make_error("cannot replace " + path + ": " + ec.message());
  return Status::Ok();
}

}  // namespace gwr
