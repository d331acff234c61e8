// gwr-supervisor: parse flags, load the config, run. Exit codes: 0 ok,
// 1 runtime failure, 2 usage, 78 bad config (EX_CONFIG).
#include <cstdio>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string>

#include "common/fleet_keys.h"
#include "common/openclaw_config.h"
#include "common/components.h"
#include "common/config.h"
#include "common/log.h"
#include "common/platform/service.h"
#include "common/runtime_dir.h"
#include "common/version.h"
#include "repairer/tier3/allowlist_loader.h"
#include "supervisor/supervisor.h"

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitConfig = 78;

void usage(FILE* out) {
  std::fputs(
      "usage: gwr-supervisor [--config FILE] [--env-file FILE] [--check-config]\n"
      "\n"
      "Keeps an OpenClaw gateway alive. Runs in the foreground; systemd or launchd\n"
      "own the backgrounding.\n"
      "\n"
      "  --config FILE     YAML config (default: $GWR_CONFIG, ~/.config/gwr/gwr.yaml,\n"
      "                    /etc/gwr/gwr.yaml, else built-in defaults)\n"
      "  --env-file FILE   .env file (default: .env beside the config file)\n"
      "  --check-config    validate the config, print where it came from, exit\n"
      "  --print-config    print the effective config (secrets masked), exit\n"
      "  --version         print the version\n",
      out);
}

}  // namespace

int main(int argc, char** argv) {
#ifdef __GLIBC__
  ::mallopt(M_ARENA_MAX, 2);
#endif
  gwr::LoadOptions load;
  bool check_only = false;
  bool print_config = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* flag) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "gwr-supervisor: %s needs a value\n", flag);
        return nullptr;
      }
      return argv[++i];
    };
    if (a == "--config" || a == "-c") {
      const char* v = value("--config");
      if (v == nullptr) return kExitUsage;
      load.config_path = v;
    } else if (a == "--env-file") {
      const char* v = value("--env-file");
      if (v == nullptr) return kExitUsage;
      load.env_file = v;
    } else if (a == "--check-config") {
      check_only = true;
    } else if (a == "--print-config") {
      print_config = true;
    } else if (a == "--foreground" || a == "-f") {
      // Always in the foreground; accepted for service files that pass it.
    } else if (a == "--version") {
      std::printf("gwr-supervisor %s\n", gwr::kGwrVersion);
      return 0;
    } else if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "gwr-supervisor: unknown argument \"%s\"\n", a.c_str());
      usage(stderr);
      return kExitUsage;
    }
  }
  load.environment = gwr::current_environment();

  auto result = gwr::load_config(load);
  if (auto* err = std::get_if<gwr::ConfigError>(&result)) {
    std::fprintf(stderr, "gwr-supervisor: invalid config: %s\n", err->describe().c_str());
    return kExitConfig;
  }
  auto loaded = std::get<gwr::LoadedConfig>(std::move(result));
  if (auto err = gwr::supervisor::check_allowlist(loaded)) {
    std::fprintf(stderr, "gwr-supervisor: invalid config: %s\n", err->describe().c_str());
    return kExitConfig;
  }
  {
    // Never the gateway's own bot (issue #19): at --check-config an error;
    // when running, the Telegram bridge refuses to poll with it.
    std::string note;
    for (const auto& g : loaded.gateways) {
      const std::string openclaw = gwr::openclaw_config_path(load.environment, g.config.gateway().state_dir());
      if (auto clash = gwr::bot_token_clash(loaded.config.telegram().bot_token(), openclaw, &note); clash && check_only) {
        std::fprintf(stderr, "gwr-supervisor: invalid config: telegram.bot_token: %s%s\n", clash->c_str(),
                     loaded.gateways.size() > 1 ? (" (gateway " + g.name + ")").c_str() : "");
        return kExitConfig;
      }
    }
    if (check_only && !loaded.config.telegram().bot_token().empty()) std::fprintf(stderr, "note: %s\n", note.c_str());
    if (check_only) {
      const auto& f = loaded.config.fleet();
      if (auto bad = gwr::fleet::check_fleet_keys(f.role(), f.secret_key(), f.hub_public_key(), f.authorized_keys());
          !bad.empty()) {
        std::fprintf(stderr, "gwr-supervisor: invalid config: %s\n", bad.c_str());
        return kExitConfig;
      }
    }
  }
  if (check_only) {
    std::printf("config OK: %s\n", loaded.describe_source().c_str());
    for (const auto& w : gwr::config_warnings(loaded.config)) std::fprintf(stderr, "warning: %s\n", w.c_str());
    return 0;
  }
  if (print_config) {
    std::printf("# %s\n%s", loaded.describe_source().c_str(), gwr::render_config_yaml(loaded.config).c_str());
    return 0;
  }

  gwr::log::set_secrets(gwr::config_secret_values(loaded));
  const auto& cfg = loaded.config;
  auto st = gwr::log::init({.process = "gwr-supervisor",
                            .log_dir = cfg.paths().log_dir(),
                            .level = cfg.log().level(),
                            .max_size_mb = cfg.log().max_size_mb(),
                            .max_files = cfg.log().max_files()});
  if (!st) gwr::log::warn("log_file_unavailable", {{"error", st.message()}});
  for (const auto& w : gwr::config_warnings(cfg)) gwr::log::warn("config_warning", {{"warning", w}});

  gwr::supervisor::SupervisorOptions options;
  options.load = load;
  options.worker_dir = gwr::self_exe_dir(argv[0]);
  options.workers = gwr::supervisor::worker_names(loaded);
  const int rc = gwr::supervisor::run_supervisor(options, std::move(loaded));
  gwr::log::shutdown();
  return rc;
}
