// Telegram Update JSON -> what the bot should act on. Anything malformed,
// oversized, addressed to another bot or simply not a command comes back as
// kIgnored with the reason; nothing here throws, whatever the JSON holds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace gwr::telegram {

// Only this much of a message text is looked at (Telegram's own limit).
inline constexpr size_t kMaxTextBytes = 4096;
inline constexpr size_t kMaxArgsBytes = 1024;
inline constexpr size_t kMaxCallbackDataBytes = 64;

struct ParsedUpdate {
  enum class Kind {
    kIgnored,   // nothing to do (reason says why)
    kCommand,   // a /command in a message
    kCallback,  // an inline button press
  };
  Kind kind = Kind::kIgnored;
  bool has_update_id = false;
  int64_t update_id = 0;
  std::string reason;        // kIgnored: why

  int64_t chat_id = 0;
  std::string chat_type;     // "private", "group", "supergroup", ...
  int64_t user_id = 0;
  std::string username;      // sender's @username ("" when none), bounded
  int64_t message_id = 0;    // the command message, or the bot message under the button
  int64_t message_date = 0;  // unix seconds of that message (0 when absent)

  std::string command;       // kCommand: lower-case name without '/' or @bot ("status")
  std::string args;          // kCommand: the rest of the text, trimmed and bounded

  std::string callback_id;   // kCallback: what answerCallbackQuery names
  std::string callback_data; // kCallback: the button's token ("repair", "pause", ...)
};

// bot_username: this bot's @username from getMe (without '@'); "/cmd@Other"
// is ignored, "/cmd@ThisBot" and plain "/cmd" are taken.
ParsedUpdate parse_update(const nlohmann::json& update, std::string_view bot_username);

// The leading "/name[@bot]" of a text: name lower-cased, bot as written;
// false when the text does not start with a well-formed command.
bool split_command(std::string_view text, std::string& name, std::string& bot, std::string& rest);

}  // namespace gwr::telegram
