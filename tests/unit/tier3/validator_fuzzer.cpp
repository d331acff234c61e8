// libFuzzer target for the Tier 3 validator (built with clang when present;
// see CMakeLists.txt). Whatever bytes arrive, the validator must not crash,
// and anything it approves must be one of the typed actions on the right
// targets; a violated invariant traps.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "repairer/tier3/plan_validator.h"
#include "tests/unit/tier3/fake_facts.h"

namespace {

const gwr::tier3::Allowlist& allowlist() {
  static const gwr::tier3::Allowlist a = [] {
    using gwr::tier3::ActionKind;
    gwr::tier3::Allowlist list;
    const std::pair<const char*, ActionKind> entries[] = {
        {"openclaw gateway stop", ActionKind::kGatewayStop},
        {"openclaw gateway stop --force", ActionKind::kGatewayStop},
        {"openclaw gateway start", ActionKind::kGatewayStart},
        {"openclaw gateway restart", ActionKind::kGatewayRestart},
        {"openclaw doctor --fix", ActionKind::kDoctor},
        {"rm {stale_lock}", ActionKind::kRemoveStaleLocks},
        {"rm -f {stale_lock}", ActionKind::kRemoveStaleLocks},
        {"kill -9 {pid}", ActionKind::kKillPortOwner},
        {"kill {pid}", ActionKind::kKillPortOwner},
        {"lsof -ti:{port} | xargs kill -9", ActionKind::kKillPortOwners},
        {"lsof -ti:{port}", ActionKind::kListPortOwners},
    };
    for (const auto& [p, k] : entries) {
      if (!list.add(p, k, nullptr)) __builtin_trap();
    }
    return list;
  }();
  return a;
}

void check_action(const gwr::tier3::Action& a) {
  using gwr::tier3::ActionKind;
  if (a.kind == ActionKind::kKillPortOwner && a.arg != "4242") __builtin_trap();
  if (a.kind == ActionKind::kRemoveStaleLocks) {
    if (a.arg.rfind("agents/", 0) != 0) __builtin_trap();
    if (a.arg.find("..") != std::string::npos || a.arg.find("//") != std::string::npos) __builtin_trap();
    // A named lock is checked now and must be stale; a wildcard one
    // ("agents/*/sessions/live.jsonl.lock") is a sweep, and the sweeper
    // checks every file it matches when it runs (stale_lock_sweeper.cpp).
    if (a.arg.find('*') == std::string::npos && a.arg.find("live.jsonl.lock") != std::string::npos) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view script(reinterpret_cast<const char*>(data), size);
  gwr::tier3::FakeFacts facts;
  const auto plan = gwr::tier3::validate_plan(script, allowlist(), facts);
  for (const auto& a : plan.actions) check_action(a);
  if (plan.runnable && !plan.rejected().empty()) __builtin_trap();
  for (const auto& l : plan.lines) {
    if (l.kind != gwr::tier3::LineVerdict::Kind::kApproved) continue;
    for (unsigned char c : l.text) {
      if (c < 0x20 || c > 0x7e) __builtin_trap();  // an approved line is plain printable ASCII
    }
  }
  return 0;
}
