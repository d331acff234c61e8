#include "common/findings.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/enum_names.h"
#include "common/duration.h"
#include "common/strings.h"

namespace gwr {

using Kind = pb::Finding::Kind;
using pb::Finding;

namespace {

constexpr pb::CheckKind kAnyCheck = pb::CHECK_KIND_UNSPECIFIED;
constexpr pb::Cause kAnyCause = pb::CAUSE_UNSPECIFIED;
constexpr pb::GatewayState kKeeps = pb::GATEWAY_STATE_UNKNOWN;

}  // namespace

const std::vector<FindingRule>& finding_rules() {
  // kind                      check             cause           state        tier  in signature
  static const std::vector<FindingRule> rules = {
      {Finding::NOT_RUNNING, kAnyCheck, kAnyCause, pb::DOWN, 1, true},
      {Finding::EXITED, kAnyCheck, kAnyCause, pb::DOWN, 1, true},
      {Finding::OOM_KILLED, kAnyCheck, kAnyCause, pb::DOWN, 2, true},
      {Finding::LAUNCH_OVERDUE, kAnyCheck, kAnyCause, kKeeps, 0, false},
      {Finding::OTHER_GATEWAY, kAnyCheck, kAnyCause, kKeeps, 0, false},
      {Finding::PORT_HELD, kAnyCheck, kAnyCause, kKeeps, 0, false},
      {Finding::STARTING, kAnyCheck, kAnyCause, pb::STARTING, 0, false},
      {Finding::STARTING_REPORTED, kAnyCheck, kAnyCause, pb::STARTING, 0, false},
      {Finding::STUCK_STARTING, kAnyCheck, kAnyCause, pb::DOWN, 0, false},
      {Finding::DRAINING, kAnyCheck, kAnyCause, pb::DOWN, 0, false},
      {Finding::UNCHECKED, kAnyCheck, kAnyCause, kKeeps, 0, false},
      {Finding::CONFIRMING, kAnyCheck, kAnyCause, kKeeps, 0, false},
      // PRD §4.1: a dead port calls for a restart, failing health for a deep fix.
      {Finding::CHECK_FAILING, pb::CHECK_PORT, kAnyCause, pb::DOWN, 1, true},
      {Finding::CHECK_FAILING, pb::CHECK_HEALTH, kAnyCause, pb::DOWN, 2, true},
      {Finding::CHECK_FAILING, kAnyCheck, kAnyCause, pb::DOWN, 1, true},
      {Finding::SLOW, kAnyCheck, kAnyCause, pb::DEGRADED, 0, true},
      {Finding::HIGH_MEMORY, kAnyCheck, kAnyCause, pb::DEGRADED, 0, true},
      // A projection is a warning, never a repair.
      {Finding::MEMORY_GROWING, kAnyCheck, kAnyCause, pb::DEGRADED, 0, false},
      // Memory alone asks for a deep fix only when the machine really runs out.
      {Finding::MEMORY_CRITICAL, kAnyCheck, kAnyCause, pb::DEGRADED, 2, false},
      // What /readyz says while /health is fine (issue #14). A failing
      // channel is OpenClaw's own health monitor's to restart; channels its
      // crash-loop breaker suppressed must never get a restart (it would be
      // one more unclean boot); a refused database is Tier 2's doctor step.
      {Finding::NOT_READY, kAnyCheck, kAnyCause, pb::DEGRADED, 0, false},
      // Past probes.readiness.channel_grace, once: a restart may bring it back.
      {Finding::CHANNEL_FAILING, kAnyCheck, pb::CAUSE_PAST_GRACE, pb::DEGRADED, 1, true},
      {Finding::CHANNEL_FAILING, kAnyCheck, kAnyCause, pb::DEGRADED, 0, false},
      {Finding::CHANNEL_SUPPRESSED, kAnyCheck, kAnyCause, pb::DEGRADED, 0, false},
      {Finding::DATABASE_REFUSED, kAnyCheck, kAnyCause, pb::DEGRADED, 2, true},
      {Finding::PLUGIN_RELOAD_FAILED, kAnyCheck, kAnyCause, pb::DEGRADED, 0, false},
      // The PRD's "slow response": a warning with OpenClaw's figures, never a repair.
      {Finding::EVENT_LOOP_LAGGING, kAnyCheck, kAnyCause, pb::DEGRADED, 0, false},
      // The owner's intent (issue #20): facts beside the failure findings,
      // never a state of their own. The repair policy holds repairs for
      // them (a stop that is not gwr's own; an upgrade, within its grace).
      {Finding::STOPPED_BY_SERVICE, kAnyCheck, kAnyCause, kKeeps, 0, false},
      {Finding::UPGRADE_RUNNING, kAnyCheck, kAnyCause, kKeeps, 0, false},
  };
  return rules;
}

const FindingRule& rule_for(const Finding& f) {
  static const FindingRule none{Finding::KIND_UNSPECIFIED, kAnyCheck, kAnyCause, kKeeps, 0, false};
  for (const auto& r : finding_rules()) {
    if (r.kind != f.kind()) continue;
    if (r.check != kAnyCheck && r.check != f.check()) continue;
    if (r.cause != kAnyCause && r.cause != f.cause()) continue;
    return r;
  }
  return none;
}

int state_rank(pb::GatewayState s) {
  switch (s) {
    case pb::DOWN: return 4;
    case pb::STARTING: return 3;
    case pb::DEGRADED: return 2;
    case pb::HEALTHY: return 1;
    default: return 0;
  }
}

Verdict judge_findings(const std::vector<Finding>& findings, pb::GatewayState previous) {
  Verdict v;
  bool keeps = false;
  for (const auto& f : findings) {
    const auto& r = rule_for(f);
    if (r.state == kKeeps) {
      keeps |= f.kind() == Finding::CONFIRMING || f.kind() == Finding::UNCHECKED;
      continue;
    }
    if (state_rank(r.state) > state_rank(v.state)) v.state = r.state;
  }
  if (v.state == pb::GATEWAY_STATE_UNKNOWN) v.state = keeps ? previous : pb::HEALTHY;
  if (v.state == pb::DOWN || v.state == pb::DEGRADED) {
    for (const auto& f : findings) v.tier = std::max(v.tier, rule_for(f).tier);
  }
  return v;
}

std::string finding_key(const Finding& f) {
  std::string key = "f:" + finding_kind_name(f.kind());
  if (f.check() != kAnyCheck) key += "/" + check_kind_name(f.check());
  if (f.cause() != kAnyCause) key += "/" + cause_name(f.cause());
  return key;
}

std::vector<Finding> incident_findings(const std::vector<Finding>& findings) {
  std::vector<Finding> out;
  for (const auto& f : findings) {
    if (rule_for(f).in_signature) out.push_back(f);
  }
  return out;
}

std::string incident_signature(pb::GatewayState state, const std::vector<Finding>& findings) {
  std::vector<std::string> keys;
  for (const auto& f : incident_findings(findings)) keys.push_back(finding_key(f));
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::string sig = "v2|" + gateway_state_name(state);
  for (const auto& k : keys) sig += "|" + k;
  return sig;
}

bool is_channel_id(std::string_view name) {
  return !name.empty() && name.size() <= 32 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

// Two findings of these kinds are about different processes when their pids differ.
std::string finding_identity(const Finding& f) {
  const bool per_process = f.kind() == Finding::OTHER_GATEWAY || f.kind() == Finding::PORT_HELD;
  const bool per_name = f.kind() == Finding::NOT_READY || f.kind() == Finding::CHANNEL_FAILING ||
                        f.kind() == Finding::CHANNEL_SUPPRESSED || f.kind() == Finding::DATABASE_REFUSED;
  if (per_name) return finding_key(f) + "=" + f.subject();
  return finding_key(f) + (per_process ? ":" + std::to_string(static_cast<int64_t>(f.value())) : "");
}

bool finding_is_severe(const Finding& f) { return f.kind() == Finding::CHANNEL_SUPPRESSED; }

void add_finding(std::vector<Finding>& findings, Finding f) {
  const std::string key = finding_identity(f);
  for (auto& existing : findings) {
    if (finding_identity(existing) == key) {
      existing = std::move(f);
      return;
    }
  }
  findings.push_back(std::move(f));
}

// --- Words ---------------------------------------------------------------------------------

namespace {

FindingWords g_words;

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

std::string failure_text(const Finding& f) {
  if (!f.detail().empty()) return f.detail();
  switch (f.cause()) {
    case pb::CAUSE_REFUSED: return "connection refused";
    case pb::CAUSE_TIMEOUT: return "no answer in time";
    case pb::CAUSE_HTTP_STATUS: return "HTTP " + std::to_string(f.http_status());
    case pb::CAUSE_NOT_OK: return "the gateway says it is not ok";
    case pb::CAUSE_BAD_BODY: return "an unexpected answer";
    default: return "failed";
  }
}

std::string english(const Finding& f) {
  const std::string pid = number(f.value());
  const std::string who = "pid " + pid + (f.subject().empty() ? "" : " (" + f.subject() + ")");
  switch (f.kind()) {
    case Finding::NOT_RUNNING:
      return f.subject().empty() ? "no gateway process is running" : "no process named " + f.subject() + " is running";
    case Finding::EXITED: return "gateway process " + pid + " exited";
    case Finding::OOM_KILLED: return "the kernel's OOM killer ended it: memory is running out";
    case Finding::LAUNCH_OVERDUE:
      return who + " is older than the " + format_duration_ms(static_cast<int64_t>(f.limit())) +
             " startup grace and still not named as the gateway";
    case Finding::OTHER_GATEWAY: return who + " is another gateway" + (f.detail().empty() ? "" : ": " + f.detail());
    case Finding::PORT_HELD: return "port " + number(f.limit()) + " is held by " + who;
    case Finding::STARTING:
      return "starting: up " + number(f.value()) + "s, within the startup grace of " +
             format_duration_ms(static_cast<int64_t>(f.limit()));
    case Finding::STARTING_REPORTED:
      return "starting: the gateway reports it is still starting (up " + number(f.value()) + "s)";
    case Finding::STUCK_STARTING: return "stuck starting for longer than it should take";
    case Finding::DRAINING: return "the gateway reports it is draining (shutting down)";
    case Finding::UNCHECKED: return "new gateway process " + pid + ", not checked yet";
    case Finding::CONFIRMING:
      return "confirming: " + check_kind_name(f.check()) + " check failed " + std::to_string(f.count()) + " of " +
             std::to_string(f.threshold()) + ": " + failure_text(f);
    case Finding::CHECK_FAILING:
      return (f.check() == pb::CHECK_PORT ? std::string("port not accepting connections: ")
                                          : check_kind_name(f.check()) + " check failing: ") +
             failure_text(f) + " (" + std::to_string(f.count()) + " checks in a row)";
    case Finding::SLOW:
      return "slow health answers: " + number(f.value()) + " ms (two in a row over the " +
             format_duration_ms(static_cast<int64_t>(f.limit())) + " threshold)";
    case Finding::HIGH_MEMORY:
      return "high memory: RSS " + megabytes_text(static_cast<uint64_t>(f.value()), 0) + " over the " +
             megabytes_text(static_cast<uint64_t>(f.limit()), 0) + " threshold" +
             (f.rate() > 0 ? ", growing " + megabytes_per_hour_text(f.rate()) : "");
    case Finding::MEMORY_GROWING:
      return "memory growing " + megabytes_per_hour_text(f.rate()) + ": RSS " + megabytes_text(static_cast<uint64_t>(f.value()), 0) +
             " reaches the " + megabytes_text(static_cast<uint64_t>(f.limit()), 0) + " threshold in ~" +
             format_duration_ms(std::max<int64_t>(60'000, f.eta_in_ms() / 60'000 * 60'000));
    case Finding::MEMORY_CRITICAL:
      return f.cause() == pb::CAUSE_HARD_LIMIT
                 ? "memory critical: over the hard limit of " + megabytes_text(static_cast<uint64_t>(f.limit()), 0)
                 : "memory critical: the machine has only " + number(f.value()) + "% available";
    case Finding::NOT_READY: return "the gateway says it is not ready: " + f.subject();
    case Finding::CHANNEL_FAILING:
      if (f.cause() == pb::CAUSE_PAST_GRACE) {
        return "channel " + f.subject() + " has been failing for over " +
               format_duration_ms(static_cast<int64_t>(f.limit())) +
               ", through OpenClaw's own restarts of it: one gateway restart";
      }
      if (f.count() > 0) {
        return "channel " + f.subject() +
               " is still failing after a gateway restart (OpenClaw's own health monitor keeps retrying it; no more "
               "restarts)";
      }
      return "channel " + f.subject() + " is failing (OpenClaw's own health monitor restarts it" +
             (f.detail().empty() ? std::string(")") : "; its last restart: " + f.detail() + ")");
    case Finding::CHANNEL_SUPPRESSED: {
      std::string s = "channel " + f.subject() + " is off: OpenClaw's crash-loop breaker suppressed it after " +
                      (f.count() > 0 ? std::to_string(f.count()) + " unclean boots in 5 min" : std::string("unclean boots"));
      if (!f.detail().empty()) s += " (last crash: " + f.detail() + ")";
      if (f.eta_in_ms() > 0) {
        s += "; it should lift by itself in ~" + format_duration_ms(std::max<int64_t>(60'000, (f.eta_in_ms() + 59'999) / 60'000 * 60'000)) +
             ", with no restart (a restart before then keeps it on)";
      }
      return s;
    }
    case Finding::DATABASE_REFUSED: return "the gateway refuses its database (" + f.subject() + ")";
    case Finding::PLUGIN_RELOAD_FAILED: return "a plugin reload failed";
    case Finding::EVENT_LOOP_LAGGING: {
      std::string s = "slow: the gateway's event loop is lagging (delay p99 " + number(f.value()) + " ms, max " +
                      number(f.limit()) + " ms";
      if (f.rate() > 0) {
        char cores[32];
        std::snprintf(cores, sizeof cores, "%.2f", f.rate());
        s += std::string(", ") + cores + " CPU cores";
      }
      if (!f.detail().empty()) s += "; " + f.detail();
      return s + ")";
    }
    case Finding::STOPPED_BY_SERVICE:
      return "stopped on purpose: " + (f.subject().empty() ? std::string("its service manager") : f.subject()) +
             (f.detail().empty() ? std::string() : " says " + f.detail());
    case Finding::UPGRADE_RUNNING:
      return "an upgrade of the gateway is running: " + (f.detail().empty() ? std::string("(unnamed)") : f.detail()) +
             " (pid " + pid + ")";
    default: return "gateway finding " + finding_kind_name(f.kind());
  }
}

template <class Range>
std::string join_findings(const Range& findings, bool incident_only) {
  std::string out;
  for (const auto& f : findings) {
    if (incident_only && f.kind() == Finding::CONFIRMING) continue;
    if (!out.empty()) out += "; ";
    out += describe(f);
  }
  return out;
}

}  // namespace

void set_finding_words(const FindingWords& words) { g_words = words; }

std::string describe(const Finding& f) { return g_words.render ? g_words.render(f) : english(f); }

std::string describe_all(const google::protobuf::RepeatedPtrField<Finding>& findings, bool incident_only) {
  return join_findings(findings, incident_only);
}

std::string describe_all(const std::vector<Finding>& findings, bool incident_only) {
  return join_findings(findings, incident_only);
}

std::string reason_text(const std::string& said, const google::protobuf::RepeatedPtrField<Finding>& findings) {
  if (!said.empty()) return said;
  const std::string found = describe_all(findings, true);
  return found.empty() ? "(no reason given)" : found;
}

std::vector<std::string> finding_keys(const google::protobuf::RepeatedPtrField<Finding>& findings) {
  std::vector<std::string> out;
  for (const auto& f : findings) out.push_back(finding_key(f));
  return out;
}

std::string gateway_state_name(pb::GatewayState state) {
  switch (state) {
    case pb::HEALTHY: return "healthy";
    case pb::STARTING: return "starting";
    case pb::DEGRADED: return "degraded";
    case pb::DOWN: return "down";
    default: return "unknown";
  }
}

std::string check_kind_name(pb::CheckKind kind) {
  switch (kind) {
    case pb::CHECK_PROCESS: return "process";
    case pb::CHECK_PORT: return "port";
    case pb::CHECK_HEALTH: return "health";
    case pb::CHECK_MEMORY: return "memory";
    default: return "?";
  }
}

std::string repair_status_name(pb::RepairStatus status) {
  switch (status) {
    case pb::REPAIR_RUNNING: return "running";
    case pb::REPAIR_SUCCEEDED: return "succeeded";
    case pb::REPAIR_FAILED: return "failed";
    case pb::REPAIR_INTERRUPTED: return "interrupted";
    default: return "unknown";
  }
}

pb::RepairStatus repair_status_from_name(const std::string& name) {
  for (auto s : {pb::REPAIR_RUNNING, pb::REPAIR_SUCCEEDED, pb::REPAIR_FAILED, pb::REPAIR_INTERRUPTED}) {
    if (repair_status_name(s) == name) return s;
  }
  return pb::REPAIR_STATUS_UNSPECIFIED;
}

std::string repair_trigger_name(pb::RepairTrigger trigger) {
  switch (trigger) {
    case pb::TRIGGER_AUTO: return "auto";
    case pb::TRIGGER_MANUAL: return "manual";
    default: return "";
  }
}

std::string channel_state_name(pb::ChannelStatus::State state) {
  switch (state) {
    case pb::ChannelStatus::IDLE: return "idle";
    case pb::ChannelStatus::OK: return "ok";
    case pb::ChannelStatus::RETRYING: return "retrying";
    case pb::ChannelStatus::REJECTED: return "refused";
    default: return "unknown";
  }
}

std::string component_state_name(pb::ComponentState state) {
  switch (state) {
    case pb::COMPONENT_RUNNING: return "running";
    case pb::COMPONENT_BACKOFF: return "backoff";
    case pb::COMPONENT_STOPPING: return "stopping";
    case pb::COMPONENT_STOPPED: return "stopped";
    default: return "unknown";
  }
}

std::string defer_reason_key(pb::DeferReason reason) {
  switch (reason) {
    case pb::DEFER_BUSY: return "busy";
    case pb::DEFER_PAUSED: return "paused";
    case pb::DEFER_STATE_UNSAVED: return "state_unsaved";
    case pb::DEFER_UPGRADE: return "upgrade";
    case pb::DEFER_MAINTENANCE: return "maintenance_window";
    case pb::DEFER_STOPPED_BY_OWNER: return "stopped_by_owner";
    default: return "unknown";
  }
}

std::string defer_reason_text(pb::DeferReason reason) {
  switch (reason) {
    case pb::DEFER_BUSY: return "the gateway is busy serving users; waiting for a quiet moment";
    case pb::DEFER_PAUSED: return "automatic repairs are paused";
    case pb::DEFER_STATE_UNSAVED: return "automatic repairs are stopped: gwr cannot save its repair state";
    case pb::DEFER_UPGRADE: return "an upgrade of the gateway is running; waiting for it to finish";
    case pb::DEFER_MAINTENANCE: return "inside a maintenance window; automatic repairs wait until it ends";
    case pb::DEFER_STOPPED_BY_OWNER: return "its owner stopped it through its service manager; not restarting";
    default: return "waiting";
  }
}

}  // namespace gwr
