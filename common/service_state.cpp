#include "common/service_state.h"

#include <algorithm>
#include <map>

#include "common/strings.h"

namespace gwr {

namespace {

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "openclaw", "openclaw@latest", "openclaw@2026.9.6" (not "openclaw-foo").
bool names_openclaw(const std::string& word) {
  if (word == "openclaw") return true;
  return word.rfind("openclaw@", 0) == 0;
}

}  // namespace

ServiceState parse_systemctl_show(const std::string& output, const std::string& manager) {
  std::map<std::string, std::string> kv;
  for (const auto& line : split_lines(output)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    kv[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  ServiceState s;
  s.manager = manager;
  const std::string load = kv["LoadState"], active = kv["ActiveState"], sub = kv["SubState"], result = kv["Result"];
  if (active.empty() || load == "not-found" || load.empty()) return s;  // no such unit: ask someone else
  s.detail = active + (sub.empty() ? "" : " (" + sub + ")") + (result.empty() ? "" : ", result " + result);
  if (active == "active" || active == "reloading") {
    s.verdict = ServiceState::Verdict::kRunning;
  } else if (active == "deactivating") {
    s.verdict = ServiceState::Verdict::kStopping;
  } else if (active == "activating") {
    s.verdict = ServiceState::Verdict::kRestarting;
  } else if (active == "failed") {
    s.verdict = ServiceState::Verdict::kFailed;
  } else if (active == "inactive") {
    // A stop job that went well leaves Result=success; a crash with no
    // restart leaves exit-code, signal, core-dump, watchdog, ...
    s.verdict = result == "success" ? ServiceState::Verdict::kStopped : ServiceState::Verdict::kFailed;
  }
  return s;
}

ServiceState parse_launchctl_print(int exit_code, const std::string& output) {
  ServiceState s;
  s.manager = "launchd";
  if (exit_code == 113 || output.find("Could not find service") != std::string::npos) {
    s.verdict = ServiceState::Verdict::kStopped;
    s.detail = "not loaded";
    return s;
  }
  if (exit_code != 0) return s;
  for (const auto& raw : split_lines(output)) {
    const std::string line = trim(raw);
    if (line.rfind("state = ", 0) != 0) continue;
    const std::string state = line.substr(8);
    s.detail = "loaded, " + state;
    s.verdict = state == "running" ? ServiceState::Verdict::kRunning : ServiceState::Verdict::kRestarting;
    return s;
  }
  return s;
}

std::optional<std::string> upgrade_command(const std::vector<std::string>& argv) {
  if (argv.empty()) return std::nullopt;
  // A script under its interpreter ("node /usr/local/bin/openclaw update",
  // "node /usr/lib/node_modules/npm/bin/npm-cli.js i -g openclaw",
  // "/bin/sh ./openclaw update"): the script is the tool.
  size_t first = 0;
  std::string tool = base_name(argv[0]);
  static const std::vector<std::string> interpreters = {"node", "nodejs", "sh", "bash", "dash", "zsh"};
  if (std::find(interpreters.begin(), interpreters.end(), tool) != interpreters.end() || tool.rfind("node", 0) == 0) {
    size_t i = 1;
    while (i < argv.size() && !argv[i].empty() && argv[i][0] == '-') ++i;  // the interpreter's own flags
    if (i >= argv.size()) return std::nullopt;
    first = i;
    tool = base_name(argv[i]);
    for (const char* pm : {"npm", "pnpm", "yarn"}) {
      const std::string p = pm;
      if (argv[i].find("/" + p + "/") != std::string::npos || tool.rfind(p + "-cli", 0) == 0 || tool == p + ".js" ||
          tool == p + ".cjs") {
        tool = p;
        break;
      }
    }
  }
  std::vector<std::string> rest(argv.begin() + static_cast<std::ptrdiff_t>(first) + 1, argv.end());
  const auto has_openclaw = std::any_of(rest.begin(), rest.end(), names_openclaw);
  const std::string verb = rest.empty() ? "" : rest.front();
  const std::string shown = tool + (verb.empty() ? "" : " " + verb) + " openclaw";
  if (tool == "openclaw" || tool == "openclaw.mjs") {
    if (verb == "update") return std::string("openclaw update");
    return std::nullopt;
  }
  if (tool == "npm" || tool == "pnpm" || tool == "yarn" || tool == "bun") {
    static const std::vector<std::string> verbs = {"i", "install", "add", "update", "up", "upgrade",
                                                   "uninstall", "remove", "rm", "un", "ci", "link"};
    // The verb may come after global flags ("npm -g install openclaw").
    for (const auto& w : rest) {
      if ((!w.empty() && w[0] == '-') || w == "global") continue;  // flags; `yarn global add`
      if (std::find(verbs.begin(), verbs.end(), w) != verbs.end() && has_openclaw) return tool + " " + w + " openclaw";
      break;
    }
    return std::nullopt;
  }
  if (tool == "brew") {
    if ((verb == "upgrade" || verb == "reinstall" || verb == "install" || verb == "uninstall") && has_openclaw) return shown;
    // `brew upgrade` with no formula named upgrades every one, openclaw too.
    if (verb == "upgrade" && std::all_of(rest.begin() + 1, rest.end(), [](const std::string& w) { return !w.empty() && w[0] == '-'; })) {
      return std::string("brew upgrade (every formula)");
    }
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace gwr
