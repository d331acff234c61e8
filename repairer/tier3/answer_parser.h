// Reading a model's answer: the diagnosis and the script in it, and the
// envelopes the two engines wrap it in (Qwen Code's `-o json` array, an
// OpenAI-compatible chat completion). Garbage gives a clear error. Callers
// hand in text that is already redacted: what comes out is cut to size.
#pragma once

#include <string>

#include "common/result.h"

namespace gwr::tier3 {

struct ModelAnswer {
  std::string diagnosis;   // bounded, for the human
  std::string script;      // the command lines, not yet validated
  bool has_script = false;
};

// Looks for a fenced code block (preferring the one after "SCRIPT:"), else
// the lines after "SCRIPT:"; the diagnosis is the "DIAGNOSIS:" text or the
// prose around the script.
ModelAnswer parse_model_answer(const std::string& text);

// Qwen Code `-o json`: an array of messages whose last "result" object
// holds the answer.
Result<std::string> qwen_json_answer(const std::string& output);

// An OpenAI-compatible /chat/completions response body.
Result<std::string> chat_completion_answer(const std::string& body);

}  // namespace gwr::tier3
