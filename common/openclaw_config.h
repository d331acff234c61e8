// What gwr reads of OpenClaw's own config (read-only, never written): the
// Telegram bot tokens its channel uses, so that gwr's bot is never the same
// bot (two pollers of one bot: Telegram answers one of them 409 Conflict,
// and either gwr hears nothing or the gateway's channel breaks). Issue #19.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace gwr {

// JSON5 as OpenClaw's openclaw.json is written: // and /* */ comments,
// trailing commas, unquoted keys, single-quoted strings, hexadecimal numbers,
// + signs; turned into JSON and parsed. An error says where (line).
Result<nlohmann::json> parse_json5(const std::string& text);

// Where OpenClaw reads its config: $OPENCLAW_CONFIG_PATH, else
// $OPENCLAW_STATE_DIR/openclaw.json, else <state_dir>/openclaw.json (gwr's
// gateway.state_dir, which defaults the same way).
std::string openclaw_config_path(const std::map<std::string, std::string>& env, const std::string& state_dir);

// A Telegram bot token the config gives the gateway, and where.
struct ConfiguredToken {
  std::string token;
  std::string where;  // "channels.telegram.botToken", "channels.telegram.accounts.ops.tokenFile (/path)"
};
// channels.telegram.{botToken,tokenFile} and accounts.<id>.{botToken,tokenFile};
// a tokenFile is read through read_file (nullopt: unreadable, skipped).
// Tokens given as secret references (objects) cannot be resolved and are skipped.
std::vector<ConfiguredToken> telegram_tokens(const nlohmann::json& config,
                                             const std::function<std::optional<std::string>(const std::string&)>& read_file);

// A gateway OpenClaw's files describe: the default one (~/.openclaw) or a
// profile's (~/.openclaw-<profile>, as `--profile rescue` makes).
struct DiscoveredGateway {
  std::string profile;    // "" for the default one
  std::string state_dir;
  std::string config;     // its openclaw.json
  uint32_t port = 0;      // gateway.port; 0 = not set (the default, 18789)
  std::string error;      // its config could not be read (why)
};
// The default gateway (state_dir, its config at `config`: openclaw_config_path())
// and every ~/.openclaw-<profile>/ that has an openclaw.json, sorted by
// profile. Read-only.
std::vector<DiscoveredGateway> discover_gateways(const std::string& home, const std::string& state_dir,
                                                 const std::string& config);

// A short, stable fingerprint of a token for logs and messages (never the token).
std::string token_fingerprint(const std::string& token);

// gwr's telegram.bot_token against OpenClaw's config at `path`: the message
// naming the clash, or nullopt (no clash, no token, or no readable config:
// `note` then says why nothing was compared, for --check-config).
std::optional<std::string> bot_token_clash(const std::string& gwr_token, const std::string& path, std::string* note = nullptr);

}  // namespace gwr
