// Incident signatures written by gwr 1.0 (gwr.db schema 1) were the failing
// checks' text with digits masked: "down|process:no process named openclaw
// is running". gwr 2 keys learned patterns by typed findings
// ("v2|down|f:NOT_RUNNING/process"). This maps the one to the other, so a
// database keeps what it learned across the upgrade. Pure.
#pragma once

#include <string>

namespace gwr::repairer {

// The v2 signature for a v1 one. Signatures already v2 come back as they
// are; a v1 one no rule understands comes back as "v1-unmapped|<old>" (kept
// for the record, never matched again).
std::string migrate_v1_signature(const std::string& v1);

}  // namespace gwr::repairer
