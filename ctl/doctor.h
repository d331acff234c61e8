// `gwrctl doctor [--json] [--offline]`: one checklist of everything a set-up
// needs, each with ✓/✗ and the fix (issue #19). Read-only: it changes
// nothing, and with --offline it makes no call off this machine.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "common/http_client.h"
#include "common/process.h"

namespace gwr::ctl {

struct DoctorCheck {
  std::string name;    // "gateway", "telegram token", ...
  bool ok = false;
  bool skipped = false;  // not applicable or --offline: counts as passing
  std::string detail;  // what was found
  std::string fix;     // what to do (when !ok)
};

struct DoctorInputs {
  // The loaded config, or why it could not be loaded.
  std::optional<LoadedConfig> config;
  std::string config_error;
  EnvMap environment;
  bool offline = false;
  bool daemon_reachable = false;
  std::string daemon_error;
};

std::vector<DoctorCheck> run_doctor(const DoctorInputs& in, HttpClient& http, CommandRunner& commands);

// The checklist for people, one line each, and for scripts.
std::string doctor_text(const std::vector<DoctorCheck>& checks);
nlohmann::json doctor_json(const std::vector<DoctorCheck>& checks);
bool doctor_passed(const std::vector<DoctorCheck>& checks);

}  // namespace gwr::ctl
