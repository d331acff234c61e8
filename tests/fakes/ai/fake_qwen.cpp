// fake-qwen: stands in for the Qwen Code CLI in Tier 3 tests.
//
//   fake-qwen --answer FILE [--record DIR] -p PROMPT --approval-mode plan -o json
//
// Reads the bundle from stdin, records the call (DIR/calls.log, and the
// prompt and bundle of call N as DIR/prompt-N.txt, DIR/bundle-N.txt), and
// prints Qwen Code's `-o json` shape: a JSON array whose last "result"
// message carries the answer, which is FILE's content. FILE may instead
// start with a directive line:
//   !hang            never answer (until killed)
//   !malformed       print broken JSON
//   !error TEXT      a result with is_error true
//   !exit N          print TEXT after the line to stderr and exit N
// It refuses to run without --approval-mode plan and -o json, like a guard
// that gwr always asks for read-only mode and JSON.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

int main(int argc, char** argv) {
  std::string answer_file, record_dir, prompt;
  bool plan = false, json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--answer") {
      answer_file = next();
    } else if (a == "--record") {
      record_dir = next();
    } else if (a == "-p" || a == "--prompt") {
      prompt = next();
    } else if (a == "--approval-mode") {
      plan = next() == "plan";
    } else if (a == "-o" || a == "--output-format") {
      json = next() == "json";
    } else {
      std::cerr << "fake-qwen: unknown argument " << a << "\n";
      return 2;
    }
  }
  std::stringstream stdin_text;
  stdin_text << std::cin.rdbuf();
  const std::string bundle = stdin_text.str();
  int call = 1;
  if (!record_dir.empty()) {
    std::ifstream in(record_dir + "/calls.log");
    std::string line;
    while (std::getline(in, line)) ++call;
    std::ofstream(record_dir + "/calls.log", std::ios::app) << "call " << call << " plan=" << plan << " json=" << json << "\n";
    std::ofstream(record_dir + "/prompt-" + std::to_string(call) + ".txt") << prompt;
    std::ofstream(record_dir + "/bundle-" + std::to_string(call) + ".txt") << bundle;
  }
  if (!plan || !json) {
    std::cerr << "fake-qwen: gwr must run qwen with --approval-mode plan and -o json\n";
    return 3;
  }
  std::ifstream f(answer_file);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string answer = ss.str();
  const std::string first = answer.substr(0, answer.find('\n'));
  if (first == "!hang") {
    while (true) std::this_thread::sleep_for(std::chrono::hours(1));
  }
  if (first == "!malformed") {
    std::cout << "[{\"type\":\"result\",\"result\": \"unterminated\n";
    return 0;
  }
  if (first.rfind("!error", 0) == 0) {
    nlohmann::json out = nlohmann::json::array();
    out.push_back({{"type", "result"}, {"subtype", "error"}, {"is_error", true}, {"error", first.substr(first.find(' ') + 1)}});
    std::cout << out.dump() << "\n";
    return 1;
  }
  if (first.rfind("!exit", 0) == 0) {
    std::cerr << answer.substr(answer.find('\n') + 1);
    return std::atoi(first.substr(6).c_str());
  }
  nlohmann::json out = nlohmann::json::array();
  out.push_back({{"type", "system"}, {"subtype", "session_start"}, {"session_id", "fake"}, {"model", "fake-qwen"}});
  out.push_back({{"type", "assistant"},
                 {"message", {{"role", "assistant"}, {"content", {{{"type", "text"}, {"text", answer}}}}}}});
  out.push_back({{"type", "result"}, {"subtype", "success"}, {"is_error", false}, {"duration_ms", 12}, {"result", answer}});
  std::cout << out.dump() << "\n";
  return 0;
}
