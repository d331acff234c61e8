#include "common/config.h"

// yaml-cpp 0.7's inline iterator code trips GCC 12's -Wdangling-pointer
// (a known false positive in its headers, reported inlined into our code).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <yaml-cpp/yaml.h>

#include "common/duration.h"
#include "common/env_file.h"
#include "common/strings.h"
#include "common/text.h"

extern char** environ;

namespace gwr {

namespace fs = std::filesystem;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

namespace {

constexpr std::string_view kMaskText = "********";

// ---------------------------------------------------------------------------
// Field lookup by dotted key.
// ---------------------------------------------------------------------------

std::vector<std::string> split_key(const std::string& key) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : key) {
    if (c == '.') {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  return parts;
}

// Walks to the leaf field of `key`; returns the message holding it.
struct LeafRef {
  Message* msg = nullptr;
  const FieldDescriptor* field = nullptr;
};

LeafRef find_leaf(Message& root, const std::string& key) {
  Message* msg = &root;
  const auto parts = split_key(key);
  for (size_t i = 0; i < parts.size(); ++i) {
    const FieldDescriptor* f = msg->GetDescriptor()->FindFieldByName(parts[i]);
    if (f == nullptr) return {};
    if (i + 1 == parts.size()) {
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) return {};
      return {msg, f};
    }
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || f->is_repeated()) return {};
    msg = msg->GetReflection()->MutableMessage(msg, f);
  }
  return {};
}

const FieldDescriptor* find_leaf_descriptor(const std::string& key) {
  const Descriptor* d = pb::Config::descriptor();
  const auto parts = split_key(key);
  for (size_t i = 0; i < parts.size(); ++i) {
    const FieldDescriptor* f = d->FindFieldByName(parts[i]);
    if (f == nullptr) return nullptr;
    if (i + 1 == parts.size()) return f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE ? nullptr : f;
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) return nullptr;
    d = f->message_type();
  }
  return nullptr;
}

bool field_is_duration(const FieldDescriptor* f) { return f->options().GetExtension(pb::duration); }
bool field_is_secret(const FieldDescriptor* f) { return f->options().GetExtension(pb::secret); }

void collect_keys(const Descriptor* d, const std::string& prefix, std::vector<std::string>& out) {
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const std::string key = prefix.empty() ? f->name() : prefix + "." + f->name();
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      collect_keys(f->message_type(), key, out);
    } else {
      out.push_back(key);
    }
  }
}

// ---------------------------------------------------------------------------
// Scalars from text.
// ---------------------------------------------------------------------------

template <class T>
std::optional<T> parse_int(const std::string& text) {
  T v{};
  const char* b = text.data();
  const char* e = text.data() + text.size();
  auto r = std::from_chars(b, e, v);
  if (r.ec != std::errc() || r.ptr != e) return std::nullopt;
  return v;
}

std::optional<bool> parse_bool(const std::string& text) {
  const std::string t = to_lower(text);
  if (t == "true" || t == "yes" || t == "on" || t == "1") return true;
  if (t == "false" || t == "no" || t == "off" || t == "0") return false;
  return std::nullopt;
}

// Sets a singular field, or appends to a repeated one, from text.
std::optional<std::string> set_scalar_from_text(Message& msg, const FieldDescriptor* f, const std::string& raw) {
  const Reflection* r = msg.GetReflection();
  const std::string text = trim(raw);
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      // The config travels to every worker as protobuf, whose text must be
      // UTF-8: one stray Latin-1 byte would leave every worker without it.
      if (!is_valid_utf8(raw)) return std::string("is not valid UTF-8 text (save the file as UTF-8)");
      rep ? r->AddString(&msg, f, raw) : r->SetString(&msg, f, raw);
      return std::nullopt;
    case FieldDescriptor::CPPTYPE_BOOL: {
      auto b = parse_bool(text);
      if (!b) return "expected true or false, got \"" + text + "\"";
      rep ? r->AddBool(&msg, f, *b) : r->SetBool(&msg, f, *b);
      return std::nullopt;
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      if (field_is_duration(f)) {
        auto d = parse_duration(text);
        if (!d) return d.message();
        rep ? r->AddInt64(&msg, f, d->count()) : r->SetInt64(&msg, f, d->count());
        return std::nullopt;
      }
      auto v = parse_int<int64_t>(text);
      if (!v) return "expected an integer, got \"" + text + "\"";
      rep ? r->AddInt64(&msg, f, *v) : r->SetInt64(&msg, f, *v);
      return std::nullopt;
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      auto v = parse_int<uint32_t>(text);
      if (!v) return "expected a non-negative integer, got \"" + text + "\"";
      rep ? r->AddUInt32(&msg, f, *v) : r->SetUInt32(&msg, f, *v);
      return std::nullopt;
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      auto v = parse_int<int32_t>(text);
      if (!v) return "expected an integer, got \"" + text + "\"";
      rep ? r->AddInt32(&msg, f, *v) : r->SetInt32(&msg, f, *v);
      return std::nullopt;
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      auto v = parse_int<uint64_t>(text);
      if (!v) return "expected a non-negative integer, got \"" + text + "\"";
      rep ? r->AddUInt64(&msg, f, *v) : r->SetUInt64(&msg, f, *v);
      return std::nullopt;
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      try {
        size_t used = 0;
        double v = std::stod(text, &used);
        if (used != text.size()) throw std::invalid_argument("trailing");
        rep ? r->AddDouble(&msg, f, v) : r->SetDouble(&msg, f, v);
        return std::nullopt;
      } catch (const std::exception&) {
        return "expected a number, got \"" + text + "\"";
      }
    }
    default:
      return "unsupported field type";
  }
}

std::string scalar_to_text(const Message& msg, const FieldDescriptor* f, int index) {
  const Reflection* r = msg.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return rep ? r->GetRepeatedString(msg, f, index) : r->GetString(msg, f);
    case FieldDescriptor::CPPTYPE_BOOL:
      return (rep ? r->GetRepeatedBool(msg, f, index) : r->GetBool(msg, f)) ? "true" : "false";
    case FieldDescriptor::CPPTYPE_INT64: {
      const int64_t v = rep ? r->GetRepeatedInt64(msg, f, index) : r->GetInt64(msg, f);
      return field_is_duration(f) ? format_duration_ms(v) : std::to_string(v);
    }
    case FieldDescriptor::CPPTYPE_UINT32:
      return std::to_string(rep ? r->GetRepeatedUInt32(msg, f, index) : r->GetUInt32(msg, f));
    case FieldDescriptor::CPPTYPE_INT32:
      return std::to_string(rep ? r->GetRepeatedInt32(msg, f, index) : r->GetInt32(msg, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return std::to_string(rep ? r->GetRepeatedUInt64(msg, f, index) : r->GetUInt64(msg, f));
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      std::ostringstream ss;
      ss << (rep ? r->GetRepeatedDouble(msg, f, index) : r->GetDouble(msg, f));
      return ss.str();
    }
    default:
      return "";
  }
}

std::string leaf_to_text(const Message& msg, const FieldDescriptor* f, bool reveal) {
  if (f->is_repeated()) {
    std::string out = "[";
    const int n = msg.GetReflection()->FieldSize(msg, f);
    for (int i = 0; i < n; ++i) {
      if (i) out += ", ";
      out += scalar_to_text(msg, f, i);
    }
    return out + "]";
  }
  std::string v = scalar_to_text(msg, f, 0);
  if (field_is_secret(f) && !reveal && !v.empty()) return std::string(kMaskText);
  return v;
}

// Splits "[a, b]" / "a,b" into items.
std::vector<std::string> split_list(std::string text) {
  text = trim(text);
  if (!text.empty() && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  std::vector<std::string> out;
  if (trim(text).empty()) return out;
  std::string cur;
  for (char c : text) {
    if (c == ',') {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(trim(cur));
  return out;
}

// ---------------------------------------------------------------------------
// YAML -> message.
// ---------------------------------------------------------------------------

struct YamlContext {
  std::string source;
  std::map<std::string, ConfigOrigin>* origins;
};

std::optional<ConfigError> apply_yaml_map(const YAML::Node& node, Message& msg, const std::string& prefix,
                                          const YamlContext& ctx);

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
      if (auto err = set_scalar_from_text(msg, f, item.Scalar())) {
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
  if (auto err = set_scalar_from_text(msg, f, value.Scalar())) return fail(*err);
  (*ctx.origins)[key] = origin;
  return std::nullopt;
}

std::optional<ConfigError> apply_yaml_map(const YAML::Node& node, Message& msg, const std::string& prefix,
                                          const YamlContext& ctx) {
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node& k = it->first;
    const std::string name = k.IsScalar() ? k.Scalar() : "?";
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    const FieldDescriptor* f = msg.GetDescriptor()->FindFieldByName(name);
    if (f == nullptr) {
      return ConfigError{key, {ctx.source, k.Mark().line + 1}, "unknown key"};
    }
    if (auto err = apply_yaml_value(it->second, msg, f, key, ctx)) return err;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Environment names (PRD §6.2).
// ---------------------------------------------------------------------------

enum class EnvUnit { kNone, kSeconds, kMinutes };

struct EnvBinding {
  const char* name;
  const char* key;
  EnvUnit plain_number_unit;  // how a bare number is read for duration keys
};

constexpr EnvBinding kEnvBindings[] = {
    {"TELEGRAM_BOT_TOKEN", "telegram.bot_token", EnvUnit::kNone},
    {"TELEGRAM_CHAT_ID", "telegram.chat_id", EnvUnit::kNone},
    {"QWEN_API_KEY", "repair.tier3.api_key", EnvUnit::kNone},
    {"HEALTH_CHECK_INTERVAL", "probes.process.interval", EnvUnit::kSeconds},
    {"GATEWAY_PORT", "gateway.port", EnvUnit::kNone},
    {"MAX_MEMORY_MB", "probes.memory.max_rss_mb", EnvUnit::kNone},
    {"MAX_REPAIRS_PER_HOUR", "repair.max_per_hour", EnvUnit::kNone},
    {"COOLDOWN_MINUTES", "repair.cooldown", EnvUnit::kMinutes},
    {"TIER3_ENABLED", "repair.tier3.enabled", EnvUnit::kNone},
};

std::optional<ConfigError> apply_env_value(pb::Config& config, const EnvBinding& b, const std::string& value,
                                           const ConfigOrigin& origin,
                                           std::map<std::string, ConfigOrigin>& origins) {
  std::string text = trim(value);
  // "NAME=" (as in a fresh .env) means not set, not "set to nothing".
  if (text.empty()) return std::nullopt;
  const FieldDescriptor* f = find_leaf_descriptor(b.key);
  if (f != nullptr && field_is_duration(f) && !text.empty() &&
      std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    text += b.plain_number_unit == EnvUnit::kMinutes ? "m" : "s";
  }
  auto leaf = find_leaf(config, b.key);
  if (auto err = set_scalar_from_text(*leaf.msg, leaf.field, field_is_secret(f) ? value : text)) {
    return ConfigError{std::string(b.name) + " -> " + b.key, origin,
                       field_is_secret(f) ? "invalid value" : *err};
  }
  origins[b.key] = origin;
  return std::nullopt;
}

std::string home_dir(const EnvMap& env) {
  auto it = env.find("HOME");
  if (it != env.end() && !it->second.empty()) return it->second;
  return "/root";
}

std::string env_or(const EnvMap& env, const std::string& name, const std::string& fallback) {
  auto it = env.find(name);
  return it != env.end() && !it->second.empty() ? it->second : fallback;
}

bool starts_with(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }

std::string expand_home(const std::string& path, const std::string& home) {
  if (path == "~") return home;
  if (starts_with(path, "~/")) return home + path.substr(1);
  return path;
}

// "~/" at the start of a path-valued key means the user's home.
void expand_home_paths(pb::Config& c, const std::string& home) {
  auto* g = c.mutable_gateway();
  g->set_state_dir(expand_home(g->state_dir(), home));
  for (auto& f : *g->mutable_log_files()) f = expand_home(f, home);
  auto* p = c.mutable_paths();
  p->set_runtime_dir(expand_home(p->runtime_dir(), home));
  p->set_state_dir(expand_home(p->state_dir(), home));
  p->set_log_dir(expand_home(p->log_dir(), home));
  c.mutable_repair()->set_allowlist(expand_home(c.repair().allowlist(), home));
}

}  // namespace

// ---------------------------------------------------------------------------
// Public API.
// ---------------------------------------------------------------------------

std::string ConfigError::describe() const {
  std::string where = origin.source;
  if (origin.line > 0) where += " line " + std::to_string(origin.line);
  std::string out = key;
  if (!where.empty()) out += " (" + where + ")";
  return out + ": " + message;
}

std::string LoadedConfig::describe_source() const {
  std::string out = config_path.empty() ? "built-in defaults" : config_path;
  if (!env_path.empty()) out += " + " + env_path;
  if (!overridden_keys.empty()) out += " + " + std::to_string(overridden_keys.size()) + " run-time override(s)";
  return out;
}

EnvMap current_environment() {
  EnvMap env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

pb::Config default_config(const EnvMap& env) {
  pb::Config c;
  const std::string home = home_dir(env);
  const bool root = ::geteuid() == 0;

  auto* g = c.mutable_gateway();
  g->set_host("127.0.0.1");
  g->set_port(18789);
  g->set_health_path("/health");
  g->set_startup_path("/startupz");
  g->set_process_match("openclaw-gateway");
  g->set_launch_match("openclaw");
  g->set_state_dir(env_or(env, "OPENCLAW_STATE_DIR", home + "/.openclaw"));
  g->add_log_files("/tmp/openclaw/openclaw-*.log");
#ifdef __APPLE__
  g->add_log_files(home + "/Library/Logs/openclaw/gateway.log");
#endif
  auto* cmd = g->mutable_commands();
  for (const char* a : {"openclaw", "gateway", "restart"}) cmd->add_restart(a);
  for (const char* a : {"openclaw", "gateway", "stop", "--force"}) cmd->add_stop(a);
  for (const char* a : {"openclaw", "gateway", "start"}) cmd->add_start(a);
  for (const char* a : {"openclaw", "doctor", "--fix", "--non-interactive"}) cmd->add_doctor(a);

  auto* p = c.mutable_probes();
  p->mutable_process()->set_interval(10'000);
  p->mutable_port()->set_interval(30'000);
  p->mutable_port()->set_timeout(1'000);
  p->mutable_port()->set_failures(2);
  // PRD §4.1 says 60 s; at 60 s a hung gateway could go unseen for a minute,
  // against PRD §8's 30 s detection target. A loopback GET costs microseconds.
  p->mutable_health()->set_interval(15'000);
  p->mutable_health()->set_timeout(2'000);
  p->mutable_health()->set_failures(3);
  p->mutable_health()->set_slow_threshold(1'000);
  p->mutable_memory()->set_interval(60'000);
  // PRD says 512 MB, but a healthy OpenClaw 2026.9 sits near 845 MB at start.
  p->mutable_memory()->set_max_rss_mb(2048);
  p->mutable_memory()->set_hard_rss_mb(0);
  p->mutable_memory()->set_min_available_percent(5);
  p->set_startup_grace(120'000);
  p->set_recheck_interval(500);
  p->set_republish_interval(5'000);

  auto* r = c.mutable_repair();
  r->set_max_per_hour(3);
  r->set_cooldown(30 * 60'000);
  r->mutable_tier1()->set_deadline(10'000);
  r->mutable_tier2()->set_deadline(30'000);
  r->mutable_tier2()->add_stale_lock_globs("agents/*/sessions/*.jsonl.lock");
  r->mutable_tier2()->set_unreadable_lock_grace(10'000);
  auto* t3 = r->mutable_tier3();
  t3->set_enabled(true);
  t3->set_engine("qwen-cli");
  t3->add_command("qwen");
  t3->set_base_url("https://dashscope.aliyuncs.com/compatible-mode/v1");
  t3->set_model("qwen-plus");
  t3->set_deadline(120'000);
  t3->set_replay_learned(true);
  r->set_allowlist("");
  r->set_quiet_max_wait(10 * 60'000);
  r->set_command_timeout(60'000);

  auto* t = c.mutable_telegram();
  t->set_api_base_url("https://api.telegram.org");
  t->set_poll_timeout(30'000);
  t->set_reminder_interval(60 * 60'000);

  auto* paths = c.mutable_paths();
  if (root) {
    paths->set_runtime_dir("/run/gwr");
    paths->set_state_dir("/var/lib/gwr");
    paths->set_log_dir("/var/log/gwr");
  } else {
    const std::string xdg_runtime = env_or(env, "XDG_RUNTIME_DIR", "");
    paths->set_runtime_dir(!xdg_runtime.empty() ? xdg_runtime + "/gwr"
                                                : "/tmp/gwr-" + std::to_string(::geteuid()));
#ifdef __APPLE__
    paths->set_state_dir(home + "/Library/Application Support/gwr");
    paths->set_log_dir(home + "/Library/Logs/gwr");
#else
    const std::string state_home = env_or(env, "XDG_STATE_HOME", home + "/.local/state");
    paths->set_state_dir(state_home + "/gwr");
    paths->set_log_dir(state_home + "/gwr/log");
#endif
  }

  // A service manager or a demo can move gwr's own files without a config.
  if (auto it = env.find("GWR_RUNTIME_DIR"); it != env.end() && !it->second.empty()) paths->set_runtime_dir(it->second);
  if (auto it = env.find("GWR_STATE_DIR"); it != env.end() && !it->second.empty()) paths->set_state_dir(it->second);
  if (auto it = env.find("GWR_LOG_DIR"); it != env.end() && !it->second.empty()) paths->set_log_dir(it->second);

  auto* s = c.mutable_supervisor();
  s->set_heartbeat_interval(1'000);
  s->set_heartbeat_timeout(5'000);
  s->set_stop_timeout(10'000);
  s->set_restart_initial(100);
  s->set_restart_max(30'000);
  s->set_restart_stable_after(10'000);

  auto* h = c.mutable_history();
  h->set_max_age(90LL * 24 * 3'600'000);
  h->set_max_repairs(1000);

  auto* l = c.mutable_log();
  l->set_level("info");
  l->set_max_size_mb(10);
  l->set_max_files(5);
  return c;
}

ConfigResult<std::string> resolve_config_path(const LoadOptions& options) {
  std::error_code ec;
  if (options.config_path) {
    if (!fs::exists(*options.config_path, ec)) {
      return ConfigError{"--config", {*options.config_path, 0}, "config file not found"};
    }
    return *options.config_path;
  }
  auto it = options.environment.find("GWR_CONFIG");
  if (it != options.environment.end() && !it->second.empty()) {
    if (!fs::exists(it->second, ec)) return ConfigError{"GWR_CONFIG", {it->second, 0}, "config file not found"};
    return it->second;
  }
  const std::string user_path = home_dir(options.environment) + "/.config/gwr/gwr.yaml";
  if (fs::exists(user_path, ec)) return user_path;
  if (fs::exists("/etc/gwr/gwr.yaml", ec)) return std::string("/etc/gwr/gwr.yaml");
  return std::string();
}

ConfigResult<LoadedConfig> load_config(const LoadOptions& options) {
  LoadedConfig out;
  out.config = default_config(options.environment);

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
      if (auto err = apply_yaml_map(root, out.config, "", ctx)) return *err;
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
      for (const auto& b : kEnvBindings) {
        if (e.name != b.name) continue;
        if (auto err = apply_env_value(out.config, b, e.value, {env_path, e.line}, out.origins)) return *err;
      }
    }
  }

  for (const auto& b : kEnvBindings) {
    auto it = options.environment.find(b.name);
    if (it == options.environment.end()) continue;
    if (auto err = apply_env_value(out.config, b, it->second, {std::string("environment ") + b.name, 0},
                                   out.origins)) {
      return *err;
    }
  }

  expand_home_paths(out.config, home_dir(options.environment));
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
        out.origins[key] = {out.overrides_path, 0};
        out.overridden_keys.push_back(key);
      }
    }
  }

  expand_home_paths(out.config, home_dir(options.environment));
  if (auto err = validate_config(out.config, out.origins)) return *err;
  return out;
}

std::optional<ConfigError> validate_config(const pb::Config& c, const std::map<std::string, ConfigOrigin>& origins) {
  auto fail = [&](const std::string& key, const std::string& message) -> std::optional<ConfigError> {
    auto it = origins.find(key);
    return ConfigError{key, it != origins.end() ? it->second : ConfigOrigin{"built-in defaults", 0}, message};
  };
  auto positive = [&](const std::string& key, int64_t v, int64_t min_ms) -> std::optional<ConfigError> {
    if (v < min_ms) return fail(key, "must be at least " + format_duration_ms(min_ms));
    return std::nullopt;
  };
#define GWR_CHECK(expr) \
  if (auto e_ = (expr)) return e_

  const auto& g = c.gateway();
  if (g.host().empty()) return fail("gateway.host", "must not be empty");
  if (g.port() == 0 || g.port() > 65535) return fail("gateway.port", "must be between 1 and 65535");
  if (g.health_path().empty() || g.health_path()[0] != '/') return fail("gateway.health_path", "must start with /");
  if (!g.startup_path().empty() && g.startup_path()[0] != '/') {
    return fail("gateway.startup_path", "must start with / (or be empty for gateways without /startupz)");
  }
  if (g.process_match().empty()) return fail("gateway.process_match", "must not be empty");
  if (g.launch_match() == g.process_match()) {
    return fail("gateway.launch_match", "must differ from gateway.process_match (or be \"\" for none)");
  }
  if (g.state_dir().empty() || g.state_dir()[0] != '/') return fail("gateway.state_dir", "must be an absolute path");
  for (const auto& [name, argv] : {std::pair{"restart", &g.commands().restart()},
                                  std::pair{"stop", &g.commands().stop()},
                                  std::pair{"start", &g.commands().start()}}) {
    if (argv->empty() || argv->Get(0).empty()) {
      return fail(std::string("gateway.commands.") + name, "must be a non-empty argv list");
    }
  }

  const auto& p = c.probes();
  GWR_CHECK(positive("probes.process.interval", p.process().interval(), 100));
  GWR_CHECK(positive("probes.port.interval", p.port().interval(), 100));
  GWR_CHECK(positive("probes.port.timeout", p.port().timeout(), 10));
  GWR_CHECK(positive("probes.health.interval", p.health().interval(), 100));
  GWR_CHECK(positive("probes.health.timeout", p.health().timeout(), 10));
  GWR_CHECK(positive("probes.memory.interval", p.memory().interval(), 100));
  GWR_CHECK(positive("probes.recheck_interval", p.recheck_interval(), 10));
  GWR_CHECK(positive("probes.republish_interval", p.republish_interval(), 100));
  if (p.port().failures() < 1) return fail("probes.port.failures", "must be at least 1");
  if (p.health().failures() < 1) return fail("probes.health.failures", "must be at least 1");
  if (p.port().timeout() > 60'000) return fail("probes.port.timeout", "must be at most 1m");
  if (p.health().timeout() > 60'000) return fail("probes.health.timeout", "must be at most 1m");
  if (p.memory().max_rss_mb() < 1) return fail("probes.memory.max_rss_mb", "must be at least 1");
  if (p.memory().hard_rss_mb() != 0 && p.memory().hard_rss_mb() < p.memory().max_rss_mb()) {
    return fail("probes.memory.hard_rss_mb", "must be 0 (off) or at least probes.memory.max_rss_mb");
  }
  if (p.memory().min_available_percent() > 100) return fail("probes.memory.min_available_percent", "must be 0..100");
  if (p.startup_grace() < 0) return fail("probes.startup_grace", "must not be negative");

  const auto& r = c.repair();
  if (r.max_per_hour() < 1 || r.max_per_hour() > 60) {
    return fail("repair.max_per_hour", "must be between 1 and 60 (use pause to stop automatic repairs)");
  }
  if (r.cooldown() < 0) return fail("repair.cooldown", "must not be negative");
  GWR_CHECK(positive("repair.tier1.deadline", r.tier1().deadline(), 1000));
  GWR_CHECK(positive("repair.tier2.deadline", r.tier2().deadline(), 1000));
  GWR_CHECK(positive("repair.tier3.deadline", r.tier3().deadline(), 1000));
  GWR_CHECK(positive("repair.command_timeout", r.command_timeout(), 100));
  if (r.quiet_max_wait() < 0) return fail("repair.quiet_max_wait", "must not be negative");
  GWR_CHECK(positive("repair.tier2.unreadable_lock_grace", r.tier2().unreadable_lock_grace(), 0));
  for (const auto& glob : r.tier2().stale_lock_globs()) {
    const std::string key = "repair.tier2.stale_lock_globs";
    if (glob.empty() || glob[0] == '/' || glob[0] == '~') {
      return fail(key, "\"" + glob + "\" must be relative to gateway.state_dir");
    }
    std::string seg;
    std::vector<std::string> segs;
    for (char ch : glob + "/") {
      if (ch == '/') {
        segs.push_back(seg);
        seg.clear();
      } else {
        seg += ch;
      }
    }
    for (const auto& s : segs) {
      if (s.empty() || s == "." || s == "..") return fail(key, "\"" + glob + "\" must not contain empty, . or .. parts");
      if (s.find("**") != std::string::npos) return fail(key, "\"" + glob + "\" must not use **");
    }
    const std::string& last = segs.back();
    if (last.size() < 6 || last.substr(last.size() - 5) != ".lock" || last == "*.lock") {
      return fail(key, "\"" + glob + "\" must name lock files by a specific suffix such as *.jsonl.lock");
    }
    if (segs.size() < 2) return fail(key, "\"" + glob + "\" must point into a subdirectory of the state dir");
  }
  const auto& t3 = r.tier3();
  if (t3.engine() != "qwen-cli" && t3.engine() != "openai") {
    return fail("repair.tier3.engine", "must be \"qwen-cli\" or \"openai\"");
  }
  if (t3.engine() == "qwen-cli" && t3.command().empty()) {
    return fail("repair.tier3.command", "must be a non-empty argv list for engine qwen-cli");
  }
  if (t3.engine() == "openai" && !starts_with(t3.base_url(), "http://") && !starts_with(t3.base_url(), "https://")) {
    return fail("repair.tier3.base_url", "must be an http:// or https:// URL");
  }

  const auto& t = c.telegram();
  if (!starts_with(t.api_base_url(), "http://") && !starts_with(t.api_base_url(), "https://")) {
    return fail("telegram.api_base_url", "must be an http:// or https:// URL");
  }
  if (!t.bot_token().empty()) {
    const auto colon = t.bot_token().find(':');
    bool shaped = colon != std::string::npos && colon > 0;
    for (size_t i = 0; shaped && i < colon; ++i) shaped = std::isdigit(static_cast<unsigned char>(t.bot_token()[i]));
    for (size_t i = colon + 1; shaped && i < t.bot_token().size(); ++i) {
      const char ch = t.bot_token()[i];
      shaped = std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-';
    }
    if (!shaped || colon + 1 >= t.bot_token().size()) {
      return fail("telegram.bot_token", "does not look like a bot token from @BotFather (digits:letters)");
    }
    if (t.chat_id() == 0) return fail("telegram.chat_id", "is required when telegram.bot_token is set");
  }
  GWR_CHECK(positive("telegram.poll_timeout", t.poll_timeout(), 1000));
  if (t.poll_timeout() > 50'000) return fail("telegram.poll_timeout", "must be at most 50s (Telegram's cap)");
  GWR_CHECK(positive("telegram.reminder_interval", t.reminder_interval(), 1000));

  for (const auto& [key, value] : {std::pair{"paths.runtime_dir", &c.paths().runtime_dir()},
                                  std::pair{"paths.state_dir", &c.paths().state_dir()},
                                  std::pair{"paths.log_dir", &c.paths().log_dir()}}) {
    if (value->empty() || (*value)[0] != '/') return fail(key, "must be an absolute path");
  }
  // ipc:// endpoints live in the runtime dir; sun_path holds 107 bytes.
  if (c.paths().runtime_dir().size() > 80) return fail("paths.runtime_dir", "must be at most 80 characters (socket path limit)");

  const auto& s = c.supervisor();
  GWR_CHECK(positive("supervisor.heartbeat_interval", s.heartbeat_interval(), 50));
  if (s.heartbeat_timeout() < 2 * s.heartbeat_interval()) {
    return fail("supervisor.heartbeat_timeout", "must be at least twice supervisor.heartbeat_interval");
  }
  GWR_CHECK(positive("supervisor.stop_timeout", s.stop_timeout(), 100));
  GWR_CHECK(positive("supervisor.restart_initial", s.restart_initial(), 1));
  if (s.restart_max() < s.restart_initial()) return fail("supervisor.restart_max", "must be at least supervisor.restart_initial");
  if (s.restart_stable_after() < 0) return fail("supervisor.restart_stable_after", "must not be negative");

  static const std::vector<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
  if (std::find(kLevels.begin(), kLevels.end(), c.log().level()) == kLevels.end()) {
    return fail("log.level", "must be one of trace, debug, info, warn, error");
  }
  if (c.history().max_age() < 3'600'000) return fail("history.max_age", "must be at least 1h");
  if (c.history().max_repairs() < 10) return fail("history.max_repairs", "must be at least 10");
  if (c.log().max_size_mb() < 1) return fail("log.max_size_mb", "must be at least 1");
  if (c.log().max_files() < 1) return fail("log.max_files", "must be at least 1");
#undef GWR_CHECK
  return std::nullopt;
}

std::vector<std::string> config_warnings(const pb::Config& c) {
  std::vector<std::string> out;
  const auto& t = c.telegram();
  // Group ids are negative: the bridge gives a group read-only access until
  // users are listed (telegram-bridge/access_policy.h).
  if (!t.bot_token().empty() && t.chat_id() < 0 && t.allowed_user_ids().empty()) {
    out.push_back("telegram.chat_id " + std::to_string(t.chat_id()) +
                  " is a group and telegram.allowed_user_ids is empty: every member could pause or repair, so "
                  "commands and buttons that change something are refused there until you list your user id in "
                  "telegram.allowed_user_ids (/status, /logs and /history still answer)");
  }
  return out;
}

std::vector<std::string> config_keys() {
  std::vector<std::string> out;
  collect_keys(pb::Config::descriptor(), "", out);
  return out;
}

bool is_config_key(const std::string& key) { return find_leaf_descriptor(key) != nullptr; }

bool is_runtime_settable(const std::string& key) {
  const auto* f = find_leaf_descriptor(key);
  return f != nullptr && f->options().GetExtension(pb::runtime_settable);
}

bool is_secret_key(const std::string& key) {
  const auto* f = find_leaf_descriptor(key);
  return f != nullptr && field_is_secret(f);
}

Result<std::string> get_config_value(const pb::Config& config, const std::string& key, bool reveal) {
  pb::Config copy = config;
  auto leaf = find_leaf(copy, key);
  if (leaf.field == nullptr) return make_error("unknown config key \"" + key + "\"");
  return leaf_to_text(*leaf.msg, leaf.field, reveal);
}

std::optional<ConfigError> set_config_value(pb::Config& config, const std::string& key, const std::string& value,
                                            const ConfigOrigin& origin) {
  auto leaf = find_leaf(config, key);
  if (leaf.field == nullptr) return ConfigError{key, origin, "unknown config key"};
  const bool secret = field_is_secret(leaf.field);
  if (leaf.field->is_repeated()) {
    leaf.msg->GetReflection()->ClearField(leaf.msg, leaf.field);
    for (const auto& item : split_list(value)) {
      if (auto err = set_scalar_from_text(*leaf.msg, leaf.field, item)) return ConfigError{key, origin, *err};
    }
    return std::nullopt;
  }
  if (auto err = set_scalar_from_text(*leaf.msg, leaf.field, value)) {
    return ConfigError{key, origin, secret ? "invalid value" : *err};
  }
  return std::nullopt;
}

namespace {

void emit_message(YAML::Emitter& out, const Message& msg, bool reveal) {
  out << YAML::BeginMap;
  const Descriptor* d = msg.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    out << YAML::Key << f->name() << YAML::Value;
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      emit_message(out, msg.GetReflection()->GetMessage(msg, f), reveal);
    } else if (f->is_repeated()) {
      out << YAML::Flow << YAML::BeginSeq;
      const int n = msg.GetReflection()->FieldSize(msg, f);
      for (int j = 0; j < n; ++j) out << scalar_to_text(msg, f, j);
      out << YAML::EndSeq;
    } else {
      const std::string v = leaf_to_text(msg, f, reveal);
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        out << YAML::DoubleQuoted << v;
      } else {
        out << v;
      }
    }
  }
  out << YAML::EndMap;
}

void mask_message(Message& msg) {
  const Descriptor* d = msg.GetDescriptor();
  const Reflection* r = msg.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated()) {
      mask_message(*r->MutableMessage(&msg, f));
    } else if (field_is_secret(f) && f->cpp_type() == FieldDescriptor::CPPTYPE_STRING && !f->is_repeated()) {
      if (!r->GetString(msg, f).empty()) r->SetString(&msg, f, std::string(kMaskText));
    }
  }
}

void collect_secrets(const Message& msg, std::vector<std::string>& out) {
  const Descriptor* d = msg.GetDescriptor();
  const Reflection* r = msg.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated()) {
      collect_secrets(r->GetMessage(msg, f), out);
    } else if (field_is_secret(f) && f->cpp_type() == FieldDescriptor::CPPTYPE_STRING && !f->is_repeated()) {
      const std::string v = r->GetString(msg, f);
      if (!v.empty()) out.push_back(v);
    }
  }
}

}  // namespace

std::string render_config_yaml(const pb::Config& config, bool reveal) {
  YAML::Emitter out;
  emit_message(out, config, reveal);
  return std::string(out.c_str()) + "\n";
}

pb::Config masked_config(const pb::Config& config) {
  pb::Config copy = config;
  mask_message(copy);
  return copy;
}

std::vector<std::string> config_secret_values(const pb::Config& config) {
  std::vector<std::string> out;
  collect_secrets(config, out);
  return out;
}

std::vector<std::string> config_diff(const pb::Config& a, const pb::Config& b) {
  std::vector<std::string> out;
  for (const auto& key : config_keys()) {
    auto va = get_config_value(a, key, true);
    auto vb = get_config_value(b, key, true);
    if (va.ok() && vb.ok() && *va != *vb) out.push_back(key);
  }
  return out;
}

std::string overrides_path_for(const pb::Config& config) {
  return config.paths().state_dir() + "/config-overrides.yaml";
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
