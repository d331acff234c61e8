// The Tier 3 safety core: decides which lines of an AI-written script may
// run. Every line must be either an allowlisted command (an argv pattern with
// typed placeholders, PRD §5.1) or inert (blank, a comment, `set -e`,
// `sleep N`, `echo words`). An approved line is not executed as written: it
// becomes a typed Action that gwr performs with its own configured commands
// and checks, re-verified at the moment it runs.
//
// Decision for a whole script (PRD §5.3 "decide and document"): it runs only
// when every line is approved or inert. One rejected line means the model's
// plan cannot be trusted as a whole (a confused model, or injected text from
// the gateway's logs), so nothing runs, and the owner gets the diagnosis and
// the rejected lines. Standard library only (the fuzzer builds it alone).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "repairer/tier3/shell_words.h"

namespace gwr::tier3 {

enum class ActionKind {
  kGatewayStop,       // gateway.commands.stop
  kGatewayStart,      // gateway.commands.start
  kGatewayRestart,    // gateway.commands.restart
  kDoctor,            // gateway.commands.doctor
  kRemoveStaleLocks,  // arg: a glob or path relative to the state dir; only stale locks go
  kKillPortOwner,     // arg: pid; must still listen on the gateway port when it runs
  kKillPortOwners,    // whatever of the gateway's user listens on the port
  kListPortOwners,    // informational only
};
const char* to_string(ActionKind kind);
bool parse_action_kind(std::string_view text, ActionKind& out);

struct AllowlistEntry {
  std::string pattern;          // "kill -9 {pid}"
  ActionKind action = ActionKind::kListPortOwners;
  std::vector<Token> tokens;    // the pattern, tokenized with placeholders
};

class Allowlist {
 public:
  // Adds an entry; the error says why a pattern is unusable.
  bool add(const std::string& pattern, ActionKind action, std::string* error);
  const std::vector<AllowlistEntry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }

 private:
  std::vector<AllowlistEntry> entries_;
};

// What the validator may ask about the machine. Implemented over the platform seam and
// the filesystem by the repairer; faked in tests and the fuzzer.
class ValidationFacts {
 public:
  virtual ~ValidationFacts() = default;
  virtual uint16_t gateway_port() const = 0;
  virtual std::string home_dir() const = 0;
  virtual std::string state_dir() const = 0;                 // absolute
  virtual std::vector<std::string> lock_globs() const = 0;   // relative to state_dir
  // pid listens on the gateway port and belongs to the gateway's user.
  virtual bool is_port_owner(long pid) const = 0;
  struct Lock {
    bool exists = false;       // a regular file reached without any symlink
    bool stale = false;
    std::string why;
  };
  virtual Lock lock(const std::string& relative_path) const = 0;
};

struct Action {
  ActionKind kind = ActionKind::kListPortOwners;
  std::string arg;        // pid or relative glob/path
  std::string canonical;  // how a learned plan records it (re-validated on replay)
};

struct LineVerdict {
  enum class Kind { kApproved, kInert, kRejected };
  int line = 0;           // 1-based
  std::string text;       // printable, bounded
  Kind kind = Kind::kRejected;
  std::string reason;     // why rejected / what it was approved as
};

struct PlanVerdict {
  std::vector<LineVerdict> lines;
  std::vector<Action> actions;
  bool runnable = false;
  std::string summary;    // "3 approved, 1 inert, 0 rejected"
  std::vector<std::string> rejected() const;  // "line 4: rm -rf / (command rm ...)"
  std::vector<std::string> canonical_plan() const;
};

inline constexpr size_t kMaxScriptBytes = 8 * 1024;
inline constexpr size_t kMaxScriptLines = 60;
inline constexpr size_t kMaxActions = 20;

PlanVerdict validate_plan(std::string_view script, const Allowlist& allowlist, const ValidationFacts& facts);

// One line on its own (used by validate_plan and the tests).
LineVerdict validate_line(std::string_view line, int line_no, const Allowlist& allowlist, const ValidationFacts& facts,
                          Action* action);

}  // namespace gwr::tier3
