// Asks the gateway's service manager about it (issue #20): systemd through
// `systemctl show` (the user manager first, then the system one), launchd
// through `launchctl print gui/UID/LABEL` on macOS. Argv only, a short
// deadline; what they print is read by common/service_state.h.
#pragma once

#include <string>

#include "common/process.h"
#include "common/service_state.h"

namespace gwr {

// kUnknown when no manager answers for `service` (none installed, not
// running, no such unit) or `service` is "".
ServiceState query_service_manager(CommandRunner& commands, const std::string& service);

}  // namespace gwr
