// Where text from outside enters gwr (common's entry points): a gateway's
// HTTP answer, a command's output, the process table, the config. Each must
// come out as valid UTF-8, cut on character boundaries, and redacted before
// it is cut (common/text.h). (Long strings are built with append(): GCC 12's
// -Warray-bounds misfires on operator+ with them.)
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "common/config.h"
#include "common/gateway_probe.h"
#include "common/platform/service.h"
#include "common/process.h"
#include "common/platform/proc.h"
#include "common/redact.h"
#include "common/text.h"
#include "tests/support/test_support.h"

namespace gwr {
namespace {

using namespace std::chrono_literals;

const std::string kEuro = "\xE2\x82\xAC";

class ScriptedHttp final : public HttpClient {
 public:
  HttpResponse send(const HttpRequest& request) override {
    urls.push_back(request.url);
    return answer;
  }
  HttpResponse answer;
  std::vector<std::string> urls;
};

TEST(EntryPoints, HealthBodyCutInsideACharacterIsValidText) {
  ScriptedHttp http;
  http.answer.status = 500;
  http.answer.body = std::string(159, 'x').append(kEuro).append(" and more");
  const auto obs = probe_health(http, "127.0.0.1", 18789, "/health", "", 2s);
  EXPECT_FALSE(obs.ok);
  EXPECT_TRUE(is_valid_utf8(obs.detail)) << obs.detail;
  EXPECT_EQ(obs.detail.rfind("HTTP 500: xxx", 0), 0u) << obs.detail;
  // And the gateway's error text inside a JSON body.
  http.answer.body = std::string(R"({"ok":false,"error":")").append(158, 'y').append(kEuro).append(kEuro).append(R"("})");
  http.answer.status = 200;
  const auto json_obs = probe_health(http, "127.0.0.1", 18789, "/health", "", 2s);
  EXPECT_TRUE(is_valid_utf8(json_obs.detail)) << json_obs.detail;
  // Raw bytes that are not UTF-8 at all.
  http.answer.status = 503;
  http.answer.body = "\xFF\xFE\xC0\xAF broken";
  EXPECT_TRUE(is_valid_utf8(probe_health(http, "127.0.0.1", 18789, "/health", "", 2s).detail));
}

TEST(EntryPoints, HealthBodyIsRedactedBeforeItIsCut) {
  SharedRedactor::instance().set_secrets({"gateway-token-0123456789abcdef"});
  ScriptedHttp http;
  http.answer.status = 500;
  // The secret straddles the 160-byte snippet boundary.
  http.answer.body = std::string(140, 'x').append(" token gateway-token-0123456789abcdef trailing");
  const auto obs = probe_health(http, "127.0.0.1", 18789, "/health", "", 2s);
  for (size_t len = 6; len < 30; ++len) {
    EXPECT_EQ(obs.detail.find(std::string("gateway-token-0123456789abcdef").substr(0, len)), std::string::npos)
        << obs.detail;
  }
  // A body the client cut at its limit loses its last (partial) word, so a
  // secret cut there cannot be half-kept either.
  http.answer.body = std::string(20, 'x').append(" sk-partial01");  // a key the limit cut short
  http.answer.truncated = true;
  const auto cut = probe_health(http, "127.0.0.1", 18789, "/health", "", 2s);
  EXPECT_EQ(cut.detail.find("sk-partial"), std::string::npos) << cut.detail;
  SharedRedactor::instance().set_secrets({});
}

TEST(EntryPoints, CommandOutputIsValidAndCutBetweenWords) {
  testing::TempDir dir;
  // Invalid bytes, emoji and a secret that straddles the head/tail bound.
  std::string text = "bad \xFF\xFE bytes, emoji 🙂, 中文\n";
  while (text.size() < 900) text += "filler line of output\n";
  text += "the key sk-STRADDLEstraddle0123456789 was printed\n";
  while (text.size() < 4000) text += "more filler output\n";
  testing::write_file(dir / "out.txt", text);
  RealCommandRunner runner;
  for (size_t max : {size_t{1800}, size_t{1850}, size_t{1900}, size_t{1950}}) {
    auto r = runner.run({.argv = {"/bin/cat", dir / "out.txt"}, .timeout = 5s, .max_output = max});
    ASSERT_TRUE(r.started);
    EXPECT_TRUE(r.truncated);
    EXPECT_TRUE(is_valid_utf8(r.output));
    // The runner's own cut may drop the secret's word; it never keeps a piece
    // of it that redaction could not recognise.
    const std::string redacted = redact_patterns(r.output);
    EXPECT_EQ(redacted.find("STRADDLE"), std::string::npos) << max;
    EXPECT_EQ(redacted.find("0123456789"), std::string::npos) << max;
  }
  auto whole = runner.run({.argv = {"/bin/cat", dir / "out.txt"}, .timeout = 5s, .max_output = 64 * 1024});
  EXPECT_FALSE(whole.truncated);
  EXPECT_TRUE(is_valid_utf8(whole.output));
  EXPECT_NE(whole.output.find("🙂, 中文"), std::string::npos);
  EXPECT_NE(whole.output.find(kReplacementChar), std::string::npos);
}

TEST(EntryPoints, ProcessNamesAndArgumentsAreValidText) {
  testing::TempDir dir;
  // $0 of a shell is any bytes the caller likes...
  auto p = testing::Process::start({"/bin/sh", "-c", "echo x > " + dir / "ready" + "; sleep 30 >/dev/null 2>&1; :", "n\xFFme\xE2\x82"});
  ASSERT_TRUE(testing::wait_until([&] { return ::access((dir / "ready").c_str(), F_OK) == 0; }, 5s, "child ready"));
  const auto info = read_proc(p.pid());
  ASSERT_TRUE(info);
  // Linux keeps the raw bytes for matching; ps's text (POSIX) is already
  // valid UTF-8 by the time it is parsed.
  const bool raw = std::string(platform_name()) == "linux";
  if (raw) {
    EXPECT_FALSE(is_valid_utf8(info->argv.back())) << "the raw argv is kept for matching";
  }
  EXPECT_TRUE(is_valid_utf8(info->cmdline()));
  EXPECT_NE(info->cmdline().find("sleep 30"), std::string::npos);
  EXPECT_LE(info->cmdline(10).size(), 10u);
  EXPECT_TRUE(is_valid_utf8(info->cmdline(10)));
  // ... and a program's name, which the process is known by, is any bytes too.
#ifdef __APPLE__
  GTEST_SKIP() << "APFS refuses a file name that is not UTF-8: no program on macOS can be named so";
#endif
  const std::string odd = dir / "gw\xFF\xFE";
  std::filesystem::copy_file("/bin/sleep", odd);
  std::filesystem::permissions(odd, std::filesystem::perms::owner_all);
  auto named_process = testing::Process::start({odd, "30"});
  std::optional<ProcInfo> named;
  ASSERT_TRUE(testing::wait_until(
      [&] {
        named = read_proc(named_process.pid());
        return named && named->comm_text() != "sleep" && !named->argv.empty();
      },
      5s, "the copy running under its own name"));
  if (raw) {
    EXPECT_FALSE(is_valid_utf8(named->comm)) << "the raw name is kept for matching";
  }
  EXPECT_TRUE(is_valid_utf8(named->comm_text()));
  EXPECT_EQ(named->comm_text().substr(0, 2), "gw");
}

TEST(EntryPoints, ConfigTextMustBeUtf8) {
  testing::TempDir dir;
  testing::write_file(dir / "gwr.yaml", "gateway:\n  log_files: [\"/var/log/caf\xE9.log\"]\n");
  LoadOptions o;
  o.config_path = dir / "gwr.yaml";
  o.environment = {{"HOME", dir.path()}};
  o.apply_overrides = false;
  auto r = load_config(o);
  ASSERT_TRUE(std::holds_alternative<ConfigError>(r));
  const auto& e = std::get<ConfigError>(r);
  EXPECT_EQ(e.key, "gateway.log_files");
  EXPECT_EQ(e.origin.line, 2);
  EXPECT_NE(e.message.find("UTF-8"), std::string::npos);
}

}  // namespace
}  // namespace gwr
