#include "repairer/repairer_worker.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "common/enum_names.h"
#include "common/duration.h"
#include "common/findings.h"
#include "common/log.h"
#include "common/platform/proc.h"
#include "common/text.h"
#include "repairer/recovery.h"
#include "repairer/repair_actions.h"

namespace gwr::repairer {

using namespace std::chrono_literals;

namespace {

const char* trigger_text(pb::RepairTrigger t) { return t == pb::TRIGGER_MANUAL ? "manual" : "auto"; }

std::string kind_text(pb::RepairEvent::Kind k) {
  std::string s = repair_event_kind_name(k);
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string incident_signature(const pb::GatewayHealth& h) {
  return gwr::incident_signature(h.state(), {h.findings().begin(), h.findings().end()});
}

void stop_interrupted_command(SystemView& system, int64_t repair_id, const pb::RepairStep& s) {
  const auto pid = static_cast<pid_t>(s.pid());
  if (pid <= 1) return;
  log::Fields f = {{"repair_id", repair_id}, {"step", s.name()}, {"target_pid", pid}};
  if (s.pid_start_ticks() == 0 || s.boot_id().empty()) {
    f["reason"] = "no process identity was recorded for it (an older gwr); not signalled";
    log::warn("interrupted_step_not_signalled", f);
    return;
  }
  if (s.boot_id() != system.boot_id()) {
    f["reason"] = "it ran before the machine rebooted";
    log::info("interrupted_step_gone", f);
    return;
  }
  const auto killed = system.signal_group({pid, s.pid_start_ticks(), s.boot_id()}, SIGKILL);
  if (killed.empty()) {
    f["reason"] = "its process has exited or the pid now belongs to another process; not signalled";
    log::info("interrupted_step_gone", f);
    return;
  }
  f["killed_pids"] = killed;
  log::warn("interrupted_step_killed", f);
}

int64_t RepairerWorker::now_ms() const { return env_.clock->wall_ms(); }

void RepairerWorker::start(WorkerContext& ctx) {
  env_ = ctx.env();
  settings_ = PolicySettings::from_config(ctx.config());
  store_path_ = ctx.config().paths().state_dir() + "/gwr.db";
  next_prune_ms_ = now_ms() + 60'000;
  connect_store(ctx);
  log::info("repairer_ready", {{"history", store_path_},
                               {"state_trusted", state_trusted()},
                               {"paused", policy_.paused()},
                               {"cooldown_until", policy_.cooldown_until_ms()},
                               {"repairs_last_hour", repairs_in_last_hour(policy_, now_ms())},
                               {"max_per_hour", settings_.max_per_hour}});
  update_activity(ctx);
}

void RepairerWorker::connect_store(WorkerContext& ctx) {
  const int64_t now = now_ms();
  next_store_retry_ms_ = now + store_backoff_ms_;
  store_backoff_ms_ = std::min<int64_t>(store_backoff_ms_ * 2, 10'000);
  if (!store_) {
    auto store = HistoryStore::open(store_path_);
    if (!store) {
      // What the owner set (a pause) is shown and kept while it cannot be
      // trusted with repairs: read it without writing, if it can be read.
      if (!peeked_ && !owner_pause_) {
        if (auto seen = HistoryStore::peek_policy(store_path_)) {
          policy_.set_paused(seen->paused());
          policy_.set_paused_by(seen->paused_by());
          policy_.set_pause_reason(seen->pause_reason());
          policy_.set_paused_at_ms(seen->paused_at_ms());
          policy_.set_paused_until_ms(seen->paused_until_ms());
          policy_.set_cooldown_until_ms(std::max(policy_.cooldown_until_ms(), seen->cooldown_until_ms()));
          *policy_.mutable_auto_starts_ms() = seen->auto_starts_ms();
          peeked_ = true;
          log::info("state_read_only", {{"path", store_path_}, {"paused", policy_.paused()}});
        }
      }
      storage_failed(ctx, pb::Alert::STATE_UNREADABLE, store.message());
      return;
    }
    store_ = std::move(*store);
  }
  if (!policy_loaded_) {
    auto loaded = store_->load_policy();
    if (!loaded) {
      storage_failed(ctx, pb::Alert::STATE_UNREADABLE, loaded.message());
      return;
    }
    const PolicyState in_memory = policy_;
    policy_ = loaded->value_or(PolicyState{});
    // While the saved policy was out of reach, the owner may have paused or
    // resumed, and a repair may have cooled things down: none of it is lost.
    if (owner_pause_) {
      policy_.set_paused(owner_pause_->paused());
      policy_.set_paused_by(owner_pause_->paused_by());
      policy_.set_pause_reason(owner_pause_->pause_reason());
      policy_.set_paused_at_ms(owner_pause_->paused_at_ms());
      policy_.set_paused_until_ms(owner_pause_->paused_until_ms());
      owner_pause_.reset();
    }
    if (in_memory.cooldown_until_ms() > policy_.cooldown_until_ms()) {
      enter_cooldown(policy_, in_memory.cooldown_until_ms(), in_memory.cooldown_reason());
    }
    policy_.set_active_repair_id(in_memory.active_repair_id() ? in_memory.active_repair_id() : policy_.active_repair_id());
    policy_loaded_ = true;
    saved_policy_ = policy_.SerializeAsString();
  }
  if (!recovered_ && !active_) {
    recovered_ = true;
    recover(ctx);
  }
  // Reading is not enough: a full disk reads fine. Prove that a repair's
  // records fit before trusting the policy with automatic repairs.
  if (!policy_saved_) {
    if (auto probe = store_->probe_write(); !probe) {
      storage_failed(ctx, pb::Alert::STATE_NOT_SAVED, probe.message());
      return;
    }
  }
  if (!save_policy(ctx, true)) return;
  store_backoff_ms_ = 1'000;
}

void RepairerWorker::storage_failed(WorkerContext& ctx, pb::Alert::Kind kind, const std::string& error) {
  policy_saved_ = policy_saved_ && kind != pb::Alert::STATE_NOT_SAVED;
  const bool news = !storage_alert_ || storage_alert_->kind() != kind;
  if (news) {
    pb::Alert a;
    a.set_kind(kind);
    a.set_detail(error);
    a.set_since_ms(now_ms());
    a.set_count(1);
    storage_alert_ = a;
    log::error(kind == pb::Alert::STATE_NOT_SAVED ? "state_not_saved" : "state_unreadable",
               {{"path", store_path_}, {"error", error}, {"retry_in_ms", next_store_retry_ms_ - now_ms()},
                {"automatic_repairs", "stopped until the repair policy can be read and saved"}});
    ctx.publish_alert(a);
    next_alert_republish_ms_ = now_ms() + 30'000;
  } else {
    storage_alert_->set_count(storage_alert_->count() + 1);
    storage_alert_->set_detail(error);
    log::debug("state_retry_failed", {{"path", store_path_}, {"error", error}});
  }
  update_activity(ctx);
}

void RepairerWorker::storage_recovered(WorkerContext& ctx) {
  if (!storage_alert_) return;
  pb::Alert a = *storage_alert_;
  a.set_cleared(true);
  log::info("state_saved_again", {{"path", store_path_}, {"failed_attempts", storage_alert_->count()}});
  storage_alert_.reset();
  ctx.publish_alert(a);
  update_activity(ctx);
}

void RepairerWorker::recover(WorkerContext& ctx) {
  const int64_t now = now_ms();
  bool resumed = false;
  for (auto& r : store_->running_repairs()) {
    // Whatever a step of the dead repairer started must not keep running —
    // but only if that pid is still the process the step started: after a
    // power loss or a long outage the number may belong to a stranger.
    for (const auto& s : store_->interrupt_running_steps(r.id())) stop_interrupted_command(*env_.system, r.id(), s);
    bool resumable = !resumed && r.id() == policy_.active_repair_id() && now - r.started_at_ms() < 3'600'000;
    auto full = resumable ? store_->get_repair(r.id()) : std::nullopt;
    // The owner's Start for a channel is not a tiered repair to continue:
    // it ends as interrupted and the owner may press it again.
    if (full && std::any_of(full->steps().begin(), full->steps().end(),
                            [](const pb::RepairStep& s) { return s.name() == "channels.start"; })) {
      resumable = false;
    }
    if (resumable) {
      if (!full) continue;
      resumed = true;
      active_ = Active{};
      active_->summary = *full;
      active_->step_index = store_->next_step_index(r.id()) - 1;
      const uint32_t tier = std::max<uint32_t>(1, r.current_tier());
      pb::RepairEvent ev;
      ev.set_kind(pb::RepairEvent::RESUMING);
      ev.set_repair_id(r.id());
      ev.set_tier(tier);
      ev.set_trigger(r.trigger());
      ev.set_actor(r.actor());
      ev.set_reason(r.reason());
      *ev.mutable_findings() = r.findings();
      ev.set_details("the repairer restarted during tier " + std::to_string(tier) + "; continuing repair #" +
                     std::to_string(r.id()));
      emit(ctx, ev);
      runner_ = std::make_unique<RepairRunner>(env_, actions_factory_, ctx.config(), tier, true, tier3_factory_, tier3_context(active_->summary));
      continue;
    }
    pb::RepairSummary done = r;
    done.set_status(pb::REPAIR_INTERRUPTED);
    done.set_finished_at_ms(now);
    done.set_duration_ms(now - r.started_at_ms());
    done.set_details("the repairer stopped during this repair and it was not resumed");
    (void)store_->finish_repair(r.id(), done);
    log::warn("repair_interrupted", {{"repair_id", r.id()}, {"trigger", trigger_text(r.trigger())}});
  }
  if (!resumed && policy_.active_repair_id() != 0) {
    policy_.set_active_repair_id(0);
    policy_.set_last_finished_ms(now);
  }
}

void RepairerWorker::on_config(WorkerContext& ctx, const std::vector<std::string>& /*changed*/) {
  settings_ = PolicySettings::from_config(ctx.config());
  evaluate(ctx);
}

void RepairerWorker::on_event(WorkerContext& ctx, const pb::Event& event) {
  if (!event.has_gateway_health()) return;
  const auto& h = event.gateway_health();
  // The newest state wins; a restarted prober starts a new sequence.
  if (!health_ || h.prober_run_id() != health_->prober_run_id() || h.seq() > health_->seq()) {
    if (recent_health_.empty() || recent_health_.back().state() != h.state() ||
        recent_health_.back().pid() != h.pid()) {
      recent_health_.push_back(h);
      while (recent_health_.size() > 20) recent_health_.pop_front();
    }
    health_ = h;
    // Every gateway a running repair meets is one it stops or replaces.
    if (active_) note_replaced_pid(policy_, h.pid());
    note_crash(h);
  }
  evaluate(ctx);
}

void RepairerWorker::note_crash(const pb::GatewayHealth& h) {
  bool crashed = false;
  for (const auto& f : h.findings()) {
    crashed |= f.kind() == pb::Finding::OOM_KILLED ||
               (f.kind() == pb::Finding::EXITED && static_cast<uint32_t>(f.value()) == last_instance_.first);
  }
  // Exits during a repair are gwr's own stops (its kills are recorded where
  // they are sent), and so are those of the gateways it replaced, however
  // late they are seen; any other is a crash, an unclean boot for
  // OpenClaw's crash-loop breaker.
  if (crashed && last_instance_.first != 0 && !active_ && own_exit_seen_late(policy_, h) == nullptr) {
    SharedBootLedger::instance().record(last_instance_.first, last_instance_.second, now_ms());
    log::info("gateway_crash_counted", {{"target_pid", last_instance_.first}, {"started_at_ms", last_instance_.second}});
    last_instance_ = {};
  }
  if (h.pid() != 0 && h.uptime_ms() > 0) last_instance_ = {h.pid(), h.observed_at_ms() - h.uptime_ms()};
}

void RepairerWorker::note_repair_targets() {
  // The gateway as the prober last saw it, and the last one known to run
  // (the prober may already say DOWN while it is still stopping).
  if (health_) note_replaced_pid(policy_, health_->pid());
  note_replaced_pid(policy_, last_instance_.first);
}

bool RepairerWorker::save_policy(WorkerContext& ctx, bool force) {
  const std::string bytes = policy_.SerializeAsString();
  if (bytes == saved_policy_ && !force && policy_saved_) return true;
  if (!store_ || !policy_loaded_) {
    // The saved policy is out of reach: what changed lives in memory only.
    policy_saved_ = false;
    return false;
  }
  // After a failed write, only connect_store's write test (on its backoff)
  // decides that writing works again: one small write that happens to fit
  // on a full disk must not flap the state back to "trusted".
  if (!policy_saved_ && !force) return false;
  if (auto st = store_->save_policy(policy_); !st) {
    storage_failed(ctx, pb::Alert::STATE_NOT_SAVED, st.message());
    return false;
  }
  // The owner's pause must also be in the main database file, not only in
  // the WAL: a reader that finds the database locked falls back to reading
  // that file alone (HistoryStore::peek_policy), and must still see it.
  PolicyState before;
  if (!before.ParseFromString(saved_policy_) || before.paused() != policy_.paused()) store_->checkpoint();
  saved_policy_ = bytes;
  policy_saved_ = true;
  storage_recovered(ctx);
  return true;
}

void RepairerWorker::evaluate(WorkerContext& ctx) {
  if (!health_) return;
  const int64_t now = now_ms();
  const Decision d = decide(policy_, *health_, settings_, now);
  if (d.verdict == Verdict::kNothing) withheld_noticed_ = false;
  if (d.own_exit_pid != 0 && d.own_exit_pid != own_exit_logged_) {
    own_exit_logged_ = d.own_exit_pid;
    log::info("gateway_exit_was_repair",
              {{"gateway_pid", d.own_exit_pid},
               {"details", "the exit of a gateway the last repair restarted, seen after it ended: waiting for the "
                           "prober to look again"}});
  }
  last_wait_ = d.verdict == Verdict::kDeferred ? d.defer_reason : pb::DEFER_REASON_UNSPECIFIED;
  last_wait_until_ms_ = d.verdict == Verdict::kDeferred ? d.wait_until_ms : 0;
  if (d.verdict == Verdict::kStart && !state_trusted()) {
    // Fail closed: a repair the policy cannot record could be repeated by
    // the next repairer, past the hourly limit or through a pause.
    if (!withheld_noticed_) {
      withheld_noticed_ = true;
      pb::RepairEvent ev;
      ev.set_kind(pb::RepairEvent::DEFERRED);
      ev.set_defer_reason(pb::DEFER_STATE_UNSAVED);
      for (const auto& f : d.findings) *ev.add_findings() = f;
      ev.set_tier(d.tier);
      ev.set_details("automatic repairs are stopped: gwr cannot " +
                     std::string(store_ && policy_loaded_ ? "save" : "read") + " its repair state (" +
                     (storage_alert_ ? storage_alert_->detail() : std::string("gwr.db unavailable")) +
                     "); a manual repair (/repair, gwrctl repair) still runs");
      emit(ctx, ev);
    }
    update_activity(ctx);
    return;
  }
  switch (d.verdict) {
    case Verdict::kStart: {
      uint32_t tier = d.tier;
      if (auto learned = store_->learned(incident_signature(*health_))) {
        const uint32_t start = learned_start_tier(d.tier, learned->attempts, learned->fixes, settings_.tier3_enabled);
        if (start != d.tier) {
          log::info("learned_start_tier", {{"signature", learned->signature}, {"recommended_tier", d.tier},
                                           {"tier", start}, {"seen", learned->seen}});
          tier = start;
        }
      }
      if (d.doctor_first) {
        tier = std::max<uint32_t>(tier, 2);
        log::info("repair_after_upgrade", {{"tier", tier}, {"upgrade_seen_at", log::iso_time(policy_.upgrade_seen_ms())},
                                           {"details", "a crash loop right after an upgrade: Tier 2 runs OpenClaw's doctor first"}});
      }
      pending_doctor_first_ = d.doctor_first;
      start_repair(ctx, pb::TRIGGER_AUTO, "auto", "", tier);
      pending_doctor_first_ = false;
      break;
    }
    case Verdict::kRateLimited: {
      enter_cooldown(policy_, d.cooldown_until_ms,
                     "the limit of " + std::to_string(settings_.max_per_hour) + " automatic repairs per hour was reached");
      pb::RepairEvent limited;
      limited.set_kind(pb::RepairEvent::RATE_LIMITED);
      for (const auto& f : d.findings) *limited.add_findings() = f;
      limited.set_details(policy_.cooldown_reason());
      emit(ctx, limited);
      pb::RepairEvent cool;
      cool.set_kind(pb::RepairEvent::COOLDOWN_ENTERED);
      cool.set_cooldown_until_ms(policy_.cooldown_until_ms());
      for (const auto& f : d.findings) *cool.add_findings() = f;
      cool.set_details(policy_.cooldown_reason() + "; no automatic repair until the cooldown ends");
      emit(ctx, cool);
      break;
    }
    case Verdict::kDeferred:
      if (d.first_deferral) {
        pb::RepairEvent ev;
        ev.set_kind(pb::RepairEvent::DEFERRED);
        ev.set_defer_reason(d.defer_reason);
        for (const auto& f : d.findings) *ev.add_findings() = f;
        ev.set_tier(d.tier);
        // When the wait ends at the latest (the bridge shows it as a local time).
        ev.set_cooldown_until_ms(d.wait_until_ms);
        switch (d.defer_reason) {
          case pb::DEFER_UPGRADE:
            for (const auto& f : health_->findings()) {
              if (f.kind() == pb::Finding::UPGRADE_RUNNING) *ev.add_findings() = f;
            }
            ev.set_details("an upgrade of the gateway is running; automatic repairs wait for it (at most " +
                           format_duration_ms(settings_.upgrade_grace_ms) + "), then the gateway is checked again");
            break;
          case pb::DEFER_MAINTENANCE:
            ev.set_details("inside a maintenance window (repair.maintenance_windows); automatic repairs wait until it ends, "
                           "then repair what is still broken; /repair works now");
            break;
          default:
            ev.set_details("the gateway is busy serving users; waiting up to " +
                           format_duration_ms(settings_.quiet_max_wait_ms) + " for a quiet moment");
            break;
        }
        emit(ctx, ev);
      }
      break;
    case Verdict::kStoppedByOwner:
      if (d.first_deferral) {
        pb::RepairEvent ev;
        ev.set_kind(pb::RepairEvent::DEFERRED);
        ev.set_defer_reason(pb::DEFER_STOPPED_BY_OWNER);
        *ev.add_findings() = d.stop;
        ev.set_details("stopped by its service manager (" + describe(d.stop) + "); not restarting. /repair starts it");
        emit(ctx, ev);
      }
      break;
    case Verdict::kPaused:
      if (!policy_.paused_incident_logged()) {
        policy_.set_paused_incident_logged(true);
        pb::RepairEvent ev;
        ev.set_kind(pb::RepairEvent::DEFERRED);
        ev.set_defer_reason(pb::DEFER_PAUSED);
        for (const auto& f : d.findings) *ev.add_findings() = f;
        ev.set_details("automatic repairs are paused (by " + policy_.paused_by() + "); not repairing");
        emit(ctx, ev);
      }
      break;
    default:
      break;
  }
  save_policy(ctx);
  update_activity(ctx);
}

int64_t RepairerWorker::start_repair(WorkerContext& ctx, pb::RepairTrigger trigger, const std::string& actor,
                                     const std::string& reason, uint32_t tier) {
  const int64_t now = now_ms();
  pb::RepairSummary summary;
  summary.set_trigger(trigger);
  summary.set_actor(actor);
  summary.set_reason(reason);
  summary.set_started_at_ms(now);
  summary.set_status(pb::REPAIR_RUNNING);
  summary.set_current_tier(tier);
  if (health_ && (health_->state() == pb::DOWN || health_->state() == pb::DEGRADED)) {
    summary.set_signature(incident_signature(*health_));
    for (const auto& f : incident_findings({health_->findings().begin(), health_->findings().end()})) {
      *summary.add_findings() = f;
    }
  }
  int64_t id = 0;
  const PolicyState before = policy_;
  if (state_trusted() || (store_ && trigger == pb::TRIGGER_MANUAL)) {
    // The repair row and the policy's "active" mark are one transaction: a
    // crash leaves either both or neither, and a failure leaves the policy
    // in memory as it was.
    Transaction tx(store_->db());
    auto created = tx.ok() ? store_->create_repair(summary) : Result<int64_t>(tx.begin_status().error());
    std::string error = created ? "" : created.message();
    if (created) {
      if (trigger == pb::TRIGGER_AUTO) {
        on_auto_start(policy_, *created, now);
      } else {
        on_manual_start(policy_, *created);
      }
      note_repair_targets();
      if (auto st = store_->save_policy(policy_); !st) {
        error = st.message();
      } else if (auto committed = tx.commit(); !committed) {
        error = committed.message();
      } else {
        id = *created;
        saved_policy_ = policy_.SerializeAsString();
      }
    }
    if (id == 0) {
      policy_ = before;
      log::error("repair_not_recorded", {{"trigger", trigger_text(trigger)}, {"error", error}});
      storage_failed(ctx, pb::Alert::STATE_NOT_SAVED, error);
    }
  }
  if (id == 0) {
    // Fail closed for automatic repairs; a person who asked for one gets it,
    // run from memory (and said so in the history reply).
    if (trigger == pb::TRIGGER_AUTO) return 0;
    id = next_unsaved_id_++;
    on_manual_start(policy_, id);
    note_repair_targets();
    policy_saved_ = false;
    summary.set_details("not recorded in gwr.db: the state directory cannot be written");
    log::warn("repair_in_memory_only", {{"repair_id", id}, {"actor", actor}});
  }
  summary.set_id(id);
  active_ = Active{};
  active_->summary = summary;
  pb::RepairEvent ev;
  ev.set_kind(pb::RepairEvent::STARTED);
  ev.set_repair_id(id);
  ev.set_tier(tier);
  ev.set_trigger(trigger);
  ev.set_actor(actor);
  ev.set_reason(summary.reason());
  *ev.mutable_findings() = summary.findings();
  emit(ctx, ev);
  runner_ = std::make_unique<RepairRunner>(env_, actions_factory_, ctx.config(), tier, false, tier3_factory_, tier3_context(summary));
  update_activity(ctx);
  return id;
}

void RepairerWorker::emit(WorkerContext& ctx, pb::RepairEvent ev) {
  ev.set_at_ms(now_ms());
  if (!store_) {
    log::debug("event_not_recorded", {{"error", "gwr.db is not open"}});
  } else if (auto st = store_->add_event(ev); !st) {
    log::error("event_not_recorded", {{"error", st.message()}});
  }
  // The JSON log line, with the PRD §6.3 fields.
  log::Fields f = {{"repair_id", ev.repair_id()}, {"tier", ev.tier()}, {"trigger", trigger_text(ev.trigger())}};
  std::string event_name = "repair_" + kind_text(ev.kind());
  log::Level level = log::Level::kInfo;
  switch (ev.kind()) {
    case pb::RepairEvent::STARTED:
      f["details"] = reason_text(ev.reason(), ev.findings());
      if (!ev.findings().empty()) f["findings"] = finding_keys(ev.findings());
      f["actor"] = ev.actor();
      break;
    case pb::RepairEvent::STEP:
      event_name = "repair_step";
      f["step"] = ev.step().name();
      f["argv"] = std::vector<std::string>(ev.step().argv().begin(), ev.step().argv().end());
      f["exit_code"] = ev.step().exit_code();
      f["duration_ms"] = ev.step().duration_ms();
      f["success"] = ev.step().ok();
      f["details"] = ev.step().detail();
      if (!ev.step().ok()) level = log::Level::kWarn;
      break;
    case pb::RepairEvent::TIER_FAILED:
      f["duration_ms"] = ev.duration_ms();
      f["success"] = false;
      f["details"] = ev.details();
      level = log::Level::kWarn;
      break;
    case pb::RepairEvent::FINISHED:
      event_name = "repair_completed";
      f["duration_ms"] = ev.duration_ms();
      f["success"] = ev.success();
      f["details"] = ev.details();
      f["tiers_tried"] = std::vector<uint32_t>(ev.tiers_tried().begin(), ev.tiers_tried().end());
      level = ev.success() ? log::Level::kInfo : log::Level::kError;
      break;
    case pb::RepairEvent::ESCALATION:
      f["details"] = ev.details();
      f["success"] = false;
      level = log::Level::kError;
      break;
    default:
      f["details"] = ev.details().empty() ? reason_text(ev.reason(), ev.findings()) : ev.details();
      if (ev.defer_reason() != pb::DEFER_REASON_UNSPECIFIED) f["defer_reason"] = defer_reason_name(ev.defer_reason());
      if (ev.cooldown_until_ms()) f["cooldown_until"] = log::iso_time(ev.cooldown_until_ms());
      if (!ev.actor().empty()) f["actor"] = ev.actor();
      if (ev.kind() == pb::RepairEvent::RATE_LIMITED || ev.kind() == pb::RepairEvent::COOLDOWN_ENTERED) {
        level = log::Level::kWarn;
      }
      break;
  }
  log::write(level, event_name, f);
  pb::Event bus_event;
  *bus_event.mutable_repair_event() = std::move(ev);
  ctx.publish(std::move(bus_event));
}

bool RepairerWorker::recorded(int64_t repair_id) const { return store_ != nullptr && repair_id < kFirstUnsavedId; }

void RepairerWorker::remember_unsaved(const pb::RepairSummary& summary) {
  for (auto& r : unsaved_repairs_) {
    if (r.id() == summary.id()) {
      r = summary;
      return;
    }
  }
  unsaved_repairs_.push_back(summary);
  while (unsaved_repairs_.size() > 50) unsaved_repairs_.pop_front();
}

std::optional<pb::RepairSummary> RepairerWorker::find_repair(int64_t id) {
  if (active_ && active_->summary.id() == id && !recorded(id)) return active_->summary;
  for (const auto& r : unsaved_repairs_) {
    if (r.id() == id) return r;
  }
  if (!store_) return std::nullopt;
  return store_->get_repair(id);
}

void RepairerWorker::handle(WorkerContext& ctx, RunnerMessage& m) {
  if (!active_) return;
  auto& a = *active_;
  const int64_t id = a.summary.id();
  switch (m.kind) {
    case RunnerMessage::Kind::kTierStarted: {
      a.summary.set_current_tier(m.tier);
      a.summary.add_tiers_tried(m.tier);
      if (recorded(id)) {
        (void)store_->set_current_tier(id, m.tier, {a.summary.tiers_tried().begin(), a.summary.tiers_tried().end()});
      }
      log::info("repair_tier_started", {{"repair_id", id}, {"tier", m.tier}, {"trigger", trigger_text(a.summary.trigger())}});
      break;
    }
    case RunnerMessage::Kind::kStepStarted: {
      const bool same = a.step_running && a.current.name() == m.step.name() && a.current.tier() == m.step.tier();
      if (!same) {
        ++a.step_index;
        a.step_running = true;
      }
      a.current = m.step;
      if (recorded(id)) (void)store_->save_step(id, a.step_index, m.step, true);
      update_activity(ctx);
      break;
    }
    case RunnerMessage::Kind::kStepFinished: {
      if (!a.step_running) ++a.step_index;
      a.step_running = false;
      a.current = m.step;
      if (recorded(id)) (void)store_->save_step(id, a.step_index, m.step, false);
      *a.summary.add_steps() = m.step;
      pb::RepairEvent ev;
      ev.set_kind(pb::RepairEvent::STEP);
      ev.set_repair_id(id);
      ev.set_tier(m.step.tier());
      ev.set_trigger(a.summary.trigger());
      *ev.mutable_step() = m.step;
      emit(ctx, ev);
      break;
    }
    case RunnerMessage::Kind::kTierFailed: {
      pb::RepairEvent ev;
      ev.set_kind(pb::RepairEvent::TIER_FAILED);
      ev.set_repair_id(id);
      ev.set_tier(m.tier);
      ev.set_trigger(a.summary.trigger());
      ev.set_duration_ms(m.duration_ms);
      ev.set_details(m.why);
      emit(ctx, ev);
      break;
    }
    case RunnerMessage::Kind::kPlanRejected: {
      pb::RepairEvent ev;
      ev.set_kind(pb::RepairEvent::TIER3_REJECTED);
      ev.set_repair_id(id);
      ev.set_tier(3);
      ev.set_trigger(a.summary.trigger());
      ev.set_diagnosis(m.why);
      ev.set_details(std::to_string(m.rejected_lines.size()) + " line(s) of the AI's plan were rejected; nothing from it ran");
      for (const auto& l : m.rejected_lines) ev.add_rejected_lines(l);
      emit(ctx, ev);
      break;
    }
    case RunnerMessage::Kind::kDone:
      finish(ctx, m.outcome);
      break;
  }
}

void RepairerWorker::finish(WorkerContext& ctx, const RepairOutcome& outcome) {
  if (!active_) return;
  auto& s = active_->summary;
  if (outcome.cancelled) {
    // Left "running" on purpose: the next repairer resumes it.
    log::info("repair_suspended", {{"repair_id", s.id()}, {"tier", s.current_tier()}});
    return;
  }
  const int64_t now = now_ms();
  s.set_finished_at_ms(now);
  s.set_duration_ms(now - s.started_at_ms());
  s.set_success(outcome.success);
  s.set_fixed_by_tier(outcome.fixed_by_tier);
  s.set_status(outcome.success ? pb::REPAIR_SUCCEEDED : pb::REPAIR_FAILED);
  s.set_details(outcome.details);
  if (s.tiers_tried().empty()) {
    for (auto t : outcome.tiers_tried) s.add_tiers_tried(t);
  }
  if (recorded(s.id())) {
    if (auto st = store_->finish_repair(s.id(), s); !st) log::error("repair_not_recorded", {{"error", st.message()}});
  } else {
    remember_unsaved(s);
  }
  if (!s.signature().empty() && store_) {
    HistoryStore::Outcome learned;
    learned.signature = s.signature();
    learned.description = reason_text(s.reason(), s.findings());
    learned.tiers_tried.assign(s.tiers_tried().begin(), s.tiers_tried().end());
    learned.fixed_by_tier = outcome.success ? outcome.fixed_by_tier : 0;
    learned.plan = outcome.plan;
    learned.plan_replayed = outcome.plan_replayed;
    learned.replay_failed = outcome.replay_failed;
    if (auto st = store_->record_outcome(learned, now); !st) log::warn("learning_not_recorded", {{"error", st.message()}});
    if (outcome.success && outcome.fixed_by_tier == 3 && !outcome.plan.empty() && !outcome.plan_replayed) {
      log::info("tier3_plan_learned", {{"signature", s.signature()}, {"plan", outcome.plan}});
    }
  }
  const bool cooled = on_finished(policy_, outcome.success, s.trigger() == pb::TRIGGER_AUTO, settings_, now);
  save_policy(ctx);

  pb::RepairEvent done;
  done.set_kind(pb::RepairEvent::FINISHED);
  done.set_repair_id(s.id());
  done.set_tier(outcome.success ? outcome.fixed_by_tier : s.current_tier());
  done.set_trigger(s.trigger());
  done.set_actor(s.actor());
  done.set_reason(s.reason());
  *done.mutable_findings() = s.findings();
  done.set_success(outcome.success);
  done.set_duration_ms(s.duration_ms());
  done.set_details(outcome.details);
  done.set_verified(outcome.verified);
  done.set_impaired(outcome.impaired);
  done.set_started_channel(outcome.started_channel);
  for (auto t : s.tiers_tried()) done.add_tiers_tried(t);
  done.set_diagnosis(outcome.diagnosis);
  emit(ctx, done);
  if (!outcome.success) {
    pb::RepairEvent esc;
    esc.set_kind(pb::RepairEvent::ESCALATION);
    esc.set_repair_id(s.id());
    esc.set_tier(s.current_tier());
    esc.set_trigger(s.trigger());
    esc.set_reason(s.reason());
    *esc.mutable_findings() = s.findings();
    esc.set_details(outcome.details);
    esc.set_diagnosis(outcome.diagnosis);
    for (auto t : s.tiers_tried()) esc.add_tiers_tried(t);
    emit(ctx, esc);
  }
  if (cooled) {
    pb::RepairEvent cool;
    cool.set_kind(pb::RepairEvent::COOLDOWN_ENTERED);
    cool.set_repair_id(s.id());
    cool.set_cooldown_until_ms(policy_.cooldown_until_ms());
    cool.set_details(policy_.cooldown_reason() + "; no automatic repair until the cooldown ends");
    emit(ctx, cool);
  }
  // The prober's last words may predate the repair's end: have it look again.
  pb::Event reprobe;
  reprobe.mutable_reprobe()->set_reason("repair #" + std::to_string(s.id()) + " finished");
  ctx.publish(std::move(reprobe));
  active_.reset();
  update_activity(ctx);
}

SteadyTime RepairerWorker::on_tick(WorkerContext& ctx, SteadyTime now) {
  const int64_t wall = now_ms();
  if (!state_trusted() && wall >= next_store_retry_ms_) connect_store(ctx);
  if (storage_alert_ && wall >= next_alert_republish_ms_) {
    // Level-triggered, like health: a bridge that restarted hears it again.
    ctx.publish_alert(*storage_alert_);
    next_alert_republish_ms_ = wall + 30'000;
  }
  if (pause_expired(policy_, wall)) {
    const int64_t lasted = wall - policy_.paused_at_ms();
    resume(policy_);
    if (!policy_loaded_) owner_pause_ = policy_;
    save_policy(ctx);
    pb::RepairEvent ev;
    ev.set_kind(pb::RepairEvent::RESUMED);
    ev.set_actor("timer");
    ev.set_details("the " + format_duration_ms(lasted / 1000 * 1000) + " pause ended; automatic repairs resumed");
    emit(ctx, ev);
    update_activity(ctx);
  }
  if (cooldown_ended(policy_, wall)) {
    pb::RepairEvent ev;
    ev.set_kind(pb::RepairEvent::COOLDOWN_ENDED);
    ev.set_details("automatic repairs are allowed again");
    emit(ctx, ev);
    save_policy(ctx);
  }
  if (store_ && wall >= next_prune_ms_) {
    next_prune_ms_ = wall + 3'600'000;
    const auto& h = ctx.config().history();
    if (auto pruned = store_->prune(wall, h.max_age(), h.max_repairs(), h.max_learned()); !pruned) {
      log::warn("history_prune_failed", {{"error", pruned.message()}});
    } else if (*pruned > 0) {
      log::info("history_pruned", {{"repairs", *pruned}, {"max_age", format_duration_ms(h.max_age())},
                                   {"max_repairs", h.max_repairs()}});
    }
  }
  evaluate(ctx);
  return now + 1s;
}

std::vector<zmq::pollitem_t> RepairerWorker::poll_items() {
  if (!runner_) return {};
  return {{nullptr, runner_->notify_fd(), ZMQ_POLLIN, 0}};
}

void RepairerWorker::on_ready(WorkerContext& ctx, size_t index) {
  if (index != 0 || !runner_) return;
  auto messages = runner_->drain();
  bool done = false;
  for (auto& m : messages) {
    done |= m.kind == RunnerMessage::Kind::kDone;
    handle(ctx, m);
  }
  if (done) {
    runner_.reset();
    evaluate(ctx);
  }
}

pb::RepairStatusReply RepairerWorker::status_reply() {
  pb::RepairStatusReply r;
  const int64_t now = now_ms();
  r.set_paused(policy_.paused());
  r.set_paused_by(policy_.paused_by());
  r.set_paused_at_ms(policy_.paused_at_ms());
  r.set_in_progress(active_.has_value());
  if (active_) {
    r.set_current_repair_id(active_->summary.id());
    r.set_current_tier(active_->summary.current_tier());
  }
  r.set_cooldown_until_ms(policy_.cooldown_until_ms() > now ? policy_.cooldown_until_ms() : 0);
  r.set_repairs_last_hour(repairs_in_last_hour(policy_, now));
  r.set_max_per_hour(settings_.max_per_hour);
  r.set_consecutive_failures(policy_.consecutive_failures());
  if (!unsaved_repairs_.empty()) {
    *r.mutable_last_repair() = unsaved_repairs_.back();
  } else if (store_) {
    const auto recent = store_->recent_repairs(1);
    if (!recent.empty()) *r.mutable_last_repair() = recent.front();
  }
  if (!state_trusted()) {
    r.set_state_unsaved(true);
    r.set_state_error(storage_alert_ ? storage_alert_->detail() : std::string("gwr.db is not open yet"));
  }
  if (policy_.deferred_since_ms()) {
    r.set_waiting(pb::DEFER_BUSY);
    r.set_waiting_until_ms(policy_.deferred_since_ms() + settings_.quiet_max_wait_ms);
  } else if (last_wait_ != pb::DEFER_REASON_UNSPECIFIED) {
    r.set_waiting(last_wait_);
    r.set_waiting_until_ms(last_wait_until_ms_);
  }
  r.set_paused_until_ms(policy_.paused() ? policy_.paused_until_ms() : 0);
  if (const auto window = maintenance_window_at(settings_.windows, local_moment(now))) {
    r.set_in_window(true);
    r.set_window_ends_ms(now + window->ends_in_ms);
  }
  if (health_ && now - health_->observed_at_ms() <= settings_.max_health_age_ms) {
    if (const pb::Finding* stop = owner_stop(policy_, *health_)) {
      r.set_stopped_by_owner(true);
      r.set_stopped_at_ms(stop->since_ms());
      r.set_stopped_by(stop->subject());
    }
  }
  return r;
}

pb::Reply RepairerWorker::on_request(WorkerContext& ctx, const pb::Request& request) {
  pb::Reply reply;
  switch (request.body_case()) {
    case pb::Request::kRepairStatus:
      *reply.mutable_repair_status() = status_reply();
      break;
    case pb::Request::kRepair: {
      const auto& req = request.repair();
      const std::string actor = req.actor().empty() ? request.client() : req.actor();
      if (!req.start_channel().empty()) return start_channel(ctx, actor, req.start_channel());
      if (active_) {
        log::warn("manual_repair_refused", {{"actor", actor}, {"running_repair_id", active_->summary.id()}});
        return error_reply(pb::Error::REFUSED, "repair #" + std::to_string(active_->summary.id()) +
                                                   " is already running (tier " +
                                                   std::to_string(active_->summary.current_tier()) + ")");
      }
      uint32_t tier = req.start_tier();
      if (tier == 0) {
        tier = health_ && health_->recommended_tier() > 0 ? health_->recommended_tier() : 1;
      }
      tier = std::clamp<uint32_t>(tier, 1, 3);
      log::info("manual_repair_requested", {{"actor", actor}, {"tier", tier}, {"reason", req.reason()}});
      const int64_t id = start_repair(ctx, pb::TRIGGER_MANUAL, actor, req.reason(), tier);
      if (id == 0) return error_reply(pb::Error::INTERNAL, "the repair could not be recorded");
      reply.mutable_repair_accepted()->set_repair_id(id);
      break;
    }
    case pb::Request::kGetRepair: {
      auto r = find_repair(request.get_repair().repair_id());
      if (!r) {
        return error_reply(pb::Error::INVALID_ARGUMENT,
                           "no repair #" + std::to_string(request.get_repair().repair_id()));
      }
      *reply.mutable_repair() = *r;
      break;
    }
    case pb::Request::kPause: {
      const std::string actor = request.pause().actor().empty() ? request.client() : request.pause().actor();
      const int64_t for_ms = request.pause().for_ms();
      if (for_ms < 0 || for_ms > 30LL * 24 * 3'600'000) {
        return error_reply(pb::Error::INVALID_ARGUMENT, "a timed pause lasts from 1s to 30 days");
      }
      // A timed pause over a running one sets when it ends (the owner's latest word).
      if (policy_.paused() && for_ms > 0) {
        policy_.set_paused_until_ms(now_ms() + for_ms);
        if (!policy_loaded_) owner_pause_ = policy_;
        save_policy(ctx);
      }
      if (!policy_.paused()) {
        pause(policy_, actor, request.pause().reason(), now_ms(), for_ms > 0 ? now_ms() + for_ms : 0);
        if (!policy_loaded_) owner_pause_ = policy_;  // applied once the saved policy can be read
        save_policy(ctx);
        pb::RepairEvent ev;
        ev.set_kind(pb::RepairEvent::PAUSED);
        ev.set_actor(actor);
        ev.set_details((request.pause().reason().empty() ? std::string("maintenance mode") : request.pause().reason()) +
                       (for_ms > 0 ? " (for " + format_duration_ms(for_ms) + ", then automatic repairs resume)" : ""));
        ev.set_cooldown_until_ms(policy_.paused_until_ms());
        emit(ctx, ev);
      }
      *reply.mutable_repair_status() = status_reply();
      update_activity(ctx);
      break;
    }
    case pb::Request::kResume: {
      const std::string actor = request.resume().actor().empty() ? request.client() : request.resume().actor();
      if (policy_.paused()) {
        resume(policy_);
        if (!policy_loaded_) owner_pause_ = policy_;
        save_policy(ctx);
        pb::RepairEvent ev;
        ev.set_kind(pb::RepairEvent::RESUMED);
        ev.set_actor(actor);
        ev.set_details("automatic repairs resumed");
        emit(ctx, ev);
      }
      *reply.mutable_repair_status() = status_reply();
      update_activity(ctx);
      evaluate(ctx);
      break;
    }
    case pb::Request::kHistory: {
      const uint32_t limit = std::clamp<uint32_t>(request.history().limit() ? request.history().limit() : 20, 1, 1000);
      auto* history = reply.mutable_history();  // set even when there is nothing to list
      // Repairs gwr.db could not record come first (they are the newest).
      for (auto it = unsaved_repairs_.rbegin(); it != unsaved_repairs_.rend(); ++it) *history->add_repairs() = *it;
      if (store_) {
        for (auto& r : store_->recent_repairs(limit)) *history->add_repairs() = std::move(r);
      }
      while (static_cast<uint32_t>(history->repairs_size()) > limit) history->mutable_repairs()->RemoveLast();
      break;
    }
    case pb::Request::kStats: {
      if (!store_) return error_reply(pb::Error::UNAVAILABLE, "gwr.db cannot be opened: " + status_reply().state_error());
      *reply.mutable_stats() = store_->stats(now_ms());
      for (auto& p : store_->learned_patterns(50)) *reply.mutable_stats()->add_learned() = std::move(p);
      break;
    }
    case pb::Request::kLogs: {
      if (!store_) return error_reply(pb::Error::UNAVAILABLE, "gwr.db cannot be opened: " + status_reply().state_error());
      const uint32_t limit = std::clamp<uint32_t>(request.logs().limit() ? request.logs().limit() : 10, 1, 1000);
      auto* logs = reply.mutable_logs();
      for (auto& e : store_->recent_events(limit)) *logs->add_events() = std::move(e);
      break;
    }
    default:
      break;
  }
  return reply;
}

pb::Reply RepairerWorker::start_channel(WorkerContext& ctx, const std::string& actor, const std::string& channel) {
  // The id must be one OpenClaw itself lists as held off right now: what a
  // button or a message says is only a request for it.
  std::vector<std::string> held;
  if (health_ && now_ms() - health_->observed_at_ms() <= settings_.max_health_age_ms) {
    for (const auto& f : health_->findings()) {
      if (f.kind() == pb::Finding::CHANNEL_SUPPRESSED) held.push_back(f.subject());
    }
  }
  const bool listed = std::find(held.begin(), held.end(), channel) != held.end();
  log::info("channel_start_requested", {{"actor", actor}, {"channel", clip_end(valid_utf8(channel), 64)}, {"listed", listed}});
  if (ctx.config().gateway().token().empty()) {
    return error_reply(pb::Error::REFUSED, "gateway.token is not set: channels.start needs the gateway's token");
  }
  if (!listed || !is_channel_id(channel)) {
    std::string list;
    for (const auto& h : held) list += (list.empty() ? "" : ", ") + h;
    return error_reply(pb::Error::INVALID_ARGUMENT, "channel " + clip_end(valid_utf8(channel), 64) +
                                                        " is not held off by OpenClaw's crash-loop breaker now" +
                                                        (list.empty() ? "" : " (held off: " + list + ")"));
  }
  if (active_) {
    return error_reply(pb::Error::REFUSED, "repair #" + std::to_string(active_->summary.id()) + " is running");
  }
  pending_channel_ = channel;
  const int64_t id = start_repair(ctx, pb::TRIGGER_MANUAL, actor, "start channel " + channel + " (held off by OpenClaw's crash-loop breaker)", 1);
  pending_channel_.clear();
  if (id == 0) return error_reply(pb::Error::INTERNAL, "the request could not be recorded");
  pb::Reply reply;
  reply.mutable_repair_accepted()->set_repair_id(id);
  return reply;
}

tier3::Tier3Context RepairerWorker::tier3_context(const pb::RepairSummary& summary) {
  tier3::Tier3Context c;
  c.signature = summary.signature();
  c.reasons = reason_text(summary.reason(), summary.findings());
  c.health_history.assign(recent_health_.begin(), recent_health_.end());
  c.start_channel = pending_channel_;
  c.doctor_first = pending_doctor_first_;
  {
    auto history = c.health_history;
    if (health_) history.push_back(*health_);
    c.not_ready_before = not_ready_before(history, summary.findings());
  }
  if (!c.signature.empty() && settings_.tier3_enabled && store_) {
    if (auto learned = store_->learned(c.signature)) c.learned_plan = learned->plan;
  }
  return c;
}

void RepairerWorker::update_activity(WorkerContext& ctx) {
  std::string a;
  if (active_) {
    a = "repairing #" + std::to_string(active_->summary.id()) + ", tier " +
        std::to_string(active_->summary.current_tier());
    if (active_->step_running) a += ": " + active_->current.name();
  } else if (!state_trusted()) {
    a = "automatic repairs stopped: cannot " + std::string(store_ && policy_loaded_ ? "save" : "read") +
        " the repair state" + (policy_.paused() ? " (paused by " + policy_.paused_by() + ")" : "");
  } else if (policy_.paused()) {
    a = "paused by " + policy_.paused_by() +
        (policy_.paused_until_ms() ? " until " + log::iso_time(policy_.paused_until_ms()) : std::string());
  } else if (policy_.cooldown_until_ms() > now_ms()) {
    a = "cooling down until " + log::iso_time(policy_.cooldown_until_ms());
  } else {
    a = "ready: " + std::to_string(repairs_in_last_hour(policy_, now_ms())) + "/" +
        std::to_string(settings_.max_per_hour) + " repairs in the last hour";
  }
  ctx.set_activity(a);
}

void RepairerWorker::stop(WorkerContext& ctx) {
  if (runner_) {
    runner_->cancel();
    for (auto& m : runner_->drain()) handle(ctx, m);
    runner_.reset();
    // Anything the runner said after the cancel landed before the join.
  }
  (void)save_policy(ctx);
}

}  // namespace gwr::repairer
