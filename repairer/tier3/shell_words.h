// A strict tokenizer for one line of an AI-written script. It accepts only a
// tiny subset of shell: words of plain printable ASCII separated by blanks,
// and `|` as a token. Everything a shell would interpret — quotes, escapes,
// variables, substitutions, redirections, separators, braces, globs other
// than `*`, comments inside a word, any non-ASCII byte — makes the line
// invalid. The line is never given to a shell; this only decides whether it
// can mean exactly one allowlisted action. Standard library only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gwr::tier3 {

struct Token {
  enum class Kind { kWord, kPipe };
  Kind kind = Kind::kWord;
  std::string text;
  bool operator==(const Token&) const = default;
};

struct Tokenized {
  bool ok = false;
  bool blank = false;          // nothing left after removing a comment
  std::vector<Token> tokens;
  std::string error;           // why the line is not acceptable
};

// Longest line considered at all.
inline constexpr size_t kMaxLineLength = 256;

// Tokenizes a script line. A comment (a `#` at the start of the line or
// after a blank) and everything after it is dropped. With allow_placeholders,
// `{name}` is allowed inside words (for allowlist patterns, not AI output).
Tokenized tokenize_line(std::string_view line, bool allow_placeholders = false);

// The line with non-printable bytes shown as \xNN, cut to max characters:
// safe to log and to show to the owner.
std::string printable(std::string_view line, size_t max = 200);

}  // namespace gwr::tier3
