#include "common/service_query.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>

namespace gwr {

namespace {

using namespace std::chrono_literals;

bool on_macos() {
  struct utsname u {};
  return ::uname(&u) == 0 && std::string(u.sysname) == "Darwin";
}

CommandResult run(CommandRunner& commands, std::vector<std::string> argv) {
  CommandSpec spec;
  spec.argv = std::move(argv);
  spec.timeout = 3s;
  spec.max_output = 8 * 1024;
  std::map<std::string, std::string> env = {{"LC_ALL", "C"}, {"SYSTEMD_PAGER", ""}, {"SYSTEMD_COLORS", "0"}};
  for (const char* keep : {"PATH", "HOME", "XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS", "USER"}) {
    if (const char* v = ::getenv(keep)) env[keep] = v;
  }
  // A system service running as the gateway's user has no session bus in
  // its environment; the user manager's socket is in the usual place.
  if (!env.count("XDG_RUNTIME_DIR")) env["XDG_RUNTIME_DIR"] = "/run/user/" + std::to_string(::getuid());
  spec.env = env;
  return commands.run(spec);
}

}  // namespace

ServiceState query_service_manager(CommandRunner& commands, const std::string& service) {
  if (service.empty()) return {};
  if (on_macos()) {
    const auto r = run(commands, {"launchctl", "print", "gui/" + std::to_string(::getuid()) + "/" + service});
    if (!r.started || r.timed_out) return {};
    return parse_launchctl_print(r.exit_code, r.output);
  }
  for (const char* scope : {"--user", "--system"}) {
    const auto r = run(commands, {"systemctl", scope, "show", service, "--no-pager",
                                  "-p", "LoadState,ActiveState,SubState,Result"});
    if (!r.started || r.timed_out || r.exit_code != 0) continue;
    auto s = parse_systemctl_show(r.output, std::string("systemd (") + (scope[2] == 'u' ? "user" : "system") + ")");
    if (s.verdict != ServiceState::Verdict::kUnknown) return s;
  }
  return {};
}

}  // namespace gwr
