#include "repairer/tier3/ai_engine.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/duration.h"
#include "common/redact.h"
#include "common/text.h"
#include "repairer/repair_actions.h"
#include "repairer/tier3/answer_parser.h"

namespace gwr::tier3 {

namespace fs = std::filesystem;

namespace {

// An empty, private working directory for the CLI, with settings that keep
// its shell and file-editing tools off even if plan mode were ignored.
std::string make_workdir() {
  char tmpl[] = "/tmp/gwr-qwen-XXXXXX";
  const char* dir = ::mkdtemp(tmpl);
  if (dir == nullptr) return "";
  const std::string d = dir;
  std::error_code ec;
  fs::create_directories(d + "/.qwen", ec);
  std::ofstream s(d + "/.qwen/settings.json");
  s << R"({"excludeTools":["run_shell_command","write_file","edit","replace","web_fetch"],)"
    << R"("tools":{"exclude":["run_shell_command","write_file","edit","replace","web_fetch"],"approvalMode":"plan"}})"
    << "\n";
  return d;
}

}  // namespace

QwenCliEngine::QwenCliEngine(const pb::Config& config, CommandRunner& runner) : config_(config), runner_(runner) {}

std::vector<std::string> QwenCliEngine::argv(const std::string& instructions) const {
  std::vector<std::string> a(config_.repair().tier3().command().begin(), config_.repair().tier3().command().end());
  a.insert(a.end(), {"-p", instructions, "--approval-mode", "plan", "-o", "json"});
  return a;
}

EngineReply QwenCliEngine::ask(const std::string& instructions, const std::string& bundle,
                               std::chrono::milliseconds timeout) {
  EngineReply out;
  const std::string workdir = make_workdir();
  CommandSpec spec;
  spec.argv = argv(instructions);
  spec.stdin_data = bundle;
  spec.timeout = timeout;
  spec.max_output = 512 * 1024;
  spec.cwd = workdir;
  auto env = repairer::command_environment(config_);
  // The CLI's own API-key mode reads the OpenAI-style variables; hand it the
  // configured key there (and only to it).
  const auto& t3 = config_.repair().tier3();
  if (!t3.api_key().empty()) {
    env["OPENAI_API_KEY"] = t3.api_key();
    if (!t3.base_url().empty()) env["OPENAI_BASE_URL"] = t3.base_url();
    if (!t3.model().empty()) env["OPENAI_MODEL"] = t3.model();
  }
  spec.env = env;
  const auto r = runner_.run(spec);
  std::error_code ec;
  if (!workdir.empty()) fs::remove_all(workdir, ec);
  auto& redactor = SharedRedactor::instance();
  if (!r.started) {
    out.unreachable = true;
    out.error = redactor.redact("the qwen CLI could not be started: " + r.error +
                                " (install it with `npm install -g @qwen-code/qwen-code`)");
    return out;
  }
  if (r.timed_out) {
    out.error = "qwen did not answer within " + format_duration(timeout);
    return out;
  }
  // Redacted before anything is cut from it.
  const std::string output = redactor.redact(valid_utf8(r.output));
  auto answer = qwen_json_answer(output);
  if (!answer) {
    const std::string tail(tail_words(output, 300));
    out.error = answer.message() + " (exit " + std::to_string(r.exit_code) + "; output ends: " + tail + ")";
    // Exit status 127-like failures and network errors mean it is unusable now.
    out.unreachable = r.output.find("ENOTFOUND") != std::string::npos || r.output.find("ECONNREFUSED") != std::string::npos ||
                      r.output.find("fetch failed") != std::string::npos;
    return out;
  }
  out.ok = true;
  out.text = *answer;
  return out;
}

OpenAiEngine::OpenAiEngine(const pb::Config& config, HttpClient& http) : config_(config), http_(http) {}

EngineReply OpenAiEngine::ask(const std::string& instructions, const std::string& bundle,
                              std::chrono::milliseconds timeout) {
  EngineReply out;
  const auto& t3 = config_.repair().tier3();
  if (t3.api_key().empty()) {
    out.unreachable = true;
    out.error = "no API key: set QWEN_API_KEY (or repair.tier3.api_key) for engine openai";
    return out;
  }
  std::string base = t3.base_url();
  while (!base.empty() && base.back() == '/') base.pop_back();
  nlohmann::json body = {{"model", t3.model()},
                         {"temperature", 0},
                         {"messages",
                          {{{"role", "system"}, {"content", instructions}}, {{"role", "user"}, {"content", bundle}}}}};
  HttpRequest req;
  req.method = "POST";
  req.url = base + "/chat/completions";
  req.headers = {"Content-Type: application/json", "Authorization: Bearer " + t3.api_key()};
  req.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  req.timeout = timeout;
  req.connect_timeout = std::min(timeout, std::chrono::milliseconds(10'000));
  req.max_response_bytes = 512 * 1024;
  req.use_proxy = true;
  const auto r = http_.send(req);
  auto& redactor = SharedRedactor::instance();
  if (!r.completed()) {
    if (r.timed_out && r.status == 0 && !r.connect_failed) {
      out.error = "the AI endpoint did not answer within " + format_duration(timeout);
    } else {
      out.unreachable = true;
      out.error = redactor.redact("the AI endpoint is unreachable: " + r.error);
    }
    return out;
  }
  if (r.status == 401 || r.status == 403) {
    out.error = "the AI endpoint rejected the API key (HTTP " + std::to_string(r.status) + "): check QWEN_API_KEY";
    return out;
  }
  if (r.status == 429) {
    out.error = "the AI endpoint is rate limiting us (HTTP 429)";
    return out;
  }
  if (r.status >= 500) {
    out.unreachable = true;
    out.error = "the AI endpoint failed (HTTP " + std::to_string(r.status) + ")";
    return out;
  }
  if (r.status != 200) {
    out.error = "the AI endpoint answered HTTP " + std::to_string(r.status) + ": " +
                clip_end(redactor.redact(valid_utf8(r.body)), 200);
    return out;
  }
  auto answer = chat_completion_answer(redactor.redact(valid_utf8(r.body)));
  if (!answer) {
    out.error = answer.message();
    return out;
  }
  out.ok = true;
  out.text = *answer;
  return out;
}

std::unique_ptr<AiEngine> make_engine(const pb::Config& config, CommandRunner& runner, HttpClient& http) {
  if (config.repair().tier3().engine() == "openai") return std::make_unique<OpenAiEngine>(config, http);
  return std::make_unique<QwenCliEngine>(config, runner);
}

}  // namespace gwr::tier3
