// The diagnostic bundle Tier 3 sends to the AI: what happened, what tiers
// 1-2 did and saw, the gateway's log tail, the service journal, processes
// around the gateway, port owners, disk and memory. Bounded in size, secrets
// redacted, and every piece of text a program or a stranger could have
// written fenced and labelled as untrusted data (prompt injection).
#pragma once

#include "common/gateway_log.h"  // newest_match

#include <string>
#include <vector>

#include "common/process.h"
#include "common/redact.h"
#include "gwr.pb.h"

namespace gwr::tier3 {

inline constexpr size_t kMaxBundleBytes = 48 * 1024;

struct BundleInputs {
  pb::Config config;
  std::string signature;
  std::string reasons;
  std::vector<pb::GatewayHealth> health_history;
  std::vector<pb::RepairStep> steps;  // what tiers 1-2 did in this repair
  std::string fence_marker;           // "" = a new random one (tests set their own)
};

struct Bundle {
  std::string text;
  std::string summary;       // "12 KB: log tail 100 lines, journal, 7 processes, ..."
  std::string fence_marker;  // what the instructions tell the model to look for
};

// "UNTRUSTED-" and 128 random bits in hex: a fence text cannot close.
std::string new_fence_marker();

// Wraps text as untrusted data between <<<MARKER BEGIN LABEL>>> and
// <<<MARKER END LABEL>>>: control bytes removed, the marker removed from
// inside (whatever its case), size bounded to whole lines at the end.
std::string fence_untrusted(const std::string& label, const std::string& text, size_t max_bytes,
                            const std::string& marker);

// The last n lines of text, at most max_bytes.
std::string tail_lines(const std::string& text, size_t n, size_t max_bytes);

// The command that reads the gateway's service log: `log show` (the last 5
// minutes of node's unified log) on macOS, journalctl for OpenClaw's user
// unit where there is one, else none (empty).
std::vector<std::string> service_journal_argv(bool macos, bool has_journalctl);

// Collects everything from this machine (bounded time: a few seconds).
Bundle collect_bundle(const BundleInputs& in, const Redactor& redactor, CommandRunner& runner);

// Everything gwr knows is secret: configured secrets, and the values of
// environment variables whose names say they are credentials.
std::vector<std::string> known_secret_values(const pb::Config& config);

}  // namespace gwr::tier3
