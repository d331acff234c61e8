#include "common/environment.h"

#include <fcntl.h>
#include <unistd.h>

#include "common/process.h"

namespace gwr {

namespace {

class RealSystemView final : public SystemView {
 public:
  GatewayCandidate find_gateway(const GatewaySpec& spec, pid_t previous, uint64_t previous_start_ticks,
                                int64_t now_ms) override {
    return gwr::find_gateway(spec, previous, previous_start_ticks, now_ms);
  }
  std::optional<ProcInfo> process(pid_t pid) override { return read_proc(pid); }
  std::vector<ProcInfo> processes() override { return process_table(); }
  uint64_t descendants_rss_kib(pid_t pid) override { return gwr::descendants_rss_kib(pid, process_table()); }
  MemInfo meminfo() override { return read_meminfo(); }
  uint64_t oom_kills() override { return oom_kill_count(); }
  uint32_t established_connections(uint16_t port) override { return gwr::established_connections(port); }
  double clock_ticks_per_second() override { return cpu_ticks_per_second(); }
  int watch_exit(pid_t pid) override { return open_pid_watch(pid); }
  void close_watch(int fd) override { close_pid_watch(fd); }
  std::string boot_id() override { return gwr::boot_id(); }
  std::vector<pid_t> signal_group(const ProcessIdentity& leader, int sig) override {
    return gwr::signal_group(leader, sig);
  }
};

}  // namespace

RealEnvironment::RealEnvironment(HttpFactory http)
    : system_(std::make_unique<RealSystemView>()), commands_(std::make_unique<RealCommandRunner>()), http_(std::move(http)) {}

RealEnvironment::~RealEnvironment() = default;

Environment RealEnvironment::env() {
  Environment e;
  e.clock = &SystemClock::instance();
  e.system = system_.get();
  e.commands = commands_.get();
  e.http = http_;
  return e;
}

}  // namespace gwr
