#include "telegram-bridge/update_parser.h"

#include <cctype>

#include "common/strings.h"
#include "common/text.h"
#include "telegram-bridge/html_text.h"

namespace gwr::telegram {

namespace {

using json = nlohmann::json;

const json* member(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  const auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

// An integer member; Telegram ids are JSON integers (never strings).
bool int_member(const json& j, const char* key, int64_t& out) {
  const json* v = member(j, key);
  if (!v) return false;
  if (v->is_number_integer()) {
    out = v->get<int64_t>();
    return true;
  }
  if (v->is_number_unsigned()) {
    const auto u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return false;
    out = static_cast<int64_t>(u);
    return true;
  }
  return false;
}

const std::string* string_member(const json& j, const char* key) {
  const json* v = member(j, key);
  return v && v->is_string() ? &v->get_ref<const std::string&>() : nullptr;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Sender, chat and message fields shared by messages and callbacks.
bool read_sender(const json& from, ParsedUpdate& out, std::string& why) {
  if (!from.is_object()) {
    why = "no sender";
    return false;
  }
  if (!int_member(from, "id", out.user_id)) {
    why = "sender has no numeric id";
    return false;
  }
  if (const auto* u = string_member(from, "username")) out.username = clip(*u, 64);
  return true;
}

bool read_chat(const json& message, ParsedUpdate& out, std::string& why) {
  const json* chat = member(message, "chat");
  if (!chat || !chat->is_object() || !int_member(*chat, "id", out.chat_id)) {
    why = "message has no chat id";
    return false;
  }
  if (const auto* t = string_member(*chat, "type")) out.chat_type = clip(*t, 32);
  if (!int_member(message, "message_id", out.message_id)) {
    why = "message has no message_id";
    return false;
  }
  (void)int_member(message, "date", out.message_date);
  return true;
}

ParsedUpdate ignored(ParsedUpdate out, std::string why) {
  out.kind = ParsedUpdate::Kind::kIgnored;
  out.reason = std::move(why);
  return out;
}

}  // namespace

bool split_command(std::string_view text, std::string& name, std::string& bot, std::string& rest) {
  if (text.empty() || text[0] != '/') return false;
  size_t i = 1;
  while (i < text.size() && is_word_char(text[i])) ++i;
  const size_t name_len = i - 1;
  if (name_len == 0 || name_len > 32) return false;
  name.assign(text.substr(1, name_len));
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  bot.clear();
  if (i < text.size() && text[i] == '@') {
    const size_t start = ++i;
    while (i < text.size() && is_word_char(text[i])) ++i;
    if (i == start || i - start > 64) return false;
    bot.assign(text.substr(start, i - start));
  }
  if (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) return false;  // "/status!" is no command
  rest = trim(text.substr(i));
  return true;
}

ParsedUpdate parse_update(const json& update, std::string_view bot_username) {
  ParsedUpdate out;
  try {
    if (!update.is_object()) return ignored(out, "update is not a JSON object");
    if (int_member(update, "update_id", out.update_id) && out.update_id >= 0) {
      out.has_update_id = true;
    } else {
      return ignored(out, "update has no valid update_id");
    }
    std::string why;
    if (const json* message = member(update, "message")) {
      if (!message->is_object()) return ignored(out, "message is not an object");
      if (!read_chat(*message, out, why)) return ignored(out, why);
      const json* from = member(*message, "from");
      if (!from || !read_sender(*from, out, why)) return ignored(out, from ? why : "message has no sender");
      // A forwarded message is someone else's words, and one posted "as a
      // chat" (a channel, an anonymous admin) has no person behind it that
      // could be checked: neither ever commands.
      for (const char* key : {"forward_origin", "forward_from", "forward_from_chat", "forward_sender_name",
                              "forward_date", "is_automatic_forward"}) {
        if (member(*message, key)) return ignored(out, "a forwarded message");
      }
      if (member(*message, "sender_chat")) return ignored(out, "sent on behalf of a chat, not by a person");
      const auto* text = string_member(*message, "text");
      if (!text) return ignored(out, "not a text message");
      const std::string_view head = utf8_prefix(*text, kMaxTextBytes);
      std::string name, bot, rest;
      if (!split_command(head, name, bot, rest)) return ignored(out, "not a command");
      if (!bot.empty() && !iequals(bot, bot_username)) return ignored(out, "addressed to another bot");
      out.kind = ParsedUpdate::Kind::kCommand;
      out.command = name;
      out.args = std::string(utf8_prefix(rest, kMaxArgsBytes));
      return out;
    }
    if (const json* query = member(update, "callback_query")) {
      if (!query->is_object()) return ignored(out, "callback_query is not an object");
      const auto* id = string_member(*query, "id");
      if (!id || id->empty() || id->size() > 128) return ignored(out, "callback_query has no valid id");
      const json* from = member(*query, "from");
      if (!from || !read_sender(*from, out, why)) return ignored(out, from ? why : "callback_query has no sender");
      const json* message = member(*query, "message");
      if (!message || !message->is_object()) return ignored(out, "callback_query has no message");
      if (!read_chat(*message, out, why)) return ignored(out, why);
      const auto* data = string_member(*query, "data");
      if (!data || data->empty()) return ignored(out, "callback_query has no data");
      if (data->size() > kMaxCallbackDataBytes) return ignored(out, "callback data too long");
      out.kind = ParsedUpdate::Kind::kCallback;
      out.callback_id = *id;
      out.callback_data = *data;
      return out;
    }
    for (const char* other : {"edited_message", "channel_post", "edited_channel_post", "inline_query",
                              "my_chat_member", "chat_member", "message_reaction"}) {
      if (member(update, other)) return ignored(out, std::string("unhandled update type ") + other);
    }
    return ignored(out, "unknown update type");
  } catch (const std::exception& e) {
    // nlohmann throws only on misuse; a guard so that a surprise is a skip, not a crash.
    return ignored(out, std::string("unreadable update: ") + e.what());
  }
}

}  // namespace gwr::telegram
