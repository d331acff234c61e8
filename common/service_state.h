// What the gateway's service manager, and the processes on the machine, say
// about the owner's intent (issue #20): was the gateway stopped on purpose,
// is an upgrade of it running. Pure parsers of what systemctl, launchctl and
// the process table print; the prober's worker runs the commands.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gwr {

struct ServiceState {
  enum class Verdict {
    kUnknown,    // no manager answered for this service (not installed, no such unit)
    kRunning,    // it runs, or says it does
    kStopped,    // stopped on purpose: a stop job that succeeded, a launchd job not loaded, a clean exit
    kStopping,   // a stop job is under way (the gateway may linger for minutes)
    kFailed,     // it failed (crashed, killed, did not start)
    kRestarting, // the manager is bringing it back by itself
  };
  Verdict verdict = Verdict::kUnknown;
  std::string manager;  // "systemd (user)", "systemd (system)", "launchd", "openclaw"
  std::string detail;   // the manager's own words, one line ("inactive (dead), result success")

  // The owner (or gwr) meant it to be down.
  bool deliberate() const { return verdict == Verdict::kStopped || verdict == Verdict::kStopping; }
};

// `systemctl show UNIT -p LoadState,ActiveState,SubState,Result` (Key=Value
// lines, any order; other lines ignored).
ServiceState parse_systemctl_show(const std::string& output, const std::string& manager);

// `launchctl print gui/UID/LABEL`: exit 113 ("Could not find service") means
// the job is not loaded (booted out: stopped on purpose); loaded, its
// `state = ...` line says whether it runs.
ServiceState parse_launchctl_print(int exit_code, const std::string& output);

// Whether argv is an upgrade of the OpenClaw gateway: `openclaw update`,
// npm/pnpm/yarn/bun installing, updating or removing the openclaw package
// (also `npx`-less forms like `npm i -g openclaw@latest`), `brew upgrade|
// reinstall|install openclaw`. argv[0] may be a path or a node running the
// package manager's script. Returns a short description, or nullopt.
std::optional<std::string> upgrade_command(const std::vector<std::string>& argv);

}  // namespace gwr
