#include "tests/fakes/telegram/telegram_text.h"

#include <cstdint>
#include <vector>

namespace gwr::testing::telegram_text {
namespace {

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

Parsed failure(std::string error) {
  Parsed p;
  p.ok = false;
  p.error = std::move(error);
  return p;
}

std::string reserved(char c) {
  return std::string("Character '") + c + "' is reserved and must be escaped with the preceding '\\'";
}

bool is_supported_html_tag(const std::string& name) {
  static const char* const kTags[] = {"b",   "strong", "i",    "em",         "u",          "ins",
                                      "s",   "strike", "del",  "a",          "code",       "pre",
                                      "span", "tg-spoiler", "tg-emoji", "blockquote"};
  for (const char* tag : kTags) {
    if (name == tag) return true;
  }
  return false;
}

// Decodes the entity at s[at] == '&'; returns the bytes consumed, 0 when it is none.
size_t decode_html_entity(std::string_view s, size_t at, std::string& out) {
  size_t j = at + 1;
  if (j < s.size() && s[j] == '#') {
    ++j;
    const bool hex = j < s.size() && (s[j] == 'x' || s[j] == 'X');
    if (hex) ++j;
    const size_t digits_begin = j;
    uint32_t cp = 0;
    while (j < s.size() && j - digits_begin < 8) {
      const char c = s[j];
      uint32_t d;
      if (c >= '0' && c <= '9') d = static_cast<uint32_t>(c - '0');
      else if (hex && c >= 'a' && c <= 'f') d = static_cast<uint32_t>(c - 'a' + 10);
      else if (hex && c >= 'A' && c <= 'F') d = static_cast<uint32_t>(c - 'A' + 10);
      else break;
      cp = cp * (hex ? 16 : 10) + d;
      ++j;
    }
    if (j == digits_begin || j >= s.size() || s[j] != ';') return 0;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    append_utf8(out, cp);
    return j + 1 - at;
  }
  const size_t name_begin = j;
  while (j < s.size() && is_ascii_alnum(s[j])) ++j;
  if (j >= s.size() || s[j] != ';') return 0;
  const std::string_view name = s.substr(name_begin, j - name_begin);
  if (name == "lt") out += '<';
  else if (name == "gt") out += '>';
  else if (name == "amp") out += '&';
  else if (name == "quot") out += '"';
  else return 0;
  return j + 1 - at;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t extra;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static const uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

size_t code_points(std::string_view s) {
  size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

size_t utf16_units(std::string_view s) {
  size_t n = 0;
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if ((b & 0xC0) == 0x80) continue;
    n += (b & 0xF8) == 0xF0 ? 2 : 1;  // four-byte sequences need a surrogate pair
  }
  return n;
}

std::string trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && is_ascii_space(s[b])) ++b;
  while (e > b && is_ascii_space(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

std::string normalize_parse_mode(std::string_view mode) {
  const std::string m = lower(mode);
  if (m.empty()) return "";
  if (m == "html") return "HTML";
  if (m == "markdownv2") return "MarkdownV2";
  if (m == "markdown") return "Markdown";
  return "?";
}

Parsed parse_html(std::string_view s) {
  Parsed out;
  std::vector<std::string> open;  // tag names, innermost last
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '&') {
      const size_t used = decode_html_entity(s, i, out.visible);
      if (used == 0) return failure("Unsupported HTML entity at byte offset " + std::to_string(i));
      i += used;
      continue;
    }
    if (c != '<') {
      out.visible += c;
      ++i;
      continue;
    }
    const size_t start = i;
    const bool closing = i + 1 < s.size() && s[i + 1] == '/';
    size_t j = i + (closing ? 2 : 1);
    const size_t name_begin = j;
    while (j < s.size() && (is_ascii_alnum(s[j]) || s[j] == '-')) ++j;
    const std::string name = lower(s.substr(name_begin, j - name_begin));
    if (name.empty()) return failure("Unexpected end of name token at byte offset " + std::to_string(j));
    if (closing) {
      while (j < s.size() && is_ascii_space(s[j])) ++j;
      if (j >= s.size() || s[j] != '>') return failure("Unclosed end tag at byte offset " + std::to_string(start));
      if (open.empty()) return failure("Unexpected end tag at byte offset " + std::to_string(start));
      if (open.back() != name) {
        return failure("Unmatched end tag at byte offset " + std::to_string(start) + ", expected \"</" + open.back() +
                       ">\", found \"</" + name + ">\"");
      }
      open.pop_back();
      i = j + 1;
      continue;
    }
    if (!is_supported_html_tag(name)) {
      return failure("Unsupported start tag \"" + name + "\" at byte offset " + std::to_string(start));
    }
    std::string span_class;
    bool closed = false;
    while (j < s.size()) {
      while (j < s.size() && is_ascii_space(s[j])) ++j;
      if (j >= s.size()) break;
      if (s[j] == '>') {
        closed = true;
        ++j;
        break;
      }
      const size_t attr_begin = j;
      while (j < s.size() && (is_ascii_alnum(s[j]) || s[j] == '-' || s[j] == '_')) ++j;
      if (j == attr_begin) {
        return failure("Unexpected character in the tag \"" + name + "\" at byte offset " + std::to_string(j));
      }
      const std::string attr = lower(s.substr(attr_begin, j - attr_begin));
      std::string value;
      while (j < s.size() && is_ascii_space(s[j])) ++j;
      if (j < s.size() && s[j] == '=') {
        ++j;
        while (j < s.size() && is_ascii_space(s[j])) ++j;
        if (j < s.size() && (s[j] == '"' || s[j] == '\'')) {
          const char quote = s[j];
          const size_t end = s.find(quote, j + 1);
          if (end == std::string_view::npos) break;
          value = std::string(s.substr(j + 1, end - j - 1));
          j = end + 1;
        } else {
          const size_t value_begin = j;
          while (j < s.size() && !is_ascii_space(s[j]) && s[j] != '>') ++j;
          value = std::string(s.substr(value_begin, j - value_begin));
        }
      }
      if (attr == "class") span_class = value;
    }
    if (!closed) return failure("Unclosed start tag at byte offset " + std::to_string(start));
    if (name == "span" && span_class != "tg-spoiler") {
      return failure("Tag \"span\" must have class \"tg-spoiler\" at byte offset " + std::to_string(start));
    }
    open.push_back(name);
    i = j;
  }
  if (!open.empty()) return failure("Can't find end tag corresponding to start tag \"" + open.back() + "\"");
  return out;
}

Parsed parse_markdown_v2(std::string_view s) {
  struct Open {
    std::string marker;
    size_t offset;
  };
  auto entity_name = [](const std::string& marker) -> std::string {
    if (marker == "*") return "Bold";
    if (marker == "_") return "Italic";
    if (marker == "__") return "Underline";
    if (marker == "~") return "Strikethrough";
    if (marker == "||") return "Spoiler";
    if (marker == "![") return "CustomEmoji";
    return "TextUrl";
  };
  Parsed out;
  std::vector<Open> open;
  std::string error;
  // Opens an entity, or closes it when it is the innermost; closing an outer one first is an error.
  auto toggle = [&](const std::string& marker, size_t at) {
    if (!open.empty() && open.back().marker == marker) {
      open.pop_back();
      return true;
    }
    for (const Open& o : open) {
      if (o.marker == marker) {
        error = "Can't find end of " + entity_name(open.back().marker) + " entity at byte offset " +
                std::to_string(open.back().offset);
        return false;
      }
    }
    open.push_back({marker, at});
    return true;
  };

  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    switch (c) {
      case '\\': {
        if (i + 1 >= s.size() || static_cast<unsigned char>(s[i + 1]) > 126 || s[i + 1] == '\0') {
          return failure(reserved('\\'));
        }
        out.visible += s[i + 1];
        i += 2;
        break;
      }
      case '`': {
        const bool pre = s.substr(i, 3) == "```";
        const size_t fence = pre ? 3 : 1;
        size_t j = i + fence;
        std::string content;
        bool closed = false;
        while (j < s.size()) {
          if (s[j] == '\\' && j + 1 < s.size() && (s[j + 1] == '`' || s[j + 1] == '\\')) {
            content += s[j + 1];
            j += 2;
            continue;
          }
          if (pre ? s.substr(j, 3) == "```" : s[j] == '`') {
            closed = true;
            break;
          }
          content += s[j];
          ++j;
        }
        if (!closed) {
          return failure(std::string("Can't find end of ") + (pre ? "Pre" : "Code") + " entity at byte offset " +
                         std::to_string(i));
        }
        if (pre) {  // an opening line without spaces names the language and is not shown
          const size_t nl = content.find('\n');
          if (nl != std::string::npos && content.substr(0, nl).find(' ') == std::string::npos) content.erase(0, nl + 1);
        }
        out.visible += content;
        i = j + fence;
        break;
      }
      case '*':
      case '~':
        if (!toggle(std::string(1, c), i)) return failure(error);
        ++i;
        break;
      case '_':
        if (i + 1 < s.size() && s[i + 1] == '_') {
          if (!toggle("__", i)) return failure(error);
          i += 2;
        } else {
          if (!toggle("_", i)) return failure(error);
          ++i;
        }
        break;
      case '|':
        if (i + 1 >= s.size() || s[i + 1] != '|') return failure(reserved('|'));
        if (!toggle("||", i)) return failure(error);
        i += 2;
        break;
      case '[':
        open.push_back({"[", i});
        ++i;
        break;
      case '!':
        if (i + 1 >= s.size() || s[i + 1] != '[') return failure(reserved('!'));
        open.push_back({"![", i});
        i += 2;
        break;
      case ']': {
        if (open.empty() || (open.back().marker != "[" && open.back().marker != "![")) return failure(reserved(']'));
        if (i + 1 >= s.size() || s[i + 1] != '(') {
          return failure("Can't find end of " + entity_name(open.back().marker) + " entity at byte offset " +
                         std::to_string(open.back().offset));
        }
        size_t j = i + 2;
        bool closed = false;
        while (j < s.size()) {
          if (s[j] == '\\' && j + 1 < s.size()) {
            j += 2;
            continue;
          }
          if (s[j] == ')') {
            closed = true;
            break;
          }
          ++j;
        }
        if (!closed) return failure("Can't find end of a URL at byte offset " + std::to_string(i + 2));
        open.pop_back();
        i = j + 1;
        break;
      }
      case '>':
        if (i != 0 && s[i - 1] != '\n') return failure(reserved('>'));
        ++i;  // a block quotation line
        break;
      case '(':
      case ')':
      case '#':
      case '+':
      case '-':
      case '=':
      case '{':
      case '}':
      case '.':
        return failure(reserved(c));
      default:
        out.visible += c;
        ++i;
    }
  }
  if (!open.empty()) {
    return failure("Can't find end of " + entity_name(open.back().marker) + " entity at byte offset " +
                   std::to_string(open.back().offset));
  }
  return out;
}

Parsed parse_markdown(std::string_view s) {
  Parsed out;
  auto unclosed = [](size_t at) { return failure("Can't find end of the entity starting at byte offset " + std::to_string(at)); };
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '\\' && i + 1 < s.size() && (s[i + 1] == '_' || s[i + 1] == '*' || s[i + 1] == '`' || s[i + 1] == '[')) {
      out.visible += s[i + 1];
      i += 2;
    } else if (c == '*' || c == '_') {
      const size_t end = s.find(c, i + 1);
      if (end == std::string_view::npos) return unclosed(i);
      out.visible += s.substr(i + 1, end - i - 1);
      i = end + 1;
    } else if (c == '`') {
      const bool pre = s.substr(i, 3) == "```";
      const size_t fence = pre ? 3 : 1;
      const size_t end = s.find(pre ? "```" : "`", i + fence);
      if (end == std::string_view::npos) return unclosed(i);
      std::string content(s.substr(i + fence, end - i - fence));
      if (pre) {
        const size_t nl = content.find('\n');
        if (nl != std::string::npos && content.substr(0, nl).find(' ') == std::string::npos) content.erase(0, nl + 1);
      }
      out.visible += content;
      i = end + fence;
    } else if (c == '[') {
      const size_t close = s.find(']', i + 1);
      if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != '(') return unclosed(i);
      const size_t url_end = s.find(')', close + 2);
      if (url_end == std::string_view::npos) return unclosed(i);
      out.visible += s.substr(i + 1, close - i - 1);
      i = url_end + 1;
    } else {
      out.visible += c;
      ++i;
    }
  }
  return out;
}

Parsed parse(std::string_view text, std::string_view normalized_mode) {
  if (normalized_mode == "HTML") return parse_html(text);
  if (normalized_mode == "MarkdownV2") return parse_markdown_v2(text);
  if (normalized_mode == "Markdown") return parse_markdown(text);
  Parsed plain;
  plain.visible = std::string(text);
  return plain;
}

}  // namespace gwr::testing::telegram_text
