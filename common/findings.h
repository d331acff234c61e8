// What the prober finds, as types: the one table that says what each
// finding means for the gateway's state and the repair it calls for, the
// identities built from the types (an incident's signature, a warning's key),
// and the words people read, rendered here and nowhere else. Decisions never
// look at the words (a test renames them all and checks that nothing else
// changes). Pure: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gwr.pb.h"

namespace gwr {

// What a finding means (the prober's decision table, s6-style: data, not an
// if-ladder). The gateway's state is the state of its strongest finding; the
// repair recommended is the highest tier among its findings.
struct FindingRule {
  pb::Finding::Kind kind;
  pb::CheckKind check;       // CHECK_KIND_UNSPECIFIED: any check
  pb::Cause cause;           // CAUSE_UNSPECIFIED: any cause
  pb::GatewayState state;    // GATEWAY_STATE_UNKNOWN: keeps the state it had (not decisive)
  uint32_t tier;             // 0: calls for no repair by itself
  bool in_signature;         // part of what identifies an incident (learned patterns are keyed by it)
};
const std::vector<FindingRule>& finding_rules();
const FindingRule& rule_for(const pb::Finding& finding);

// How strong a state is when findings disagree (DOWN is strongest).
int state_rank(pb::GatewayState state);

// The state and tier findings call for; `previous` stands for findings that
// keep the state they had (CONFIRMING, UNCHECKED).
struct Verdict {
  pb::GatewayState state = pb::GATEWAY_STATE_UNKNOWN;
  uint32_t tier = 0;
};
Verdict judge_findings(const std::vector<pb::Finding>& findings, pb::GatewayState previous);

// A finding's identity: the same problem again is the same key, whatever its
// figures (a warning is re-sent by key, not by text).
std::string finding_key(const pb::Finding& finding);

// Which one it is among findings of the same key: the key, plus the pid for
// another process's findings and the name for the gateway's own readiness
// names (two failing channels are two warnings). Dedupes findings and keys
// the bridge's warnings.
std::string finding_identity(const pb::Finding& finding);

// Whether a name can be a channel id as OpenClaw gives them (lower-case
// letters, digits, '-' and '_'; at most 32): what /readyz fails on that is
// such a name is a channel, and only such a name gets a Start button or is
// ever sent to channels.start.
bool is_channel_id(std::string_view name);

// Whether the owner must act or be told at once (channels off by OpenClaw's
// crash-loop breaker): a red notice instead of a yellow warning.
bool finding_is_severe(const pb::Finding& finding);
// An incident's signature (it keys the learned repair patterns): its state
// and the identities of its incident findings, sorted. Never text.
std::string incident_signature(pb::GatewayState state, const std::vector<pb::Finding>& findings);
// The findings that make an incident (transient ones left out).
std::vector<pb::Finding> incident_findings(const std::vector<pb::Finding>& findings);
// Adds f, replacing a finding with the same key (findings never pile up).
void add_finding(std::vector<pb::Finding>& findings, pb::Finding f);

// --- Words for people -------------------------------------------------------------------
// One line per finding: "health check failing: HTTP 500: ... (3 checks in a row)".
std::string describe(const pb::Finding& finding);
// All of them, joined with "; " (transient ones included unless left out).
std::string describe_all(const google::protobuf::RepeatedPtrField<pb::Finding>& findings, bool incident_only = false);
std::string describe_all(const std::vector<pb::Finding>& findings, bool incident_only = false);

// Why a repair runs, for people: what a person said when asking for it, or
// else what the prober found.
std::string reason_text(const std::string& said, const google::protobuf::RepeatedPtrField<pb::Finding>& findings);
// The findings' keys (for logs: what a script or a person greps for).
std::vector<std::string> finding_keys(const google::protobuf::RepeatedPtrField<pb::Finding>& findings);

// "busy", "paused", "state_unsaved": the stable word scripts read.
std::string defer_reason_key(pb::DeferReason reason);

// "healthy", "starting", "degraded", "down" ("unknown" otherwise).
std::string gateway_state_name(pb::GatewayState state);
// "process", "port", "health", "memory" ("?" otherwise).
std::string check_kind_name(pb::CheckKind kind);
// "running", "succeeded", "failed", "interrupted".
std::string repair_status_name(pb::RepairStatus status);
pb::RepairStatus repair_status_from_name(const std::string& name);
// "running", "backoff", "stopping", "stopped".
std::string component_state_name(pb::ComponentState state);
// "auto", "manual"; "" when not said (events that are about no repair).
std::string repair_trigger_name(pb::RepairTrigger trigger);
// A notification channel's state for people and labels: idle, ok, retrying,
// refused (REJECTED: the channel refuses gwr), unknown.
std::string channel_state_name(pb::ChannelStatus::State state);
// Why an automatic repair waits, for people: "the gateway is busy serving
// users; waiting for a quiet moment".
std::string defer_reason_text(pb::DeferReason reason);

// The words are a table a test may replace (to prove decisions ignore them).
struct FindingWords {
  std::string (*render)(const pb::Finding&) = nullptr;  // null: the built-in English
};
void set_finding_words(const FindingWords& words);

}  // namespace gwr
