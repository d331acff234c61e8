#include "tests/support/gateway_fakes.h"

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <thread>

#include "common/gateway_probe.h"
#include "common/http_client.h"

namespace gwr::testing {

using namespace std::chrono_literals;

namespace {
void atomic_write(const std::string& path, const std::string& content) {
  write_file(path + ".tmp", content);
  std::filesystem::rename(path + ".tmp", path);
}
}  // namespace

std::string gateway_name_for(int port) { return "gw" + std::to_string(port); }

FakeGateway::FakeGateway(const std::string& dir, int port, const std::string& mode,
                         const std::vector<std::string>& extra_args)
    : dir_(dir), state_dir_(dir + "/openclaw"), mode_file_(dir + "/gateway.mode"), port_(port) {
  std::filesystem::create_directories(state_dir_);
  atomic_write(mode_file_, mode + "\n");
  std::vector<std::string> argv = {fake_path("fake-gateway"), "--port", std::to_string(port), "--state-dir",
                                   state_dir_, "--mode-file", mode_file_};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  if (std::find(extra_args.begin(), extra_args.end(), "--name") == extra_args.end()) {
    argv.push_back("--name");
    argv.push_back(gateway_name_for(port));
  }
  // Its state dir in its environment, as OpenClaw's gateway has it.
  process_ = Process::start(argv, {{"OPENCLAW_STATE_DIR", state_dir_}}, dir + "/fake-gateway.out");
}

void FakeGateway::set_mode_file(const std::string& mode_line) { atomic_write(mode_file_, mode_line + "\n"); }

bool post_fake_mode(int port, const std::string& mode_line) {
  CurlHttpClient http;
  HttpRequest req;
  req.method = "POST";
  req.url = "http://127.0.0.1:" + std::to_string(port) + "/_fake/mode";
  req.body = mode_line;
  req.timeout = 2s;
  return http.send(req).status == 200;
}

bool FakeGateway::post_mode(const std::string& mode_line) { return post_fake_mode(port_, mode_line); }

bool FakeGateway::healthy() {
  CurlHttpClient http;
  return probe_health(http, "127.0.0.1", static_cast<uint16_t>(port_), "/health", "", 1s).ok;
}

FakeOpenclaw::FakeOpenclaw(const std::string& dir, int port, const std::string& extra_config)
    : home_(dir + "/service"), state_dir_(dir + "/openclaw"), mode_file_(dir + "/service/gateway.mode"),
      name_(gateway_name_for(port)), port_(port) {
  // NAME=... in extra_config overrides the per-port name.
  const auto at = extra_config.find("NAME=");
  if (at != std::string::npos) name_ = extra_config.substr(at + 5, extra_config.find('\n', at) - at - 5);
  std::filesystem::create_directories(home_);
  std::filesystem::create_directories(state_dir_);
  write_file(mode_file_, "healthy\n");
  write_file(home_ + "/config", "GATEWAY_BIN=" + fake_path("fake-gateway") + "\nPORT=" + std::to_string(port) +
                                    "\nSTATE_DIR=" + state_dir_ + "\nMODE_FILE=" + mode_file_ +
                                    "\nLOG_FILE=" + dir + "/openclaw-gateway.log\nNAME=" + name_ + "\n" + extra_config);
}

FakeOpenclaw::~FakeOpenclaw() {
  // Leave nothing running behind a test.
  if (pid_t pid = gateway_pid(); pid > 0) ::kill(pid, SIGKILL);
}

std::vector<std::string> FakeOpenclaw::argv(const std::vector<std::string>& args) const {
  std::vector<std::string> out = {fake_path("fake-openclaw"), "--home", home_};
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

std::string FakeOpenclaw::commands_yaml() const {
  auto list = [&](const std::vector<std::string>& args) {
    std::string s = "[";
    const auto a = argv(args);
    for (size_t i = 0; i < a.size(); ++i) s += (i ? ", \"" : "\"") + a[i] + "\"";
    return s + "]";
  };
  return "  state_dir: " + state_dir_ + "\n  commands:\n    restart: " + list({"gateway", "restart", "--force"}) +
         "\n    stop: " + list({"gateway", "stop", "--force"}) + "\n    start: " + list({"gateway", "start"}) +
         "\n    doctor: " + list({"doctor", "--fix", "--non-interactive"}) + "\n    call: " + list({"gateway", "call"}) +
         "\n";
}

void FakeOpenclaw::set_mode(const std::string& mode_line) { atomic_write(mode_file_, mode_line + "\n"); }

pid_t FakeOpenclaw::gateway_pid() const {
  const std::string s = read_file(home_ + "/gateway.pid");
  try {
    return s.empty() ? 0 : static_cast<pid_t>(std::stol(s));
  } catch (const std::exception&) {
    return 0;
  }
}

std::vector<std::string> FakeOpenclaw::calls() const {
  std::vector<std::string> out;
  std::istringstream in(read_file(home_ + "/calls.log"));
  std::string line;
  while (std::getline(in, line)) {
    const auto sp = line.find(' ');
    out.push_back(sp == std::string::npos ? line : line.substr(sp + 1));
  }
  return out;
}

void FakeOpenclaw::set_switch(const std::string& name, const std::string& content) {
  write_file(home_ + "/" + name, content);
}

void FakeOpenclaw::clear_switch(const std::string& name) {
  std::error_code ec;
  std::filesystem::remove(home_ + "/" + name, ec);
}

CommandOutput FakeOpenclaw::run(const std::vector<std::string>& args) const { return testing::run(argv(args)); }

::testing::AssertionResult FakeOpenclaw::start_healthy(std::chrono::milliseconds timeout) {
  auto out = run({"gateway", "start"});
  if (out.exit_code != 0) return ::testing::AssertionFailure() << "fake-openclaw gateway start: " << out.output;
  return wait_until(
      [&] {
        CurlHttpClient http;
        return probe_health(http, "127.0.0.1", static_cast<uint16_t>(port_), "/health", "", 500ms).ok;
      },
      timeout, "fake gateway healthy on port " + std::to_string(port_));
}

BusWatcher::BusWatcher(const std::string& runtime_dir, const std::vector<std::string>& topics)
    : sub_(ctx_, runtime_dir, topics) {}

void BusWatcher::pump(std::chrono::milliseconds for_how_long) {
  const auto deadline = std::chrono::steady_clock::now() + for_how_long;
  do {
    zmq::pollitem_t item{sub_.socket().handle(), 0, ZMQ_POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    zmq::poll(&item, 1, std::max(left, 0ms));
    while (auto ev = sub_.receive()) events_.push_back(std::move(*ev));
  } while (std::chrono::steady_clock::now() < deadline);
}

bool BusWatcher::pump_some(std::chrono::milliseconds at_most) {
  const size_t before = events_.size();
  zmq::pollitem_t item{sub_.socket().handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, at_most);
  while (auto ev = sub_.receive()) events_.push_back(std::move(*ev));
  return events_.size() > before;
}

std::optional<pb::Event> BusWatcher::wait_for(const std::function<bool(const pb::Event&)>& pred,
                                              std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t checked = 0;
  while (true) {
    for (; checked < events_.size(); ++checked) {
      if (pred(events_[checked])) return events_[checked];
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pump_some(std::clamp(left, 1ms, 50ms));
  }
}

std::optional<pb::GatewayHealth> BusWatcher::wait_health(const std::function<bool(const pb::GatewayHealth&)>& pred,
                                                         std::chrono::milliseconds timeout) {
  auto ev = wait_for([&](const pb::Event& e) { return e.has_gateway_health() && pred(e.gateway_health()); }, timeout);
  if (!ev) return std::nullopt;
  return ev->gateway_health();
}

std::vector<pb::GatewayHealth> BusWatcher::healths() const {
  std::vector<pb::GatewayHealth> out;
  for (const auto& e : events_) {
    if (e.has_gateway_health()) out.push_back(e.gateway_health());
  }
  return out;
}

}  // namespace gwr::testing
