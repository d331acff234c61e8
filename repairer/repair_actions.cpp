#include "repairer/repair_actions.h"

#include <unistd.h>

#include <thread>

#include "common/config.h"
#include "common/duration.h"
#include "common/gateway_finder.h"
#include "common/gateway_probe.h"
#include "common/log.h"
#include "common/redact.h"
#include "common/text.h"
#include "repairer/port_owners.h"
#include "repairer/stale_lock_sweeper.h"

namespace gwr::repairer {

using namespace std::chrono_literals;

std::map<std::string, std::string> command_environment(const pb::Config& config) {
  static const std::set<std::string> kSecretNames = {"TELEGRAM_BOT_TOKEN", "QWEN_API_KEY", "TELEGRAM_CHAT_ID"};
  const auto secrets = config_secret_values(config);
  std::map<std::string, std::string> env;
  for (const auto& [k, v] : current_environment()) {
    if (kSecretNames.count(k)) continue;
    bool holds_secret = false;
    for (const auto& s : secrets) holds_secret |= !s.empty() && v.find(s) != std::string::npos;
    if (holds_secret) continue;
    env[k] = v;
  }
  if (!env.count("PATH")) env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  return env;
}

ActionSettings ActionSettings::from_config(const pb::Config& c) {
  ActionSettings s;
  s.host = c.gateway().host();
  s.port = static_cast<uint16_t>(c.gateway().port());
  s.health_path = c.gateway().health_path();
  s.startup_path = c.gateway().startup_path();
  s.health_timeout = Millis(c.probes().health().timeout());
  s.process_match = c.gateway().process_match();
  s.launch_match = c.gateway().launch_match();
  s.state_dir = c.gateway().state_dir();
  s.lock_globs.assign(c.repair().tier2().stale_lock_globs().begin(), c.repair().tier2().stale_lock_globs().end());
  s.unreadable_lock_grace_ms = c.repair().tier2().unreadable_lock_grace();
  s.allowed_uid = ::geteuid();
  s.protected_pids = {::getpid(), ::getppid()};
  s.command_env = command_environment(c);
  return s;
}

pb::RepairStep step_from_result(uint32_t tier, const std::string& name, const std::vector<std::string>& argv,
                                const CommandResult& r, int64_t started_at_ms, size_t max_output) {
  pb::RepairStep step;
  step.set_tier(tier);
  step.set_name(name);
  for (const auto& a : argv) step.add_argv(SharedRedactor::instance().redact(a));
  step.set_exit_code(r.started ? r.exit_code : -1);
  step.set_duration_ms(r.duration.count());
  step.set_timed_out(r.timed_out);
  step.set_ok(r.success());
  step.set_started_at_ms(started_at_ms);
  step.set_pid(static_cast<uint32_t>(r.pid));
  // Redacted first, then cut: no part of a secret survives a truncation.
  step.set_output(clip_middle(SharedRedactor::instance().redact(r.output), max_output));
  step.set_detail(SharedRedactor::instance().redact(r.describe()));
  return step;
}

RealRepairActions::RealRepairActions(ActionSettings settings, CommandRunner& runner, std::unique_ptr<HttpClient> http,
                                     const Clock& clock, const std::atomic<bool>& cancel)
    : settings_(std::move(settings)), runner_(runner), http_(std::move(http)), clock_(clock), cancel_(cancel) {}

pb::RepairStep RealRepairActions::run_command(uint32_t tier, const std::string& name,
                                              const std::vector<std::string>& argv, Millis timeout,
                                              const PidCallback& on_pid) {
  const int64_t started = clock_.wall_ms();
  CommandSpec spec;
  spec.argv = argv;
  spec.timeout = timeout;
  spec.env = settings_.command_env;
  spec.cancel = &cancel_;
  spec.on_started = [&](pid_t pid) {
    // Our child, not reaped yet: its identity cannot change under us.
    const auto id = identify_process(pid);
    on_pid({static_cast<uint32_t>(pid), id ? id->start_ticks : 0, boot_id()});
  };
  const auto r = runner_.run(spec);
  return step_from_result(tier, name, argv, r, started, settings_.max_stored_output);
}

pb::RepairStep RealRepairActions::kill_port_owners(uint32_t tier, Millis timeout) {
  pb::RepairStep step;
  step.set_tier(tier);
  step.set_name("kill_port_owners");
  step.set_started_at_ms(clock_.wall_ms());
  const auto t0 = clock_.steady();
  const auto grace = std::max(Millis(200), std::min(Millis(2000), timeout / 2));
  const auto report = repairer::kill_port_owners(settings_.port, settings_.allowed_uid, settings_.protected_pids, grace);
  step.set_duration_ms(std::chrono::duration_cast<Millis>(clock_.steady() - t0).count());
  step.set_ok(report.ok());
  step.set_exit_code(report.ok() ? 0 : 1);
  step.set_detail(SharedRedactor::instance().redact("port " + std::to_string(settings_.port) + ": " + report.summary()));
  return step;
}

pb::RepairStep RealRepairActions::sweep_stale_locks(uint32_t tier) {
  return sweep_locks(tier, "sweep_stale_locks", settings_.lock_globs);
}

pb::RepairStep RealRepairActions::sweep_locks(uint32_t tier, const std::string& name,
                                              const std::vector<std::string>& globs) {
  pb::RepairStep step;
  step.set_tier(tier);
  step.set_name(name);
  step.set_started_at_ms(clock_.wall_ms());
  const auto t0 = clock_.steady();
  const auto report =
      repairer::sweep_stale_locks(settings_.state_dir, globs, settings_.unreadable_lock_grace_ms, clock_.wall_ms());
  step.set_duration_ms(std::chrono::duration_cast<Millis>(clock_.steady() - t0).count());
  step.set_ok(report.errors.empty());
  step.set_exit_code(report.errors.empty() ? 0 : 1);
  step.set_detail(report.summary());
  std::string out;
  for (const auto& r : report.removed) out += "removed " + r + "\n";
  for (const auto& r : report.kept) out += "kept " + r + "\n";
  for (const auto& r : report.skipped) out += "skipped " + r + "\n";
  for (const auto& r : report.errors) out += "error " + r + "\n";
  step.set_output(SharedRedactor::instance().redact(out));
  for (const auto& r : report.removed) log::info("stale_lock_removed", {{"lock", r}});
  for (const auto& r : report.skipped) log::warn("stale_lock_skipped", {{"lock", r}});
  return step;
}

pb::RepairStep RealRepairActions::kill_port_owner(uint32_t tier, const std::string& name, int pid, Millis timeout) {
  pb::RepairStep step;
  step.set_tier(tier);
  step.set_name(name);
  step.set_started_at_ms(clock_.wall_ms());
  const auto t0 = clock_.steady();
  const auto grace = std::max(Millis(200), std::min(Millis(2000), timeout / 2));
  const auto report = repairer::kill_one_port_owner(settings_.port, static_cast<pid_t>(pid), settings_.allowed_uid,
                                                    settings_.protected_pids, grace);
  step.set_duration_ms(std::chrono::duration_cast<Millis>(clock_.steady() - t0).count());
  step.set_ok(report.ok());
  step.set_exit_code(report.ok() ? 0 : 1);
  step.set_detail(SharedRedactor::instance().redact("port " + std::to_string(settings_.port) + ": " + report.summary()));
  return step;
}

pb::RepairStep RealRepairActions::list_port_owners(uint32_t tier, const std::string& name) {
  pb::RepairStep step;
  step.set_tier(tier);
  step.set_name(name);
  step.set_started_at_ms(clock_.wall_ms());
  const auto owners = repairer::describe_port_owners(settings_.port);
  std::string out;
  for (const auto& o : owners) out += o + "\n";
  step.set_ok(true);
  step.set_exit_code(0);
  step.set_detail(owners.empty() ? "nothing listens on port " + std::to_string(settings_.port)
                                 : std::to_string(owners.size()) + " process(es) listen on port " + std::to_string(settings_.port));
  step.set_output(SharedRedactor::instance().redact(out));
  return step;
}

namespace {

bool descends_from(pid_t pid, pid_t ancestor) {
  for (int depth = 0; depth < 64 && pid > 1; ++depth) {
    if (pid == ancestor) return true;
    const auto p = read_proc(pid);
    if (!p) return false;
    pid = p->ppid;
  }
  return false;
}

}  // namespace

RealRepairActions::Starting RealRepairActions::gateway_starting(Millis startup_grace) const {
  const int64_t now = clock_.wall_ms();
  const GatewaySpec spec{settings_.process_match, settings_.launch_match, startup_grace.count(), settings_.port,
                         settings_.state_dir};
  const auto gw = find_gateway(spec, 0, 0, now);
  if (!gw.found) return {false, 0, gw.detail};
  if (now - gw.start_wall_ms >= startup_grace.count()) {
    return {false, gw.pid, "gateway pid " + std::to_string(gw.pid) + " is past its startup grace"};
  }
  // Something else on the port: the gateway cannot bind it, however long it tries.
  for (pid_t l : listening_pids(settings_.port)) {
    if (descends_from(l, gw.pid)) continue;
    const auto p = read_proc(l);
    return {false, gw.pid,
            "port " + std::to_string(settings_.port) + " is held by pid " + std::to_string(l) +
                (p ? " (" + p->comm + ")" : "") + ", not the starting gateway " + std::to_string(gw.pid)};
  }
  return {true, gw.pid, ""};
}

pb::RepairStep RealRepairActions::verify(uint32_t tier, SteadyTime deadline, SteadyTime tier_started,
                                         Millis startup_grace) {
  pb::RepairStep step;
  step.set_tier(tier);
  step.set_name("verify");
  step.set_started_at_ms(clock_.wall_ms());
  const auto t0 = clock_.steady();
  bool extended = false;
  SteadyTime next_look = t0;  // while extended: when to look at the starting process again
  std::string why;            // set when the wait ends early
  HealthObservation last;
  while (true) {
    const auto left = std::chrono::duration_cast<Millis>(deadline - clock_.steady());
    const Millis timeout = std::max(Millis(200), std::min(settings_.health_timeout, left));
    last = probe_health(*http_, settings_.host, settings_.port, settings_.health_path, settings_.startup_path, timeout);
    if (last.ok) {
      step.set_ok(true);
      step.set_exit_code(0);
      step.set_detail("healthy after " + format_duration(std::chrono::duration_cast<Millis>(clock_.steady() - t0)) +
                      (extended ? " (it was starting)" : ""));
      break;
    }
    if (cancel_) {
      step.set_detail("cancelled");
      break;
    }
    if (extended && clock_.steady() >= next_look && last.startup != StartupStatus::kStarting) {
      // Waiting out a start is only worth it while something is starting.
      next_look = clock_.steady() + 1s;
      if (const auto s = gateway_starting(startup_grace); !s.starting) {
        why = s.why_not;
        log::info("verify_gave_up", {{"tier", tier}, {"reason", why}});
        deadline = clock_.steady();
      }
    }
    if (clock_.steady() >= deadline) {
      // Startup-aware: a gateway that is starting gets its grace; a dead one,
      // or one that cannot have its port, does not.
      bool starting = last.startup == StartupStatus::kStarting;
      if (!starting && why.empty() && last.startup != StartupStatus::kStarted) {
        const auto s = gateway_starting(startup_grace);
        starting = s.starting;
        if (!starting) why = s.why_not;
      }
      const SteadyTime extended_deadline = tier_started + startup_grace;
      if (starting && !extended && extended_deadline > deadline) {
        extended = true;
        deadline = extended_deadline;
        next_look = clock_.steady() + 1s;
        log::info("verify_extended", {{"tier", tier}, {"reason", "gateway is starting"},
                                      {"grace_ms", startup_grace.count()}});
        continue;
      }
      step.set_ok(false);
      step.set_exit_code(1);
      step.set_detail("not healthy within " +
                      format_duration(std::chrono::duration_cast<Millis>(clock_.steady() - t0)) + ": " + last.detail +
                      (why.empty() ? "" : "; " + why) +
                      (extended && why.empty() ? " (still starting after the startup grace)" : ""));
      break;
    }
    const auto nap = std::min(Millis(200), std::chrono::duration_cast<Millis>(deadline - clock_.steady()));
    if (nap.count() > 0) std::this_thread::sleep_for(nap);
  }
  step.set_duration_ms(std::chrono::duration_cast<Millis>(clock_.steady() - t0).count());
  return step;
}

}  // namespace gwr::repairer
