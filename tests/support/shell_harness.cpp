#include "tests/support/shell_harness.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "common/config.h"

namespace gwr::testing {

// --- FakeTransport -------------------------------------------------------------------------

void FakeTransport::publish(pb::Event event) {
  std::lock_guard lock(mu_);
  kept_.push_back(event);
  events_.push_back(std::move(event));
}

Result<pb::Reply> FakeTransport::call(const std::string& component, const pb::Request& request,
                                      std::chrono::milliseconds /*timeout*/, int /*retries*/) {
  Answer answer;
  {
    std::lock_guard lock(mu_);
    calls_.emplace_back(component, request);
    answer = answer_;
  }
  if (!answer) return make_error(component + " is not running (no answer scripted)");
  return answer(component, request);
}

namespace {

class ScriptedPort final : public ControlPort {
 public:
  explicit ScriptedPort(FakeTransport& t) : t_(t) {}
  Result<pb::Reply> call(const std::string& component, const pb::Request& request,
                         std::chrono::milliseconds timeout) override {
    return t_.call(component, request, timeout, 0);
  }

 private:
  FakeTransport& t_;
};

}  // namespace

std::unique_ptr<ControlPort> FakeTransport::new_port() { return std::make_unique<ScriptedPort>(*this); }

void FakeTransport::set_answer(Answer answer) {
  std::lock_guard lock(mu_);
  answer_ = std::move(answer);
}

std::vector<pb::Event> FakeTransport::take() {
  std::lock_guard lock(mu_);
  std::vector<pb::Event> out;
  out.swap(events_);
  return out;
}

std::vector<pb::RepairEvent> FakeTransport::repair_events() const {
  std::lock_guard lock(mu_);
  std::vector<pb::RepairEvent> out;
  for (const auto& e : kept_) {
    if (e.has_repair_event()) out.push_back(e.repair_event());
  }
  return out;
}

std::vector<pb::GatewayHealth> FakeTransport::healths() const {
  std::lock_guard lock(mu_);
  std::vector<pb::GatewayHealth> out;
  for (const auto& e : kept_) {
    if (e.has_gateway_health()) out.push_back(e.gateway_health());
  }
  return out;
}

std::vector<pb::Alert> FakeTransport::alerts() const {
  std::lock_guard lock(mu_);
  std::vector<pb::Alert> out;
  for (const auto& e : kept_) {
    if (e.has_alert()) out.push_back(e.alert());
  }
  return out;
}

std::vector<std::pair<std::string, pb::Request>> FakeTransport::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

// --- FakeSystem ----------------------------------------------------------------------------

FakeSystem::FakeSystem() = default;

FakeSystem::~FakeSystem() {
  if (watch_r_ >= 0) ::close(watch_r_);
  if (watch_w_ >= 0) ::close(watch_w_);
}

GatewayCandidate FakeSystem::find_gateway(const GatewaySpec& spec, pid_t, uint64_t, int64_t) {
  std::lock_guard lock(mu_);
  spec_match_ = spec.match;
  if (gateway_) return *gateway_;
  GatewayCandidate none;
  none.detail = "no process named " + spec.match + " is running";
  return none;
}

std::optional<ProcInfo> FakeSystem::process(pid_t pid) {
  std::lock_guard lock(mu_);
  auto it = processes_.find(pid);
  if (it == processes_.end()) return std::nullopt;
  return it->second;
}

std::vector<ProcInfo> FakeSystem::processes() {
  std::lock_guard lock(mu_);
  std::vector<ProcInfo> out;
  for (const auto& [pid, info] : processes_) out.push_back(info);
  return out;
}

uint64_t FakeSystem::descendants_rss_kib(pid_t) { return 0; }

MemInfo FakeSystem::meminfo() {
  std::lock_guard lock(mu_);
  MemInfo m;
  m.total_kib = 1'000'000;
  m.available_kib = static_cast<uint64_t>(available_percent_ * 10'000);
  return m;
}

uint64_t FakeSystem::oom_kills() {
  std::lock_guard lock(mu_);
  return oom_;
}

uint32_t FakeSystem::established_connections(uint16_t) { return 0; }

int FakeSystem::watch_exit(pid_t pid) {
  std::lock_guard lock(mu_);
  if (!gateway_ || gateway_->pid != pid) return -1;
  if (watch_r_ >= 0) return watch_r_;
  int fds[2];
  if (::pipe(fds) != 0) std::abort();
  watch_r_ = fds[0];
  watch_w_ = fds[1];
  return watch_r_;
}

void FakeSystem::close_watch(int fd) {
  std::lock_guard lock(mu_);
  if (fd != watch_r_) return;
  ::close(watch_r_);
  ::close(watch_w_);
  watch_r_ = watch_w_ = -1;
}

std::string FakeSystem::boot_id() {
  std::lock_guard lock(mu_);
  return boot_;
}

std::vector<pid_t> FakeSystem::signal_group(const ProcessIdentity& leader, int sig) {
  std::lock_guard lock(mu_);
  for (const auto& who : live_) {
    if (who.pid == leader.pid && who.start_ticks == leader.start_ticks && who.boot_id == leader.boot_id) {
      signalled_.emplace_back(leader.pid, sig);
      return {leader.pid};
    }
  }
  return {};
}

void FakeSystem::gateway_runs(pid_t pid, uint64_t rss_mb, int64_t started_wall_ms) {
  std::lock_guard lock(mu_);
  GatewayCandidate c;
  c.found = true;
  c.pid = pid;
  c.start_ticks = 1000 + static_cast<uint64_t>(pid);
  c.start_wall_ms = started_wall_ms;
  gateway_ = c;
  ProcInfo p;
  p.pid = pid;
  p.state = 'S';
  p.comm = "openclaw-gateway";
  p.start_ticks = c.start_ticks;
  p.rss_kib = rss_mb * 1024;
  processes_[pid] = p;
}

void FakeSystem::gateway_exits(bool oom, bool watched) {
  std::lock_guard lock(mu_);
  if (gateway_) processes_.erase(gateway_->pid);
  gateway_.reset();
  if (oom) ++oom_;
  if (watched && watch_w_ >= 0) {
    const char b = 1;
    ssize_t ignored = ::write(watch_w_, &b, 1);
    (void)ignored;
  }
}

void FakeSystem::set_available_percent(double percent) {
  std::lock_guard lock(mu_);
  available_percent_ = percent;
}

void FakeSystem::set_boot_id(std::string id) {
  std::lock_guard lock(mu_);
  boot_ = std::move(id);
}

void FakeSystem::add_live_process(const ProcessIdentity& who) {
  std::lock_guard lock(mu_);
  live_.push_back(who);
}

std::vector<std::pair<pid_t, int>> FakeSystem::signalled() const {
  std::lock_guard lock(mu_);
  return signalled_;
}

std::string FakeSystem::last_spec_match() const {
  std::lock_guard lock(mu_);
  return spec_match_;
}

// --- FakeCommands, FakeHttp ----------------------------------------------------------------

CommandResult FakeCommands::run(const CommandSpec& spec) {
  CommandResult r;
  r.started = true;
  r.pid = 0;
  std::string key = spec.argv.empty() ? "" : spec.argv[0];
  if (spec.argv.size() > 1) key += " " + spec.argv[1];
  {
    std::lock_guard lock(mu_);
    ran_.push_back(spec.argv);
    auto it = exit_codes_.find(key);
    r.exit_code = it == exit_codes_.end() ? 0 : it->second;
  }
  r.output = r.exit_code == 0 ? "ok\n" : "failed\n";
  return r;
}

void FakeCommands::fail(const std::string& argv0_and_1, int exit_code) {
  std::lock_guard lock(mu_);
  exit_codes_[argv0_and_1] = exit_code;
}

std::vector<std::vector<std::string>> FakeCommands::ran() const {
  std::lock_guard lock(mu_);
  return ran_;
}

HttpResponse FakeHttp::send(const HttpRequest& request) { return (*answer_)(request); }

// --- Shell ---------------------------------------------------------------------------------

Shell::Shell(const std::string& component, const std::string& yaml)
    : http_answer_(std::make_shared<FakeHttp::Answer>()) {
  answer_http([](const HttpRequest&) {
    HttpResponse r;
    r.status = 200;
    r.body = R"({"ok":true,"status":"live"})";
    return r;
  });
  const std::string path = dir / "gwr.yaml";
  write_file(path, "paths:\n  runtime_dir: " + (dir / "run") + "\n  state_dir: " + (dir / "state") +
                       "\n  log_dir: " + (dir / "log") + "\n" + yaml);
  LoadOptions o;
  o.config_path = path;
  o.environment = {{"HOME", dir.path()}};
  o.apply_overrides = false;
  auto loaded = load_config(o);
  if (!std::holds_alternative<LoadedConfig>(loaded)) {
    std::fprintf(stderr, "shell config: %s\n", std::get<ConfigError>(loaded).describe().c_str());
    std::abort();
  }
  ctx_ = std::make_unique<WorkerContext>(component, dir / "run", env(), transport);
  ctx_->set_config(std::get<LoadedConfig>(loaded).config, 1);
}

Shell::~Shell() = default;

void Shell::answer_http(FakeHttp::Answer answer) { *http_answer_ = std::move(answer); }

Environment Shell::env() {
  Environment e;
  e.clock = &clock;
  e.system = &system;
  e.commands = &commands;
  auto answer = http_answer_;
  e.http = [answer] { return std::make_unique<FakeHttp>(answer); };
  return e;
}

void Shell::change_config(const std::string& key, const std::string& value, Worker& worker) {
  pb::Config next = ctx_->config();
  if (auto err = set_config_value(next, key, value, {})) {
    std::fprintf(stderr, "change_config %s: %s\n", key.c_str(), err->describe().c_str());
    std::abort();
  }
  const auto changed = config_diff(ctx_->config(), next);
  ctx_->set_config(next, ctx_->config_version() + 1);
  worker.on_config(*ctx_, changed);
}

bool Shell::pump_until(Worker& worker, const std::function<bool()>& done, std::chrono::milliseconds budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  while (!done()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    const auto items = worker.poll_items();
    std::vector<pollfd> fds;
    for (const auto& it : items) fds.push_back({it.fd, POLLIN, 0});
    const int wait_ms = static_cast<int>(
        std::min<int64_t>(50, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count()));
    if (fds.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
      continue;
    }
    if (::poll(fds.data(), fds.size(), wait_ms) <= 0) continue;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents & POLLIN) worker.on_ready(*ctx_, i);
    }
  }
  return true;
}

}  // namespace gwr::testing
