#include "repairer/signature_migration.h"

#include <algorithm>
#include <set>
#include <string_view>
#include <vector>

#include "common/findings.h"
#include "common/strings.h"

namespace gwr::repairer {

namespace {

bool starts(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }
bool has(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

pb::Finding finding(pb::Finding::Kind kind, pb::CheckKind check, pb::Cause cause = pb::CAUSE_UNSPECIFIED) {
  pb::Finding f;
  f.set_kind(kind);
  f.set_check(check);
  f.set_cause(cause);
  return f;
}

// How gwr 1.0 worded a failed port or health check, as a cause.
pb::Cause cause_of(std::string_view text) {
  if (starts(text, "connection refused")) return pb::CAUSE_REFUSED;
  if (starts(text, "timeout after") || starts(text, "no answer within")) return pb::CAUSE_TIMEOUT;
  if (starts(text, "HTTP #")) return pb::CAUSE_HTTP_STATUS;
  if (starts(text, "gateway says not ok")) return pb::CAUSE_NOT_OK;
  if (starts(text, "unexpected body")) return pb::CAUSE_BAD_BODY;
  return pb::CAUSE_TRANSPORT;
}

}  // namespace

std::string migrate_v1_signature(const std::string& v1) {
  if (starts(v1, "v2|") || starts(v1, "v1-unmapped|")) return v1;
  const std::string unmapped = "v1-unmapped|" + v1;
  // "<state>|<kind>:<text>|<kind>:<text>...|oom"; texts never held '|'.
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    const size_t bar = v1.find('|', start);
    parts.push_back(v1.substr(start, bar == std::string::npos ? std::string::npos : bar - start));
    if (bar == std::string::npos) break;
    start = bar + 1;
  }
  pb::GatewayState state;
  if (parts[0] == "down") {
    state = pb::DOWN;
  } else if (parts[0] == "degraded") {
    state = pb::DEGRADED;
  } else {
    return unmapped;
  }
  std::vector<pb::Finding> found;
  pb::Cause port_cause = pb::CAUSE_UNSPECIFIED;
  std::vector<pb::Cause> health_causes;
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    if (p == "oom") {
      found.push_back(finding(pb::Finding::OOM_KILLED, pb::CHECK_PROCESS));
      continue;
    }
    const size_t colon = p.find(':');
    if (colon == std::string::npos) return unmapped;
    const std::string kind = p.substr(0, colon);
    const std::string_view text(p.c_str() + colon + 1, p.size() - colon - 1);
    if (kind == "process") {
      const bool exited = starts(text, "gateway process #") && has(text, "exited");
      if (!exited && !starts(text, "no process named") && !starts(text, "gateway process not found")) return unmapped;
      found.push_back(finding(exited ? pb::Finding::EXITED : pb::Finding::NOT_RUNNING, pb::CHECK_PROCESS));
    } else if (kind == "port") {
      port_cause = cause_of(text);
    } else if (kind == "health") {
      health_causes.push_back(cause_of(text));
    } else if (kind == "memory") {
      found.push_back(finding(pb::Finding::HIGH_MEMORY, pb::CHECK_MEMORY));
    } else {
      return unmapped;
    }
  }
  if (port_cause != pb::CAUSE_UNSPECIFIED) {
    found.push_back(finding(pb::Finding::CHECK_FAILING, pb::CHECK_PORT, port_cause));
  }
  for (auto cause : health_causes) {
    // 1.0 listed every failing check; a health check failing the way the port
    // did was the port's failure seen again (gwr 2 counts only confirmed ones).
    if (port_cause != pb::CAUSE_UNSPECIFIED && (cause == port_cause || cause == pb::CAUSE_TRANSPORT)) continue;
    found.push_back(finding(pb::Finding::CHECK_FAILING, pb::CHECK_HEALTH, cause));
  }
  // A degraded gateway with no failing check was slow (1.0's only other case).
  if (found.empty() && state == pb::DEGRADED) found.push_back(finding(pb::Finding::SLOW, pb::CHECK_HEALTH));
  if (found.empty()) return unmapped;
  return incident_signature(state, found);
}

}  // namespace gwr::repairer
