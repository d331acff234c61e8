#include "common/redact.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace gwr {

namespace {

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool iequals_at(std::string_view text, size_t pos, std::string_view word) {
  if (pos + word.size() > text.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (lower(text[pos + i]) != word[i]) return false;
  }
  return true;
}

std::string json_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default: out += c;
    }
  }
  return out;
}

void replace_all(std::string& text, const std::string& needle) {
  if (needle.empty()) return;
  size_t pos = 0;
  while ((pos = text.find(needle, pos)) != std::string::npos) {
    text.replace(pos, needle.size(), Redactor::kMask);
    pos += Redactor::kMask.size();
  }
}

// Telegram bot token: 6-12 digits, ':', 30+ of [A-Za-z0-9_-].
std::string redact_telegram_tokens(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  size_t copied = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != ':') continue;
    size_t d = i;
    while (d > 0 && std::isdigit(static_cast<unsigned char>(in[d - 1])) && i - d < 13) --d;
    const size_t digits = i - d;
    if (digits < 6 || digits > 12) continue;
    if (d > 0 && std::isalnum(static_cast<unsigned char>(in[d - 1])) &&
        !(d >= 3 && iequals_at(in, d - 3, "bot"))) {
      continue;  // part of a longer word, unless it is ".../bot<token>"
    }
    size_t e = i + 1;
    while (e < in.size() && is_token_char(in[e])) ++e;
    if (e - (i + 1) < 30) continue;
    out.append(in.substr(copied, d - copied));
    out.append(Redactor::kMask);
    copied = e;
    i = e - 1;
  }
  out.append(in.substr(copied));
  return out;
}

// "sk-" followed by 16+ token characters (OpenAI / DashScope style keys).
std::string redact_sk_keys(std::string_view in) {
  std::string out;
  size_t copied = 0;
  for (size_t i = 0; i + 3 < in.size(); ++i) {
    if (!(in[i] == 's' && in[i + 1] == 'k' && in[i + 2] == '-')) continue;
    if (i > 0 && is_token_char(in[i - 1])) continue;
    size_t e = i + 3;
    while (e < in.size() && is_token_char(in[e])) ++e;
    if (e - (i + 3) < 16) continue;
    out.append(in.substr(copied, i - copied));
    out.append(Redactor::kMask);
    copied = e;
    i = e - 1;
  }
  out.append(in.substr(copied));
  return out;
}

// "Authorization: <anything to end of line>" and "Bearer <token>".
std::string redact_auth_headers(std::string_view in) {
  std::string out;
  size_t copied = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    if (iequals_at(in, i, "authorization")) {
      size_t j = i + 13;
      while (j < in.size() && (in[j] == '"' || in[j] == '\'' || in[j] == ' ')) ++j;
      if (j < in.size() && (in[j] == ':' || in[j] == '=')) {
        ++j;
        while (j < in.size() && (in[j] == ' ' || in[j] == '"' || in[j] == '\'')) ++j;
        size_t e = j;
        while (e < in.size() && in[e] != '\n' && in[e] != '\r' && in[e] != '"' && in[e] != '\'') ++e;
        if (e > j) {
          out.append(in.substr(copied, j - copied));
          out.append(Redactor::kMask);
          copied = e;
          i = e - 1;
        }
      }
      continue;
    }
    if (iequals_at(in, i, "bearer ")) {
      size_t j = i + 7;
      size_t e = j;
      while (e < in.size() && (is_token_char(in[e]) || in[e] == '.' || in[e] == '=' || in[e] == '+' || in[e] == '/')) ++e;
      if (e - j >= 8) {
        out.append(in.substr(copied, j - copied));
        out.append(Redactor::kMask);
        copied = e;
        i = e - 1;
      }
    }
  }
  out.append(in.substr(copied));
  return out;
}

// key=value / "key": "value" where the key names a credential.
std::string redact_credential_pairs(std::string_view in) {
  static constexpr std::array<std::string_view, 8> kNames = {
      "api_key", "api-key", "apikey", "token", "secret", "password", "passwd", "access_key"};
  std::string out;
  size_t copied = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    std::string_view matched;
    for (auto name : kNames) {
      if (iequals_at(in, i, name)) {
        matched = name;
        break;
      }
    }
    if (matched.empty()) continue;
    size_t j = i + matched.size();
    while (j < in.size() && (in[j] == '"' || in[j] == '\'' || in[j] == ' ')) ++j;
    if (j >= in.size() || (in[j] != '=' && in[j] != ':')) continue;
    ++j;
    while (j < in.size() && (in[j] == ' ' || in[j] == '\t')) ++j;
    char quote = 0;
    if (j < in.size() && (in[j] == '"' || in[j] == '\'')) quote = in[j++];
    size_t e = j;
    if (quote) {
      while (e < in.size() && in[e] != quote && in[e] != '\n') {
        if (in[e] == '\\' && e + 1 < in.size()) ++e;
        ++e;
      }
    } else {
      while (e < in.size() && !std::isspace(static_cast<unsigned char>(in[e])) && in[e] != ',' &&
             in[e] != '&' && in[e] != ';' && in[e] != '}' && in[e] != ']') {
        ++e;
      }
    }
    if (e == j) continue;
    const std::string_view value = in.substr(j, e - j);
    if (value == Redactor::kMask) continue;
    // Numbers and booleans are settings ("max_tokens: 500"), not secrets.
    bool trivial = value == "true" || value == "false" || value == "null" || value == "none";
    if (!trivial) {
      trivial = std::all_of(value.begin(), value.end(),
                            [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) &&
                value.size() < 6;
    }
    if (trivial) continue;
    out.append(in.substr(copied, j - copied));
    out.append(Redactor::kMask);
    copied = e;
    i = e == 0 ? 0 : e - 1;
  }
  out.append(in.substr(copied));
  return out;
}

}  // namespace

std::string redact_patterns(std::string_view text) {
  std::string out = redact_telegram_tokens(text);
  out = redact_sk_keys(out);
  out = redact_auth_headers(out);
  out = redact_credential_pairs(out);
  return out;
}

void Redactor::set_secrets(std::vector<std::string> secrets) {
  secrets_.clear();
  add_secrets(secrets);
}

void Redactor::add_secrets(const std::vector<std::string>& secrets) {
  for (const auto& s : secrets) {
    if (s.size() < 4) continue;
    secrets_.push_back(s);
    const std::string escaped = json_escape(s);
    if (escaped != s) secrets_.push_back(escaped);
  }
  std::sort(secrets_.begin(), secrets_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  secrets_.erase(std::unique(secrets_.begin(), secrets_.end()), secrets_.end());
}

std::string Redactor::redact(std::string_view text) const {
  std::string out(text);
  for (const auto& s : secrets_) replace_all(out, s);
  return redact_patterns(out);
}

SharedRedactor& SharedRedactor::instance() {
  static SharedRedactor shared;
  return shared;
}

void SharedRedactor::set_secrets(std::vector<std::string> secrets) {
  std::lock_guard lock(mu_);
  redactor_.set_secrets(std::move(secrets));
}

std::string SharedRedactor::redact(std::string_view text) const {
  std::lock_guard lock(mu_);
  return redactor_.redact(text);
}

}  // namespace gwr
