// Small text helpers every process uses (ASCII rules: config keys, commands
// and model output are compared byte-wise, never by locale).
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace gwr {

// The whole of text as a decimal number of type T (a leading '-' only for
// signed T); nullopt for anything else: empty, other characters, overflow.
template <class T>
std::optional<T> parse_decimal(std::string_view text) {
  T v{};
  const char* e = text.data() + text.size();
  const auto r = std::from_chars(text.data(), e, v);
  if (text.empty() || r.ec != std::errc() || r.ptr != e) return std::nullopt;
  return v;
}
// A TCP port, 1-65535, written in decimal.
std::optional<uint16_t> parse_port(std::string_view text);
// An address to listen on: "127.0.0.1:9477", "[::1]:9477", "localhost:9477"
// -> host and port (http.listen). The error says what is wrong.
struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};
Result<ListenAddress> parse_listen(const std::string& text);
// The lines of text, split at '\n', without the '\n' (a last line without one
// included; no empty line after a final '\n').
std::vector<std::string_view> split_lines(std::string_view text);

// Without leading and trailing ASCII whitespace.
std::string trim(std::string_view text);
// ASCII letters in lower case; other bytes as they are.
std::string to_lower(std::string_view text);
// Bytes as mebibytes for people: megabytes_text(891289600, 1) -> "850.0 MB".
std::string megabytes_text(uint64_t bytes, int decimals);
// A growth rate in whole mebibytes per hour, signed: "+220 MB/h", "-15 MB/h".
std::string megabytes_per_hour_text(double bytes_per_hour);

}  // namespace gwr
