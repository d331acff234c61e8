#include "repairer/tier3/answer_parser.h"

#include <cctype>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "common/text.h"

namespace gwr::tier3 {

namespace {

struct Block {
  size_t start_line;  // the opening fence
  size_t end_line;    // the closing fence (or the last line)
  std::string body;
};

constexpr size_t kMaxDiagnosis = 1500;

}  // namespace

ModelAnswer parse_model_answer(const std::string& text) {
  ModelAnswer out;
  std::vector<std::string> lines;
  {
    std::istringstream in(text);
    std::string l;
    while (std::getline(in, l)) lines.push_back(l);
  }
  std::vector<Block> blocks;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string t = trim(lines[i]);
    if (t.rfind("```", 0) != 0) continue;
    Block b{i, lines.size(), ""};
    size_t j = i + 1;
    for (; j < lines.size(); ++j) {
      if (trim(lines[j]).rfind("```", 0) == 0) break;
      b.body += lines[j] + "\n";
    }
    b.end_line = j;
    blocks.push_back(b);
    i = j;
  }
  size_t script_marker = lines.size();
  size_t diagnosis_marker = lines.size();
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string t = to_lower(trim(lines[i]));
    if (script_marker == lines.size() && (t.rfind("script:", 0) == 0 || t.rfind("**script", 0) == 0)) script_marker = i;
    if (diagnosis_marker == lines.size() && (t.rfind("diagnosis:", 0) == 0 || t.rfind("**diagnosis", 0) == 0)) {
      diagnosis_marker = i;
    }
  }
  const Block* chosen = nullptr;
  for (const auto& b : blocks) {
    if (script_marker != lines.size() && b.start_line > script_marker) {
      chosen = &b;
      break;
    }
  }
  if (chosen == nullptr && !blocks.empty()) chosen = &blocks.front();
  if (chosen != nullptr) {
    out.script = chosen->body;
    out.has_script = true;
  } else if (script_marker != lines.size()) {
    // "SCRIPT:" followed by bare lines.
    std::string rest = trim(lines[script_marker].substr(lines[script_marker].find(':') + 1));
    if (!rest.empty()) out.script += rest + "\n";
    for (size_t i = script_marker + 1; i < lines.size(); ++i) out.script += lines[i] + "\n";
    out.has_script = !trim(out.script).empty();
  }
  // The diagnosis: after "DIAGNOSIS:" up to the script, else everything that
  // is not the script.
  std::string diag;
  if (diagnosis_marker != lines.size()) {
    const std::string& first = lines[diagnosis_marker];
    diag = trim(first.substr(first.find(':') + 1));
    for (size_t i = diagnosis_marker + 1; i < lines.size(); ++i) {
      if (i == script_marker || (chosen != nullptr && i == chosen->start_line)) break;
      diag += "\n" + lines[i];
    }
  } else {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (chosen != nullptr && i >= chosen->start_line && i <= chosen->end_line) continue;
      if (i == script_marker) continue;
      diag += lines[i] + "\n";
    }
  }
  diag = trim(diag);
  // Keep the diagnosis printable and bounded: it goes to Telegram and logs.
  out.diagnosis = clip_end(printable_utf8(diag), kMaxDiagnosis, "...");
  return out;
}

Result<std::string> qwen_json_answer(const std::string& output) {
  // Tools may print a banner before the JSON: start at the first '['.
  const auto start = output.find('[');
  if (start == std::string::npos) return make_error("qwen printed no JSON (is `-o json` supported by this version?)");
  const auto j = nlohmann::json::parse(output.substr(start), nullptr, false);
  if (!j.is_array()) return make_error("qwen's output is not the expected JSON array");
  const nlohmann::json* result = nullptr;
  for (const auto& item : j) {
    if (item.is_object() && item.value("type", "") == "result") result = &item;
  }
  if (result == nullptr) return make_error("qwen's JSON has no result message");
  if (result->value("is_error", false)) {
    std::string why = result->contains("error") && (*result)["error"].is_string() ? (*result)["error"].get<std::string>()
                      : result->contains("result") && (*result)["result"].is_string() ? (*result)["result"].get<std::string>()
                                                                                     : "no detail";
    return make_error("qwen reported an error: " + clip_end(valid_utf8(why), 300));
  }
  if (!result->contains("result") || !(*result)["result"].is_string()) return make_error("qwen's result has no text");
  const std::string text = (*result)["result"].get<std::string>();
  if (trim(text).empty()) return make_error("qwen gave an empty answer");
  return text;
}

Result<std::string> chat_completion_answer(const std::string& body) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) return make_error("the AI endpoint returned something that is not JSON");
  if (j.contains("error")) {
    const auto& e = j["error"];
    std::string msg = e.is_object() && e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>()
                                                                                        : e.dump();
    return make_error("the AI endpoint reported an error: " + clip_end(valid_utf8(msg), 300));
  }
  if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) {
    return make_error("the AI endpoint's answer has no choices");
  }
  const auto& c = j["choices"][0];
  if (!c.is_object() || !c.contains("message") || !c["message"].is_object() || !c["message"].contains("content") ||
      !c["message"]["content"].is_string()) {
    return make_error("the AI endpoint's answer has no message content");
  }
  const std::string text = c["message"]["content"].get<std::string>();
  if (trim(text).empty()) return make_error("the AI endpoint gave an empty answer");
  return text;
}

}  // namespace gwr::tier3
