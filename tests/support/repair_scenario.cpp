#include "tests/support/repair_scenario.h"

namespace gwr::testing {

using namespace std::chrono_literals;

void RepairScenario::SetUp() {
  port_ = free_tcp_port();
  service_ = std::make_unique<FakeOpenclaw>(dir_.path(), port_);
}

std::string fast_probes_and_repair_yaml() {
  return "probes:\n"
         "  process: {interval: 1s}\n"
         "  port: {interval: 1s, timeout: 500ms}\n"
         "  health: {interval: 1s, timeout: 1s}\n"
         "  memory: {interval: 1s, max_rss_mb: 64}\n"
         "  recheck_interval: 200ms\n"
         "  startup_grace: 3s\n"
         "  republish_interval: 1s\n"
         "repair:\n"
         "  tier1: {deadline: 3s}\n"
         "  tier2: {deadline: 10s}\n"
         "  tier3: {enabled: false}\n"
         "  command_timeout: 6s\n";
}

std::string RepairScenario::yaml(const std::string& more) const {
  return "gateway:\n  port: " + std::to_string(port_) + "\n  process_match: " + service_->process_name() + "\n" +
         service_->commands_yaml() + fast_probes_and_repair_yaml() + more;
}

void RepairScenario::start(const std::string& more) {
  ASSERT_TRUE(service_->start_healthy());
  daemon_ = std::make_unique<Daemon>(yaml(more));
  ASSERT_TRUE(daemon_->start());
  watch();
  ASSERT_TRUE(bus_->wait_health([](const pb::GatewayHealth& h) { return h.state() == pb::HEALTHY; }, 10s));
}

void RepairScenario::watch() {
  bus_ = std::make_unique<BusWatcher>(daemon_->runtime_dir(),
                                      std::vector<std::string>{"gateway_health", "repair_event", "alert"});
}

std::optional<pb::RepairEvent> RepairScenario::wait_repair(pb::RepairEvent::Kind kind, std::chrono::milliseconds timeout,
                                                           const std::function<bool(const pb::RepairEvent&)>& extra) {
  auto ev = bus_->wait_for(
      [&](const pb::Event& e) {
        return e.has_repair_event() && e.repair_event().kind() == kind && (!extra || extra(e.repair_event()));
      },
      timeout);
  if (!ev) return std::nullopt;
  return ev->repair_event();
}

int RepairScenario::count(pb::RepairEvent::Kind kind) const {
  int n = 0;
  for (const auto& e : bus_->events()) n += e.has_repair_event() && e.repair_event().kind() == kind;
  return n;
}

std::vector<pb::Alert> RepairScenario::alerts(pb::Alert::Kind kind) const {
  std::vector<pb::Alert> out;
  for (const auto& e : bus_->events()) {
    if (e.has_alert() && e.alert().kind() == kind) out.push_back(e.alert());
  }
  return out;
}

nlohmann::json RepairScenario::gwrctl_json(const std::vector<std::string>& args) {
  std::vector<std::string> a = args;
  a.push_back("--json");
  auto out = daemon_->gwrctl(a);
  EXPECT_EQ(out.exit_code, 0) << out.output;
  return nlohmann::json::parse(out.output, nullptr, false);
}

bool RepairScenario::calls_contain(const std::string& needle) const {
  for (const auto& c : service_->calls()) {
    if (c.find(needle) != std::string::npos) return true;
  }
  return false;
}

bool RepairScenario::log_has(const std::string& process, const std::string& event) const {
  for (const auto& l : read_json_lines(daemon_->log_file(process))) {
    if (l.value("event", "") == event) return true;
  }
  return false;
}

}  // namespace gwr::testing
