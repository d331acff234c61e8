// Environment: everything a process asks of the world outside it, as
// interfaces. Each main.cpp builds the real one (RealEnvironment) and hands it
// to its worker; nothing deeper constructs an adapter or reads a global
// clock, so a shell runs in a unit test on a FakeClock with fake adapters
// (tests/support/shell_harness.h).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/gateway_finder.h"
#include "common/http_client.h"
#include "common/platform/proc.h"

namespace gwr {

class CommandRunner;

// The operating system as the shells see it: its processes, its memory,
// and signals to a process identified beyond its pid.
class SystemView {
 public:
  virtual ~SystemView() = default;
  // Which process is the gateway `spec` names, or what was seen instead.
  virtual GatewayCandidate find_gateway(const GatewaySpec& spec, pid_t previous, uint64_t previous_start_ticks,
                                        int64_t now_ms) = 0;
  virtual std::optional<ProcInfo> process(pid_t pid) = 0;
  // Every process (the prober looks for upgrades of the gateway in it).
  virtual std::vector<ProcInfo> processes() = 0;
  // RSS of pid's descendants.
  virtual uint64_t descendants_rss_kib(pid_t pid) = 0;
  virtual MemInfo meminfo() = 0;
  // The kernel's count of OOM kills so far.
  virtual uint64_t oom_kills() = 0;
  virtual uint32_t established_connections(uint16_t port) = 0;
  virtual double clock_ticks_per_second() = 0;
  // An fd that becomes readable when pid exits (-1 when it cannot be watched).
  virtual int watch_exit(pid_t pid) = 0;
  virtual void close_watch(int fd) = 0;
  virtual std::string boot_id() = 0;
  // Signals the group led by `leader` if it is still that process; the pids signalled.
  virtual std::vector<pid_t> signal_group(const ProcessIdentity& leader, int sig) = 0;
};

using HttpFactory = std::function<std::unique_ptr<HttpClient>()>;

struct Environment {
  const Clock* clock = nullptr;
  SystemView* system = nullptr;
  CommandRunner* commands = nullptr;  // argv with deadlines, whole process groups
  HttpFactory http;                   // one client per thread that needs one
};

// The real adapters, owned; env() lends them. `http` makes the process's
// HTTP clients: each main picks the one it needs (the prober's speaks plain
// HTTP to the gateway and links no TLS stack).
class RealEnvironment {
 public:
  explicit RealEnvironment(HttpFactory http);
  ~RealEnvironment();
  Environment env();

 private:
  std::unique_ptr<SystemView> system_;
  std::unique_ptr<CommandRunner> commands_;
  HttpFactory http_;
};

}  // namespace gwr
