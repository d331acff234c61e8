// Pure checks the Bot API applies to message text before it sends anything:
// UTF-8 validity, entity parsing per parse_mode, and the visible length.
// No I/O, so the fake server and its self-test share one implementation.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gwr::testing::telegram_text {

// The result of parsing a text with a parse_mode.
struct Parsed {
  bool ok = true;
  std::string error;    // what Telegram puts after "Bad Request: can't parse entities: "
  std::string visible;  // the text a chat shows: markup removed, entities decoded
};

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
bool is_valid_utf8(std::string_view s);

// Unicode code points in well-formed UTF-8.
size_t code_points(std::string_view s);

// UTF-16 code units, the unit Telegram uses for entity offsets and lengths.
size_t utf16_units(std::string_view s);

// Leading and trailing ASCII whitespace removed, as Telegram trims message text.
std::string trim(std::string_view s);

// The canonical spelling of a parse_mode ("", "HTML", "MarkdownV2", "Markdown"),
// matched case-insensitively; "?" when Telegram would not know it.
std::string normalize_parse_mode(std::string_view mode);

// Telegram's HTML subset: b strong i em u ins s strike del a code pre span(tg-spoiler)
// tg-spoiler tg-emoji blockquote; entities &lt; &gt; &amp; &quot; and &#N; / &#xH;.
// A '<' or '&' that starts no tag or entity is an error.
Parsed parse_html(std::string_view s);

// MarkdownV2: *bold* _italic_ __underline__ ~strike~ ||spoiler|| `code` ```pre```
// [text](url) and '>' quotes at a line start; every other reserved character
// (_*[]()~`>#+-=|{}.!) must be escaped with '\' outside code.
Parsed parse_markdown_v2(std::string_view s);

// Legacy Markdown: *bold* _italic_ `code` ```pre``` [text](url); an entity that is
// never closed is an error.
Parsed parse_markdown(std::string_view s);

// Dispatches on a normalized parse_mode; "" is plain text.
Parsed parse(std::string_view text, std::string_view normalized_mode);

}  // namespace gwr::testing::telegram_text
