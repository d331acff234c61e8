// Small text helpers every process uses (ASCII rules: config keys, commands
// and model output are compared byte-wise, never by locale).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace gwr {

// Without leading and trailing ASCII whitespace.
std::string trim(std::string_view text);
// ASCII letters in lower case; other bytes as they are.
std::string to_lower(std::string_view text);
// Bytes as mebibytes for people: megabytes_text(891289600, 1) -> "850.0 MB".
std::string megabytes_text(uint64_t bytes, int decimals);
// A growth rate in whole mebibytes per hour, signed: "+220 MB/h", "-15 MB/h".
std::string megabytes_per_hour_text(double bytes_per_hour);

}  // namespace gwr
