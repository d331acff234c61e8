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

Result<ListenAddress> parse_listen(const std::string& text) {
  ListenAddress out;
  std::string port;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return make_error("\"" + text + "\" is not [IPv6]:PORT");
    }
    out.host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) return make_error("\"" + text + "\" is not HOST:PORT");
    out.host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (out.host.find(':') != std::string::npos) return make_error("an IPv6 address goes in brackets: [::1]:PORT");
  }
  const auto p = parse_port(port);
  if (!p) return make_error("\"" + port + "\" is not a port (1-65535)");
  if (out.host.empty()) return make_error("no host before the port");
  for (char c : out.host) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == '/' || c == '@') return make_error("\"" + out.host + "\" is not a host");
  }
  out.port = *p;
  return out;
}

}  // namespace gwr
