#include "telegram-bridge/html_text.h"

#include <cstdint>
#include <vector>

#include "common/text.h"

namespace gwr::telegram {

namespace {

constexpr std::string_view kCutMarker = "\n… (truncated)";


size_t units_of(size_t sequence_len) { return sequence_len == 4 ? 2 : 1; }

}  // namespace

size_t utf16_units(std::string_view utf8) {
  size_t units = 0;
  for (size_t i = 0; i < utf8.size();) {
    const size_t len = utf8_sequence_length(utf8, i);
    if (len == 0) {
      ++units;
      ++i;
      continue;
    }
    units += units_of(len);
    i += len;
  }
  return units;
}

std::string clip(std::string_view text, size_t max_units) {
  const std::string clean = printable_utf8(text);
  if (utf16_units(clean) <= max_units) return clean;
  if (max_units == 0) return std::string();
  const size_t budget = max_units - 1;  // room for the ellipsis
  size_t units = 0;
  size_t i = 0;
  while (i < clean.size()) {
    const size_t len = utf8_sequence_length(clean, i);
    if (units + units_of(len) > budget) break;
    units += units_of(len);
    i += len;
  }
  return clean.substr(0, i) + "…";
}

std::string fit_html(std::string_view html, size_t max_units) {
  if (utf16_units(html) <= max_units) return std::string(html);
  // Walk the text, remembering the last point that is outside a tag and an
  // entity and which tags are open there; stop once the budget is spent.
  struct Cut {
    size_t pos = 0;
    std::vector<std::string> open;
  };
  const size_t marker_units = utf16_units(kCutMarker);
  std::vector<std::string> open;
  Cut best;
  size_t units = 0;
  size_t i = 0;
  auto closing_units = [](const std::vector<std::string>& tags) {
    size_t n = 0;
    for (const auto& t : tags) n += t.size() + 3;  // "</" + name + ">"
    return n;
  };
  while (i < html.size()) {
    if (units + marker_units + closing_units(open) <= max_units) best = {i, open};
    const char c = html[i];
    if (c == '<') {
      const size_t end = html.find('>', i);
      if (end == std::string_view::npos) break;
      const std::string_view tag = html.substr(i + 1, end - i - 1);
      if (!tag.empty() && tag[0] == '/') {
        if (!open.empty()) open.pop_back();
      } else {
        const size_t name_end = tag.find_first_of(" \t\n");
        open.emplace_back(tag.substr(0, name_end));
      }
      units += end + 1 - i;
      i = end + 1;
      continue;
    }
    if (c == '&') {
      const size_t end = html.find(';', i);
      const size_t len = end == std::string_view::npos ? 1 : end + 1 - i;
      units += len;
      i += len;
      continue;
    }
    size_t len = utf8_sequence_length(html, i);
    if (len == 0) len = 1;
    units += units_of(len);
    i += len;
    if (units + marker_units + closing_units(open) > max_units + 64) break;  // far past any usable cut
  }
  std::string out(html.substr(0, best.pos));
  // Do not leave a dangling half line: cut back to the last newline when close.
  const size_t nl = out.rfind('\n');
  if (nl != std::string::npos && out.size() - nl < 200) {
    // Only when no tag opened after that newline.
    const size_t lt = out.find('<', nl);
    if (lt == std::string::npos) out.resize(nl);
  }
  out += kCutMarker;
  for (auto it = best.open.rbegin(); it != best.open.rend(); ++it) out += "</" + *it + ">";
  return out;
}

}  // namespace gwr::telegram
