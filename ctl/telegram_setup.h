// `gwrctl telegram setup`: a bot token in, a working Telegram set-up out.
// The token comes from TELEGRAM_BOT_TOKEN or --token-file (never argv, where
// every user of the machine could read it); getMe names the bot; the owner
// sends /start to it, and that chat and sender become telegram.chat_id and
// telegram.allowed_user_ids; a test message goes there; the .env beside the
// config is written (0600, every other line kept) and the daemon reloads.
// Issue #19.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "common/http_client.h"
#include "common/result.h"

namespace gwr::ctl {

struct SetupOptions {
  std::string token;                 // already read from the environment or the file
  std::chrono::milliseconds wait{5 * 60'000};
  std::string env_path;              // where to write (beside the config)
  std::string api_base_url;
  std::string openclaw_config;       // OpenClaw's config, to refuse the gateway's own bot
};

struct SetupResult {
  std::string bot_username;
  int64_t chat_id = 0;
  int64_t user_id = 0;
  std::string chat_title;            // a group's title, or the user's name
};

// What went wrong and what to do; config_error: the token itself is refused
// (its shape, Telegram's 401, the gateway's own bot), exit 78.
struct SetupError {
  std::string message;
  bool config_error = false;
};
using SetupOutcome = std::variant<SetupResult, SetupError>;
// Prints progress to `say`, one line at a time.
SetupOutcome telegram_setup(const SetupOptions& options, HttpClient& http, const std::function<void(const std::string&)>& say);

// One Bot API call as gwrctl makes them (setup, doctor): POST JSON, the
// answer's `result`, or what went wrong in one line. The URL holds the token:
// no error text ever contains it.
struct BotAnswer {
  nlohmann::json result;
  int status = 0;     // HTTP status (0: no answer)
  std::string error;  // empty: ok
};
BotAnswer bot_api_call(HttpClient& http, const std::string& base_url, const std::string& token, const std::string& method,
                       const nlohmann::json& params, std::chrono::milliseconds timeout);

// The first "/start" (or "/start@bot") message in a getUpdates result, and
// the offset that acknowledges everything read (pure, for tests).
struct StartSeen {
  int64_t chat_id = 0;
  int64_t user_id = 0;
  std::string chat_title;
};
std::optional<StartSeen> find_start(const nlohmann::json& updates, int64_t& next_offset);

}  // namespace gwr::ctl
