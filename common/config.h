// Configuration: built-in defaults, then a YAML file, then a .env file, then
// the process environment (later wins), then run-time overrides made with
// `gwrctl config set` / Telegram `/config set` (persisted under
// paths.state_dir). The YAML layout mirrors pb::Config field by field; the
// loader walks it by protobuf reflection, so a key is defined exactly once.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/result.h"
#include "gwr.pb.h"

namespace gwr {

using EnvMap = std::map<std::string, std::string>;

// A snapshot of this process's environment.
EnvMap current_environment();

// Where a value came from, so errors can point at it.
struct ConfigOrigin {
  std::string source;  // file path, "environment", "built-in defaults", ...
  int line = 0;        // 1-based; 0 when not from a file
};

struct ConfigError {
  std::string key;      // dotted config key, or the variable name
  ConfigOrigin origin;
  std::string message;
  // "gateway.port (/etc/gwr/gwr.yaml line 4): must be between 1 and 65535"
  std::string describe() const;
};

template <class T>
using ConfigResult = std::variant<T, ConfigError>;

struct LoadOptions {
  std::optional<std::string> config_path;  // --config; must exist when given
  std::optional<std::string> env_file;     // --env-file; must exist when given
  EnvMap environment;                      // the process environment
  bool apply_overrides = true;             // read run-time overrides
  // `gwrctl telegram setup` completes an unfinished telegram section: a bot
  // token without a chat id is dropped before validation instead of refused.
  bool telegram_unfinished_ok = false;
};

// One gateway gwr watches: its name and its effective config (the shared
// sections, with its own gateway: and its probes:/repair: overrides; for a
// gateway other than "main", paths.state_dir is <state_dir>/gateways/NAME).
struct GatewayEntry {
  std::string name;
  pb::Config config;
};

struct LoadedConfig {
  // The shared config: telegram, notify, paths, ... Its gateway: is that of
  // the first gateway.
  pb::Config config;
  // Every gateway, in config order: one named "main" for a gateway: section
  // (or none), else the entries of gateways:.
  std::vector<GatewayEntry> gateways;
  bool gateway_list = false;  // they came from a gateways: list
  std::string config_path;    // "" when running on built-in defaults
  std::string env_path;       // "" when no .env was read
  std::string overrides_path;
  std::vector<std::string> overridden_keys;
  std::map<std::string, ConfigOrigin> origins;  // dotted key -> where it was set
  // One line for logs and `gwrctl config`: "file /etc/gwr/gwr.yaml + env".
  std::string describe_source() const;
};

// The built-in defaults for this user and machine.
pb::Config default_config(const EnvMap& env);

// The config file a run with these options would read ("" = built-in defaults).
ConfigResult<std::string> resolve_config_path(const LoadOptions& options);

// Loads and validates everything; the error names the key and its line.
ConfigResult<LoadedConfig> load_config(const LoadOptions& options);

// The entry of that name, or nullptr.
const GatewayEntry* find_gateway(const LoadedConfig& loaded, const std::string& name);

// A config that is valid but probably not what its owner wants (for
// --check-config and the supervisor's log): each names the key and the fix.
std::vector<std::string> config_warnings(const pb::Config& config);

// Semantic checks on a complete config; origins point errors at their lines.
std::optional<ConfigError> validate_config(const pb::Config& config,
                                           const std::map<std::string, ConfigOrigin>& origins = {});

// Every leaf key, dotted, in declaration order.
std::vector<std::string> config_keys();
bool is_config_key(const std::string& key);
bool is_runtime_settable(const std::string& key);
bool is_secret_key(const std::string& key);

// A leaf's value as text ("10s", "18789", "[openclaw, gateway, restart]").
// Secrets come back masked unless reveal is set.
Result<std::string> get_config_value(const pb::Config& config, const std::string& key,
                                     bool reveal = false);

// Sets one leaf from text, as a YAML scalar would be read. Lists take
// "[a, b]" or "a,b". Does not validate the whole config.
std::optional<ConfigError> set_config_value(pb::Config& config, const std::string& key,
                                            const std::string& value, const ConfigOrigin& origin);

// The whole config as YAML, secrets masked unless reveal is set.
std::string render_config_yaml(const pb::Config& config, bool reveal = false);

// A copy with every secret masked (safe to send to gwrctl).
pb::Config masked_config(const pb::Config& config);

// The non-empty values of every secret field, for the redactor.
std::vector<std::string> config_secret_values(const pb::Config& config);
// The same for the shared config and every gateway's.
std::vector<std::string> config_secret_values(const LoadedConfig& loaded);

// Leaf keys whose values differ.
std::vector<std::string> config_diff(const pb::Config& a, const pb::Config& b);

// Run-time overrides: a small YAML map of dotted key -> value text.
std::string overrides_path_for(const pb::Config& config);
Result<std::map<std::string, std::string>> read_overrides(const std::string& path);
Status write_overrides(const std::string& path, const std::map<std::string, std::string>& values);

// probes.memory.max_rss_mb on a machine with this much RAM: a quarter of
// it, at least 256 and at most 2048 MB (0 = unknown: 2048).
uint32_t default_max_rss_mb(uint64_t ram_bytes);

}  // namespace gwr
