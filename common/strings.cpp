#include "common/strings.h"

#include <cctype>
#include <cstdio>

namespace gwr {

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
