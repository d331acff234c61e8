// Loading the Tier 3 allowlist: from repair.allowlist (a YAML file), or the
// copy of config/allowlist.yaml built into the binary when that key is empty.
#pragma once

#include <string>

#include "common/result.h"
#include "repairer/tier3/plan_validator.h"

namespace gwr::tier3 {

// The text of config/allowlist.yaml at build time.
const std::string& builtin_allowlist_yaml();

// Parses allowlist YAML; errors name the entry and its line.
Result<Allowlist> parse_allowlist(const std::string& yaml_text, const std::string& source);

// path "" = the built-in copy.
Result<Allowlist> load_allowlist(const std::string& path);

}  // namespace gwr::tier3
