#include "common/text.h"

#include <cstdint>

namespace gwr {

namespace {

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }
bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

}  // namespace

size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  size_t len = 0;
  uint32_t cp = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF.
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
  return len;
}

bool is_valid_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    const size_t len = utf8_sequence_length(text, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

namespace {

// Invalid bytes become U+FFFD; with printable, control characters other than
// \n and \t are dropped as well.
std::string repaired(std::string_view text, bool printable) {
  std::string out;
  out.reserve(text.size() + 8);
  for (size_t i = 0; i < text.size();) {
    const size_t len = utf8_sequence_length(text, i);
    if (len == 0) {
      out += kReplacementChar;
      ++i;
      continue;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    const bool control = len == 1 && (c < 0x20 || c == 0x7F) && c != '\n' && c != '\t';
    if (!(printable && control)) out.append(text.substr(i, len));
    i += len;
  }
  return out;
}

}  // namespace

std::string valid_utf8(std::string_view text) {
  if (is_valid_utf8(text)) return std::string(text);
  return repaired(text, false);
}

std::string printable_utf8(std::string_view text) { return repaired(text, true); }

std::string one_line_utf8(std::string_view bytes) {
  std::string out = valid_utf8(bytes);
  for (auto& c : out) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return out;
}

std::string_view utf8_prefix(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t cut = max_bytes;
  // Back over at most three continuation bytes to the start of the sequence
  // the cut falls in; that sequence is dropped whole.
  for (int k = 0; k < 3 && cut > 0 && is_continuation(text[cut]); ++k) --cut;
  return text.substr(0, cut);
}

std::string_view utf8_suffix(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t start = text.size() - max_bytes;
  for (int k = 0; k < 3 && start < text.size() && is_continuation(text[start]); ++k) ++start;
  return text.substr(start);
}

std::string_view head_words(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  const std::string_view window = utf8_prefix(text, max_bytes);
  if (is_space(text[window.size()])) return window;  // the cut falls between words
  for (size_t i = window.size(); i > 0; --i) {
    if (is_space(window[i - 1])) return window.substr(0, i);
  }
  return {};
}

std::string_view tail_words(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  const std::string_view window = utf8_suffix(text, max_bytes);
  const size_t start = text.size() - window.size();
  if (start > 0 && is_space(text[start - 1])) return window;
  for (size_t i = 0; i < window.size(); ++i) {
    if (is_space(window[i])) return window.substr(i);
  }
  return {};
}

std::string clip_end(std::string_view text, size_t max_bytes, std::string_view marker) {
  if (text.size() <= max_bytes) return std::string(text);
  if (marker.size() >= max_bytes) return std::string(utf8_prefix(text, max_bytes));
  return std::string(utf8_prefix(text, max_bytes - marker.size())) + std::string(marker);
}

std::string clip_middle(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  auto marker = [](size_t cut) { return "\n[... " + std::to_string(cut) + " bytes cut ...]\n"; };
  const size_t longest = marker(text.size()).size();  // no count is longer than the whole text's
  const size_t room = max_bytes > longest ? max_bytes - longest : 0;
  const std::string_view head = utf8_prefix(text, room / 2);
  const std::string_view tail = utf8_suffix(text, room - room / 2);
  return std::string(head) + marker(text.size() - head.size() - tail.size()) + std::string(tail);
}

std::string yaml_double_quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string html_escape(std::string_view text) {
  const std::string clean = printable_utf8(text);
  std::string out;
  out.reserve(clean.size() + clean.size() / 8);
  for (char c : clean) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c; break;
    }
  }
  return out;
}

}  // namespace gwr
