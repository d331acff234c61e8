#include "ctl/doctor.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "common/fleet_keys.h"
#include "common/openclaw_config.h"
#include "common/platform/proc.h"
#include "common/strings.h"
#include "common/text.h"
#include "ctl/telegram_setup.h"

namespace gwr::ctl {

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

DoctorCheck pass(std::string name, std::string detail) { return {std::move(name), true, false, std::move(detail), ""}; }
DoctorCheck fail(std::string name, std::string detail, std::string fix) {
  return {std::move(name), false, false, std::move(detail), std::move(fix)};
}
DoctorCheck skip(std::string name, std::string why) { return {std::move(name), true, true, std::move(why), ""}; }

// An executable named by argv[0]: a path, or found on PATH.
std::optional<std::string> find_executable(const std::string& name, const EnvMap& env) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? std::optional(name) : std::nullopt;
  const auto it = env.find("PATH");
  const std::string path = it != env.end() ? it->second : "/usr/local/bin:/usr/bin:/bin";
  std::string dir;
  for (const char c : path + ":") {
    if (c != ':') {
      dir += c;
      continue;
    }
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    dir.clear();
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

CommandResult run(CommandRunner& commands, std::vector<std::string> argv) {
  CommandSpec spec;
  spec.argv = std::move(argv);
  spec.timeout = 5s;
  spec.max_output = 8 * 1024;
  return commands.run(spec);
}

bool on_macos() {
  struct utsname u {};
  return ::uname(&u) == 0 && std::string(u.sysname) == "Darwin";
}

DoctorCheck gateway_check(const pb::Config& c, HttpClient& http) {
  const auto port = static_cast<uint16_t>(c.gateway().port());
  const auto pids = listening_pids(port);
  if (pids.empty()) {
    return fail("gateway", "nothing listens on " + c.gateway().host() + ":" + std::to_string(port),
                "start the gateway (openclaw gateway start), or set gateway.port to the port it uses");
  }
  std::string who = "pid " + std::to_string(pids.front());
  if (auto p = read_proc(pids.front())) who += " (" + p->comm_text() + ")";
  if (!process_matches(read_proc(pids.front()).value_or(ProcInfo{}), c.gateway().process_match())) {
    return fail("gateway", who + " listens on port " + std::to_string(port) + ", and it is not " + c.gateway().process_match(),
                "set gateway.port to your gateway's port, or gateway.process_match to its process name");
  }
  HttpRequest req;
  req.url = "http://" + c.gateway().host() + ":" + std::to_string(port) + c.gateway().health_path();
  req.timeout = 3s;
  const auto r = http.send(req);
  if (!r.completed() || r.status != 200) {
    return fail("gateway", who + " on port " + std::to_string(port) + ": GET " + c.gateway().health_path() + " -> " +
                               (r.completed() ? "HTTP " + std::to_string(r.status) : r.error),
                "see `gwrctl status` and the gateway's log");
  }
  return pass("gateway", who + " on port " + std::to_string(port) + " answers " + c.gateway().health_path());
}

DoctorCheck commands_check(const pb::Config& c, const EnvMap& env) {
  std::vector<std::string> missing;
  std::string found;
  for (const auto* argv : {&c.gateway().commands().restart(), &c.gateway().commands().stop(), &c.gateway().commands().start()}) {
    if (argv->empty()) continue;
    if (auto at = find_executable(argv->Get(0), env)) {
      if (found.empty()) found = *at;
    } else if (std::find(missing.begin(), missing.end(), argv->Get(0)) == missing.end()) {
      missing.push_back(argv->Get(0));
    }
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    return fail("gateway commands", list + " not found on PATH for uid " + std::to_string(::getuid()),
                "install OpenClaw for this user (npm i -g openclaw), or set gateway.commands.* to full paths");
  }
  return pass("gateway commands", found);
}

DoctorCheck service_check(CommandRunner& commands, const EnvMap& env) {
  if (on_macos()) {
    const auto r = run(commands, {"launchctl", "print", "gui/" + std::to_string(::getuid()) + "/ai.openclaw.gwr"});
    if (r.success()) return pass("service", "launchd: ai.openclaw.gwr is loaded");
    return fail("service", "launchd: ai.openclaw.gwr is not loaded", "gwr-service install");
  }
  const auto user = run(commands, {"systemctl", "--user", "is-enabled", "gwr.service"});
  const auto system = run(commands, {"systemctl", "--system", "is-enabled", "gwr.service"});
  const bool user_unit = user.success(), system_unit = system.success();
  if (!user_unit && !system_unit) {
    if (!user.started) return fail("service", "no systemctl here", "run gwr under your service manager (gwr-service install)");
    return fail("service", "no gwr.service (user or system): " + clip_end(one_line_utf8(user.output), 120),
                "gwr-service install, then systemctl --user enable --now gwr");
  }
  if (system_unit) return pass("service", "systemd system unit gwr.service is enabled");
  // A user unit runs only while the user is logged in, unless lingering.
  const auto it = env.find("USER");
  const auto linger = run(commands, {"loginctl", "show-user", it != env.end() ? it->second : std::to_string(::getuid()),
                                     "-p", "Linger", "--value"});
  if (trim(linger.output) != "yes") {
    return fail("service", "systemd user unit gwr.service is enabled, but this user does not linger",
                "loginctl enable-linger " + (it != env.end() ? it->second : std::string("$USER")));
  }
  return pass("service", "systemd user unit gwr.service is enabled; the user lingers");
}

DoctorCheck dir_check(const std::string& what, const std::string& dir, bool must_be_private) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    return fail(what, dir + " does not exist", "it is created when gwr starts; check the parent directory's permissions");
  }
  if (st.st_uid != ::geteuid()) {
    return fail(what, dir + " belongs to uid " + std::to_string(st.st_uid), "chown it to the user gwr runs as");
  }
  const bool shared = must_be_private ? (st.st_mode & 077) != 0 : (st.st_mode & 022) != 0;
  if (shared) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", st.st_mode & 0777);
    return fail(what, dir + " has mode " + mode, std::string("chmod ") + (must_be_private ? "700 " : "go-w ") + dir);
  }
  return pass(what, dir);
}

DoctorCheck disk_check(const std::string& dir) {
  struct statvfs v {};
  if (::statvfs(dir.c_str(), &v) != 0) return fail("disk", "cannot look at " + dir, "check that it exists");
  const double free_mb = static_cast<double>(v.f_bavail) * static_cast<double>(v.f_frsize) / (1024.0 * 1024.0);
  if (free_mb < 100) {
    return fail("disk", std::to_string(static_cast<int>(free_mb)) + " MB free for " + dir,
                "free space: gwr stops automatic repairs when it cannot save its state");
  }
  return pass("disk", std::to_string(static_cast<int64_t>(free_mb)) + " MB free for " + dir);
}

std::vector<DoctorCheck> telegram_checks(const pb::Config& c, const EnvMap& env, bool offline, HttpClient& http) {
  std::vector<DoctorCheck> out;
  const auto& t = c.telegram();
  if (t.bot_token().empty()) {
    out.push_back(fail("telegram", "no bot token: nothing reaches you on Telegram",
                       "create a bot with @BotFather, then gwrctl telegram setup"));
    return out;
  }
  const std::string openclaw = openclaw_config_path(env, c.gateway().state_dir());
  std::string note;
  if (auto clash = bot_token_clash(t.bot_token(), openclaw, &note)) {
    out.push_back(fail("telegram bot", *clash, "create a second bot with @BotFather, then gwrctl telegram setup"));
  } else if (note.find("not compared") != std::string::npos) {
    out.push_back(skip("telegram bot", note));  // nothing to compare with: not a pass
  } else {
    out.push_back(pass("telegram bot", note));
  }
  if (offline) {
    out.push_back(skip("telegram token", "--offline"));
    return out;
  }
  auto call = [&](const std::string& method, const nlohmann::json& params) {
    auto a = bot_api_call(http, t.api_base_url(), t.bot_token(), method, params, 10s);
    return std::make_pair(a.result, a.error);
  };
  const auto [me, me_error] = call("getMe", nlohmann::json::object());
  if (!me_error.empty()) {
    out.push_back(fail("telegram token", "getMe: " + me_error, "copy the token again from @BotFather: gwrctl telegram setup"));
    return out;
  }
  out.push_back(pass("telegram token", "@" + clip_end(one_line_utf8(me.value("username", std::string("?"))), 64)));
  if (t.chat_id() == 0) {
    out.push_back(fail("telegram chat", "telegram.chat_id is not set", "gwrctl telegram setup, then send /start to the bot"));
    return out;
  }
  const auto [chat, chat_error] = call("getChat", {{"chat_id", t.chat_id()}});
  if (!chat_error.empty()) {
    out.push_back(fail("telegram chat", "chat " + std::to_string(t.chat_id()) + ": " + chat_error,
                       "send /start to the bot from that chat (or add it to the group), or run gwrctl telegram setup"));
  } else {
    out.push_back(pass("telegram chat", "chat " + std::to_string(t.chat_id()) + " (" +
                                            clip_end(one_line_utf8(chat.value("type", std::string("?"))), 20) + ")"));
  }
  return out;
}

DoctorCheck tier3_check(const pb::Config& c, const EnvMap& env, bool offline, HttpClient& http, CommandRunner& commands) {
  const auto& t3 = c.repair().tier3();
  if (!t3.enabled()) return skip("tier 3", "repair.tier3.enabled is false");
  if (t3.engine() == "qwen-cli") {
    const std::string cli = t3.command().empty() ? "" : t3.command(0);
    const auto at = find_executable(cli, env);
    if (!at) return fail("tier 3", cli + " not found on PATH", "npm i -g @qwen-code/qwen-code, or set repair.tier3.enabled: false");
    if (offline) return pass("tier 3", "qwen CLI at " + *at + " (not run: --offline)");
    const auto v = run(commands, {*at, "--version"});
    if (!v.success()) return fail("tier 3", *at + " --version: " + v.describe(), "reinstall the Qwen Code CLI");
    return pass("tier 3", "qwen CLI " + clip_end(one_line_utf8(trim(v.output)), 60));
  }
  if (t3.api_key().empty()) return fail("tier 3", "engine openai without a key", "set QWEN_API_KEY in the .env");
  if (offline) return skip("tier 3", "key not tried: --offline");
  HttpRequest req;
  req.url = t3.base_url() + "/models";
  req.headers = {"Authorization: Bearer " + t3.api_key()};
  req.timeout = 10s;
  req.use_proxy = true;
  const auto r = http.send(req);
  if (!r.completed()) return fail("tier 3", t3.base_url() + ": " + r.error, "check the network, or repair.tier3.base_url");
  if (r.status == 401 || r.status == 403) return fail("tier 3", "the key was refused (HTTP " + std::to_string(r.status) + ")", "set a valid QWEN_API_KEY");
  if (r.status != 200) return fail("tier 3", t3.base_url() + "/models -> HTTP " + std::to_string(r.status), "check repair.tier3.base_url");
  return pass("tier 3", "the key is accepted by " + t3.base_url());
}

// What OpenClaw's own files say: is gwr watching the port its config names,
// and which other gateways (profiles) live on this machine.
DoctorCheck discovery_check(const pb::Config& c, const EnvMap& env) {
  const auto home_it = env.find("HOME");
  const std::string home = home_it != env.end() ? home_it->second : "/";
  const std::string config = openclaw_config_path(env, c.gateway().state_dir());
  const auto found = discover_gateways(home, c.gateway().state_dir(), config);
  if (found.empty() || found.front().profile != "") {
    return fail("openclaw config", "no OpenClaw config at " + config,
                "set gateway.state_dir to OpenClaw's state dir (OPENCLAW_STATE_DIR, else ~/.openclaw), or "
                "OPENCLAW_CONFIG_PATH in gwr's environment");
  }
  const auto& mine = found.front();
  if (!mine.error.empty()) return fail("openclaw config", mine.config + ": " + mine.error, "fix OpenClaw's config (openclaw doctor)");
  const uint32_t port = mine.port ? mine.port : 18789;
  std::string others;
  for (size_t i = 1; i < found.size(); ++i) {
    others += (others.empty() ? "" : ", ") + found[i].profile + " (port " +
              (found[i].port ? std::to_string(found[i].port) : std::string("18789")) + ", " + found[i].state_dir + ")";
  }
  const std::string also = others.empty() ? "" : "; other gateways here: " + others + " (gwr watches one: gateway.port)";
  if (port != c.gateway().port()) {
    return fail("openclaw config", mine.config + " says gateway.port " + std::to_string(port) + ", gwr watches " +
                                       std::to_string(c.gateway().port()) + also,
                "set gateway.port: " + std::to_string(port) + " (unless the gateway is started with --port or "
                "OPENCLAW_GATEWAY_PORT, which win)");
  }
  return pass("openclaw config", mine.config + ": port " + std::to_string(port) + also);
}

}  // namespace

std::vector<DoctorCheck> run_doctor(const DoctorInputs& in, HttpClient& http, CommandRunner& commands) {
  std::vector<DoctorCheck> out;
  if (!in.config) {
    out.push_back(fail("config", in.config_error, "fix that key (gwr-supervisor --check-config says the same)"));
    return out;
  }
  const auto& c = in.config->config;
  out.push_back(pass("config", in.config->describe_source()));
  out.push_back(in.daemon_reachable ? pass("daemon", "gwr is running")
                                    : fail("daemon", "not reachable: " + in.daemon_error, "systemctl --user start gwr (or gwr-supervisor)"));
  out.push_back(discovery_check(c, in.environment));
  // Several gateways: each one's gateway and commands, named.
  const auto& gateways = in.config->gateways;
  if (gateways.size() > 1) {
    for (const auto& g : gateways) {
      for (auto check : {gateway_check(g.config, http), commands_check(g.config, in.environment)}) {
        check.name += " " + g.name;
        out.push_back(std::move(check));
      }
    }
  } else {
    out.push_back(gateway_check(gateways.empty() ? c : gateways.front().config, http));
    out.push_back(commands_check(gateways.empty() ? c : gateways.front().config, in.environment));
  }
  out.push_back(service_check(commands, in.environment));
  out.push_back(dir_check("runtime dir", c.paths().runtime_dir(), true));
  out.push_back(dir_check("state dir", c.paths().state_dir(), true));
  out.push_back(dir_check("log dir", c.paths().log_dir(), false));
  for (auto& t : telegram_checks(c, in.environment, in.offline, http)) out.push_back(std::move(t));
  out.push_back(tier3_check(c, in.environment, in.offline, http, commands));
  if (const auto& f = c.fleet(); f.role() == "hub" || f.role() == "node") {
    const std::string bad = fleet::check_fleet_keys(f.role(), f.secret_key(), f.hub_public_key(), f.authorized_keys());
    out.push_back(bad.empty() ? pass("fleet keys", f.role() + ": the key files are there and are keys")
                              : fail("fleet keys", bad,
                                     "make keys with `gwrctl fleet keygen --out DIR --name NAME` (README, Several hosts)"));
  }
  out.push_back(disk_check(fs::exists(c.paths().state_dir()) ? c.paths().state_dir() : "/"));
  return out;
}

bool doctor_passed(const std::vector<DoctorCheck>& checks) {
  return std::all_of(checks.begin(), checks.end(), [](const DoctorCheck& c) { return c.ok; });
}

std::string doctor_text(const std::vector<DoctorCheck>& checks) {
  std::string out;
  for (const auto& c : checks) {
    out += (c.skipped ? "- " : c.ok ? "✓ " : "✗ ") + c.name + ": " + c.detail + "\n";
    if (!c.ok && !c.fix.empty()) out += "    fix: " + c.fix + "\n";
  }
  out += doctor_passed(checks) ? "All checks pass.\n" : "Some checks failed.\n";
  return out;
}

nlohmann::json doctor_json(const std::vector<DoctorCheck>& checks) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& c : checks) {
    list.push_back({{"name", c.name}, {"ok", c.ok}, {"skipped", c.skipped}, {"detail", c.detail}, {"fix", c.fix}});
  }
  return {{"ok", doctor_passed(checks)}, {"checks", list}};
}

}  // namespace gwr::ctl
