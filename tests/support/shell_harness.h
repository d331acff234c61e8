// A worker's shell in a unit test: its WorkerContext on a FakeClock, a
// Transport that records what it publishes and answers what it asks, and
// fake adapters for the operating system, commands and HTTP. The worker's
// own threads (actors) still run, on real time; pump() waits for what they
// report, bounded, so no test sleeps for a fixed time.
#pragma once

#include <sys/types.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/environment.h"
#include "common/process.h"
#include "common/worker.h"
#include "tests/support/test_support.h"

namespace gwr::testing {

// Records the bus and answers control calls from `answer` (an error when unset).
class FakeTransport final : public Transport {
 public:
  using Answer = std::function<Result<pb::Reply>(const std::string& component, const pb::Request& request)>;
  void publish(pb::Event event) override;
  Result<pb::Reply> call(const std::string& component, const pb::Request& request, std::chrono::milliseconds timeout,
                         int retries) override;
  std::unique_ptr<ControlPort> new_port() override;

  void set_answer(Answer answer);
  // Everything published so far, and forgets it.
  std::vector<pb::Event> take();
  // What was published of one kind (repair events, health), in order, kept.
  std::vector<pb::RepairEvent> repair_events() const;
  std::vector<pb::GatewayHealth> healths() const;
  std::vector<pb::Alert> alerts() const;
  std::vector<std::pair<std::string, pb::Request>> calls() const;

 private:
  mutable std::mutex mu_;
  std::vector<pb::Event> events_;
  std::vector<pb::Event> kept_;
  std::vector<std::pair<std::string, pb::Request>> calls_;
  Answer answer_;
};

// The operating system as the test says it is.
class FakeSystem final : public SystemView {
 public:
  FakeSystem();
  ~FakeSystem() override;
  GatewayCandidate find_gateway(const GatewaySpec& spec, pid_t previous, uint64_t previous_start_ticks,
                                int64_t now_ms) override;
  std::optional<ProcInfo> process(pid_t pid) override;
  std::vector<ProcInfo> processes() override;
  uint64_t descendants_rss_kib(pid_t pid) override;
  MemInfo meminfo() override;
  uint64_t oom_kills() override;
  uint32_t established_connections(uint16_t port) override;
  double clock_ticks_per_second() override { return 100.0; }
  int watch_exit(pid_t pid) override;
  void close_watch(int fd) override;
  std::string boot_id() override;
  std::vector<pid_t> signal_group(const ProcessIdentity& leader, int sig) override;

  // The gateway is pid with that RSS, started `age_ms` before now_ms.
  void gateway_runs(pid_t pid, uint64_t rss_mb, int64_t started_wall_ms);
  // It is gone: the watch fd becomes readable, the next scan finds nothing.
  // watched: its exit watch fires (a pidfd); false: it is only missing from
  // the next scan (POSIX polling, or a scan that ran before the watch's wakeup).
  void gateway_exits(bool oom = false, bool watched = true);
  void set_available_percent(double percent);
  void set_boot_id(std::string id);
  // Processes signal_group() finds (a leader that still is that process).
  void add_live_process(const ProcessIdentity& who);
  std::vector<std::pair<pid_t, int>> signalled() const;
  std::string last_spec_match() const;

 private:
  mutable std::mutex mu_;
  std::optional<GatewayCandidate> gateway_;
  std::map<pid_t, ProcInfo> processes_;
  uint64_t oom_ = 0;
  double available_percent_ = 60;
  std::string boot_ = "boot-a";
  std::vector<ProcessIdentity> live_;
  std::vector<std::pair<pid_t, int>> signalled_;
  std::string spec_match_;
  int watch_r_ = -1, watch_w_ = -1;
};

// Runs nothing: answers each argv from a script (exit 0 by default).
class FakeCommands final : public CommandRunner {
 public:
  CommandResult run(const CommandSpec& spec) override;
  void fail(const std::string& argv0_and_1, int exit_code);
  std::vector<std::vector<std::string>> ran() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, int> exit_codes_;
  std::vector<std::vector<std::string>> ran_;
};

// Answers HTTP from a function (thread-safe; every client shares it).
class FakeHttp final : public HttpClient {
 public:
  using Answer = std::function<HttpResponse(const HttpRequest&)>;
  explicit FakeHttp(std::shared_ptr<Answer> answer) : answer_(std::move(answer)) {}
  HttpResponse send(const HttpRequest& request) override;

 private:
  std::shared_ptr<Answer> answer_;
};

// Everything a shell needs, built around a FakeClock.
class Shell {
 public:
  explicit Shell(const std::string& component, const std::string& yaml = "");
  ~Shell();

  FakeClock clock;
  FakeSystem system;
  FakeCommands commands;
  FakeTransport transport;
  TempDir dir;
  // What every HTTP client of the shell answers (the gateway's /health by default: ok).
  void answer_http(FakeHttp::Answer answer);
  Environment env();
  WorkerContext& ctx() { return *ctx_; }
  // A config change as the supervisor would publish it.
  void change_config(const std::string& key, const std::string& value, Worker& worker);

  // Waits up to `budget` (real time) for the worker's poll fds, and hands
  // what is ready to on_ready; repeats until `done` holds. False on timeout.
  bool pump_until(Worker& worker, const std::function<bool()>& done,
                  std::chrono::milliseconds budget = std::chrono::milliseconds(5000));

 private:
  std::shared_ptr<FakeHttp::Answer> http_answer_;
  std::unique_ptr<WorkerContext> ctx_;
};

}  // namespace gwr::testing
