// Text for Telegram's HTML parse mode: escaping, UTF-8 repair and the 4096
// limit. Everything a message shows that did not come from a literal in this
// component (reasons, log lines, config values, user names) goes through
// html_escape(), so a '<' in a gateway error can never break a message.
// Pure functions, no I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/text.h"

namespace gwr::telegram {

// Telegram's limit for a message text, in UTF-16 code units of the visible text.
inline constexpr size_t kMaxMessageUnits = 4096;

// printable_utf8() then &, <, > (and ") as entities: common/text.h's, which
// gwr-web's status page uses too.
using gwr::html_escape;

// UTF-16 code units of well-formed UTF-8 (what Telegram counts).
size_t utf16_units(std::string_view utf8);

// At most max_units UTF-16 units of plain text, cut at a code point boundary,
// ending in "…" when something was cut. For dynamic strings before escaping.
std::string clip(std::string_view text, size_t max_units);

// An HTML message that fits: when longer than max_units it is cut at a point
// outside any tag or entity, the tags still open are closed, and a marker says
// that the rest was cut. Counts the raw HTML, an upper bound of what Telegram
// counts, so the result is always accepted.
std::string fit_html(std::string_view html, size_t max_units = kMaxMessageUnits);

}  // namespace gwr::telegram
