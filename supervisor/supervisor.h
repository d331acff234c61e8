// gwr-supervisor's I/O shell: owns the config, the runtime directory, the
// bus proxy and the worker processes; the decisions come from WorkerTable.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/config.h"

namespace gwr::supervisor {

struct SupervisorOptions {
  LoadOptions load;           // how the config was found (re-used on SIGHUP)
  std::string worker_dir;     // where gwr-prober & co. live
  std::vector<std::string> workers = {"prober", "repairer", "telegram-bridge"};
};

// The workers to run: a prober and a repairer per gateway (the main one's
// first, under their plain names), the Telegram bridge, and gwr-web when
// http.listen is set.
std::vector<std::string> worker_names(const LoadedConfig& config);

// The Tier 3 allowlist named by repair.allowlist must load: checked with
// the rest of the config, so a broken file fails at start, not at 3 a.m.
std::optional<ConfigError> check_allowlist(const LoadedConfig& config);

// Runs until SIGTERM/SIGINT; returns the process exit code.
int run_supervisor(const SupervisorOptions& options, LoadedConfig config);

}  // namespace gwr::supervisor
