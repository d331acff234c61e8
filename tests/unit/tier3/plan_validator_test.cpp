// The Tier 3 safety core: tokenizer, allowlist and validator.
#include "repairer/tier3/plan_validator.h"

#include <fstream>

#include <gtest/gtest.h>

#include "repairer/tier3/allowlist_loader.h"
#include "tests/support/test_support.h"
#include "tests/unit/tier3/fake_facts.h"

namespace gwr::tier3 {
namespace {

Allowlist builtin() {
  auto a = load_allowlist("");
  EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.message());
  return a.ok() ? *a : Allowlist{};
}

LineVerdict check(const std::string& line, Action* action = nullptr) {
  static const Allowlist allowlist = builtin();
  static const FakeFacts facts;
  return validate_line(line, 1, allowlist, facts, action);
}

TEST(ShellWords, SplitsPlainWordsAndPipes) {
  auto t = tokenize_line("lsof -ti:18789 | xargs kill -9");
  ASSERT_TRUE(t.ok) << t.error;
  ASSERT_EQ(t.tokens.size(), 6u);
  EXPECT_EQ(t.tokens[2].kind, Token::Kind::kPipe);
  EXPECT_EQ(t.tokens[4].text, "kill");
}

TEST(ShellWords, CommentsAndBlanks) {
  EXPECT_TRUE(tokenize_line("").blank);
  EXPECT_TRUE(tokenize_line("   \t ").blank);
  EXPECT_TRUE(tokenize_line("#!/bin/sh").blank);
  EXPECT_TRUE(tokenize_line("# stop it first").blank);
  auto t = tokenize_line("openclaw gateway stop   # the gateway first");
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.tokens.size(), 3u);
  EXPECT_FALSE(tokenize_line("openclaw gateway st#op").ok);
}

TEST(ShellWords, EverythingAShellWouldInterpretIsRefused) {
  for (const char* bad : {"a;b", "a && b", "a || b", "a & b", "a > f", "a < f", "$(x)", "`x`", "$HOME", "a 'b'",
                          "a \"b\"", "a\\ b", "(a)", "{a,b}", "!a", "a?", "a[1]", "a^b", "a | | b", "| a", "a |"}) {
    EXPECT_FALSE(tokenize_line(bad).ok) << bad;
  }
}

TEST(ShellWords, NonAsciiAndControlBytesAreRefused) {
  EXPECT_FALSE(tokenize_line("openclаw gateway stop").ok);  // Cyrillic a
  EXPECT_FALSE(tokenize_line("openclaw gateway stop\xe2\x80\x8b").ok);
  EXPECT_FALSE(tokenize_line(std::string("openclaw\0gateway", 16)).ok);
  EXPECT_FALSE(tokenize_line("openclaw gateway stop\x1b[2K").ok);
  EXPECT_TRUE(tokenize_line("openclaw gateway stop\r").ok);  // a CRLF line ending is fine
  EXPECT_FALSE(tokenize_line(std::string(300, 'a')).ok);
}

TEST(ShellWords, PrintableShowsBytesSafely) {
  EXPECT_EQ(printable("a\x01\xff"), "a\\x01\\xFF");
  EXPECT_EQ(printable(std::string(300, 'x'), 10), "xxxxxxxxxx...");
}

TEST(Allowlist, BuiltinHasThePrdCommands) {
  const auto a = builtin();
  std::vector<std::string> patterns;
  for (const auto& e : a.entries()) patterns.push_back(e.pattern);
  for (const char* p : {"openclaw gateway stop", "openclaw gateway start", "openclaw gateway restart",
                        "openclaw doctor --fix", "kill -9 {pid}", "lsof -ti:{port}", "rm {stale_lock}"}) {
    EXPECT_NE(std::find(patterns.begin(), patterns.end(), p), patterns.end()) << p;
  }
}

TEST(Allowlist, BadEntriesAreRefusedWithTheirLine) {
  auto unknown = parse_allowlist("allowed_commands:\n  - command: rm -rf {everything}\n    action: doctor\n", "x.yaml");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.message().find("x.yaml line 2"), std::string::npos) << unknown.message();
  EXPECT_FALSE(parse_allowlist("allowed_commands:\n  - command: rm -rf /\n    action: nuke\n", "x").ok());
  EXPECT_FALSE(parse_allowlist("allowed_commands:\n  - command: kill -9 {pid}\n    action: doctor\n", "x").ok());
  EXPECT_FALSE(parse_allowlist("allowed_commands:\n  - command: rm *.lock\n    action: doctor\n", "x").ok());
  EXPECT_FALSE(parse_allowlist("allowed_commands:\n  - command: rm {stale_lock}; id\n    action: remove_stale_locks\n", "x").ok());
  EXPECT_FALSE(parse_allowlist("allowed_commands: []\n", "x").ok());
  EXPECT_FALSE(parse_allowlist("allowed: []\n", "x").ok());
  EXPECT_FALSE(parse_allowlist("{{{", "x").ok());
  EXPECT_FALSE(load_allowlist("/nonexistent/allowlist.yaml").ok());
}

TEST(Validator, ApprovesEachAllowedForm) {
  Action a;
  EXPECT_EQ(check("openclaw gateway stop", &a).kind, LineVerdict::Kind::kApproved);
  EXPECT_EQ(a.kind, ActionKind::kGatewayStop);
  EXPECT_EQ(check("openclaw gateway start", &a).kind, LineVerdict::Kind::kApproved);
  EXPECT_EQ(a.kind, ActionKind::kGatewayStart);
  EXPECT_EQ(check("openclaw gateway restart --force", &a).kind, LineVerdict::Kind::kApproved);
  EXPECT_EQ(a.kind, ActionKind::kGatewayRestart);
  EXPECT_EQ(check("openclaw doctor --fix", &a).kind, LineVerdict::Kind::kApproved);
  EXPECT_EQ(a.kind, ActionKind::kDoctor);
  EXPECT_EQ(check("kill -9 4242", &a).kind, LineVerdict::Kind::kApproved);
  EXPECT_EQ(a.kind, ActionKind::kKillPortOwner);
  EXPECT_EQ(a.arg, "4242");
  EXPECT_EQ(a.canonical, "lsof -ti:18789 | xargs kill -9");
  EXPECT_EQ(check("lsof -ti:18789 | xargs kill -9", &a).kind, LineVerdict::Kind::kApproved);
  EXPECT_EQ(a.kind, ActionKind::kKillPortOwners);
  EXPECT_EQ(check("lsof -ti:18789", &a).kind, LineVerdict::Kind::kApproved);
  EXPECT_EQ(a.kind, ActionKind::kListPortOwners);
}

TEST(Validator, StaleLockPathsAndGlobs) {
  Action a;
  EXPECT_EQ(check("rm ~/.openclaw/agents/main/sessions/dead.jsonl.lock", &a).kind, LineVerdict::Kind::kApproved);
  EXPECT_EQ(a.kind, ActionKind::kRemoveStaleLocks);
  EXPECT_EQ(a.arg, "agents/main/sessions/dead.jsonl.lock");
  EXPECT_EQ(a.canonical, "rm /home/u/.openclaw/agents/*/sessions/*.jsonl.lock");
  EXPECT_EQ(check("rm -f /home/u/.openclaw/agents/ops/sessions/old.jsonl.lock", &a).kind, LineVerdict::Kind::kApproved);
  // The configured glob itself, and narrower ones.
  EXPECT_EQ(check("rm ~/.openclaw/agents/*/sessions/*.jsonl.lock", &a).kind, LineVerdict::Kind::kApproved);
  EXPECT_EQ(a.arg, "agents/*/sessions/*.jsonl.lock");
  EXPECT_EQ(check("rm ~/.openclaw/agents/main/sessions/*.jsonl.lock", &a).kind, LineVerdict::Kind::kApproved);
  // A wildcard with a name in it is a sweep of that name: it is not checked
  // now (it names no one file), the sweeper checks each match when it runs,
  // so a live lock among them is kept (found by the validator fuzzer).
  EXPECT_EQ(check("rm ~/.openclaw/agents/*/sessions/live.jsonl.lock", &a).kind, LineVerdict::Kind::kApproved);
  EXPECT_EQ(a.arg, "agents/*/sessions/live.jsonl.lock");
  // Never broader, never a live lock, never outside, never missing.
  const auto live = check("rm ~/.openclaw/agents/main/sessions/live.jsonl.lock");
  EXPECT_EQ(live.kind, LineVerdict::Kind::kRejected);
  EXPECT_NE(live.reason.find("not stale"), std::string::npos) << live.reason;
  EXPECT_EQ(check("rm ~/.openclaw/agents/*/sessions/*").kind, LineVerdict::Kind::kRejected);
  EXPECT_EQ(check("rm ~/.openclaw/agents/main/sessions/gone.jsonl.lock").kind, LineVerdict::Kind::kRejected);
  const auto outside = check("rm /etc/passwd");
  EXPECT_NE(outside.reason.find("outside the gateway state dir"), std::string::npos) << outside.reason;
}

TEST(Validator, PidsMustHoldTheGatewayPort) {
  EXPECT_EQ(check("kill -9 1").kind, LineVerdict::Kind::kRejected);
  const auto v = check("kill -9 1234");
  EXPECT_EQ(v.kind, LineVerdict::Kind::kRejected);
  EXPECT_NE(v.reason.find("does not listen on port 18789"), std::string::npos) << v.reason;
  EXPECT_EQ(check("kill -9 04242").kind, LineVerdict::Kind::kRejected);
  EXPECT_EQ(check("lsof -ti:22 | xargs kill -9").kind, LineVerdict::Kind::kRejected);
}

TEST(Validator, InertLinesAreSkippedNotRun) {
  for (const char* inert : {"", "# restart", "#!/bin/bash", "set -e", "set -euo pipefail", "sleep 5", "echo restarting now",
                            "true"}) {
    EXPECT_EQ(check(inert).kind, LineVerdict::Kind::kInert) << inert;
  }
  EXPECT_EQ(check("sleep 100000").kind, LineVerdict::Kind::kRejected);
  EXPECT_EQ(check("echo x | sh").kind, LineVerdict::Kind::kRejected);
}

TEST(Validator, RejectionsExplainThemselves) {
  EXPECT_EQ(check("rm -rf /").reason.find("not an allowed form of \"rm\""), 0u);
  EXPECT_EQ(check("curl http://x").reason, "\"curl\" is not an allowed command");
  EXPECT_NE(check("openclaw gateway stop; id").reason.find("separators"), std::string::npos);
}

TEST(Validator, AdversarialCorpusIsNeverApproved) {
  std::ifstream f(testing::source_path("tests/unit/tier3/data/adversarial.txt"));
  ASSERT_TRUE(f.good());
  std::string line, all;
  int count = 0;
  while (std::getline(f, line)) {
    if (line.rfind("# ", 0) == 0 && count == 0 && all.empty()) continue;  // the file's own header
    ++count;
    all += line + "\n";
    const auto v = check(line);
    EXPECT_NE(v.kind, LineVerdict::Kind::kApproved) << "approved: " << printable(line) << " as " << v.reason;
  }
  EXPECT_GE(count, 150);
  static const Allowlist allowlist = builtin();
  FakeFacts facts;
  const auto plan = validate_plan(all, allowlist, facts);
  EXPECT_FALSE(plan.runnable);
  EXPECT_TRUE(plan.actions.empty());
}

TEST(Validator, APlanRunsOnlyWhenEveryLineIsAllowed) {
  const Allowlist allowlist = builtin();
  FakeFacts facts;
  auto good = validate_plan(
      "#!/bin/sh\nset -e\n# free the port\nopenclaw gateway stop\nlsof -ti:18789 | xargs kill -9\n"
      "rm ~/.openclaw/agents/main/sessions/dead.jsonl.lock\nsleep 2\nopenclaw gateway start\n",
      allowlist, facts);
  EXPECT_TRUE(good.runnable) << good.summary;
  EXPECT_EQ(good.actions.size(), 4u);
  EXPECT_EQ(good.summary, "4 approved, 4 inert, 0 rejected");
  EXPECT_EQ(good.canonical_plan(),
            (std::vector<std::string>{"openclaw gateway stop", "lsof -ti:18789 | xargs kill -9",
                                      "rm /home/u/.openclaw/agents/*/sessions/*.jsonl.lock", "openclaw gateway start"}));

  auto one_bad = validate_plan("openclaw gateway stop\nrm -rf ~/.openclaw\nopenclaw gateway start\n", allowlist, facts);
  EXPECT_FALSE(one_bad.runnable);
  ASSERT_EQ(one_bad.rejected().size(), 1u);
  EXPECT_EQ(one_bad.rejected()[0].rfind("line 2: rm -rf ~/.openclaw", 0), 0u);

  EXPECT_FALSE(validate_plan("# nothing to do\n", allowlist, facts).runnable);
  EXPECT_FALSE(validate_plan(std::string(9000, 'a'), allowlist, facts).runnable);
  std::string many;
  for (int i = 0; i < 30; ++i) many += "openclaw gateway restart\n";
  EXPECT_FALSE(validate_plan(many, allowlist, facts).runnable);  // > 20 actions
}

TEST(Validator, RandomBytesNeverApproveAnythingUnexpected) {
  const Allowlist allowlist = builtin();
  FakeFacts facts;
  uint64_t x = 88172645463325252ULL;
  auto next = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  const std::string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 -_./:|;&$`'\"\\*~{}()<>!#?[]\n\t\x80\xff";
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    const size_t n = next() % 80;
    for (size_t k = 0; k < n; ++k) s += alphabet[next() % alphabet.size()];
    Action a;
    const auto v = validate_line(s, 1, allowlist, facts, &a);
    if (v.kind == LineVerdict::Kind::kApproved) {
      // Only ever one of the typed actions, on the right targets.
      if (a.kind == ActionKind::kKillPortOwner) {
        EXPECT_EQ(a.arg, "4242");
      }
      if (a.kind == ActionKind::kRemoveStaleLocks) {
        EXPECT_EQ(a.arg.rfind("agents/", 0), 0u) << a.arg;
      }
    }
  }
}

}  // namespace
}  // namespace gwr::tier3
