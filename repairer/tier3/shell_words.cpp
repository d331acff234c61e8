#include "repairer/tier3/shell_words.h"

#include <cstdio>

namespace gwr::tier3 {

namespace {

bool word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '/' || c == ':' || c == '=' || c == '@' || c == '%' || c == '+' || c == ',' || c == '~' ||
         c == '*';
}

const char* describe_forbidden(char c) {
  switch (c) {
    case '\'':
    case '"': return "quotes are not allowed";
    case '\\': return "backslash escapes are not allowed";
    case '$': return "variables and substitutions ($) are not allowed";
    case '`': return "command substitution (`) is not allowed";
    case ';': return "command separators (;) are not allowed";
    case '&': return "background jobs and && are not allowed";
    case '<':
    case '>': return "redirections are not allowed";
    case '(':
    case ')': return "subshells and parentheses are not allowed";
    case '{':
    case '}': return "brace expansion is not allowed";
    case '!': return "history expansion and negation (!) are not allowed";
    case '?':
    case '[':
    case ']': return "glob characters other than * are not allowed";
    case '^': return "the ^ character is not allowed";
    case '#': return "# inside a word is not allowed";
    default: return "character not allowed";
  }
}

}  // namespace

std::string printable(std::string_view line, size_t max) {
  std::string out;
  for (unsigned char c : line) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
  }
  return out;
}

Tokenized tokenize_line(std::string_view line, bool allow_placeholders) {
  Tokenized out;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() > kMaxLineLength) {
    out.error = "line longer than " + std::to_string(kMaxLineLength) + " characters";
    return out;
  }
  // Strip a comment: '#' at the start or after a blank. The comment's own
  // bytes do not matter (they are never used), the code part is checked.
  size_t end = line.size();
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
      end = i;
      break;
    }
  }
  const std::string_view code = line.substr(0, end);
  std::string word;
  bool in_placeholder = false;
  auto flush = [&] {
    if (!word.empty()) out.tokens.push_back({Token::Kind::kWord, word});
    word.clear();
  };
  for (size_t i = 0; i < code.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(code[i]);
    if (c >= 0x80) {
      out.error = "non-ASCII byte at column " + std::to_string(i + 1) + " (look-alike characters are not allowed)";
      return out;
    }
    if (c < 0x20 && c != '\t') {
      out.error = "control character at column " + std::to_string(i + 1);
      return out;
    }
    if (c == 0x7f) {
      out.error = "control character at column " + std::to_string(i + 1);
      return out;
    }
    if (in_placeholder) {
      if (c == '}') {
        in_placeholder = false;
        word += '}';
      } else if ((c >= 'a' && c <= 'z') || c == '_') {
        word += static_cast<char>(c);
      } else {
        out.error = "malformed placeholder";
        return out;
      }
      continue;
    }
    if (c == ' ' || c == '\t') {
      flush();
      continue;
    }
    if (c == '|') {
      if (i + 1 < code.size() && code[i + 1] == '|') {
        out.error = "|| is not allowed";
        return out;
      }
      flush();
      out.tokens.push_back({Token::Kind::kPipe, "|"});
      continue;
    }
    if (allow_placeholders && c == '{') {
      in_placeholder = true;
      word += '{';
      continue;
    }
    if (!word_char(static_cast<char>(c))) {
      out.error = std::string(describe_forbidden(static_cast<char>(c))) + " (column " + std::to_string(i + 1) + ")";
      return out;
    }
    word += static_cast<char>(c);
  }
  if (in_placeholder) {
    out.error = "unterminated placeholder";
    return out;
  }
  flush();
  if (out.tokens.empty()) {
    out.ok = true;
    out.blank = true;
    return out;
  }
  if (out.tokens.front().kind == Token::Kind::kPipe || out.tokens.back().kind == Token::Kind::kPipe) {
    out.error = "a pipe needs a command on both sides";
    out.tokens.clear();
    return out;
  }
  for (size_t i = 1; i < out.tokens.size(); ++i) {
    if (out.tokens[i].kind == Token::Kind::kPipe && out.tokens[i - 1].kind == Token::Kind::kPipe) {
      out.error = "empty pipeline stage";
      out.tokens.clear();
      return out;
    }
  }
  out.ok = true;
  return out;
}

}  // namespace gwr::tier3
