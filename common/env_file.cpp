#include "common/env_file.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <string_view>

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

namespace {

std::string env_quoted(const std::string& v) {
  const bool plain = !v.empty() && std::all_of(v.begin(), v.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("_-.:,+/@").find(c) != std::string_view::npos;
  });
  if (plain) return v;
  if (v.find('\'') == std::string::npos && v.find('\n') == std::string::npos) return "'" + v + "'";
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c == '\n' ? std::string("\\n") : std::string(1, c);
  }
  return out + "\"";
}

}  // namespace

std::string set_env_values(const std::string& text, const std::vector<std::pair<std::string, std::string>>& values) {
  std::vector<std::string> lines;
  {
    std::istringstream in(text);
    std::string l;
    while (std::getline(in, l)) lines.push_back(l);
  }
  std::vector<bool> done(values.size(), false);
  for (auto& l : lines) {
    std::string t = trim(l);
    const bool exported = t.rfind("export ", 0) == 0;
    if (exported) t = trim(t.substr(7));
    const auto eq = t.find('=');
    if (t.empty() || t[0] == '#' || eq == std::string::npos) continue;
    const std::string name = trim(t.substr(0, eq));
    for (size_t i = 0; i < values.size(); ++i) {
      if (values[i].first != name) continue;
      l = (exported ? "export " : "") + name + "=" + env_quoted(values[i].second);
      done[i] = true;
    }
  }
  for (size_t i = 0; i < values.size(); ++i) {
    if (!done[i]) lines.push_back(values[i].first + "=" + env_quoted(values[i].second));
  }
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

}  // namespace gwr
