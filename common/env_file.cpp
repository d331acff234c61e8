#include "common/env_file.h"

#include <cctype>
#include <fstream>
#include <sstream>

#include "common/strings.h"

namespace gwr {

namespace {

bool valid_name(const std::string& n) {
  if (n.empty() || std::isdigit(static_cast<unsigned char>(n[0]))) return false;
  for (char c : n) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

}  // namespace

Result<std::vector<EnvEntry>> parse_env_text(const std::string& text, const std::string& source) {
  std::vector<EnvEntry> out;
  std::istringstream in(text);
  std::string raw;
  int lineno = 0;
  while (std::getline(in, raw)) {
    ++lineno;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    std::string line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("export ", 0) == 0) line = trim(line.substr(7));
    const auto eq = line.find('=');
    const std::string where = source + " line " + std::to_string(lineno);
    if (eq == std::string::npos) return make_error(where + ": expected NAME=VALUE");
    EnvEntry entry;
    entry.name = trim(line.substr(0, eq));
    entry.line = lineno;
    if (!valid_name(entry.name)) return make_error(where + ": invalid variable name \"" + entry.name + "\"");
    std::string rest = trim(line.substr(eq + 1));
    if (!rest.empty() && (rest[0] == '"' || rest[0] == '\'')) {
      const char q = rest[0];
      std::string value;
      size_t i = 1;
      bool closed = false;
      for (; i < rest.size(); ++i) {
        char c = rest[i];
        if (c == q) {
          closed = true;
          break;
        }
        if (q == '"' && c == '\\' && i + 1 < rest.size()) {
          char n = rest[++i];
          switch (n) {
            case 'n': value += '\n'; break;
            case 't': value += '\t'; break;
            case '"': value += '"'; break;
            case '\\': value += '\\'; break;
            default: value += '\\'; value += n;
          }
          continue;
        }
        value += c;
      }
      if (!closed) return make_error(where + ": unterminated quote in value of " + entry.name);
      const std::string after = trim(rest.substr(i + 1));
      if (!after.empty() && after[0] != '#') {
        return make_error(where + ": unexpected text after the closing quote of " + entry.name);
      }
      entry.value = value;
    } else {
      // An unquoted value ends at " #" (an inline comment).
      const auto hash = rest.find(" #");
      if (hash != std::string::npos) rest = trim(rest.substr(0, hash));
      entry.value = rest;
    }
    out.push_back(std::move(entry));
  }
  return out;
}

Result<std::vector<EnvEntry>> read_env_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) return make_error("cannot read env file " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_env_text(ss.str(), path);
}

}  // namespace gwr
