// gwrctl: the local command line for a running gwr. It finds the daemon's
// sockets through the same config search as gwr-supervisor.
//
// Exit codes: 0 ok, 1 the operation failed (a repair that did not fix the
// gateway, a refused request), 2 usage, 3 the daemon cannot be reached,
// 78 the config is invalid.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "common/bus.h"
#include "common/config.h"
#include "common/control.h"
#include "common/duration.h"
#include "common/version.h"
#include "ctl/render.h"

namespace {

using namespace std::chrono_literals;
using gwr::pb::Reply;
using gwr::pb::Request;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;
constexpr int kExitConfig = 78;

constexpr const char* kUsage =
    "usage: gwrctl [--config FILE] [--env-file FILE] [--json] [--timeout DURATION] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  status                      gateway state, repair policy, gwr's processes\n"
    "  repair [--tier N] [--reason TEXT] [--no-wait]\n"
    "                              run a manual repair and wait for its outcome\n"
    "  pause [--reason TEXT]       stop automatic repairs (detection continues)\n"
    "  resume                      resume automatic repairs\n"
    "  history [-n N]              recent repairs\n"
    "  show ID                     one repair with every step\n"
    "  stats                       success rate and time per tier; learned patterns\n"
    "  logs [-n N]                 the last repair events (default 10)\n"
    "  config [get [KEY]]          the effective config (secrets masked)\n"
    "  config set KEY VALUE        change a monitoring setting at run time (persisted)\n"
    "  config reset KEY            drop a run-time change\n"
    "  config check                validate the config files without a daemon\n"
    "  config keys                 every key, and which may be set at run time\n"
    "  version                     versions of gwrctl and the daemon\n"
    "  completion bash             a bash completion script\n"
    "\n"
    "Exit codes: 0 ok, 1 failed, 2 usage, 3 daemon not reachable, 78 invalid config.\n";

constexpr const char* kBashCompletion = R"BASH(# bash completion for gwrctl
_gwrctl() {
  local cur prev words cword
  _init_completion 2>/dev/null || { cur="${COMP_WORDS[COMP_CWORD]}"; prev="${COMP_WORDS[COMP_CWORD-1]}"; }
  local commands="status repair pause resume history show stats logs config version completion"
  case "$prev" in
    --config|--env-file) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;
    config) COMPREPLY=( $(compgen -W "get set reset check keys" -- "$cur") ); return ;;
    get|set|reset) COMPREPLY=( $(compgen -W "$(gwrctl config keys --names 2>/dev/null)" -- "$cur") ); return ;;
    completion) COMPREPLY=( $(compgen -W "bash" -- "$cur") ); return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "--config --env-file --json --timeout --help --tier --reason --no-wait -n" -- "$cur") )
  else
    COMPREPLY=( $(compgen -W "$commands" -- "$cur") )
  fi
}
complete -F _gwrctl gwrctl
)BASH";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Cli {
  gwr::LoadOptions load;
  bool json = false;
  std::chrono::milliseconds timeout = 3000ms;
  std::vector<std::string> args;  // command and its arguments
};

class Ctl {
 public:
  Ctl(Cli cli, gwr::LoadedConfig config) : cli_(std::move(cli)), config_(std::move(config)), zctx_(1) {}
  ~Ctl() { zctx_.shutdown(); }

  int run() {
    const std::string cmd = cli_.args.empty() ? "status" : cli_.args[0];
    if (cmd == "status") return status();
    if (cmd == "repair") return repair();
    if (cmd == "pause") return pause();
    if (cmd == "resume") return resume();
    if (cmd == "history") return history();
    if (cmd == "show") return show();
    if (cmd == "stats") return stats();
    if (cmd == "logs") return logs();
    if (cmd == "config") return config();
    if (cmd == "version") return version();
    std::fprintf(stderr, "gwrctl: unknown command \"%s\"\n%s", cmd.c_str(), kUsage);
    return kExitUsage;
  }

 private:
  gwr::Result<Reply> call(const std::string& component, const Request& req) {
    gwr::ControlClient client(zctx_, gwr::control_endpoint(config_.config.paths().runtime_dir(), component), "gwrctl");
    auto reply = client.call(req, cli_.timeout, 1);
    if (reply && reply->has_error()) return gwr::make_error(gwr::describe_error(reply->error()));
    return reply;
  }

  // Whether the supervisor answers; otherwise prints why and returns false.
  bool reachable(std::string* error = nullptr) {
    Request req;
    req.mutable_ping();
    auto r = call(gwr::kSupervisor, req);
    if (r) return true;
    if (error) *error = r.message();
    return false;
  }

  int unreachable(const std::string& why) {
    if (cli_.json) {
      std::cout << nlohmann::json({{"error", "daemon not reachable"}, {"detail", why}}).dump(2) << "\n";
    }
    std::fprintf(stderr, "gwrctl: gwr is not running or not reachable (%s)\n", why.c_str());
    std::fprintf(stderr, "        runtime dir: %s (config: %s)\n", config_.config.paths().runtime_dir().c_str(),
                 config_.describe_source().c_str());
    return kExitUnreachable;
  }

  int fail(const std::string& what, const std::string& why) {
    if (cli_.json) std::cout << nlohmann::json({{"error", what}, {"detail", why}}).dump(2) << "\n";
    std::fprintf(stderr, "gwrctl: %s: %s\n", what.c_str(), why.c_str());
    return kExitFailed;
  }

  // Reply with `component` unreachable -> exit 3 when the supervisor is also down.
  int component_failure(const std::string& what, const std::string& why) {
    std::string err;
    if (!reachable(&err)) return unreachable(err);
    return fail(what, why);
  }

  std::optional<std::string> flag_value(const std::string& name, size_t& i) {
    if (i + 1 >= cli_.args.size()) {
      std::fprintf(stderr, "gwrctl: %s needs a value\n", name.c_str());
      return std::nullopt;
    }
    return cli_.args[++i];
  }

  int status() {
    gwr::ctl::StatusParts parts;
    parts.now_ms = now_ms();
    Request creq;
    creq.mutable_components();
    auto comps = call(gwr::kSupervisor, creq);
    if (!comps) return unreachable(comps.message());
    parts.components = comps->components();
    Request preq;
    preq.mutable_probe_status();
    if (auto p = call(gwr::kProber, preq)) {
      parts.probe = p->probe_status();
    } else {
      parts.probe_error = p.message();
    }
    Request rreq;
    rreq.mutable_repair_status();
    if (auto r = call(gwr::kRepairer, rreq)) {
      parts.repair = r->repair_status();
    } else {
      parts.repair_error = r.message();
    }
    if (cli_.json) {
      std::cout << gwr::ctl::status_json(parts).dump(2) << "\n";
    } else {
      std::cout << gwr::ctl::status_text(parts);
    }
    return kExitOk;
  }

  int repair() {
    Request req;
    auto* r = req.mutable_repair();
    r->set_actor("gwrctl (uid " + std::to_string(::getuid()) + ")");
    r->set_reason("manual repair from gwrctl");
    bool wait = true;
    for (size_t i = 1; i < cli_.args.size(); ++i) {
      const auto& a = cli_.args[i];
      if (a == "--no-wait") {
        wait = false;
      } else if (a == "--tier") {
        auto v = flag_value(a, i);
        if (!v) return kExitUsage;
        if (*v != "1" && *v != "2" && *v != "3") {
          std::fprintf(stderr, "gwrctl: --tier must be 1, 2 or 3\n");
          return kExitUsage;
        }
        r->set_start_tier(static_cast<uint32_t>(std::stoi(*v)));
      } else if (a == "--reason") {
        auto v = flag_value(a, i);
        if (!v) return kExitUsage;
        r->set_reason(*v);
      } else {
        std::fprintf(stderr, "gwrctl: unknown repair option \"%s\"\n", a.c_str());
        return kExitUsage;
      }
    }
    auto reply = call(gwr::kRepairer, req);
    if (!reply) return component_failure("repair refused", reply.message());
    const int64_t id = reply->repair_accepted().repair_id();
    if (!wait) {
      if (cli_.json) {
        std::cout << nlohmann::json({{"repair_id", id}, {"status", "running"}}).dump(2) << "\n";
      } else {
        std::cout << "Repair #" << id << " started; follow it with: gwrctl show " << id << "\n";
      }
      return kExitOk;
    }
    if (!cli_.json) std::cout << "Repair #" << id << " started\n" << std::flush;
    // Follow the repair until it ends; the repairer's own deadlines bound it.
    size_t printed_steps = 0;
    const auto give_up = std::chrono::steady_clock::now() + 15min;
    int misses = 0;
    while (std::chrono::steady_clock::now() < give_up) {
      Request g;
      g.mutable_get_repair()->set_repair_id(id);
      auto got = call(gwr::kRepairer, g);
      if (!got) {
        // The repairer may be restarting; it resumes the repair.
        if (++misses > 20) return fail("lost track of repair #" + std::to_string(id), got.message());
        std::this_thread::sleep_for(500ms);
        continue;
      }
      misses = 0;
      const auto& s = got->repair();
      if (!cli_.json) {
        for (; printed_steps < static_cast<size_t>(s.steps_size()); ++printed_steps) {
          std::cout << "  " << gwr::ctl::step_text(s.steps(static_cast<int>(printed_steps))) << "\n" << std::flush;
        }
      }
      if (s.status() != "running") {
        if (cli_.json) {
          std::cout << gwr::ctl::repair_json(s).dump(2) << "\n";
        } else {
          std::cout << (s.success() ? "Recovered" : "NOT recovered");
          if (s.fixed_by_tier()) std::cout << " by tier " << s.fixed_by_tier();
          std::cout << " in " << gwr::ctl::short_duration(s.duration_ms()) << " (" << s.status() << ")\n";
          if (!s.details().empty()) std::cout << "  " << s.details() << "\n";
        }
        return s.success() ? kExitOk : kExitFailed;
      }
      std::this_thread::sleep_for(250ms);
    }
    return fail("repair #" + std::to_string(id), "still running after 15 minutes");
  }

  int pause() {
    Request req;
    auto* p = req.mutable_pause();
    p->set_actor("gwrctl (uid " + std::to_string(::getuid()) + ")");
    for (size_t i = 1; i < cli_.args.size(); ++i) {
      if (cli_.args[i] == "--reason") {
        auto v = flag_value("--reason", i);
        if (!v) return kExitUsage;
        p->set_reason(*v);
      } else {
        std::fprintf(stderr, "gwrctl: unknown pause option \"%s\"\n", cli_.args[i].c_str());
        return kExitUsage;
      }
    }
    auto reply = call(gwr::kRepairer, req);
    if (!reply) return component_failure("pause failed", reply.message());
    return print_repair_status(reply->repair_status(), "Automatic repairs paused. Detection and notifications continue.");
  }

  int resume() {
    if (cli_.args.size() > 1) {
      std::fprintf(stderr, "gwrctl: resume takes no arguments\n");
      return kExitUsage;
    }
    Request req;
    req.mutable_resume()->set_actor("gwrctl (uid " + std::to_string(::getuid()) + ")");
    auto reply = call(gwr::kRepairer, req);
    if (!reply) return component_failure("resume failed", reply.message());
    return print_repair_status(reply->repair_status(), "Automatic repairs resumed.");
  }

  int print_repair_status(const gwr::pb::RepairStatusReply& s, const std::string& text) {
    if (cli_.json) {
      gwr::ctl::StatusParts parts;
      parts.repair = s;
      parts.now_ms = now_ms();
      std::cout << gwr::ctl::status_json(parts)["repair"].dump(2) << "\n";
    } else {
      std::cout << text << "\n";
    }
    return kExitOk;
  }

  std::optional<uint32_t> count_flag(uint32_t fallback) {
    uint32_t n = fallback;
    for (size_t i = 1; i < cli_.args.size(); ++i) {
      if (cli_.args[i] == "-n" || cli_.args[i] == "--limit") {
        auto v = flag_value("-n", i);
        if (!v) return std::nullopt;
        try {
          const int parsed = std::stoi(*v);
          if (parsed < 1 || parsed > 1000) throw std::out_of_range("n");
          n = static_cast<uint32_t>(parsed);
        } catch (const std::exception&) {
          std::fprintf(stderr, "gwrctl: -n must be a number from 1 to 1000\n");
          return std::nullopt;
        }
      } else {
        std::fprintf(stderr, "gwrctl: unknown option \"%s\"\n", cli_.args[i].c_str());
        return std::nullopt;
      }
    }
    return n;
  }

  int history() {
    auto n = count_flag(20);
    if (!n) return kExitUsage;
    Request req;
    req.mutable_history()->set_limit(*n);
    auto reply = call(gwr::kRepairer, req);
    if (!reply) return component_failure("history unavailable", reply.message());
    if (cli_.json) {
      std::cout << gwr::ctl::history_json(reply->history()).dump(2) << "\n";
    } else {
      std::cout << gwr::ctl::history_text(reply->history(), now_ms());
    }
    return kExitOk;
  }

  int show() {
    if (cli_.args.size() != 2) {
      std::fprintf(stderr, "gwrctl: usage: gwrctl show REPAIR_ID\n");
      return kExitUsage;
    }
    int64_t id = 0;
    try {
      id = std::stoll(cli_.args[1]);
    } catch (const std::exception&) {
      std::fprintf(stderr, "gwrctl: repair id must be a number\n");
      return kExitUsage;
    }
    Request req;
    req.mutable_get_repair()->set_repair_id(id);
    auto reply = call(gwr::kRepairer, req);
    if (!reply) return component_failure("repair #" + std::to_string(id), reply.message());
    if (cli_.json) {
      std::cout << gwr::ctl::repair_json(reply->repair()).dump(2) << "\n";
    } else {
      std::cout << gwr::ctl::repair_text(reply->repair(), now_ms());
    }
    return kExitOk;
  }

  int stats() {
    Request req;
    req.mutable_stats();
    auto reply = call(gwr::kRepairer, req);
    if (!reply) return component_failure("stats unavailable", reply.message());
    if (cli_.json) {
      std::cout << gwr::ctl::stats_json(reply->stats()).dump(2) << "\n";
    } else {
      std::cout << gwr::ctl::stats_text(reply->stats());
    }
    return kExitOk;
  }

  int logs() {
    auto n = count_flag(10);
    if (!n) return kExitUsage;
    Request req;
    req.mutable_logs()->set_limit(*n);
    auto reply = call(gwr::kRepairer, req);
    if (!reply) return component_failure("logs unavailable", reply.message());
    if (cli_.json) {
      std::cout << gwr::ctl::logs_json(reply->logs()).dump(2) << "\n";
    } else {
      std::cout << gwr::ctl::logs_text(reply->logs());
    }
    return kExitOk;
  }

  int config() {
    const std::string sub = cli_.args.size() > 1 ? cli_.args[1] : "get";
    if (sub == "check") {
      // Loading already validated it (main exits 78 otherwise).
      if (cli_.json) {
        std::cout << nlohmann::json({{"ok", true}, {"source", config_.describe_source()}}).dump(2) << "\n";
      } else {
        std::cout << "config OK: " << config_.describe_source() << "\n";
      }
      return kExitOk;
    }
    if (sub == "keys") {
      const bool names_only = cli_.args.size() > 2 && cli_.args[2] == "--names";
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& k : gwr::config_keys()) {
        if (names_only) {
          std::cout << k << "\n";
          continue;
        }
        const bool settable = gwr::is_runtime_settable(k);
        if (cli_.json) {
          arr.push_back({{"key", k}, {"runtime_settable", settable}, {"secret", gwr::is_secret_key(k)}});
        } else {
          std::cout << k << (settable ? "  (settable at run time)" : "") << "\n";
        }
      }
      if (cli_.json && !names_only) std::cout << arr.dump(2) << "\n";
      return kExitOk;
    }
    if (sub == "get") {
      Request req;
      req.mutable_get_config();
      auto reply = call(gwr::kSupervisor, req);
      if (!reply) return unreachable(reply.message());
      const auto& c = reply->config();
      if (cli_.args.size() > 2) {
        const std::string key = cli_.args[2];
        auto v = gwr::get_config_value(c.config(), key);
        if (!v) {
          std::fprintf(stderr, "gwrctl: %s\n", v.message().c_str());
          return kExitUsage;
        }
        if (cli_.json) {
          std::cout << nlohmann::json({{"key", key}, {"value", *v}}).dump(2) << "\n";
        } else {
          std::cout << *v << "\n";
        }
        return kExitOk;
      }
      if (cli_.json) {
        nlohmann::json values = nlohmann::json::object();
        for (const auto& k : gwr::config_keys()) values[k] = *gwr::get_config_value(c.config(), k);
        std::cout << nlohmann::json({{"version", c.version()},
                                     {"source", c.source()},
                                     {"overridden_keys", c.overridden_keys()},
                                     {"values", values}})
                         .dump(2)
                  << "\n";
      } else {
        std::cout << "# source: " << c.source() << " (version " << c.version() << ")\n";
        for (const auto& k : c.overridden_keys()) std::cout << "# " << k << " set at run time (" << c.overrides_path() << ")\n";
        std::cout << c.yaml();
      }
      return kExitOk;
    }
    if (sub == "set" || sub == "reset") {
      const size_t want = sub == "set" ? 4 : 3;
      if (cli_.args.size() != want) {
        std::fprintf(stderr, "gwrctl: usage: gwrctl config %s\n", sub == "set" ? "set KEY VALUE" : "reset KEY");
        return kExitUsage;
      }
      Request req;
      auto* s = req.mutable_set_config();
      s->set_key(cli_.args[2]);
      if (sub == "set") s->set_value(cli_.args[3]);
      s->set_reset(sub == "reset");
      s->set_actor("gwrctl (uid " + std::to_string(::getuid()) + ")");
      gwr::ControlClient client(zctx_, gwr::control_endpoint(config_.config.paths().runtime_dir(), gwr::kSupervisor),
                                "gwrctl");
      auto reply = client.call(req, cli_.timeout, 1);
      if (!reply) return unreachable(reply.message());
      if (reply->has_error()) {
        if (cli_.json) std::cout << nlohmann::json({{"error", reply->error().message()}}).dump(2) << "\n";
        std::fprintf(stderr, "gwrctl: %s\n", reply->error().message().c_str());
        return reply->error().code() == gwr::pb::Error::INVALID_ARGUMENT ? kExitUsage : kExitFailed;
      }
      const auto& r = reply->set_config();
      if (cli_.json) {
        std::cout << nlohmann::json({{"key", r.key()}, {"value", r.value()}, {"version", r.version()}}).dump(2) << "\n";
      } else {
        std::cout << r.key() << " = " << r.value() << " (config version " << r.version() << ")\n";
      }
      return kExitOk;
    }
    std::fprintf(stderr, "gwrctl: unknown config command \"%s\"\n", sub.c_str());
    return kExitUsage;
  }

  int version() {
    Request req;
    req.mutable_ping();
    auto reply = call(gwr::kSupervisor, req);
    const std::string daemon = reply ? reply->pong().version() : "";
    if (cli_.json) {
      std::cout << nlohmann::json({{"gwrctl", gwr::kGwrVersion},
                                   {"daemon", reply ? nlohmann::json(daemon) : nlohmann::json(nullptr)}})
                       .dump(2)
                << "\n";
    } else {
      std::cout << "gwrctl " << gwr::kGwrVersion << "\n"
                << "daemon " << (reply ? daemon + " (pid " + std::to_string(reply->pong().pid()) + ")" : "not running")
                << "\n";
    }
    return kExitOk;
  }

  Cli cli_;
  gwr::LoadedConfig config_;
  zmq::context_t zctx_;
};

}  // namespace

int main(int argc, char** argv) {
  Cli cli;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (!cli.args.empty()) {
      // After the command, --json is still accepted anywhere.
      if (a == "--json") {
        cli.json = true;
      } else {
        cli.args.push_back(a);
      }
      continue;
    }
    if (a == "--help" || a == "-h" || a == "help") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    }
    if (a == "--json") {
      cli.json = true;
    } else if (a == "--config" || a == "-c" || a == "--env-file" || a == "--timeout") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "gwrctl: %s needs a value\n", a.c_str());
        return kExitUsage;
      }
      const std::string v = argv[++i];
      if (a == "--env-file") {
        cli.load.env_file = v;
      } else if (a == "--timeout") {
        auto d = gwr::parse_duration(v);
        if (!d) {
          std::fprintf(stderr, "gwrctl: --timeout: %s\n", d.message().c_str());
          return kExitUsage;
        }
        cli.timeout = *d;
      } else {
        cli.load.config_path = v;
      }
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "gwrctl: unknown option \"%s\"\n%s", a.c_str(), kUsage);
      return kExitUsage;
    } else {
      cli.args.push_back(a);
    }
  }
  if (!cli.args.empty() && cli.args[0] == "completion") {
    if (cli.args.size() == 2 && cli.args[1] == "bash") {
      std::fputs(kBashCompletion, stdout);
      return kExitOk;
    }
    std::fprintf(stderr, "gwrctl: usage: gwrctl completion bash\n");
    return kExitUsage;
  }
  cli.load.environment = gwr::current_environment();
  auto loaded = gwr::load_config(cli.load);
  if (auto* err = std::get_if<gwr::ConfigError>(&loaded)) {
    if (cli.json) std::cout << nlohmann::json({{"error", "invalid config"}, {"detail", err->describe()}}).dump(2) << "\n";
    std::fprintf(stderr, "gwrctl: invalid config: %s\n", err->describe().c_str());
    return kExitConfig;
  }
  Ctl ctl(std::move(cli), std::get<gwr::LoadedConfig>(std::move(loaded)));
  return ctl.run();
}
