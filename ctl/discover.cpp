#include "ctl/discover.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/strings.h"
#include "common/text.h"

namespace gwr::ctl {

namespace {

std::string get(const std::map<std::string, std::string>& env, const std::string& key) {
  auto it = env.find(key);
  return it == env.end() ? std::string() : it->second;
}

// A path that can stand in a YAML double-quoted scalar as it is: valid UTF-8,
// no control characters (a directory name can hold a newline; it would end
// the scalar and start a key of its own).
bool plain_path(const std::string& p) {
  if (p.empty() || one_line_utf8(p) != p) return false;
  for (unsigned char c : p) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// Text from the file system, safe in a one-line YAML comment.
std::string comment_text(const std::string& s) { return clip_end(one_line_utf8(s), 200); }

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str().substr(0, 256 * 1024);
}

// Words of a systemd command line or assignment list: blanks separate, double
// or single quotes group.
std::vector<std::string> unit_words(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  char quote = 0;
  bool any = false;
  for (char c : s) {
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else {
        cur += c;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
      any = true;
    } else if (c == ' ' || c == '\t') {
      if (any || !cur.empty()) out.push_back(cur);
      cur.clear();
      any = false;
    } else {
      cur += c;
    }
  }
  if (any || !cur.empty()) out.push_back(cur);
  return out;
}

// OpenClaw's user unit and its drop-ins (later files override earlier ones).
UnitPorts unit_ports(const std::string& home) {
  namespace fs = std::filesystem;
  UnitPorts out;
  if (home.empty()) return out;
  std::error_code ec;
  for (const std::string& dir : {home + "/.config/systemd/user", home + "/.local/share/systemd/user"}) {
    const std::string unit = dir + "/openclaw-gateway.service";
    if (!fs::is_regular_file(unit, ec)) continue;
    std::vector<std::string> files = {unit};
    std::vector<std::string> dropins;
    for (const auto& e : fs::directory_iterator(unit + ".d", ec)) {
      if (e.path().extension() == ".conf") dropins.push_back(e.path().string());
    }
    std::sort(dropins.begin(), dropins.end());
    files.insert(files.end(), dropins.begin(), dropins.end());
    for (const auto& f : files) {
      const UnitPorts p = parse_unit_ports(read_text(f));
      if (p.exec_start) out.flag = p.flag;
      if (p.env) out.env = p.env;
    }
    break;  // the first directory with the unit is the one systemd uses
  }
  return out;
}

}  // namespace

UnitPorts parse_unit_ports(const std::string& unit_text) {
  UnitPorts out;
  std::istringstream in(unit_text);
  std::string line;
  while (std::getline(in, line)) {
    const std::string t = line.substr(0, line.find_last_not_of(" \t\r") + 1);
    const size_t eq = t.find('=');
    if (eq == std::string::npos) continue;
    std::string key = t.substr(0, eq);
    key.erase(0, key.find_first_not_of(" \t"));
    key.erase(key.find_last_not_of(" \t") + 1);
    const std::string value = t.substr(eq + 1);
    if (key == "ExecStart") {
      out.exec_start = true;
      out.flag = 0;  // the last ExecStart= is the one that runs
      const auto words = unit_words(value);
      for (size_t i = 0; i < words.size(); ++i) {
        if (words[i] == "--port" && i + 1 < words.size()) {
          if (const auto p = parse_port(words[i + 1])) out.flag = *p;
        } else if (words[i].rfind("--port=", 0) == 0) {
          if (const auto p = parse_port(words[i].substr(7))) out.flag = *p;
        }
      }
    } else if (key == "Environment") {
      for (const auto& w : unit_words(value)) {
        if (w.rfind("OPENCLAW_GATEWAY_PORT=", 0) == 0) {
          if (const auto p = parse_port(w.substr(22))) out.env = *p;
        }
      }
    }
  }
  return out;
}

Discovery discover(const std::map<std::string, std::string>& env) {
  namespace fs = std::filesystem;
  Discovery d;
  const std::string home = get(env, "HOME");
  std::error_code ec;
  if (const auto dir = get(env, "OPENCLAW_STATE_DIR"); !dir.empty()) {
    d.state_dir = dir;
  } else if (home.empty()) {
    d.notes.push_back("HOME is not set, so OpenClaw's state dir is unknown: set gateway.state_dir");
  } else {
    d.state_dir = home + "/.openclaw";
    // The name OpenClaw had before (it still reads it when the new one is absent).
    if (!fs::exists(d.state_dir, ec) && fs::is_directory(home + "/.clawdbot", ec)) d.state_dir = home + "/.clawdbot";
  }
  d.config = openclaw_config_path(env, d.state_dir);
  auto found = d.state_dir.empty() && get(env, "OPENCLAW_CONFIG_PATH").empty()
                   ? std::vector<DiscoveredGateway>{}
                   : discover_gateways(home.empty() ? std::string("/nonexistent") : home, d.state_dir, d.config);
  uint32_t config_port = 0;
  if (!found.empty() && found.front().profile.empty() && found.front().config == d.config) {
    d.config_found = true;
    d.config_error = found.front().error;
    config_port = found.front().port;
    found.erase(found.begin());
  }
  d.others = std::move(found);
  if (!d.config_found && !d.config.empty()) {
    d.notes.push_back("no OpenClaw config at " + d.config +
                      " (is OpenClaw installed for this user?): gateway.port stays 18789; set it if the gateway uses another");
  } else if (!d.config_error.empty()) {
    d.notes.push_back(d.config + " could not be read (" + d.config_error + "): check gateway.port");
  }
  const std::string env_port = get(env, "OPENCLAW_GATEWAY_PORT");
  const UnitPorts unit = unit_ports(home);
  if (unit.flag != 0) {
    d.port = unit.flag;
    d.port_source = "--port in openclaw-gateway.service";
  } else if (unit.env != 0) {
    d.port = unit.env;
    d.port_source = "OPENCLAW_GATEWAY_PORT in openclaw-gateway.service";
  } else if (const auto p = parse_port(env_port)) {
    d.port = *p;
    d.port_source = "OPENCLAW_GATEWAY_PORT";
  } else {
    if (!env_port.empty()) d.notes.push_back("OPENCLAW_GATEWAY_PORT=\"" + comment_text(env_port) + "\" is not a port; ignored");
    if (config_port != 0) {
      d.port = config_port;
      d.port_source = "gateway.port in " + d.config;
    } else {
      d.port_source = "OpenClaw's default";
    }
  }
  if (!d.state_dir.empty() && !plain_path(d.state_dir)) {
    d.notes.push_back("the state dir's name has control characters or is not UTF-8: set gateway.state_dir by hand");
  }
  return d;
}

std::string discovery_yaml(const Discovery& d) {
  std::ostringstream out;
  out << "gateway:\n";
  out << "  # " << comment_text(d.port_source == "OpenClaw's default" ? "OpenClaw's default port"
                                                                      : "from " + d.port_source)
      << "; a gateway started with --port P listens on P instead: set it here\n";
  out << "  port: " << d.port << "\n";
  if (plain_path(d.state_dir)) out << "  state_dir: " << yaml_double_quoted(d.state_dir) << "\n";
  if (!d.others.empty()) {
    out << "  # Other OpenClaw gateways on this host (gwr watches the one above; another\n"
           "  # gwr with its own config, or the gateways: list once it exists, for them):\n";
    for (const auto& g : d.others) {
      out << "  #   " << comment_text(g.profile) << ": port " << (g.port ? g.port : 18789) << ", state_dir "
          << comment_text(g.state_dir) << (g.error.empty() ? "" : " (config unreadable: " + comment_text(g.error) + ")")
          << "\n";
    }
  }
  for (const auto& n : d.notes) out << "  # Not found: " << comment_text(n) << "\n";
  return out.str();
}

nlohmann::json discovery_json(const Discovery& d) {
  auto others = nlohmann::json::array();
  auto notes = nlohmann::json::array();
  for (const auto& n : d.notes) notes.push_back(valid_utf8(n));
  for (const auto& g : d.others) {
    others.push_back({{"profile", valid_utf8(g.profile)},
                      {"state_dir", valid_utf8(g.state_dir)},
                      {"config", valid_utf8(g.config)},
                      {"port", g.port ? g.port : 18789},
                      {"error", g.error.empty() ? nlohmann::json() : nlohmann::json(valid_utf8(g.error))}});
  }
  return {{"config", valid_utf8(d.config)},
          {"config_found", d.config_found},
          {"config_error", d.config_error.empty() ? nlohmann::json() : nlohmann::json(valid_utf8(d.config_error))},
          {"state_dir", valid_utf8(d.state_dir)},
          {"port", d.port},
          {"port_source", valid_utf8(d.port_source)},
          {"others", others},
          {"notes", notes}};
}

}  // namespace gwr::ctl
