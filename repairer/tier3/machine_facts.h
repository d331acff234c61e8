// ValidationFacts from the real machine: port owners from the platform seam, locks read
// by walking the state dir without following any symlink.
#pragma once

#include "gwr.pb.h"
#include "repairer/tier3/plan_validator.h"

namespace gwr::tier3 {

class MachineFacts final : public ValidationFacts {
 public:
  explicit MachineFacts(const pb::Config& config);
  uint16_t gateway_port() const override { return port_; }
  std::string home_dir() const override { return home_; }
  std::string state_dir() const override { return state_dir_; }
  std::vector<std::string> lock_globs() const override { return globs_; }
  bool is_port_owner(long pid) const override;
  Lock lock(const std::string& relative_path) const override;

 private:
  uint16_t port_;
  std::string home_;
  std::string state_dir_;
  std::vector<std::string> globs_;
  int64_t unreadable_grace_ms_;
};

}  // namespace gwr::tier3
