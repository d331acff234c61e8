#include "common/openclaw_config.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "common/strings.h"

namespace gwr {

namespace {

bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '$'; }
bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$'; }

void append_escaped(std::string& out, char c) {
  switch (c) {
    case '"': out += "\\\""; break;
    case '\n': out += "\\n"; break;
    case '\t': out += "\\t"; break;
    case '\r': out += "\\r"; break;
    default: out += c;
  }
}

}  // namespace

Result<nlohmann::json> parse_json5(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  int line = 1;
  // Where the last significant output ends, to drop a trailing comma.
  auto drop_trailing_comma = [&] {
    size_t i = out.size();
    while (i > 0 && std::isspace(static_cast<unsigned char>(out[i - 1]))) --i;
    if (i > 0 && out[i - 1] == ',') out.erase(i - 1, 1);
  };
  for (size_t i = 0; i < in.size();) {
    const char c = in[i];
    if (c == '\n') ++line;
    if (c == '/' && i + 1 < in.size() && in[i + 1] == '/') {
      while (i < in.size() && in[i] != '\n') ++i;
      continue;
    }
    if (c == '/' && i + 1 < in.size() && in[i + 1] == '*') {
      const size_t end = in.find("*/", i + 2);
      if (end == std::string::npos) return make_error("line " + std::to_string(line) + ": unterminated /* comment");
      for (size_t j = i; j < end; ++j) line += in[j] == '\n';
      i = end + 2;
      out += ' ';
      continue;
    }
    if (c == '"' || c == '\'') {
      // A string: copied as a JSON string (double quotes), escapes kept.
      out += '"';
      size_t j = i + 1;
      bool closed = false;
      while (j < in.size()) {
        const char d = in[j];
        if (d == '\\' && j + 1 < in.size()) {
          if (in[j + 1] == '\n') {  // a line continuation
            ++line;
            j += 2;
            continue;
          }
          if (in[j + 1] == '\'') {
            out += '\'';
          } else {
            out += d;
            out += in[j + 1];
          }
          j += 2;
          continue;
        }
        if (d == c) {
          closed = true;
          break;
        }
        if (d == '\n') return make_error("line " + std::to_string(line) + ": a string runs past the end of its line");
        append_escaped(out, d);
        ++j;
      }
      if (!closed) return make_error("line " + std::to_string(line) + ": unterminated string");
      out += '"';
      i = j + 1;
      continue;
    }
    if (c == '}' || c == ']') {
      drop_trailing_comma();
      out += c;
      ++i;
      continue;
    }
    if (ident_start(c)) {
      size_t j = i;
      while (j < in.size() && ident_char(in[j])) ++j;
      const std::string word = in.substr(i, j - i);
      size_t k = j;
      while (k < in.size() && (in[k] == ' ' || in[k] == '\t')) ++k;
      if (k < in.size() && in[k] == ':' && word != "true" && word != "false" && word != "null") {
        out += '"' + word + '"';  // an unquoted key
      } else if (word == "Infinity" || word == "NaN") {
        return make_error("line " + std::to_string(line) + ": " + word + " has no JSON form");
      } else {
        out += word;
      }
      i = j;
      continue;
    }
    if ((c == '0') && i + 1 < in.size() && (in[i + 1] == 'x' || in[i + 1] == 'X')) {
      size_t j = i + 2;
      while (j < in.size() && std::isxdigit(static_cast<unsigned char>(in[j]))) ++j;
      out += std::to_string(std::stoll(in.substr(i + 2, j - i - 2), nullptr, 16));
      i = j;
      continue;
    }
    if (c == '+' && i + 1 < in.size() && (std::isdigit(static_cast<unsigned char>(in[i + 1])) || in[i + 1] == '.')) {
      ++i;  // JSON has no leading +
      continue;
    }
    out += c;
    ++i;
  }
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded()) return make_error("not JSON5 that gwr can read (after comments, trailing commas and unquoted keys)");
  return j;
}

std::string openclaw_config_path(const std::map<std::string, std::string>& env, const std::string& state_dir) {
  if (auto it = env.find("OPENCLAW_CONFIG_PATH"); it != env.end() && !it->second.empty()) return it->second;
  if (auto it = env.find("OPENCLAW_STATE_DIR"); it != env.end() && !it->second.empty()) return it->second + "/openclaw.json";
  return state_dir + "/openclaw.json";
}

std::vector<DiscoveredGateway> discover_gateways(const std::string& home, const std::string& state_dir,
                                                 const std::string& config) {
  namespace fs = std::filesystem;
  std::vector<DiscoveredGateway> out;
  auto add = [&](const std::string& profile, const std::string& dir, const std::string& file) {
    DiscoveredGateway g;
    g.profile = profile;
    g.state_dir = dir;
    g.config = file;
    std::error_code ec;
    if (!fs::is_regular_file(g.config, ec)) return false;
    std::ifstream in(g.config);
    std::stringstream ss;
    ss << in.rdbuf();
    auto j = parse_json5(ss.str().substr(0, 4 << 20));
    if (!j) {
      g.error = j.message();
    } else if (j->is_object() && j->contains("gateway") && (*j)["gateway"].is_object()) {
      const auto& port = (*j)["gateway"]["port"];
      if (port.is_number_integer() && port.get<int64_t>() > 0 && port.get<int64_t>() < 65536) g.port = port.get<uint32_t>();
    }
    out.push_back(std::move(g));
    return true;
  };
  add("", state_dir, config);
  std::error_code ec;
  std::vector<std::pair<std::string, std::string>> profiles;
  for (const auto& e : fs::directory_iterator(home, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(".openclaw-", 0) != 0 || name.size() <= 10 || !e.is_directory(ec)) continue;
    if (e.path().string() == state_dir) continue;
    profiles.emplace_back(name.substr(10), e.path().string());
  }
  std::sort(profiles.begin(), profiles.end());
  for (const auto& [profile, dir] : profiles) add(profile, dir, dir + "/openclaw.json");
  return out;
}

std::vector<ConfiguredToken> telegram_tokens(const nlohmann::json& config,
                                             const std::function<std::optional<std::string>(const std::string&)>& read_file) {
  std::vector<ConfiguredToken> out;
  if (!config.is_object() || !config.contains("channels") || !config["channels"].is_object()) return out;
  const auto& channels = config["channels"];
  if (!channels.contains("telegram") || !channels["telegram"].is_object()) return out;
  auto from = [&](const nlohmann::json& surface, const std::string& at) {
    if (auto it = surface.find("botToken"); it != surface.end() && it->is_string() && !it->get<std::string>().empty()) {
      out.push_back({trim(it->get<std::string>()), at + ".botToken"});
    }
    if (auto it = surface.find("tokenFile"); it != surface.end() && it->is_string() && !it->get<std::string>().empty()) {
      const std::string path = it->get<std::string>();
      if (auto content = read_file(path)) out.push_back({trim(*content), at + ".tokenFile (" + path + ")"});
    }
  };
  const auto& tg = channels["telegram"];
  from(tg, "channels.telegram");
  if (auto acc = tg.find("accounts"); acc != tg.end() && acc->is_object()) {
    for (auto it = acc->begin(); it != acc->end(); ++it) {
      if (it.value().is_object()) from(it.value(), "channels.telegram.accounts." + it.key());
    }
  }
  return out;
}

namespace {

// FNV-1a over the token: what is compared, so that no token is ever held
// beside another in the clear (a name for it, not a protection of it).
uint64_t token_hash(const std::string& token) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : token) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

std::string token_fingerprint(const std::string& token) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%012llx", static_cast<unsigned long long>(token_hash(token) >> 16));
  return buf;
}

std::optional<std::string> bot_token_clash(const std::string& gwr_token, const std::string& path, std::string* note) {
  if (gwr_token.empty()) return std::nullopt;
  std::ifstream in(path);
  if (!in) {
    if (note) *note = "OpenClaw's config " + path + " cannot be read: gwr's bot token was not compared with its channels'";
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto parsed = parse_json5(ss.str());
  if (!parsed) {
    if (note) *note = "OpenClaw's config " + path + ": " + parsed.message() + "; gwr's bot token was not compared";
    return std::nullopt;
  }
  const auto read = [](const std::string& file) -> std::optional<std::string> {
    std::ifstream f(file);
    if (!f) return std::nullopt;
    std::stringstream s;
    s << f.rdbuf();
    return s.str().substr(0, 4096);
  };
  const uint64_t mine = token_hash(trim(gwr_token));
  for (const auto& t : telegram_tokens(*parsed, read)) {
    if (token_hash(t.token) != mine) continue;
    return "telegram.bot_token is the bot of OpenClaw's own Telegram channel (" + t.where + " in " + path +
           "; token fingerprint " + token_fingerprint(t.token) +
           "): two programs polling one bot make Telegram answer one of them 409 Conflict, so either gwr hears "
           "nothing or the gateway's channel breaks. Create a second bot with @BotFather for gwr.";
  }
  if (note) *note = "gwr's bot differs from the Telegram bots in OpenClaw's config " + path;
  return std::nullopt;
}

}  // namespace gwr
