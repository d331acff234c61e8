#include "repairer/tier3/plan_validator.h"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>

namespace gwr::tier3 {

namespace {

std::vector<std::string> split_path(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == '/') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

struct PatternWord {
  std::string prefix;
  std::string placeholder;  // "" when the word is literal
  std::string suffix;
};

PatternWord parse_pattern_word(const std::string& w) {
  PatternWord p;
  const auto open = w.find('{');
  if (open == std::string::npos) {
    p.prefix = w;
    return p;
  }
  const auto close = w.find('}', open);
  p.prefix = w.substr(0, open);
  p.placeholder = w.substr(open + 1, close - open - 1);
  p.suffix = w.substr(close + 1);
  return p;
}

bool known_placeholder(const std::string& name) { return name == "pid" || name == "port" || name == "stale_lock"; }

struct Binding {
  bool ok = false;
  std::string reason;  // when not ok
  std::string pid;
  std::string lock_rel;
  std::string lock_canonical;
};

Binding check_pid(const std::string& value, const ValidationFacts& facts) {
  Binding b;
  if (!all_digits(value) || value.size() > 7 || value[0] == '0') {
    b.reason = "\"" + value + "\" is not a process id";
    return b;
  }
  const long pid = std::stol(value);
  if (pid < 2 || pid > 4'194'304) {
    b.reason = "pid " + value + " is out of range";
    return b;
  }
  if (!facts.is_port_owner(pid)) {
    b.reason = "pid " + value + " does not listen on port " + std::to_string(facts.gateway_port()) +
               " as the gateway's user";
    return b;
  }
  b.ok = true;
  b.pid = value;
  return b;
}

Binding check_port(const std::string& value, const ValidationFacts& facts) {
  Binding b;
  if (!all_digits(value) || value != std::to_string(facts.gateway_port())) {
    b.reason = "port \"" + value + "\" is not the gateway port " + std::to_string(facts.gateway_port());
    return b;
  }
  b.ok = true;
  return b;
}

Binding check_lock(const std::string& value, const ValidationFacts& facts) {
  Binding b;
  std::string path = value;
  const std::string home = facts.home_dir();
  if (path.rfind("~/", 0) == 0) {
    path = home + path.substr(1);
  } else if (!path.empty() && path[0] == '~') {
    b.reason = "~user paths are not allowed";
    return b;
  }
  if (path.empty() || path[0] != '/') {
    b.reason = "lock paths must be absolute";
    return b;
  }
  std::string root = facts.state_dir();
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (path.rfind(root + "/", 0) != 0) {
    b.reason = "\"" + value + "\" is outside the gateway state dir " + root;
    return b;
  }
  const std::string rel = path.substr(root.size() + 1);
  const auto segs = split_path(rel);
  for (const auto& s : segs) {
    if (s.empty() || s == "." || s == "..") {
      b.reason = "\"" + value + "\" has empty, . or .. path parts";
      return b;
    }
  }
  const bool is_glob = rel.find('*') != std::string::npos;
  std::string matched;
  for (const auto& glob : facts.lock_globs()) {
    const auto gsegs = split_path(glob);
    if (gsegs.size() != segs.size()) continue;
    bool match = true;
    for (size_t i = 0; i < segs.size() && match; ++i) {
      if (segs[i] == gsegs[i]) continue;
      if (segs[i].find('*') != std::string::npos) {
        match = false;  // a wildcard may only repeat the allowed one, never widen it
      } else {
        match = ::fnmatch(gsegs[i].c_str(), segs[i].c_str(), FNM_PERIOD) == 0;
      }
    }
    if (match) {
      matched = glob;
      break;
    }
  }
  if (matched.empty()) {
    std::string globs;
    for (const auto& g : facts.lock_globs()) globs += (globs.empty() ? "" : ", ") + g;
    b.reason = "\"" + value + "\" is not under the stale-lock globs (" + globs + ")";
    return b;
  }
  if (!is_glob) {
    const auto lock = facts.lock(rel);
    if (!lock.exists) {
      b.reason = "no lock file at \"" + value + "\" (missing, not a regular file, or reached through a symlink)";
      return b;
    }
    if (!lock.stale) {
      b.reason = "the lock \"" + value + "\" is not stale: " + lock.why;
      return b;
    }
  }
  b.ok = true;
  b.lock_rel = rel;
  b.lock_canonical = "rm " + root + "/" + matched;
  return b;
}

Binding check_placeholder(const std::string& name, const std::string& value, const ValidationFacts& facts) {
  if (name == "pid") return check_pid(value, facts);
  if (name == "port") return check_port(value, facts);
  if (name == "stale_lock") return check_lock(value, facts);
  Binding b;
  b.reason = "unknown placeholder {" + name + "}";
  return b;
}

struct Match {
  bool ok = false;
  bool same_command = false;  // the first word matched literally
  std::string reason;
  Binding binding;
};

Match match_entry(const AllowlistEntry& entry, const std::vector<Token>& tokens, const ValidationFacts& facts) {
  Match m;
  if (!entry.tokens.empty() && !tokens.empty() && entry.tokens[0].kind == Token::Kind::kWord &&
      tokens[0].kind == Token::Kind::kWord && entry.tokens[0].text == tokens[0].text) {
    m.same_command = true;
  }
  if (entry.tokens.size() != tokens.size()) {
    m.reason = "wrong number of arguments";
    return m;
  }
  Binding bound;
  bound.ok = true;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const auto& pt = entry.tokens[i];
    const auto& lt = tokens[i];
    if (pt.kind != lt.kind) {
      m.reason = "shape differs";
      return m;
    }
    if (pt.kind == Token::Kind::kPipe) continue;
    const auto pw = parse_pattern_word(pt.text);
    if (pw.placeholder.empty()) {
      if (pw.prefix != lt.text) {
        m.reason = "\"" + lt.text + "\" is not \"" + pw.prefix + "\"";
        return m;
      }
      continue;
    }
    if (lt.text.size() <= pw.prefix.size() + pw.suffix.size() || lt.text.rfind(pw.prefix, 0) != 0 ||
        lt.text.compare(lt.text.size() - pw.suffix.size(), pw.suffix.size(), pw.suffix) != 0) {
      m.reason = "\"" + lt.text + "\" does not have the form \"" + pt.text + "\"";
      return m;
    }
    const std::string value = lt.text.substr(pw.prefix.size(), lt.text.size() - pw.prefix.size() - pw.suffix.size());
    auto b = check_placeholder(pw.placeholder, value, facts);
    if (!b.ok) {
      m.reason = b.reason;
      return m;
    }
    if (!b.pid.empty()) bound.pid = b.pid;
    if (!b.lock_rel.empty()) {
      bound.lock_rel = b.lock_rel;
      bound.lock_canonical = b.lock_canonical;
    }
  }
  m.ok = true;
  m.binding = bound;
  return m;
}

bool is_inert(const std::vector<Token>& tokens, std::string* what) {
  if (tokens.empty()) return true;
  for (const auto& t : tokens) {
    if (t.kind == Token::Kind::kPipe) return false;
  }
  const std::string& cmd = tokens[0].text;
  if (cmd == "true") {
    *what = "no-op";
    return tokens.size() == 1;
  }
  if (cmd == "echo") {
    *what = "echo (not run)";
    return true;
  }
  if (cmd == "sleep" && tokens.size() == 2 && all_digits(tokens[1].text) && tokens[1].text.size() <= 3 &&
      std::stoi(tokens[1].text) <= 300) {
    *what = "sleep (skipped: gwr waits for the gateway itself)";
    return true;
  }
  if (cmd == "set" && tokens.size() >= 2) {
    for (size_t i = 1; i < tokens.size(); ++i) {
      const auto& w = tokens[i].text;
      const bool flag = w.size() >= 2 && (w[0] == '-' || w[0] == '+') &&
                        std::all_of(w.begin() + 1, w.end(), [](char c) { return c >= 'a' && c <= 'z'; });
      if (!flag && w != "pipefail") return false;
    }
    *what = "shell option (not needed)";
    return true;
  }
  return false;
}

}  // namespace

const char* to_string(ActionKind kind) {
  switch (kind) {
    case ActionKind::kGatewayStop: return "gateway_stop";
    case ActionKind::kGatewayStart: return "gateway_start";
    case ActionKind::kGatewayRestart: return "gateway_restart";
    case ActionKind::kDoctor: return "doctor";
    case ActionKind::kRemoveStaleLocks: return "remove_stale_locks";
    case ActionKind::kKillPortOwner: return "kill_port_owner";
    case ActionKind::kKillPortOwners: return "kill_port_owners";
    case ActionKind::kListPortOwners: return "list_port_owners";
  }
  return "?";
}

bool parse_action_kind(std::string_view text, ActionKind& out) {
  for (auto k : {ActionKind::kGatewayStop, ActionKind::kGatewayStart, ActionKind::kGatewayRestart, ActionKind::kDoctor,
                 ActionKind::kRemoveStaleLocks, ActionKind::kKillPortOwner, ActionKind::kKillPortOwners,
                 ActionKind::kListPortOwners}) {
    if (text == to_string(k)) {
      out = k;
      return true;
    }
  }
  return false;
}

bool Allowlist::add(const std::string& pattern, ActionKind action, std::string* error) {
  auto t = tokenize_line(pattern, true);
  if (!t.ok || t.blank) {
    if (error) *error = "pattern \"" + printable(pattern) + "\": " + (t.blank ? "empty" : t.error);
    return false;
  }
  std::vector<std::string> placeholders;
  for (const auto& tok : t.tokens) {
    if (tok.kind != Token::Kind::kWord) continue;
    const auto first = tok.text.find('{');
    if (first == std::string::npos) continue;
    if (tok.text.find('{', first + 1) != std::string::npos) {
      if (error) *error = "pattern \"" + pattern + "\": at most one placeholder per word";
      return false;
    }
    const auto pw = parse_pattern_word(tok.text);
    if (!known_placeholder(pw.placeholder)) {
      if (error) *error = "pattern \"" + pattern + "\": unknown placeholder {" + pw.placeholder + "}";
      return false;
    }
    placeholders.push_back(pw.placeholder);
  }
  if (t.tokens[0].text.find('{') != std::string::npos || t.tokens[0].text.find('*') != std::string::npos) {
    if (error) *error = "pattern \"" + pattern + "\": the command itself must be literal";
    return false;
  }
  auto has = [&](const char* p) { return std::find(placeholders.begin(), placeholders.end(), p) != placeholders.end(); };
  // An action must get what it needs, and nothing it would ignore.
  const bool needs_pid = action == ActionKind::kKillPortOwner;
  const bool needs_lock = action == ActionKind::kRemoveStaleLocks;
  if (needs_pid != has("pid") || needs_lock != has("stale_lock")) {
    if (error) {
      *error = "pattern \"" + pattern + "\": action " + to_string(action) +
               (needs_pid ? " needs exactly a {pid}" : needs_lock ? " needs exactly a {stale_lock}" : " takes no {pid} or {stale_lock}");
    }
    return false;
  }
  for (const auto& tok : t.tokens) {
    if (tok.kind == Token::Kind::kWord && tok.text.find('*') != std::string::npos) {
      if (error) *error = "pattern \"" + pattern + "\": wildcards belong in repair.tier2.stale_lock_globs, not here";
      return false;
    }
  }
  entries_.push_back({pattern, action, t.tokens});
  return true;
}

std::vector<std::string> PlanVerdict::rejected() const {
  std::vector<std::string> out;
  for (const auto& l : lines) {
    if (l.kind == LineVerdict::Kind::kRejected) out.push_back("line " + std::to_string(l.line) + ": " + l.text + " (" + l.reason + ")");
  }
  return out;
}

std::vector<std::string> PlanVerdict::canonical_plan() const {
  std::vector<std::string> out;
  for (const auto& a : actions) {
    if (a.kind != ActionKind::kListPortOwners) out.push_back(a.canonical);
  }
  return out;
}

LineVerdict validate_line(std::string_view line, int line_no, const Allowlist& allowlist, const ValidationFacts& facts,
                          Action* action) {
  LineVerdict v;
  v.line = line_no;
  v.text = printable(line);
  const auto tok = tokenize_line(line, false);
  if (!tok.ok) {
    v.kind = LineVerdict::Kind::kRejected;
    v.reason = tok.error;
    return v;
  }
  std::string what;
  if (tok.blank || is_inert(tok.tokens, &what)) {
    v.kind = LineVerdict::Kind::kInert;
    v.reason = tok.blank ? "blank or comment" : what;
    return v;
  }
  std::string best_reason;
  bool command_known = false;
  for (const auto& entry : allowlist.entries()) {
    auto m = match_entry(entry, tok.tokens, facts);
    if (m.same_command) command_known = true;
    if (m.ok) {
      v.kind = LineVerdict::Kind::kApproved;
      v.reason = to_string(entry.action);
      if (action != nullptr) {
        action->kind = entry.action;
        const std::string port = std::to_string(facts.gateway_port());
        switch (entry.action) {
          case ActionKind::kKillPortOwner:
            action->arg = m.binding.pid;
            action->canonical = "lsof -ti:" + port + " | xargs kill -9";
            break;
          case ActionKind::kRemoveStaleLocks:
            action->arg = m.binding.lock_rel;
            action->canonical = m.binding.lock_canonical;
            break;
          case ActionKind::kKillPortOwners:
            action->canonical = "lsof -ti:" + port + " | xargs kill -9";
            break;
          case ActionKind::kListPortOwners:
            action->canonical = "lsof -ti:" + port;
            break;
          default:
            action->canonical = entry.pattern;
            break;
        }
      }
      return v;
    }
    // Prefer the reason from an entry for the same command that got furthest.
    if (m.same_command && (best_reason.empty() || m.reason.find("does not") != std::string::npos ||
                           m.reason.find("not stale") != std::string::npos || m.reason.find("outside") != std::string::npos ||
                           m.reason.find("not under") != std::string::npos || m.reason.find("no lock") != std::string::npos)) {
      best_reason = m.reason;
    }
  }
  v.kind = LineVerdict::Kind::kRejected;
  const std::string& cmd = tok.tokens[0].text;
  if (!command_known) {
    v.reason = "\"" + cmd + "\" is not an allowed command";
  } else {
    v.reason = "not an allowed form of \"" + cmd + "\"" + (best_reason.empty() ? "" : ": " + best_reason);
  }
  return v;
}

PlanVerdict validate_plan(std::string_view script, const Allowlist& allowlist, const ValidationFacts& facts) {
  PlanVerdict out;
  if (script.size() > kMaxScriptBytes) {
    LineVerdict v;
    v.line = 0;
    v.text = "(the whole script)";
    v.kind = LineVerdict::Kind::kRejected;
    v.reason = "script larger than " + std::to_string(kMaxScriptBytes) + " bytes";
    out.lines.push_back(v);
    out.summary = "not run: " + v.reason;
    return out;
  }
  size_t start = 0;
  int line_no = 0;
  int approved = 0, inert = 0, rejected = 0;
  while (start <= script.size()) {
    size_t end = script.find('\n', start);
    if (end == std::string_view::npos) end = script.size();
    const std::string_view line = script.substr(start, end - start);
    if (end == script.size() && line.empty() && line_no > 0) break;  // the final newline ends the last line
    ++line_no;
    if (static_cast<size_t>(line_no) > kMaxScriptLines) {
      LineVerdict v;
      v.line = line_no;
      v.text = printable(line);
      v.kind = LineVerdict::Kind::kRejected;
      v.reason = "more than " + std::to_string(kMaxScriptLines) + " lines";
      out.lines.push_back(v);
      ++rejected;
      break;
    }
    Action a;
    auto v = validate_line(line, line_no, allowlist, facts, &a);
    if (v.kind == LineVerdict::Kind::kApproved) {
      ++approved;
      out.actions.push_back(a);
    } else if (v.kind == LineVerdict::Kind::kInert) {
      ++inert;
    } else {
      ++rejected;
    }
    out.lines.push_back(std::move(v));
    if (end == script.size()) break;
    start = end + 1;
  }
  out.summary = std::to_string(approved) + " approved, " + std::to_string(inert) + " inert, " +
                std::to_string(rejected) + " rejected";
  if (rejected > 0) {
    out.summary += "; not run: every line must be allowed";
  } else if (out.actions.empty()) {
    out.summary += "; nothing to run";
  } else if (out.actions.size() > kMaxActions) {
    out.summary += "; not run: more than " + std::to_string(kMaxActions) + " actions";
  } else {
    out.runnable = true;
  }
  return out;
}

}  // namespace gwr::tier3
