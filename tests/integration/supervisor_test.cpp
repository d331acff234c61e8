// The process model on the real binaries: crash isolation, restarts, hangs,
// shutdown, orphans, garbage on every socket, config errors and reloads.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "common/platform/service.h"
#include "common/bus.h"
#include "tests/support/test_support.h"

namespace gwr::testing {
namespace {

using namespace std::chrono_literals;

const std::vector<std::string> kWorkers = {"prober", "repairer", "telegram-bridge"};

// Fast timings so hang detection is observable in a test.
constexpr const char* kFastSupervisor =
    "supervisor:\n  heartbeat_interval: 200ms\n  heartbeat_timeout: 1500ms\n  stop_timeout: 3s\n";

TEST(Supervisor, KilledWorkerIsBackWithinASecondOthersUntouched) {
  Daemon d(kFastSupervisor);
  ASSERT_TRUE(d.start());
  for (const auto& victim : kWorkers) {
    const auto before = d.worker_pids();
    ASSERT_GT(before.at(victim), 0);
    const auto killed_at = std::chrono::steady_clock::now();
    ASSERT_EQ(::kill(before.at(victim), SIGKILL), 0);
    ASSERT_TRUE(wait_until(
        [&] {
          auto c = d.components();
          if (!c) return false;
          for (const auto& comp : c->components()) {
            if (comp.name() == victim) {
              return comp.pid() != 0 && static_cast<pid_t>(comp.pid()) != before.at(victim) && comp.state() == pb::COMPONENT_RUNNING &&
                     comp.last_heartbeat_age_ms() >= 0;
            }
          }
          return false;
        },
        2s, victim + " restarted and heartbeating"));
    EXPECT_LT(std::chrono::steady_clock::now() - killed_at, 1s) << victim;
    const auto after = d.worker_pids();
    for (const auto& other : kWorkers) {
      if (other != victim) {
        EXPECT_EQ(after.at(other), before.at(other)) << other << " was disturbed by " << victim;
      }
    }
    EXPECT_FALSE(pid_alive(before.at(victim)));
  }
  auto c = d.components();
  ASSERT_TRUE(c);
  for (const auto& comp : c->components()) {
    if (comp.name() != "supervisor") {
      EXPECT_EQ(comp.restarts(), 1u) << comp.name();
      EXPECT_NE(comp.last_exit().find("signal 9"), std::string::npos) << comp.last_exit();
    }
  }
}

TEST(Supervisor, StoppedWorkerIsKilledAndReplaced) {
  Daemon d(kFastSupervisor);
  ASSERT_TRUE(d.start());
  const auto before = d.worker_pids();
  const pid_t victim = before.at("repairer");
  ASSERT_EQ(::kill(victim, SIGSTOP), 0);
  ASSERT_TRUE(wait_until(
      [&] {
        auto pids = d.worker_pids();
        return pids.count("repairer") && pids["repairer"] != victim && pids["repairer"] != 0;
      },
      6s, "SIGSTOPped repairer replaced"));
  EXPECT_TRUE(wait_until([&] { return !pid_alive(victim); }, 2s, "stopped worker gone"));
  ASSERT_TRUE(d.wait_all_heartbeating(3s));
  auto c = d.components();
  for (const auto& comp : c->components()) {
    if (comp.name() == "repairer") {
      EXPECT_NE(comp.last_exit().find("hung"), std::string::npos) << comp.last_exit();
    }
  }
  EXPECT_EQ(d.worker_pids().at("prober"), before.at("prober"));
  const auto log = read_json_lines(d.log_file("gwr-supervisor"));
  bool hung_logged = false;
  for (const auto& l : log) hung_logged |= l.value("event", "") == "worker_hung";
  EXPECT_TRUE(hung_logged);
}

TEST(Supervisor, SigtermStopsEverythingAndExitsZero) {
  Daemon d(kFastSupervisor);
  ASSERT_TRUE(d.start());
  const auto pids = d.worker_pids();
  d.supervisor().signal(SIGTERM);
  auto status = d.supervisor().wait(5s);
  ASSERT_TRUE(status.has_value()) << "supervisor did not exit";
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  for (const auto& [name, pid] : pids) {
    EXPECT_FALSE(pid_alive(pid)) << name << " survived";
  }
  for (const auto& w : kWorkers) {
    bool stopped = false;
    for (const auto& l : read_json_lines(d.log_file("gwr-" + w))) stopped |= l.value("event", "") == "worker_stopped";
    EXPECT_TRUE(stopped) << w << " did not stop cleanly";
  }
}

TEST(Supervisor, WorkersDieWithTheSupervisor) {
  Daemon d(kFastSupervisor);
  ASSERT_TRUE(d.start());
  const auto pids = d.worker_pids();
  d.supervisor().signal(SIGKILL);
  ASSERT_TRUE(d.supervisor().wait(2s).has_value());
  for (const auto& w : kWorkers) {
    const pid_t pid = pids.at(w);
    EXPECT_TRUE(wait_until([&] { return !pid_alive(pid); }, 3s, w + " exits after the supervisor died"));
  }
}

TEST(Supervisor, GarbageOnEverySocketCrashesNothing) {
  Daemon d(kFastSupervisor);
  ASSERT_TRUE(d.start());
  const auto before = d.worker_pids();
  std::mt19937 rng(7);
  auto random_bytes = [&](size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
  };
  zmq::context_t ctx(1);
  // What each component says it could not decode (from its heartbeats).
  auto counters = [&] {
    std::map<std::string, std::pair<uint64_t, uint64_t>> out;
    if (auto c = d.components()) {
      for (const auto& comp : c->components()) out[comp.name()] = {comp.decode_errors(), comp.control_errors()};
    }
    return out;
  };
  {
    // Malformed envelopes on the bus: wrong frame counts, wrong topics, random
    // bodies, sent until every component has received some of it (the new
    // publisher's subscriptions arrive a moment after it connects).
    zmq::socket_t pub(ctx, zmq::socket_type::pub);
    pub.set(zmq::sockopt::linger, 0);
    pub.connect(bus_in_endpoint(d.runtime_dir()));
    pb::Event ev;
    ev.set_protocol_version(pb::PROTOCOL_VERSION_CURRENT);
    ev.mutable_heartbeat()->set_component("prober");
    ev.mutable_heartbeat()->set_pid(1);  // an impostor heartbeat
    auto send_garbage = [&] {
      for (int i = 0; i < 300; ++i) {
        const std::string topic = (i % 3 == 0) ? "heartbeat" : (i % 3 == 1) ? "config_updated" : random_bytes(5);
        pub.send(zmq::buffer(topic), zmq::send_flags::sndmore);
        if (i % 10 == 0) {
          pub.send(zmq::buffer(ev.SerializeAsString()), zmq::send_flags::none);
        } else if (i % 7 == 0) {
          pub.send(zmq::buffer(random_bytes(rng() % 64)), zmq::send_flags::sndmore);
          pub.send(zmq::buffer(random_bytes(rng() % 64)), zmq::send_flags::none);
        } else {
          pub.send(zmq::buffer(random_bytes(rng() % 512)), zmq::send_flags::none);
        }
      }
      pub.send(zmq::buffer(random_bytes(100)), zmq::send_flags::none);  // a single-frame message
    };
    ASSERT_TRUE(wait_until(
        [&] {
          send_garbage();
          const auto c = counters();
          if (c.size() < 4) return false;
          for (const auto& [name, n] : c) {
            if (n.first == 0) return false;
          }
          return true;
        },
        10s, "every component counted undecodable bus messages"));
  }
  for (const std::string& component : {std::string("supervisor"), std::string("prober"), std::string("repairer"),
                                        std::string("telegram-bridge")}) {
    // Random bytes and empty/multipart requests on each control socket.
    for (int i = 0; i < 20; ++i) {
      zmq::socket_t req(ctx, zmq::socket_type::req);
      req.set(zmq::sockopt::linger, 0);
      req.set(zmq::sockopt::rcvtimeo, 1000);
      req.connect(control_endpoint(d.runtime_dir(), component));
      if (i % 5 == 0) {
        req.send(zmq::buffer(random_bytes(10)), zmq::send_flags::sndmore);
        req.send(zmq::buffer(random_bytes(10)), zmq::send_flags::none);
      } else {
        req.send(zmq::buffer(random_bytes(rng() % 300)), zmq::send_flags::none);
      }
      zmq::message_t reply;
      ASSERT_TRUE(req.recv(reply)) << component << " did not answer garbage";
      pb::Reply r;
      ASSERT_TRUE(r.ParseFromArray(reply.data(), static_cast<int>(reply.size())));
      EXPECT_TRUE(r.has_error()) << component;
    }
    // A well-formed request of a kind the component does not serve.
    pb::Request unserved;
    if (component == "supervisor") {
      unserved.mutable_history();
    } else {
      unserved.mutable_set_config();
    }
    auto r = d.call(component, unserved);
    ASSERT_TRUE(r.ok()) << r.message();
    ASSERT_TRUE(r->has_error());
    EXPECT_EQ(r->error().code(), pb::Error::UNRECOGNIZED);
    // Raw bytes straight into the ipc socket, below ZMTP.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = ipc_path(control_endpoint(d.runtime_dir(), component));
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      const std::string junk = random_bytes(4096);
      ssize_t ignored = ::write(fd, junk.data(), junk.size());
      (void)ignored;
    }
    ::close(fd);
  }
  // The control garbage arrived too: every component counted what did not decode.
  EXPECT_TRUE(wait_until(
      [&] {
        const auto c = counters();
        for (const auto& [name, n] : c) {
          if (n.second < 4) return false;
        }
        return c.size() == 4;
      },
      5s, "every component counted undecodable control requests"));
  ASSERT_TRUE(d.wait_all_heartbeating(2s));
  EXPECT_EQ(d.worker_pids(), before);
  pb::Request ping;
  ping.mutable_ping();
  for (const auto& w : kWorkers) {
    auto pong = d.call(w, ping);
    EXPECT_TRUE(pong.ok()) << w << ": " << (pong.ok() ? "" : pong.message());
  }
}

TEST(Supervisor, InvalidConfigExits78NamingTheKey) {
  TempDir dir;
  write_file(dir / "gwr.yaml", "paths:\n  runtime_dir: " + (dir / "run") + "\nprobes:\n  port:\n    failures: 0\n");
  auto out = run({bin_path("gwr-supervisor"), "--config", dir / "gwr.yaml"});
  EXPECT_EQ(out.exit_code, 78);
  EXPECT_NE(out.output.find("probes.port.failures"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("line 5"), std::string::npos) << out.output;
  auto check = run({bin_path("gwr-supervisor"), "--config", dir / "gwr.yaml", "--check-config"});
  EXPECT_EQ(check.exit_code, 78);
  auto unknown = run({bin_path("gwr-supervisor"), "--bogus"});
  EXPECT_EQ(unknown.exit_code, 2);
  auto missing = run({bin_path("gwr-supervisor"), "--config", dir / "missing.yaml"});
  EXPECT_EQ(missing.exit_code, 78);
}

TEST(Supervisor, CheckConfigAcceptsTheExampleAndDefaults) {
  auto example = run({bin_path("gwr-supervisor"), "--config", source_path("config/gwr.example.yaml"), "--check-config"});
  EXPECT_EQ(example.exit_code, 0) << example.output;
  TempDir home;
  auto defaults = run({"/usr/bin/env", "-i", "HOME=" + home.path(), "PATH=/usr/bin:/bin", bin_path("gwr-supervisor"),
                       "--check-config"});
  EXPECT_EQ(defaults.exit_code, 0) << defaults.output;
  EXPECT_NE(defaults.output.find("built-in defaults"), std::string::npos);
}

TEST(Supervisor, SighupReloadsValidConfigAndKeepsTheRunningOneOnError) {
  Daemon d(kFastSupervisor);
  ASSERT_TRUE(d.start());
  const std::string original = read_file(d.config_path());
  auto version = [&]() -> uint64_t {
    auto c = d.components();
    return c ? c->config_version() : 0;
  };
  const uint64_t v1 = version();
  write_file(d.config_path(), original + "probes:\n  health:\n    interval: 7s\n");
  d.supervisor().signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return version() == v1 + 1; }, 3s, "config version bumped"));
  // Workers pick up the new version.
  ASSERT_TRUE(wait_until(
      [&] {
        bool all = true;
        for (const auto& w : kWorkers) {
          bool applied = false;
          for (const auto& l : read_json_lines(d.log_file("gwr-" + w))) {
            applied |= l.value("event", "") == "config_applied" && l.value("version", 0) == static_cast<int>(v1 + 1);
          }
          all &= applied;
        }
        return all;
      },
      8s, "every worker applied the new config"));
  pb::Request get;
  get.mutable_get_config();
  auto cfg = d.call("supervisor", get);
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->config().config().probes().health().interval(), 7000);

  write_file(d.config_path(), original + "probes:\n  health:\n    interval: never\n");
  d.supervisor().signal(SIGHUP);
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& l : read_json_lines(d.log_file("gwr-supervisor"))) {
          if (l.value("event", "") == "config_reload_rejected") return true;
        }
        return false;
      },
      3s, "rejection logged"));
  EXPECT_EQ(version(), v1 + 1);
  EXPECT_TRUE(d.supervisor().running());
  auto cfg2 = d.call("supervisor", get);
  ASSERT_TRUE(cfg2.ok());
  EXPECT_EQ(cfg2->config().config().probes().health().interval(), 7000);
}

TEST(Supervisor, SecondSupervisorOnTheSameRuntimeDirRefuses) {
  Daemon d(kFastSupervisor);
  ASSERT_TRUE(d.start());
  auto out = run({bin_path("gwr-supervisor"), "--config", d.config_path()}, 5s);
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_NE(out.output.find("another gwr-supervisor"), std::string::npos) << out.output;
  EXPECT_TRUE(d.wait_all_heartbeating(1s));
}

TEST(Supervisor, NotifiesSystemdReadyAndWatchdog) {
  if (std::string(platform_name()) != "linux") {
    GTEST_SKIP() << "the POSIX build tells no service manager anything (launchd has no notify protocol)";
  }
  TempDir sock_dir;
  const std::string sock_path = sock_dir / "notify.sock";
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock_path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{0, 100'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  Daemon d(kFastSupervisor, {{"NOTIFY_SOCKET", sock_path}, {"WATCHDOG_USEC", "400000"}});
  ASSERT_TRUE(d.start());
  std::string all;
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < deadline &&
         (all.find("READY=1") == std::string::npos || all.find("WATCHDOG=1") == std::string::npos)) {
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) all.append(buf, static_cast<size_t>(n)).append("\n");
  }
  ::close(fd);
  EXPECT_NE(all.find("READY=1"), std::string::npos) << all;
  EXPECT_NE(all.find("WATCHDOG=1"), std::string::npos) << all;
  EXPECT_NE(all.find("STATUS="), std::string::npos) << all;
}

TEST(Supervisor, EveryProcessWritesJsonLines) {
  Daemon d(kFastSupervisor);
  ASSERT_TRUE(d.start());
  for (const std::string p : {"gwr-supervisor", "gwr-prober", "gwr-repairer", "gwr-telegram-bridge"}) {
    const auto lines = read_json_lines(d.log_file(p));
    ASSERT_FALSE(lines.empty()) << p;
    for (const auto& l : lines) {
      EXPECT_EQ(l.value("process", ""), p);
      EXPECT_TRUE(l.contains("pid") && l.contains("event") && l.contains("timestamp") && l.contains("level")) << l.dump();
    }
  }
}

TEST(Gwrctl, StatusShowsComponentsAndExits3WithoutDaemon) {
  Daemon d(kFastSupervisor);
  auto down = d.gwrctl({"status"});
  EXPECT_EQ(down.exit_code, 3) << down.output;
  auto down_json = d.gwrctl({"status", "--json"});
  EXPECT_EQ(down_json.exit_code, 3);
  ASSERT_TRUE(d.start());
  auto up = d.gwrctl({"--json", "status"});
  ASSERT_EQ(up.exit_code, 0) << up.output;
  const auto j = nlohmann::json::parse(up.output);
  ASSERT_EQ(j["components"].size(), 4u);
  for (const auto& c : j["components"]) {
    EXPECT_GT(c["pid"].get<int>(), 0);
    EXPECT_TRUE(c.contains("restarts"));
    EXPECT_TRUE(c.contains("name"));
  }
  auto text = d.gwrctl({"status"});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.output.find("telegram-bridge"), std::string::npos);
  auto usage = d.gwrctl({"frobnicate"});
  EXPECT_EQ(usage.exit_code, 2);
}

}  // namespace
}  // namespace gwr::testing
