// "Recovered means recovered" (pure): after a repair, /health answering is
// not enough. The gateway must also say it has started (/startupz) and be
// ready (/readyz) — or fail on no more than it did before the incident (a
// channel that was already down is not the repair's to fix, and is named).
// A gateway that is up with its channels held off by OpenClaw's crash-loop
// breaker is up but impaired: no further tier can help (another kill would
// only keep the breaker tripped), and it is not reported as recovered.
#pragma once

#include <string>
#include <vector>

#include "common/gateway_probe.h"
#include "gwr.pb.h"

namespace gwr::repairer {

struct RecoveryJudgement {
  enum class Verdict {
    kNotYet,     // not (yet) recovered: keep verifying until the deadline
    kRecovered,  // healthy, started, ready (or no worse than before)
    kImpaired,   // up, but the breaker keeps channels off: the repair ends, not green
  };
  Verdict verdict = Verdict::kNotYet;
  std::string detail;  // for people: what the gateway said
};

// health: /health (and /startupz) answered ok; readiness: /readyz (not
// understood when the gateway has none). before: the names /readyz failed
// on before the incident.
RecoveryJudgement judge_recovery(const HealthObservation& health, const ReadinessObservation& readiness,
                                 const std::vector<std::string>& before);

// The names /readyz failed on before the incident (from the newest health
// that was neither DOWN nor STARTING; newest last), minus what made the
// incident: a refused database that triggered the repair is not "as before"
// (a channel is: the restart past its grace is a nudge, not a promise).
std::vector<std::string> not_ready_before(const std::vector<pb::GatewayHealth>& history,
                                          const google::protobuf::RepeatedPtrField<pb::Finding>& incident);

}  // namespace gwr::repairer
