// .env files (PRD §6.2): KEY=VALUE lines, "export " prefix allowed, '#'
// comments, single quotes literal, double quotes with \n \t \" \\ escapes.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace gwr {

struct EnvEntry {
  std::string name;
  std::string value;
  int line = 0;
};

// Parses .env text; the error names the line.
Result<std::vector<EnvEntry>> parse_env_text(const std::string& text, const std::string& source);
// Reads and parses a .env file; a missing file is an error (callers decide).
Result<std::vector<EnvEntry>> read_env_file(const std::string& path);

// `text` (a .env file, or "") with each NAME=VALUE of `values` set: the line
// that set NAME replaced in place (an `export ` kept), others appended; every
// other line (comments, blank lines, other names) kept as it was. Values are
// written single-quoted unless plain (letters, digits, _ - . : , + / @).
std::string set_env_values(const std::string& text, const std::vector<std::pair<std::string, std::string>>& values);

}  // namespace gwr
