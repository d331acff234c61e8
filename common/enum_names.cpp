#include "common/enum_names.h"

namespace gwr {

#define GWR_NAME(scope, value) \
  case scope::value:           \
    return #value;

std::string finding_kind_name(pb::Finding::Kind kind) {
  switch (kind) {
    GWR_NAME(pb::Finding, KIND_UNSPECIFIED)
    GWR_NAME(pb::Finding, NOT_RUNNING)
    GWR_NAME(pb::Finding, EXITED)
    GWR_NAME(pb::Finding, OOM_KILLED)
    GWR_NAME(pb::Finding, LAUNCH_OVERDUE)
    GWR_NAME(pb::Finding, OTHER_GATEWAY)
    GWR_NAME(pb::Finding, PORT_HELD)
    GWR_NAME(pb::Finding, STARTING)
    GWR_NAME(pb::Finding, STARTING_REPORTED)
    GWR_NAME(pb::Finding, STUCK_STARTING)
    GWR_NAME(pb::Finding, DRAINING)
    GWR_NAME(pb::Finding, UNCHECKED)
    GWR_NAME(pb::Finding, CONFIRMING)
    GWR_NAME(pb::Finding, CHECK_FAILING)
    GWR_NAME(pb::Finding, SLOW)
    GWR_NAME(pb::Finding, HIGH_MEMORY)
    GWR_NAME(pb::Finding, MEMORY_CRITICAL)
    GWR_NAME(pb::Finding, MEMORY_GROWING)
    GWR_NAME(pb::Finding, NOT_READY)
    GWR_NAME(pb::Finding, CHANNEL_FAILING)
    GWR_NAME(pb::Finding, CHANNEL_SUPPRESSED)
    GWR_NAME(pb::Finding, DATABASE_REFUSED)
    GWR_NAME(pb::Finding, PLUGIN_RELOAD_FAILED)
    GWR_NAME(pb::Finding, EVENT_LOOP_LAGGING)
    GWR_NAME(pb::Finding, STOPPED_BY_SERVICE)
    GWR_NAME(pb::Finding, UPGRADE_RUNNING)
    default:
      return "";
  }
}

std::string cause_name(pb::Cause cause) {
  switch (cause) {
    GWR_NAME(pb, CAUSE_UNSPECIFIED)
    GWR_NAME(pb, CAUSE_REFUSED)
    GWR_NAME(pb, CAUSE_TIMEOUT)
    GWR_NAME(pb, CAUSE_HTTP_STATUS)
    GWR_NAME(pb, CAUSE_NOT_OK)
    GWR_NAME(pb, CAUSE_BAD_BODY)
    GWR_NAME(pb, CAUSE_TRANSPORT)
    GWR_NAME(pb, CAUSE_HARD_LIMIT)
    GWR_NAME(pb, CAUSE_MACHINE_SHORT)
    GWR_NAME(pb, CAUSE_PAST_GRACE)
    default:
      return "";
  }
}

std::string error_code_name(pb::Error::Code code) {
  switch (code) {
    GWR_NAME(pb::Error, CODE_UNSPECIFIED)
    GWR_NAME(pb::Error, UNRECOGNIZED)
    GWR_NAME(pb::Error, MALFORMED)
    GWR_NAME(pb::Error, VERSION_MISMATCH)
    GWR_NAME(pb::Error, INVALID_ARGUMENT)
    GWR_NAME(pb::Error, REFUSED)
    GWR_NAME(pb::Error, INTERNAL)
    GWR_NAME(pb::Error, UNAVAILABLE)
    GWR_NAME(pb::Error, NOT_FOUND)
    default:
      return "";
  }
}

std::string repair_event_kind_name(pb::RepairEvent::Kind kind) {
  switch (kind) {
    GWR_NAME(pb::RepairEvent, KIND_UNSPECIFIED)
    GWR_NAME(pb::RepairEvent, STARTED)
    GWR_NAME(pb::RepairEvent, STEP)
    GWR_NAME(pb::RepairEvent, TIER_FAILED)
    GWR_NAME(pb::RepairEvent, FINISHED)
    GWR_NAME(pb::RepairEvent, ESCALATION)
    GWR_NAME(pb::RepairEvent, COOLDOWN_ENTERED)
    GWR_NAME(pb::RepairEvent, COOLDOWN_ENDED)
    GWR_NAME(pb::RepairEvent, PAUSED)
    GWR_NAME(pb::RepairEvent, RESUMED)
    GWR_NAME(pb::RepairEvent, RESUMING)
    GWR_NAME(pb::RepairEvent, DEFERRED)
    GWR_NAME(pb::RepairEvent, RATE_LIMITED)
    GWR_NAME(pb::RepairEvent, TIER3_REJECTED)
    default:
      return "";
  }
}

std::string defer_reason_name(pb::DeferReason reason) {
  switch (reason) {
    GWR_NAME(pb, DEFER_REASON_UNSPECIFIED)
    GWR_NAME(pb, DEFER_BUSY)
    GWR_NAME(pb, DEFER_PAUSED)
    GWR_NAME(pb, DEFER_STATE_UNSAVED)
    GWR_NAME(pb, DEFER_UPGRADE)
    GWR_NAME(pb, DEFER_MAINTENANCE)
    GWR_NAME(pb, DEFER_STOPPED_BY_OWNER)
    default:
      return "";
  }
}

#undef GWR_NAME

std::string event_topic(pb::Event::BodyCase body) {
  switch (body) {
    case pb::Event::kHeartbeat: return "heartbeat";
    case pb::Event::kConfigUpdated: return "config_updated";
    case pb::Event::kShutdown: return "shutdown";
    case pb::Event::kComponentEvent: return "component_event";
    case pb::Event::kGatewayHealth: return "gateway_health";
    case pb::Event::kReprobe: return "reprobe";
    case pb::Event::kRepairEvent: return "repair_event";
    case pb::Event::kAlert: return "alert";
    case pb::Event::BODY_NOT_SET: return "";
  }
  return "";
}

}  // namespace gwr
