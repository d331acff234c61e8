// The AI engines Tier 3 can ask (repair.tier3.engine):
//  * qwen-cli: the Qwen Code CLI (`qwen`, npm @qwen-code/qwen-code), run
//    headless: instructions with -p, the diagnostic bundle on stdin,
//    `--approval-mode plan` (read-only), `-o json`, in an empty private
//    working directory whose settings exclude the shell and edit tools;
//  * openai: an OpenAI-compatible chat-completions endpoint (DashScope's
//    compatible mode, a local server) over libcurl, key from QWEN_API_KEY.
// Both have a deadline, bound what they read, and turn every failure into a
// clear error; `unreachable` marks "not installed / network down".
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/http_client.h"
#include "common/process.h"
#include "gwr.pb.h"

namespace gwr::tier3 {

struct EngineReply {
  bool ok = false;
  std::string text;         // the model's answer
  std::string error;        // why not (redacted)
  bool unreachable = false; // the engine could not be reached at all
};

class AiEngine {
 public:
  virtual ~AiEngine() = default;
  virtual std::string name() const = 0;
  virtual EngineReply ask(const std::string& instructions, const std::string& bundle,
                          std::chrono::milliseconds timeout) = 0;
};

class QwenCliEngine final : public AiEngine {
 public:
  QwenCliEngine(const pb::Config& config, CommandRunner& runner);
  std::string name() const override { return "qwen-cli"; }
  EngineReply ask(const std::string& instructions, const std::string& bundle, std::chrono::milliseconds timeout) override;
  // The argv it would run (for tests and logs; the prompt is elided).
  std::vector<std::string> argv(const std::string& instructions) const;

 private:
  pb::Config config_;
  CommandRunner& runner_;
};

class OpenAiEngine final : public AiEngine {
 public:
  OpenAiEngine(const pb::Config& config, HttpClient& http);
  std::string name() const override { return "openai"; }
  EngineReply ask(const std::string& instructions, const std::string& bundle, std::chrono::milliseconds timeout) override;

 private:
  pb::Config config_;
  HttpClient& http_;
};

std::unique_ptr<AiEngine> make_engine(const pb::Config& config, CommandRunner& runner, HttpClient& http);

}  // namespace gwr::tier3
