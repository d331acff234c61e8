// Redactor: removes secrets from any text that leaves a process (log lines,
// captured command output, Telegram messages, AI prompts, history rows).
// It knows the configured secrets by value and recognises secret-shaped text
// (Telegram bot tokens, "sk-" API keys, bearer tokens, Authorization headers,
// key=value pairs whose key names a credential).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace gwr {

class Redactor {
 public:
  static constexpr std::string_view kMask = "[REDACTED]";

  Redactor() = default;
  explicit Redactor(std::vector<std::string> secrets) { set_secrets(std::move(secrets)); }

  // Replaces the set of known secret values. Values shorter than 4 characters
  // are ignored: masking them would shred ordinary text.
  void set_secrets(std::vector<std::string> secrets);
  // Adds known secret values (e.g. from the environment).
  void add_secrets(const std::vector<std::string>& secrets);

  std::string redact(std::string_view text) const;

 private:
  std::vector<std::string> secrets_;  // raw values and their JSON-escaped forms, longest first
};

// Pattern-only redaction (no known values); what redact() applies after values.
std::string redact_patterns(std::string_view text);

// A process-wide redactor shared by the log sink and the adapters that
// produce text; its secrets are set from the config.
class SharedRedactor {
 public:
  static SharedRedactor& instance();
  void set_secrets(std::vector<std::string> secrets);
  std::string redact(std::string_view text) const;

 private:
  mutable std::mutex mu_;
  Redactor redactor_;
};

}  // namespace gwr
