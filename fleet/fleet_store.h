// fleet.db, in gwr's state dir: a node's outbox (its events until the hub
// has them, and the instance id and last seq that number them), or a hub's
// book of nodes (the last seq of each it handed on, and when it was seen).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/sqlite.h"
#include "gwr.pb.h"

namespace gwr::fleet {

// The outbox holds at most this many events; beyond it the oldest go (the
// hub is told how many it missed).
inline constexpr int64_t kOutboxMax = 20000;

class FleetStore {
 public:
  static Result<std::unique_ptr<FleetStore>> open(const std::string& path);

  // Node: this host's instance id (made once, random).
  Result<std::string> instance();
  // A new one: the hub starts this host's sequence again (it remembered a
  // later seq than this outbox has, e.g. fleet.db restored from a backup).
  Result<std::string> new_instance();
  // Appends events in one transaction (one fsync), all or none; returns the
  // last one's seq. dropped: set to how many of the oldest left to keep the
  // outbox within kOutboxMax.
  Result<uint64_t> append_all(const std::vector<pb::Event>& events, int64_t now_ms, int64_t* dropped = nullptr);
  // Events with seq > after, in order, at most n.
  Result<std::vector<pb::FleetEnvelope>> after(uint64_t after, size_t n);
  Status remove_through(uint64_t seq);
  uint64_t last_seq() const { return last_seq_; }
  Result<uint64_t> oldest_seq();
  Result<int64_t> count();

  // Hub: the nodes it remembers.
  struct NodeRow {
    std::string name;
    std::string instance;
    uint64_t seq = 0;
    int64_t last_seen_ms = 0;
    std::vector<pb::GatewayEntryInfo> gateways;
  };
  Result<std::vector<NodeRow>> nodes();
  Status save_node(const NodeRow& row);

 private:
  explicit FleetStore(std::unique_ptr<Database> db) : db_(std::move(db)) {}
  Status init();
  std::unique_ptr<Database> db_;
  uint64_t last_seq_ = 0;
};

}  // namespace gwr::fleet
