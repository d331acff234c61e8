// A fixed machine for validator tests: gateway on 18789, pid 4242 listens on
// it, one stale and one live lock under /home/u/.openclaw.
#pragma once

#include <set>

#include "repairer/tier3/plan_validator.h"

namespace gwr::tier3 {

class FakeFacts final : public ValidationFacts {
 public:
  uint16_t gateway_port() const override { return 18789; }
  std::string home_dir() const override { return "/home/u"; }
  std::string state_dir() const override { return "/home/u/.openclaw"; }
  std::vector<std::string> lock_globs() const override { return {"agents/*/sessions/*.jsonl.lock"}; }
  bool is_port_owner(long pid) const override { return owners.count(pid) > 0; }
  Lock lock(const std::string& rel) const override {
    if (rel == "agents/main/sessions/dead.jsonl.lock") return {true, true, "owner pid 9 is gone"};
    if (rel == "agents/ops/sessions/old.jsonl.lock") return {true, true, "owner pid 10 is gone"};
    if (rel == "agents/main/sessions/live.jsonl.lock") return {true, false, "owner pid 77 (node) is alive"};
    return {};  // missing, a symlink, or not a file
  }
  std::set<long> owners = {4242};
};

}  // namespace gwr::tier3
