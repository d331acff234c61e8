// RealRepairActions: what the pipeline's steps do on a real machine —
// commands without a shell (bounded, redacted output, environment without
// gwr's own secrets), killing stale port owners, sweeping stale locks, and
// verifying health over HTTP.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/http_client.h"
#include "common/process.h"
#include "common/boot_ledger.h"
#include "repairer/port_owners.h"
#include "repairer/repair_pipeline.h"

namespace gwr::repairer {

struct ActionSettings {
  std::string host;
  uint16_t port = 0;
  std::string health_path;
  std::string startup_path;
  std::string readiness_path;
  Millis health_timeout{2000};
  std::string process_match;
  std::string launch_match;
  std::string state_dir;
  std::vector<std::string> lock_globs;
  int64_t unreadable_lock_grace_ms = 10'000;
  Millis linger_grace{30'000};
  uid_t allowed_uid = 0;
  std::set<pid_t> protected_pids;
  std::map<std::string, std::string> command_env;
  std::vector<std::string> call_argv;  // gateway.commands.call
  std::string token;                   // gateway.token (only channels.start gets it)
  size_t max_stored_output = 8 * 1024;

  static ActionSettings from_config(const pb::Config& config);
};

// The environment for repair commands: gwr's own minus its secrets (by name
// and by value), so a gateway CLI never sees the bot token or the AI key.
std::map<std::string, std::string> command_environment(const pb::Config& config);

// The crashes and kills gwr itself saw, for when OpenClaw's boot records
// cannot be read (boot_ledger.h); one per repairer process, shared by its
// repairs (thread-safe).
class SharedBootLedger {
 public:
  static SharedBootLedger& instance();
  void record(uint32_t pid, int64_t process_started_ms, int64_t now_ms);
  std::vector<BootRecord> as_boots(int64_t now_ms, uint32_t running_pid, int64_t running_started_ms) const;

 private:
  mutable std::mutex mu_;
  UncleanBootLedger ledger_;
};

// A command's result as a step record (output bounded and redacted).
pb::RepairStep step_from_result(uint32_t tier, const std::string& name, const std::vector<std::string>& argv,
                                const CommandResult& r, int64_t started_at_ms, size_t max_output);

class RealRepairActions final : public RepairActions {
 public:
  RealRepairActions(ActionSettings settings, CommandRunner& runner, std::unique_ptr<HttpClient> http, const Clock& clock,
                    const std::atomic<bool>& cancel);
  pb::RepairStep run_command(uint32_t tier, const std::string& name, const std::vector<std::string>& argv,
                             Millis timeout, const PidCallback& on_pid) override;
  pb::RepairStep kill_port_owners(uint32_t tier, Millis timeout) override;
  pb::RepairStep sweep_stale_locks(uint32_t tier) override;
  pb::RepairStep verify(uint32_t tier, SteadyTime deadline, SteadyTime tier_started, Millis startup_grace) override;
  pb::RepairStep sweep_locks(uint32_t tier, const std::string& name, const std::vector<std::string>& globs) override;
  pb::RepairStep kill_port_owner(uint32_t tier, const std::string& name, int pid, Millis timeout) override;
  pb::RepairStep list_port_owners(uint32_t tier, const std::string& name) override;
  void set_not_ready_before(const std::vector<std::string>& names) override { not_ready_before_ = names; }
  pb::RepairStep start_channel(uint32_t tier, const std::string& channel, Millis timeout) override;
  pb::RepairStep verify_channel(uint32_t tier, const std::string& channel, SteadyTime deadline) override;

 private:
  struct Starting {
    bool starting = false;
    pid_t pid = 0;
    std::string why_not;
  };
  // Before gwr sends SIGKILL to pid: wait until that kill is not OpenClaw's
  // third unclean boot in its breaker window (boot_ledger.h).
  KillDelay before_sigkill(pid_t pid, int64_t start_wall_ms);
  void after_sigkill(pid_t pid, int64_t start_wall_ms);
  KillHooks kill_hooks();
  bool is_gateway_process(pid_t pid) const;
  // After the stop: the gateway that closed its port but did not exit.
  std::string stop_lingering_gateway(bool& ok);
  // Whether a gateway process is starting (younger than the grace, by name or
  // launch name) with its port free for it.
  Starting gateway_starting(Millis startup_grace) const;
  ActionSettings settings_;
  CommandRunner& runner_;
  std::unique_ptr<HttpClient> http_;
  const Clock& clock_;
  const std::atomic<bool>& cancel_;
  int64_t created_ms_ = 0;   // when this repair's actions began
  std::set<pid_t> gateway_kills_;  // gateways before_sigkill was asked about (they are dead after it)
  std::vector<std::string> not_ready_before_;
};

}  // namespace gwr::repairer
