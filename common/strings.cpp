#include "common/strings.h"

#include <cctype>
#include <cstdio>

namespace gwr {

std::optional<uint16_t> parse_port(std::string_view text) {
  const auto v = parse_decimal<unsigned>(text);
  if (!v || *v == 0 || *v > 65535) return std::nullopt;
  return static_cast<uint16_t>(*v);
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
  }
  return out;
}

std::string trim(std::string_view text) {
  size_t b = 0;
  size_t e = text.size();
  while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
  return std::string(text.substr(b, e - b));
}

std::string to_lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string megabytes_text(uint64_t bytes, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f MB", decimals, static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

std::string megabytes_per_hour_text(double bytes_per_hour) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%+.0f MB/h", bytes_per_hour / (1024.0 * 1024.0));
  return buf;
}

}  // namespace gwr
