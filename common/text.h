// Text that comes from outside gwr — HTTP bodies, command output, the process table,
// files and their names, AI answers, Telegram updates — as gwr's messages
// carry it. Protobuf `string` fields must hold valid UTF-8 (a message with
// one bad byte does not decode), so:
//   * bytes from outside are made valid UTF-8 where they enter (valid_utf8);
//   * every cut lands on a character boundary (utf8_prefix, utf8_suffix);
//   * a cut of text that is not redacted yet never splits a word — a run of
//     non-whitespace — so a secret in it is either kept whole (and redacted
//     after) or dropped whole (head_words, tail_words). Text that is already
//     redacted may be cut anywhere on a boundary (clip_end, clip_middle).
// One helper for every entry point; pure functions, no I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gwr {

// U+FFFD, what an invalid byte becomes.
inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

// Length of the well-formed UTF-8 sequence starting at text[i]; 0 when the
// bytes there are not one (stray continuation, overlong form, surrogate,
// past U+10FFFF, or cut short).
size_t utf8_sequence_length(std::string_view text, size_t i);
bool is_valid_utf8(std::string_view text);

// Each byte that does not start a well-formed sequence becomes U+FFFD.
// Valid text comes back unchanged.
std::string valid_utf8(std::string_view bytes);

// valid_utf8, and control characters other than \n and \t dropped: for text
// shown to people (Telegram rejects a whole message for one such byte).
std::string printable_utf8(std::string_view bytes);

// valid_utf8 on one line: every control character (newlines and tabs
// included) becomes a space. For names and reasons taken from the outside.
std::string one_line_utf8(std::string_view bytes);

// The longest prefix (suffix) of at most max_bytes that does not end (start)
// inside a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view text, size_t max_bytes);
std::string_view utf8_suffix(std::string_view text, size_t max_bytes);

// At most max_bytes of the start (end) of text that is not redacted yet. When
// text is longer, the word the cut would split is dropped whole: the result
// ends (starts) at whitespace, or is empty when the window holds none.
std::string_view head_words(std::string_view text, size_t max_bytes);
std::string_view tail_words(std::string_view text, size_t max_bytes);

// Redacted text bounded to max_bytes (marker included) on a character
// boundary: the start kept and `marker` appended when something was cut.
std::string clip_end(std::string_view text, size_t max_bytes, std::string_view marker = "…");
// Redacted text bounded to about max_bytes: the first and last halves kept,
// a line saying how much was cut between them.
std::string clip_middle(std::string_view text, size_t max_bytes);

// Text for HTML (Telegram's parse mode, gwr-web's page): printable_utf8(),
// then &, <, > and " as entities (every attribute written double-quoted).
std::string html_escape(std::string_view text);

// A YAML double-quoted scalar: quotes and backslashes escaped (callers keep
// newlines and control characters out).
std::string yaml_double_quoted(std::string_view text);

}  // namespace gwr
