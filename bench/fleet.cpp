// Several hosts behind one bot (issue #18): a hub and N nodes, each a whole
// gwr (supervisor, prober, repairer, bridge, gwr-fleet) watching a fake
// gateway of its own, all on loopback with CURVE.
//
//   build/bench/fleet [--nodes 20] [--events 200] [--calls 1000]
//
// Throughput: every node gets --events alerts on its bus at once (what a
// node forwards: repair events, alerts, health changes); the figure is from
// the first publish until the hub's bridge has taken them all (the hub's
// per-node count of events handed on), so it includes each node's outbox
// (SQLite, fsync per event), CURVE, the hub's order check and its call to
// the bridge. The hub's Telegram is off: the Bot API takes ~1 message a
// second per chat, far below either.
// Latency: --calls relayed repair_status requests, spread over the nodes,
// as the hub's bridge makes them for /status (bridge -> hub gwr-fleet ->
// node gwr-fleet -> node repairer -> back), against the same request made
// locally on a node.
// Exits non-zero when a daemon did not start, a node did not connect, or an
// event or a reply went missing.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "bench/bench_util.h"
#include "common/bus.h"
#include "common/control.h"
#include "common/fleet_keys.h"
#include "tests/support/gateway_fakes.h"

using namespace std::chrono_literals;
using gwr::testing::Daemon;
using gwr::testing::Process;

namespace {

struct Node {
  std::string name;
  Process gateway;
  std::unique_ptr<Daemon> daemon;
};

long rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  int nodes = 20;
  int events = 200;
  int calls = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--nodes") == 0) nodes = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--events") == 0) events = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--calls") == 0) calls = std::atoi(argv[i + 1]);
  }
  if (nodes < 1 || nodes > 64 || events < 1 || calls < 1) {
    std::fprintf(stderr, "usage: fleet [--nodes 1-64] [--events N] [--calls N]\n");
    return 2;
  }
  gwr::testing::TempDir keys;
  std::filesystem::create_directories(keys.path() + "/nodes");
  auto key = [&](const std::string& name, bool node) {
    auto pub = gwr::fleet::write_key_pair(keys.path(), name);
    if (!pub) {
      std::fprintf(stderr, "keygen: %s\n", pub.message().c_str());
      std::exit(1);
    }
    if (node) std::filesystem::copy_file(keys.path() + "/" + name + ".pub", keys.path() + "/nodes/" + name + ".pub");
  };
  key("hub", false);
  const int fleet_port = gwr::testing::free_tcp_port();
  auto gateway_yaml = [](Process& p) {
    const int port = gwr::testing::free_tcp_port();
    p = Process::start({gwr::testing::fake_path("fake-gateway"), "--port", std::to_string(port), "--name",
                        gwr::testing::gateway_name_for(port)});
    return "gateway:\n  port: " + std::to_string(port) + "\n  process_match: " + gwr::testing::gateway_name_for(port) +
           "\n";
  };

  Process hub_gateway;
  const auto t_start = std::chrono::steady_clock::now();
  Daemon hub(gateway_yaml(hub_gateway) + "fleet:\n  role: hub\n  listen: tcp://127.0.0.1:" + std::to_string(fleet_port) +
             "\n  secret_key: " + keys.path() + "/hub.key\n  authorized_keys: " + keys.path() +
             "/nodes\n  node_timeout: 60s\n");
  std::vector<std::unique_ptr<Node>> all;
  for (int i = 0; i < nodes; ++i) {
    auto n = std::make_unique<Node>();
    n->name = "n" + std::to_string(i + 1);
    key(n->name, true);
    all.push_back(std::move(n));
  }
  if (!hub.start(20s)) {
    std::fprintf(stderr, "the hub did not start\n");
    return 1;
  }
  for (auto& n : all) {
    n->daemon = std::make_unique<Daemon>(gateway_yaml(n->gateway) + "fleet:\n  role: node\n  hub: tcp://127.0.0.1:" +
                                         std::to_string(fleet_port) + "\n  secret_key: " + keys.path() + "/" + n->name +
                                         ".key\n  hub_public_key: " + keys.path() + "/hub.pub\n");
    if (!n->daemon->start(30s)) {
      std::fprintf(stderr, "node %s did not start\n", n->name.c_str());
      return 1;
    }
  }
  // Every node connected, and its start-up events handed on.
  auto hub_counts = [&]() {
    std::map<std::string, std::pair<bool, uint64_t>> out;
    gwr::pb::Request req;
    req.mutable_fleet_status();
    auto r = hub.call("fleet", req, 3000ms);
    if (r && r->has_fleet_status()) {
      for (const auto& n : r->fleet_status().nodes()) out[n.name()] = {n.connected(), n.events()};
    }
    return out;
  };
  auto outbox_empty = [](Daemon& d) {
    gwr::pb::Request req;
    req.mutable_fleet_status();
    auto r = d.call("fleet", req, 3000ms);
    return r && r->has_fleet_status() && r->fleet_status().hub_connected() && r->fleet_status().outbox() == 0;
  };
  const auto t_connect = std::chrono::steady_clock::now();
  bool ready = false;
  while (!ready && std::chrono::steady_clock::now() - t_connect < 60s) {
    std::this_thread::sleep_for(200ms);
    auto c = hub_counts();
    ready = static_cast<int>(c.size()) == nodes;
    for (const auto& [name, v] : c) ready &= v.first;
    for (auto& n : all) ready = ready && outbox_empty(*n->daemon);
  }
  if (!ready) {
    std::fprintf(stderr, "not every node connected within 60 s\n");
    return 1;
  }
  const double setup_s = gwr::bench::ms_since(t_start) / 1000.0;
  auto fleet_rss = [&](Daemon& d) {
    if (auto comps = d.components()) {
      for (const auto& c : comps->components()) {
        if (c.name() == "fleet") return rss_kb(static_cast<pid_t>(c.pid()));
      }
    }
    return -1L;
  };
  std::this_thread::sleep_for(2s);
  const long hub_idle_rss = fleet_rss(hub);
  const long node_idle_rss = fleet_rss(*all[0]->daemon);
  std::map<std::string, uint64_t> base;
  for (const auto& [name, v] : hub_counts()) base[name] = v.second;

  // Throughput: --events alerts on every node's bus at once.
  zmq::context_t ctx(1);
  std::vector<std::unique_ptr<gwr::BusPublisher>> pubs;
  for (auto& n : all) pubs.push_back(std::make_unique<gwr::BusPublisher>(ctx, n->daemon->runtime_dir(), "bench"));
  std::this_thread::sleep_for(500ms);  // the publishers' subscriptions arrive (pub/sub's slow joiner)
  const auto t0 = std::chrono::steady_clock::now();
  for (int e = 0; e < events; ++e) {
    for (auto& p : pubs) {
      gwr::pb::Event ev;
      auto* a = ev.mutable_alert();
      a->set_kind(gwr::pb::Alert::UNDECODABLE_MESSAGES);
      a->set_component("bench");
      a->set_topic("bench");
      a->set_count(static_cast<uint64_t>(e + 1));
      p->publish(std::move(ev));
    }
  }
  bool all_in = false;
  double through_ms = 0;
  while (!all_in && gwr::bench::ms_since(t0) < 300'000) {
    std::this_thread::sleep_for(20ms);
    auto c = hub_counts();
    all_in = true;
    for (const auto& [name, v] : c) all_in &= v.second >= base[name] + static_cast<uint64_t>(events);
    through_ms = gwr::bench::ms_since(t0);
  }
  uint64_t handed = 0;
  for (const auto& [name, v] : hub_counts()) handed += v.second - base[name];
  const uint64_t expected = static_cast<uint64_t>(events) * static_cast<uint64_t>(nodes);

  // Latency: relayed repair_status, round-robin over the nodes, one at a time.
  gwr::ControlClient fleet(ctx, gwr::control_endpoint(hub.runtime_dir(), "fleet"), "bench");
  std::vector<double> relayed;
  int failed = 0;
  for (int i = 0; i < calls; ++i) {
    gwr::pb::Request req;
    auto* r = req.mutable_fleet_relay();
    r->set_node(all[static_cast<size_t>(i % nodes)]->name);
    r->set_component("repairer");
    r->mutable_request()->mutable_repair_status();
    r->set_timeout_ms(2000);
    const auto t = std::chrono::steady_clock::now();
    auto reply = fleet.call(req, 3000ms, 0);
    if (reply && reply->has_repair_status()) {
      relayed.push_back(gwr::bench::ms_since(t));
    } else {
      ++failed;
    }
  }
  std::vector<double> local;
  gwr::ControlClient repairer(ctx, gwr::control_endpoint(all[0]->daemon->runtime_dir(), "repairer"), "bench");
  for (int i = 0; i < std::min(calls, 500); ++i) {
    gwr::pb::Request req;
    req.mutable_repair_status();
    const auto t = std::chrono::steady_clock::now();
    if (auto reply = repairer.call(req, 3000ms, 0); reply && reply->has_repair_status()) local.push_back(gwr::bench::ms_since(t));
  }
  const long hub_rss = fleet_rss(hub);
  const long node_rss = fleet_rss(*all[0]->daemon);

  std::printf("fleet bench: 1 hub + %d nodes on loopback, CURVE (%d gwr instances, %.1f s to start and connect)\n\n",
              nodes, nodes + 1, setup_s);
  std::printf("| figure | value |\n|---|---|\n");
  std::printf("| events through the hub (%d nodes x %d, all at once) | %llu of %llu in %.0f ms: %.0f events/s |\n", nodes,
              events, static_cast<unsigned long long>(handed), static_cast<unsigned long long>(expected), through_ms,
              through_ms > 0 ? static_cast<double>(handed) * 1000.0 / through_ms : 0.0);
  std::printf("| hub -> node command (relayed repair_status), p50 | %s |\n", gwr::bench::stat_ms(relayed, 50, 2).c_str());
  std::printf("| hub -> node command, p99 | %s |\n", gwr::bench::stat_ms(relayed, 99, 2).c_str());
  std::printf("| hub -> node command, max | %s |\n", gwr::bench::stat_ms(relayed, 100, 2).c_str());
  std::printf("| the same request made on the node itself, p50 / p99 | %s / %s |\n",
              gwr::bench::stat_ms(local, 50, 2).c_str(), gwr::bench::stat_ms(local, 99, 2).c_str());
  std::printf("| relayed calls that failed | %d of %d |\n", failed, calls);
  std::printf("| gwr-fleet RSS idle (all connected), hub / a node | %.1f MB / %.1f MB |\n", hub_idle_rss / 1024.0,
              node_idle_rss / 1024.0);
  std::printf("| gwr-fleet RSS after the burst and the calls, hub / a node | %.1f MB / %.1f MB |\n", hub_rss / 1024.0,
              node_rss / 1024.0);
  const bool ok = handed == expected && failed == 0;
  if (ok) {
    std::printf("\nall %llu events and %d calls succeeded\n", static_cast<unsigned long long>(expected), calls);
  } else {
    std::printf("\nFAILED: %llu of %llu events handed on, %d of %d calls failed\n",
                static_cast<unsigned long long>(handed), static_cast<unsigned long long>(expected), failed, calls);
  }
  for (auto& n : all) (void)n->daemon->stop();
  (void)hub.stop();
  return ok ? 0 : 1;
}
