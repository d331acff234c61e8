#include "common/config.h"

// What a config is, checked and changed key by key. Reading and writing YAML
// lives in config_yaml.cpp, so that the workers (which get their config from
// the supervisor as protobuf) do not link yaml-cpp (issue #16).
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

#include "common/config_detail.h"
#include "common/config_schema.h"
#include "common/maintenance_window.h"
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

uint32_t default_max_rss_mb(uint64_t ram_bytes) {
  if (ram_bytes == 0) return 2048;  // unknown: the declared default
  const uint64_t quarter_mb = (ram_bytes / 4) >> 20;
  return static_cast<uint32_t>(std::clamp<uint64_t>(quarter_mb, 256, 2048));
}

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

bool field_is_duration(const FieldDescriptor* f) { return f->options().GetExtension(pb::duration); }
bool field_is_secret(const FieldDescriptor* f) { return f->options().GetExtension(pb::secret); }

// ---------------------------------------------------------------------------
// Scalars from text.
// ---------------------------------------------------------------------------

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
      auto v = parse_decimal<int64_t>(text);
      if (!v) return "expected an integer, got \"" + text + "\"";
      rep ? r->AddInt64(&msg, f, *v) : r->SetInt64(&msg, f, *v);
      return std::nullopt;
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      auto v = parse_decimal<uint32_t>(text);
      if (!v) return "expected a non-negative integer, got \"" + text + "\"";
      rep ? r->AddUInt32(&msg, f, *v) : r->SetUInt32(&msg, f, *v);
      return std::nullopt;
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      auto v = parse_decimal<int32_t>(text);
      if (!v) return "expected an integer, got \"" + text + "\"";
      rep ? r->AddInt32(&msg, f, *v) : r->SetInt32(&msg, f, *v);
      return std::nullopt;
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      auto v = parse_decimal<uint64_t>(text);
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
// Environment names (PRD §6.2).
// ---------------------------------------------------------------------------

// A PRD §6.2 environment name (declared with its key: KeySpec.env) sets the
// key; "NAME=" (as in a fresh .env) means not set.
std::optional<ConfigError> apply_env_value(pb::Config& config, const KeyInfo& k, const std::string& value,
                                           const ConfigOrigin& origin,
                                           std::map<std::string, ConfigOrigin>& origins) {
  std::string text = trim(value);
  if (text.empty()) return std::nullopt;
  if (k.duration && std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    text += k.spec->env_unit().empty() ? "s" : k.spec->env_unit();
  }
  auto leaf = find_leaf(config, k.key);
  if (leaf.field->is_repeated()) {
    // A list in one variable: "1,2" or "[1, 2]"; it replaces what came before (later wins).
    if (text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
    leaf.msg->GetReflection()->ClearField(leaf.msg, leaf.field);
    std::string item;
    for (const char ch : text + ",") {
      if (ch != ',') {
        item += ch;
        continue;
      }
      if (!trim(item).empty()) {
        if (auto err = set_scalar_from_text(*leaf.msg, leaf.field, trim(item))) {
          return ConfigError{k.spec->env() + " -> " + k.key, origin, *err};
        }
      }
      item.clear();
    }
    origins[k.key] = origin;
    return std::nullopt;
  }
  if (auto err = set_scalar_from_text(*leaf.msg, leaf.field, k.secret ? value : text)) {
    return ConfigError{k.spec->env() + " -> " + k.key, origin, k.secret ? "invalid value" : *err};
  }
  origins[k.key] = origin;
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

// "~/" at the start of a path-valued key (KeySpec.path) means the user's home.
void expand_home_paths(pb::Config& c, const std::string& home) {
  for (const auto& k : config_schema()) {
    if (!k.spec->path()) continue;
    auto leaf = find_leaf(c, k.key);
    const Reflection* r = leaf.msg->GetReflection();
    if (k.field->is_repeated()) {
      for (int i = 0; i < r->FieldSize(*leaf.msg, k.field); ++i) {
        r->SetRepeatedString(leaf.msg, k.field, i, expand_home(r->GetRepeatedString(*leaf.msg, k.field, i), home));
      }
    } else {
      r->SetString(leaf.msg, k.field, expand_home(r->GetString(*leaf.msg, k.field), home));
    }
  }
}

// The defaults that depend on the machine (KeySpec.platform says how, for
// people): the user's home, root or not, Linux or macOS, the environment.
void platform_defaults(pb::Config& c, const EnvMap& env) {
  const std::string home = home_dir(env);
  {
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page_size = ::sysconf(_SC_PAGE_SIZE);
    const uint64_t ram = pages > 0 && page_size > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size) : 0;
    c.mutable_probes()->mutable_memory()->set_max_rss_mb(default_max_rss_mb(ram));
  }
  auto* g = c.mutable_gateway();
  g->set_state_dir(env_or(env, "OPENCLAW_STATE_DIR", home + "/.openclaw"));
#ifdef __APPLE__
  g->add_log_files(home + "/Library/Logs/openclaw/gateway.log");
  g->set_service("ai.openclaw.gateway");
#else
  g->set_service("openclaw-gateway.service");
#endif
  auto* paths = c.mutable_paths();
  if (::geteuid() == 0) {
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
}

// A number of a key, for its declared bounds.
double numeric_value(const Message& msg, const FieldDescriptor* f) {
  const Reflection* r = msg.GetReflection();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: return r->GetInt32(msg, f);
    case FieldDescriptor::CPPTYPE_INT64: return static_cast<double>(r->GetInt64(msg, f));
    case FieldDescriptor::CPPTYPE_UINT32: return r->GetUInt32(msg, f);
    case FieldDescriptor::CPPTYPE_UINT64: return static_cast<double>(r->GetUInt64(msg, f));
    case FieldDescriptor::CPPTYPE_DOUBLE: return r->GetDouble(msg, f);
    default: return 0;
  }
}

// A declared bound ("100ms", "1") in the key's own units (ms for durations).
std::optional<double> bound_value(const KeyInfo& k, const std::string& text) {
  if (text.empty()) return std::nullopt;
  if (k.duration) {
    auto d = parse_duration(text);
    if (!d) return std::nullopt;
    return static_cast<double>(d->count());
  }
  try {
    return std::stod(text);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// What the declaration says a value must be (KeySpec: required, min, max,
// choices, url, absolute). Checks across keys are in validate_config.
std::optional<std::string> check_declared(const pb::Config& c, const KeyInfo& k) {
  const auto& s = *k.spec;
  pb::Config copy = c;
  auto leaf = find_leaf(copy, k.key);
  const Message& msg = *leaf.msg;
  const Reflection* r = msg.GetReflection();
  if (k.field->is_repeated()) {
    if (s.required() && (r->FieldSize(msg, k.field) == 0 ||
                         (k.field->cpp_type() == FieldDescriptor::CPPTYPE_STRING &&
                          r->GetRepeatedString(msg, k.field, 0).empty()))) {
      return std::string("must be a non-empty list");
    }
    return std::nullopt;
  }
  if (k.field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
    const std::string v = r->GetString(msg, k.field);
    if (s.required() && v.empty()) return std::string("must not be empty");
    if (s.absolute() && (v.empty() || v[0] != '/')) return std::string("must be an absolute path");
    if (s.url() && !starts_with(v, "http://") && !starts_with(v, "https://")) {
      return std::string("must be an http:// or https:// URL");
    }
    if (!s.choices().empty()) {
      const auto allowed = choice_list(s);
      if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
        std::string list;
        for (size_t i = 0; i < allowed.size(); ++i) list += (i ? (i + 1 == allowed.size() ? " or " : ", ") : "") + allowed[i];
        return "must be " + (allowed.size() == 1 ? list : "one of " + list);
      }
    }
    return std::nullopt;
  }
  if (k.field->cpp_type() == FieldDescriptor::CPPTYPE_BOOL) return std::nullopt;
  const double v = numeric_value(msg, k.field);
  const auto lo = bound_value(k, s.min());
  const auto hi = bound_value(k, s.max());
  if ((lo && v < *lo) || (hi && v > *hi)) {
    if (lo && hi) return "must be between " + s.min() + " and " + s.max();
    return lo ? "must be at least " + s.min() : "must be at most " + s.max();
  }
  return std::nullopt;
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
  // Each key's default is in its declaration (KeySpec.default); the ones
  // that depend on the machine come from platform_defaults().
  pb::Config c;
  for (const auto& k : config_schema()) {
    const std::string& d = k.spec->default_();
    if (d.empty()) continue;
    auto leaf = find_leaf(c, k.key);
    if (k.field->is_repeated()) {
      for (const auto& item : split_list_text(d)) (void)set_scalar_from_text(*leaf.msg, leaf.field, item);
    } else {
      (void)set_scalar_from_text(*leaf.msg, leaf.field, d);
    }
  }
  platform_defaults(c, env);
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

std::optional<ConfigError> validate_config(const pb::Config& c, const std::map<std::string, ConfigOrigin>& origins) {
  auto fail = [&](const std::string& key, const std::string& message) -> std::optional<ConfigError> {
    auto it = origins.find(key);
    return ConfigError{key, it != origins.end() ? it->second : ConfigOrigin{"built-in defaults", 0}, message};
  };
  // What each key's declaration says, first.
  for (const auto& k : config_schema()) {
    if (auto why = check_declared(c, k)) return fail(k.key, *why);
  }

  // What no single declaration can say: how keys relate.
  const auto& g = c.gateway();
  if (g.health_path()[0] != '/') return fail("gateway.health_path", "must start with /");
  if (!g.readiness_path().empty() && g.readiness_path()[0] != '/') {
    return fail("gateway.readiness_path", "must start with / (or be empty to not ask the gateway's readiness)");
  }
  if (!g.startup_path().empty() && g.startup_path()[0] != '/') {
    return fail("gateway.startup_path", "must start with / (or be empty for gateways without /startupz)");
  }
  if (g.launch_match() == g.process_match()) {
    return fail("gateway.launch_match", "must differ from gateway.process_match (or be \"\" for none)");
  }
  const auto& m = c.probes().memory();
  if (m.hard_rss_mb() != 0 && m.hard_rss_mb() < m.max_rss_mb()) {
    return fail("probes.memory.hard_rss_mb", "must be 0 (off) or at least probes.memory.max_rss_mb");
  }

  const auto& r = c.repair();
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
  if (auto windows = parse_maintenance_windows({r.maintenance_windows().begin(), r.maintenance_windows().end()});
      !windows) {
    return fail("repair.maintenance_windows", windows.message());
  }
  const auto& t3 = r.tier3();
  if (t3.engine() == "qwen-cli" && (t3.command().empty() || t3.command(0).empty())) {
    return fail("repair.tier3.command", "must be a non-empty argv list for engine qwen-cli");
  }
  if (t3.engine() == "openai" && !starts_with(t3.base_url(), "http://") && !starts_with(t3.base_url(), "https://")) {
    return fail("repair.tier3.base_url", "must be an http:// or https:// URL");
  }

  const auto& t = c.telegram();
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

  const auto& hb = c.heartbeat();
  // An address goes into a request line as it is: no spaces or control
  // characters (a CR/LF would write headers of its own), a host after the scheme.
  const auto http_url = [](const std::string& u) {
    const size_t scheme = starts_with(u, "http://") ? 7 : starts_with(u, "https://") ? 8 : 0;
    if (scheme == 0 || u.size() <= scheme || u[scheme] == '/') return false;
    return std::none_of(u.begin(), u.end(), [](char ch) { return static_cast<unsigned char>(ch) <= 0x20 || ch == 0x7f; });
  };
  if (!hb.url().empty() && !http_url(hb.url())) return fail("heartbeat.url", "must be an http:// or https:// URL (or empty: off)");
  if (!hb.fail_url().empty() && hb.fail_url() != "auto" && !http_url(hb.fail_url())) {
    return fail("heartbeat.fail_url", "must be auto, an http:// or https:// URL, or empty (never)");
  }

  const auto& n = c.notify();
  if (!n.ntfy().url().empty()) {
    // ntfy's topics: 1-64 of [A-Za-z0-9_-], the address's last path segment.
    const std::string u = n.ntfy().url().substr(0, n.ntfy().url().find_first_of("?#"));
    const size_t host = u.find("://");
    const size_t slash = host == std::string::npos ? std::string::npos : u.find('/', host + 3);
    std::string topic = slash == std::string::npos ? "" : u.substr(u.rfind('/') + 1);
    const bool topic_ok = !topic.empty() && topic.size() <= 64 && std::all_of(topic.begin(), topic.end(), [](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-';
    });
    if (!http_url(n.ntfy().url()) || !topic_ok) {
      return fail("notify.ntfy.url", "must be an ntfy server and topic, like https://ntfy.sh/my-gwr-alerts (or empty: off)");
    }
  }
  if (!n.discord().webhook_url().empty() && !http_url(n.discord().webhook_url())) {
    return fail("notify.discord.webhook_url", "must be an http:// or https:// URL, a Discord webhook (or empty: off)");
  }
  if (!n.webhook().url().empty() && !http_url(n.webhook().url())) {
    return fail("notify.webhook.url", "must be an http:// or https:// URL (or empty: off)");
  }
  // Tokens go into (or are compared with) an Authorization header.
  for (const auto& [key, token] : {std::pair{"notify.ntfy.token", n.ntfy().token()},
                                   std::pair{"notify.webhook.token", n.webhook().token()},
                                   std::pair{"http.token", c.http().token()}}) {
    if (std::any_of(token.begin(), token.end(), [](char ch) { return static_cast<unsigned char>(ch) < 0x21 || ch == 0x7f; })) {
      return fail(key, "must not contain spaces or control characters (it is sent in a header)");
    }
  }

  if (const auto& h = c.http(); !h.listen().empty()) {
    // HOST:PORT, [IPv6]:PORT (gwr-web reads it the same way); off loopback only with a token.
    const auto where = parse_listen(h.listen());
    if (!where) return fail("http.listen", "must be HOST:PORT, like 127.0.0.1:9477 or [::1]:9477 (or empty: off)");
    const std::string& host = where->host;
    const bool loopback = host == "localhost" || host == "::1" || starts_with(host, "127.");
    if (!loopback && h.token().empty()) {
      return fail("http.listen", "is not a loopback address: set http.token (GWR_HTTP_TOKEN) too, or listen on 127.0.0.1");
    }
  }

  // Several hosts (issue #18): never plaintext, never without keys.
  if (const auto& f = c.fleet(); f.role() == "hub") {
    if (f.listen().empty()) return fail("fleet.listen", "a hub needs it: where nodes connect, like tcp://0.0.0.0:7690");
    if (!starts_with(f.listen(), "tcp://") || f.listen().rfind(':') <= 6) {
      return fail("fleet.listen", "must be tcp://ADDRESS:PORT, like tcp://0.0.0.0:7690");
    }
    if (f.secret_key().empty()) {
      return fail("fleet.secret_key", "a hub listens only with CURVE keys: set its secret key file (gwrctl fleet keygen --out DIR --name hub)");
    }
    if (f.authorized_keys().empty()) {
      return fail("fleet.authorized_keys", "a hub listens only with CURVE keys: set the directory that holds its nodes' NODE.pub files");
    }
  } else if (f.role() == "node") {
    if (!starts_with(f.hub(), "tcp://") || f.hub().rfind(':') <= 6) {
      return fail("fleet.hub", "a node needs its hub's endpoint, tcp://HOST:PORT, like tcp://hub.lan:7690");
    }
    if (f.secret_key().empty()) return fail("fleet.secret_key", "a node needs its own secret key file (gwrctl fleet keygen --out DIR --name NODE)");
    if (f.hub_public_key().empty()) return fail("fleet.hub_public_key", "a node needs the hub's public key file (the hub's NAME.pub)");
    if (!c.telegram().bot_token().empty()) {
      return fail("telegram.bot_token", "must be empty on a node: the hub's bot speaks for it, and one bot token can be polled by one process only");
    }
  }

  // ipc:// endpoints live in the runtime dir; sun_path holds 107 bytes.
  if (c.paths().runtime_dir().size() > 80) return fail("paths.runtime_dir", "must be at most 80 characters (socket path limit)");

  const auto& s = c.supervisor();
  if (s.heartbeat_timeout() < 2 * s.heartbeat_interval()) {
    return fail("supervisor.heartbeat_timeout", "must be at least twice supervisor.heartbeat_interval");
  }
  if (s.restart_max() < s.restart_initial()) return fail("supervisor.restart_max", "must be at least supervisor.restart_initial");
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
  for (const auto& k : config_schema()) out.push_back(k.key);
  return out;
}

bool is_config_key(const std::string& key) { return key_info(key) != nullptr; }

bool is_runtime_settable(const std::string& key) {
  const auto* k = key_info(key);
  return k != nullptr && k->runtime_settable;
}

bool is_secret_key(const std::string& key) {
  const auto* k = key_info(key);
  return k != nullptr && k->secret;
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
      // A declared default is no secret ("auto" would be redacted from every log line).
      const bool is_default = f->options().HasExtension(pb::key) && f->options().GetExtension(pb::key).default_() == v;
      if (!v.empty() && !is_default) out.push_back(v);
    }
  }
}

}  // namespace

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

namespace config_detail {

std::optional<std::string> set_scalar(Message& msg, const FieldDescriptor* f, const std::string& raw) {
  return set_scalar_from_text(msg, f, raw);
}
std::string scalar_text(const Message& msg, const FieldDescriptor* f, int index) { return scalar_to_text(msg, f, index); }
std::string leaf_text(const Message& msg, const FieldDescriptor* f, bool reveal) { return leaf_to_text(msg, f, reveal); }
std::optional<ConfigError> apply_env(pb::Config& config, const KeyInfo& k, const std::string& value,
                                     const ConfigOrigin& origin, std::map<std::string, ConfigOrigin>& origins) {
  return apply_env_value(config, k, value, origin, origins);
}
void expand_homes(pb::Config& c, const EnvMap& env) { expand_home_paths(c, home_dir(env)); }

}  // namespace config_detail

}  // namespace gwr
