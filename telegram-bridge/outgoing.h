// A message the bot wants to send or an edit it wants to make, as the cores
// produce it and the outbox stores it. The outbox resolves incident threads
// to message ids at send time, so a core never needs to know them.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace gwr::telegram {

struct Outgoing {
  enum class Kind {
    kSend,  // sendMessage
    kEdit,  // editMessageText
  };
  Kind kind = Kind::kSend;
  std::string incident;            // the thread ("repair:12"); "" = none
  bool opens_incident = false;     // kSend: this message is the thread's first
  bool reply_to_incident = false;  // kSend: a reply to the thread's first message
  int64_t reply_to = 0;            // kSend: a reply to this message (a user's command)
  int64_t edit_message_id = 0;     // kEdit: this message; 0 = the thread's first
  std::string text;                // HTML, at most 4096 units (fit_html)
  nlohmann::json keyboard;         // InlineKeyboardMarkup; null = none
  bool silent = false;             // disable_notification

  // The Bot API method this becomes.
  const char* method() const { return kind == Kind::kEdit ? "editMessageText" : "sendMessage"; }
};

inline Outgoing make_message(std::string text, nlohmann::json keyboard = nullptr) {
  Outgoing o;
  o.text = std::move(text);
  o.keyboard = std::move(keyboard);
  return o;
}

}  // namespace gwr::telegram
