#include "repairer/repair_actions.h"

#include <unistd.h>

#include <algorithm>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/boot_lifecycle.h"
#include "common/config.h"
#include "common/duration.h"
#include "common/findings.h"
#include "common/gateway_finder.h"
#include "common/gateway_probe.h"
#include "common/log.h"
#include "common/redact.h"
#include "common/text.h"
#include "repairer/port_owners.h"
#include "repairer/recovery.h"
#include "repairer/stale_lock_sweeper.h"

namespace gwr::repairer {

using namespace std::chrono_literals;

std::map<std::string, std::string> command_environment(const pb::Config& config) {
  static const std::set<std::string> kSecretNames = {"TELEGRAM_BOT_TOKEN", "QWEN_API_KEY", "TELEGRAM_CHAT_ID",
                                                      "OPENCLAW_GATEWAY_TOKEN"};
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
  s.readiness_path = c.gateway().readiness_path();
  s.health_timeout = Millis(c.probes().health().timeout());
  s.process_match = c.gateway().process_match();
  s.launch_match = c.gateway().launch_match();
  s.state_dir = c.gateway().state_dir();
  s.lock_globs.assign(c.repair().tier2().stale_lock_globs().begin(), c.repair().tier2().stale_lock_globs().end());
  s.unreadable_lock_grace_ms = c.repair().tier2().unreadable_lock_grace();
  s.linger_grace = Millis(c.repair().tier2().linger_grace());
  s.allowed_uid = ::geteuid();
  s.protected_pids = {::getpid(), ::getppid()};
  s.command_env = command_environment(c);
  s.call_argv.assign(c.gateway().commands().call().begin(), c.gateway().commands().call().end());
  s.token = c.gateway().token();
  return s;
}

SharedBootLedger& SharedBootLedger::instance() {
  static SharedBootLedger ledger;
  return ledger;
}

void SharedBootLedger::record(uint32_t pid, int64_t process_started_ms, int64_t now_ms) {
  std::lock_guard lock(mu_);
  ledger_.record(pid, process_started_ms, now_ms);
}

std::vector<BootRecord> SharedBootLedger::as_boots(int64_t now_ms, uint32_t running_pid,
                                                   int64_t running_started_ms) const {
  std::lock_guard lock(mu_);
  return ledger_.as_boots(now_ms, running_pid, running_started_ms);
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
    : settings_(std::move(settings)),
      runner_(runner),
      http_(std::move(http)),
      clock_(clock),
      cancel_(cancel),
      created_ms_(clock.wall_ms()) {}

bool RealRepairActions::is_gateway_process(pid_t pid) const {
  const auto p = read_proc(pid);
  if (!p) return false;
  return process_matches(*p, settings_.process_match) ||
         (!settings_.launch_match.empty() && process_matches(*p, settings_.launch_match));
}

KillDelay RealRepairActions::before_sigkill(pid_t pid, int64_t start_wall_ms) {
  // Only a gateway has a boot to count: a squatter's kill is no boot. Told
  // apart now, while it is alive: after the SIGKILL the process table no longer says.
  if (!is_gateway_process(pid)) return {};
  gateway_kills_.insert(pid);
  const int64_t now = clock_.wall_ms();
  const auto life = read_boot_lifecycle(settings_.state_dir, now);
  if (life.no_breaker) return {};
  std::vector<BootRecord> boots = life.boots;
  std::string source = "OpenClaw's boot records";
  if (!life.read) {
    boots = SharedBootLedger::instance().as_boots(now, static_cast<uint32_t>(pid), start_wall_ms);
    source = "the crashes and kills gwr saw itself (" + life.error + ")";
  }
  const auto f = forecast_hard_kill(boots, static_cast<uint32_t>(pid), start_wall_ms, now);
  log::info("breaker_forecast", {{"target_pid", pid},
                                 {"unclean_boots", f.unclean_now},
                                 {"own_row_counted", f.own_row_counted},
                                 {"trips_now", f.trips_now},
                                 {"trips_anyway", f.trips_anyway},
                                 {"source", source}});
  if (!f.trips_now) return {};
  return {Millis(std::max<int64_t>(0, f.safe_at_ms - now)), f.explain() + "; counted from " + source};
}

void RealRepairActions::after_sigkill(pid_t pid, int64_t start_wall_ms) {
  if (!gateway_kills_.count(pid)) return;
  SharedBootLedger::instance().record(static_cast<uint32_t>(pid), start_wall_ms, clock_.wall_ms());
}

KillHooks RealRepairActions::kill_hooks() {
  KillHooks h;
  h.before_sigkill = [this](pid_t pid, int64_t start) { return before_sigkill(pid, start); };
  h.after_sigkill = [this](pid_t pid, int64_t start) { after_sigkill(pid, start); };
  h.cancelled = [this] { return cancel_.load(); };
  return h;
}

std::string RealRepairActions::stop_lingering_gateway(bool& ok) {
  ok = true;
  const int64_t now = clock_.wall_ms();
  const GatewaySpec spec{settings_.process_match, settings_.launch_match, 0, settings_.port, settings_.state_dir};
  const auto gw = find_gateway(spec, 0, 0, now);
  // One the service manager started since this repair began is not lingering.
  if (!gw.found || gw.start_wall_ms >= created_ms_ || pid_listens_on(gw.pid, settings_.port)) return "";
  const auto handle = ProcessHandle::open({gw.pid, gw.start_ticks, ""});
  if (!handle) return "";
  log::warn("gateway_lingering", {{"target_pid", gw.pid}, {"grace_ms", settings_.linger_grace.count()}});
  const auto waited_from = clock_.steady();
  const bool exited = wait_exit_unless(*handle, settings_.linger_grace, [this] { return cancel_.load(); });
  const std::string who = "the gateway (pid " + std::to_string(gw.pid) + ") closed its port but ";
  if (exited) {
    return who + "took " + format_duration(std::chrono::duration_cast<Millis>(clock_.steady() - waited_from)) +
           " to exit after the stop";
  }
  if (cancel_) return who + "was still alive when the repair was cancelled";
  const auto report = repairer::stop_process(gw.pid, gw.start_ticks, settings_.allowed_uid, settings_.protected_pids,
                                             Millis(2000), kill_hooks());
  ok = report.ok();
  return who + "was still alive " + format_duration(settings_.linger_grace) +
         " after the stop (repair.tier2.linger_grace): " + report.summary();
}

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
  // A stopped or busy gateway that gets SIGTERM and SIGCONT stops cleanly
  // in 2-3 s (its boot then does not count as unclean): give it that.
  const auto grace = std::max(Millis(200), std::min(Millis(5000), timeout));
  const auto report =
      repairer::kill_port_owners(settings_.port, settings_.allowed_uid, settings_.protected_pids, grace, kill_hooks());
  bool lingering_ok = true;
  const std::string lingering = stop_lingering_gateway(lingering_ok);
  step.set_duration_ms(std::chrono::duration_cast<Millis>(clock_.steady() - t0).count());
  step.set_ok(report.ok() && lingering_ok);
  step.set_exit_code(step.ok() ? 0 : 1);
  step.set_detail(SharedRedactor::instance().redact("port " + std::to_string(settings_.port) + ": " + report.summary() +
                                                    (lingering.empty() ? "" : "; " + lingering)));
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
                                                    settings_.protected_pids, grace, kill_hooks());
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

pb::RepairStep RealRepairActions::start_channel(uint32_t tier, const std::string& channel, Millis timeout) {
  const int64_t started = clock_.wall_ms();
  std::vector<std::string> argv = settings_.call_argv;
  argv.insert(argv.end(), {"channels.start", "--params", nlohmann::json{{"channel", channel}}.dump(), "--port",
                           std::to_string(settings_.port), "--json"});
  pb::RepairStep refused;
  refused.set_tier(tier);
  refused.set_name("channels.start");
  refused.set_started_at_ms(started);
  refused.set_exit_code(-1);
  if (!is_channel_id(channel)) {
    refused.set_detail("not a channel id OpenClaw gives; nothing was run");
    return refused;
  }
  if (settings_.call_argv.empty() || settings_.token.empty()) {
    refused.set_detail(settings_.token.empty() ? "gateway.token is not set; nothing was run"
                                               : "gateway.commands.call is empty; nothing was run");
    return refused;
  }
  CommandSpec spec;
  spec.argv = argv;
  spec.timeout = std::min(timeout, Millis(30'000));
  auto env = settings_.command_env;
  env["OPENCLAW_GATEWAY_TOKEN"] = settings_.token;  // the environment, never argv
  spec.env = std::move(env);
  spec.cancel = &cancel_;
  log::info("channel_start", {{"channel", channel}});
  const auto r = runner_.run(spec);
  auto step = step_from_result(tier, "channels.start", argv, r, started, settings_.max_stored_output);
  if (r.success()) {
    // {"channel":"telegram","started":true,"outcome":{"status":"handed-off"}}, maybe after other lines.
    const auto open = r.output.find('{');
    const auto close = r.output.rfind('}');
    const auto j = open == std::string::npos || close == std::string::npos || close < open
                       ? nlohmann::json()
                       : nlohmann::json::parse(r.output.substr(open, close - open + 1), nullptr, false);
    const bool said_started = j.is_object() && j.value("started", false);
    step.set_ok(said_started);
    std::string status = j.is_object() && j.contains("outcome") && j["outcome"].is_object()
                             ? j["outcome"].value("status", "")
                             : "";
    step.set_detail(said_started ? "OpenClaw started " + channel + (status.empty() ? "" : " (" + clip_end(valid_utf8(status), 40) + ")")
                                 : "OpenClaw did not say it started " + channel);
  }
  return step;
}

pb::RepairStep RealRepairActions::verify_channel(uint32_t tier, const std::string& channel, SteadyTime deadline) {
  pb::RepairStep step;
  step.set_tier(tier);
  step.set_name("verify");
  step.set_started_at_ms(clock_.wall_ms());
  const auto t0 = clock_.steady();
  std::string last = "no answer from " + settings_.readiness_path;
  while (!cancel_) {
    const auto r = probe_readiness(*http_, settings_.host, settings_.port, settings_.readiness_path, settings_.health_timeout);
    if (r.understood) {
      const bool held = std::find(r.suppressed.begin(), r.suppressed.end(), channel) != r.suppressed.end();
      const bool failing = std::find(r.failing.begin(), r.failing.end(), channel) != r.failing.end();
      if (!held) {
        step.set_ok(true);
        step.set_exit_code(0);
        step.set_detail("channel " + channel + " is no longer held off by the crash-loop breaker" +
                        (failing ? ", but fails to connect (OpenClaw's health monitor retries it)" : ""));
        break;
      }
      last = "the crash-loop breaker still holds " + channel + " off";
    }
    if (clock_.steady() >= deadline) {
      step.set_exit_code(1);
      step.set_detail(last);
      break;
    }
    std::this_thread::sleep_for(std::min(Millis(500), std::chrono::duration_cast<Millis>(deadline - clock_.steady())));
  }
  if (cancel_ && !step.ok()) step.set_detail("cancelled");
  step.set_duration_ms(std::chrono::duration_cast<Millis>(clock_.steady() - t0).count());
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
      const auto readiness = settings_.readiness_path.empty()
                                 ? ReadinessObservation{}
                                 : probe_readiness(*http_, settings_.host, settings_.port, settings_.readiness_path,
                                                   timeout);
      const auto judged = judge_recovery(last, readiness, not_ready_before_);
      if (judged.verdict != RecoveryJudgement::Verdict::kNotYet) {
        const bool impaired = judged.verdict == RecoveryJudgement::Verdict::kImpaired;
        step.set_ok(true);
        step.set_exit_code(0);
        step.set_impaired(impaired);
        step.set_detail(judged.detail + " after " +
                        format_duration(std::chrono::duration_cast<Millis>(clock_.steady() - t0)) +
                        (extended ? " (it was starting)" : ""));
        if (impaired) log::warn("verify_impaired", {{"tier", tier}, {"detail", judged.detail}});
        break;
      }
      // Up, not recovered: what it says is why, if the deadline comes.
      last.ok = false;
      last.detail = judged.detail;
      const bool sidecars = std::find(readiness.failing.begin(), readiness.failing.end(), "startup-sidecars") !=
                            readiness.failing.end();
      if (sidecars) last.startup = StartupStatus::kStarting;
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
