// Shipping: the service units verify, the plist is well-formed, install and
// uninstall (of the tree and of the service) leave nothing behind, the .deb
// holds what it must and installs on Debian 12.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

#include "tests/fakes/telegram/fake_telegram.h"
#include "tests/support/test_support.h"

namespace gwr::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

bool have(const std::string& tool) { return run({"/bin/sh", "-c", "command -v " + tool}).exit_code == 0; }

std::vector<std::string> files_under(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    if (!e.is_directory()) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class DeployTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // One install for the whole suite (install_manifest.txt lives in the build dir).
    prefix_ = new TempDir();
    auto out = run({"cmake", "--install", std::string(GWR_BUILD_DIR), "--prefix", prefix_->path() + "/usr"}, 120s);
    ASSERT_EQ(out.exit_code, 0) << out.output;
  }
  static void TearDownTestSuite() {
    delete prefix_;
    prefix_ = nullptr;
  }
  static std::string usr() { return prefix_->path() + "/usr"; }
  static TempDir* prefix_;
};
TempDir* DeployTest::prefix_ = nullptr;

TEST_F(DeployTest, InstalledTreeHasEverything) {
  for (const char* f : {"bin/gwr-supervisor", "bin/gwr-prober", "bin/gwr-repairer", "bin/gwr-telegram-bridge", "bin/gwr-web",
                        "bin/gwrctl", "bin/gwr-service", "share/gwr/gwr.example.yaml", "share/gwr/allowlist.yaml",
                        "share/gwr/env.example", "share/gwr/systemd/gwr.service", "share/gwr/systemd/gwr-system.service",
                        "share/gwr/launchd/ai.openclaw.gwr.plist", "lib/systemd/user/gwr.service",
                        "share/bash-completion/completions/gwrctl", "share/doc/gwr/README.md",
                        "share/gwr/prometheus/gwr-rules.yml", "share/gwr/prometheus/grafana-dashboard.json"}) {
    EXPECT_TRUE(fs::exists(usr() + "/" + f)) << f;
  }
  // The installed supervisor runs and spawns its siblings from its own directory.
  auto check = run({usr() + "/bin/gwr-supervisor", "--config", usr() + "/share/gwr/gwr.example.yaml", "--check-config"});
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_NE(read_file(usr() + "/lib/systemd/user/gwr.service").find("ExecStart=" + usr() + "/bin/gwr-supervisor"),
            std::string::npos);
}

TEST_F(DeployTest, SystemdUnitsVerify) {
  if (!have("systemd-analyze")) GTEST_SKIP() << "systemd-analyze is not installed";
  TempDir root;
  auto svc = run({"/usr/bin/env", "GWR_SERVICE_ROOT=" + root.path(), "HOME=/root", usr() + "/bin/gwr-service", "install",
                  "--system", "--user", "root"});
  ASSERT_EQ(svc.exit_code, 0) << svc.output;
  for (const auto& unit : {usr() + "/lib/systemd/user/gwr.service", root / "etc/systemd/system/gwr.service"}) {
    auto out = run({"systemd-analyze", "verify", "--man=no", "--generators=no", unit});
    EXPECT_EQ(out.exit_code, 0) << unit << "\n" << out.output;
    EXPECT_EQ(out.output, "") << unit << " has warnings:\n" << out.output;
    const std::string text = read_file(unit);
    for (const char* must : {"Type=notify", "WatchdogSec=", "Restart=on-failure", "RestartPreventExitStatus=78",
                             "NoNewPrivileges=yes"}) {
      EXPECT_NE(text.find(must), std::string::npos) << unit << " lacks " << must;
    }
  }
  EXPECT_NE(read_file(root / "etc/systemd/system/gwr.service").find("User=root"), std::string::npos);
}

TEST_F(DeployTest, LaunchdPlistIsWellFormed) {
  const std::string plist = usr() + "/share/gwr/launchd/ai.openclaw.gwr.plist";
  if (have("plutil")) {
    EXPECT_EQ(run({"plutil", "-lint", plist}).exit_code, 0);
  }
  if (!have("xmllint")) GTEST_SKIP() << "xmllint is not installed";
  auto lint = run({"xmllint", "--noout", plist});
  EXPECT_EQ(lint.exit_code, 0) << lint.output;
  for (const char* key : {"Label", "ProgramArguments", "KeepAlive", "RunAtLoad", "StandardOutPath", "StandardErrorPath"}) {
    auto q = run({"xmllint", "--xpath", std::string("count(/plist/dict/key[text()='") + key + "'])", plist});
    EXPECT_EQ(q.output.substr(0, q.output.find_last_not_of("\n") + 1), "1") << key;
  }
  auto label = run({"xmllint", "--xpath", "string(/plist/dict/key[text()='Label']/following-sibling::string[1])", plist});
  EXPECT_EQ(label.output.substr(0, label.output.find_last_not_of("\n") + 1), "ai.openclaw.gwr");
}

TEST_F(DeployTest, ServiceInstallThenUninstallLeavesNothing) {
  TempDir root;
  // The systemd user unit, on any machine (macOS would install a LaunchAgent: the test below).
  const std::vector<std::string> env = {"/usr/bin/env", "GWR_SERVICE_ROOT=" + root.path(), "GWR_SERVICE_OS=Linux",
                                        "HOME=/home/owner"};
  auto with = [&](std::vector<std::string> args) {
    std::vector<std::string> a = env;
    a.push_back(usr() + "/bin/gwr-service");
    a.insert(a.end(), args.begin(), args.end());
    return run(a);
  };
  auto install = with({"install"});
  ASSERT_EQ(install.exit_code, 0) << install.output;
  EXPECT_NE(install.output.find("Next steps"), std::string::npos);
  EXPECT_NE(install.output.find("systemctl --user enable --now gwr"), std::string::npos);
  const std::string envfile = root / "home/owner/.config/gwr/.env";
  struct stat st {};
  ASSERT_EQ(::stat(envfile.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // A second install keeps the owner's edits.
  write_file(root / "home/owner/.config/gwr/gwr.yaml", "gateway:\n  port: 18790\n");
  auto again = with({"install"});
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("kept existing"), std::string::npos);
  EXPECT_EQ(read_file(root / "home/owner/.config/gwr/gwr.yaml"), "gateway:\n  port: 18790\n");
  auto keep = with({"uninstall"});
  EXPECT_EQ(keep.exit_code, 0) << keep.output;
  EXPECT_TRUE(fs::exists(root / "home/owner/.config/gwr/gwr.yaml"));
  auto purge = with({"uninstall", "--purge"});
  EXPECT_EQ(purge.exit_code, 0) << purge.output;
  EXPECT_EQ(files_under(root.path()), std::vector<std::string>{});
}

// macOS, tried on Linux: gwr-service installs a LaunchAgent beside
// ai.openclaw.gateway and drives launchctl (a stand-in that records its
// calls and keeps the loaded state as launchd would).
TEST_F(DeployTest, LaunchAgentInstallBootstrapsItAndUninstallBootsItOut) {
  TempDir dir;
  const std::string home = dir / "home";
  const std::string calls = dir / "launchctl.calls";
  const std::string loaded = dir / "launchctl.loaded";
  write_file(dir / "bin/launchctl",
             "#!/bin/sh\n"
             "echo \"$*\" >> '" + calls + "'\n"
             "case \"$1\" in\n"
             "  print) [ -e '" + loaded + "' ] && exit 0; echo 'Could not find service' >&2; exit 113 ;;\n"
             "  bootstrap) [ -e '" + loaded + "' ] && { echo 'Bootstrap failed: 5: Input/output error' >&2; exit 5; }\n"
             "             [ -f \"$3\" ] || exit 2; touch '" + loaded + "' ;;\n"
             "  bootout) rm -f '" + loaded + "' ;;\n"
             "esac\n");
  fs::permissions(dir / "bin/launchctl", fs::perms::owner_all);
  const std::string path = dir / "bin:" + std::string(std::getenv("PATH"));
  auto service = [&](std::vector<std::string> args) {
    std::vector<std::string> a = {"/usr/bin/env", "GWR_SERVICE_OS=Darwin", "HOME=" + home, "PATH=" + path,
                                  usr() + "/bin/gwr-service"};
    a.insert(a.end(), args.begin(), args.end());
    return run(a, 60s);
  };
  auto install = service({"install"});
  ASSERT_EQ(install.exit_code, 0) << install.output;
  const std::string uid = std::to_string(::getuid());
  const std::string plist = home + "/Library/LaunchAgents/ai.openclaw.gwr.plist";
  ASSERT_TRUE(fs::exists(plist)) << install.output;
  EXPECT_TRUE(fs::is_directory(home + "/Library/Logs/gwr"));
  const std::string text = read_file(plist);
  EXPECT_NE(text.find(usr() + "/bin/gwr-supervisor"), std::string::npos) << text;
  EXPECT_NE(text.find(home + "/Library/Logs/gwr/launchd.err.log"), std::string::npos) << text;
  EXPECT_EQ(text.find("@GWR_"), std::string::npos) << "every placeholder filled";
  EXPECT_EQ(read_file(calls), "print gui/" + uid + "/ai.openclaw.gwr\nbootstrap gui/" + uid + " " + plist + "\n");
  EXPECT_NE(install.output.find("gwr runs now"), std::string::npos) << install.output;
  // Installed again (an upgrade): the loaded copy goes out, the new one in.
  fs::remove(calls);
  auto again = service({"install"});
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(read_file(calls), "print gui/" + uid + "/ai.openclaw.gwr\nbootout gui/" + uid +
                                  "/ai.openclaw.gwr\nbootstrap gui/" + uid + " " + plist + "\n");
  EXPECT_EQ(again.output.find("failed"), std::string::npos) << again.output;
  // Uninstalled: booted out, the plist gone, the owner's config kept.
  fs::remove(calls);
  auto out = service({"uninstall"});
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(read_file(calls), "print gui/" + uid + "/ai.openclaw.gwr\nbootout gui/" + uid + "/ai.openclaw.gwr\n");
  EXPECT_FALSE(fs::exists(plist));
  EXPECT_FALSE(fs::exists(loaded));
  EXPECT_TRUE(fs::exists(home + "/.config/gwr/gwr.yaml"));
}

// Issue #19: from a clean install to the first test message, as a new owner
// would go, against a fake OpenClaw home (JSON5 with comments, a rescue
// profile), a fake gateway on the port that home names and the fake Bot API:
// gwr-service install finds the port and the state dir, gwr starts on that
// config, `gwrctl telegram setup` learns the chat from a /start and sends the
// test message. The time it all takes is printed.
TEST_F(DeployTest, FromACleanInstallToTheFirstTestMessage) {
  TempDir root, home, run_dir;
  const int port = free_tcp_port();
  fs::create_directories(home / ".openclaw");
  fs::create_directories(home / ".openclaw-rescue");
  write_file(home / ".openclaw/openclaw.json",
             "// written by `openclaw onboard`, then edited by hand\n"
             "{\n  gateway: {\n    port: " + std::to_string(port) + ", /* not the default */\n    bind: 'loopback',\n  },\n"
             "  channels: { telegram: { botToken: '555000111:AAE-the-gateways-own-bot-xxxxxxxxxxxx', }, },\n}\n");
  write_file(home / ".openclaw-rescue/openclaw.json", "{ gateway: { port: 19789 } } // the rescue bot\n");
  // Under the real gateway's name, as the installed config's defaults expect (this suite runs alone).
  Process gateway = Process::start({fake_path("fake-gateway"), "--port", std::to_string(port), "--state-dir",
                                    home / ".openclaw", "--name", "openclaw-gateway"},
                                   {}, run_dir / "gateway.out");
  const auto began = std::chrono::steady_clock::now();
  auto install = run({"/usr/bin/env", "GWR_SERVICE_ROOT=" + root.path(), "GWR_SERVICE_OS=Linux", "HOME=" + home.path(),
                      usr() + "/bin/gwr-service", "install"});
  ASSERT_EQ(install.exit_code, 0) << install.output;
  const std::string config = root.path() + home.path() + "/.config/gwr/gwr.yaml";
  const std::string written = read_file(config);
  EXPECT_NE(written.find("  port: " + std::to_string(port) + "\n"), std::string::npos) << written;
  EXPECT_NE(written.find("  state_dir: \"" + home.path() + "/.openclaw\"\n"), std::string::npos) << written;
  EXPECT_NE(written.find("rescue: port 19789"), std::string::npos) << "the other gateway is not mentioned:\n" << written;
  EXPECT_NE(install.output.find("profile rescue, port 19789"), std::string::npos) << install.output;
  // The one edit a test needs: the fake Bot API instead of api.telegram.org.
  FakeTelegram tg("424242:AAH-gwrs-own-bot-abcdefghijklmnopqrstuvwx");
  tg.start();
  write_file(config, written + "telegram:\n  api_base_url: " + tg.base_url() + "\n  poll_timeout: 2s\n");
  const std::map<std::string, std::string> env = {{"HOME", home.path()},
                                                  {"GWR_RUNTIME_DIR", run_dir / "run"},
                                                  {"GWR_STATE_DIR", run_dir / "state"},
                                                  {"GWR_LOG_DIR", run_dir / "log"}};
  Process gwr = Process::start({usr() + "/bin/gwr-supervisor", "--config", config}, env, run_dir / "gwr.out");
  auto ctl = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/env"};
    for (const auto& [k, v] : env) argv.push_back(k + "=" + v);
    argv.push_back(usr() + "/bin/gwrctl");
    argv.push_back("--config");
    argv.push_back(config);
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, 60s);
  };
  ASSERT_TRUE(wait_until([&] { return ctl({"status"}).output.find("Gateway    HEALTHY") != std::string::npos; }, 30s,
                         "gwr reports the discovered gateway healthy"))
      << ctl({"status"}).output << read_file(run_dir / "gwr.out");
  tg.push_message(4242, 4242, "/start");
  // The token comes from the environment, never argv: run it with TELEGRAM_BOT_TOKEN set.
  std::vector<std::string> argv = {"/usr/bin/env", "TELEGRAM_BOT_TOKEN=" + tg.token()};
  for (const auto& [k, v] : env) argv.push_back(k + "=" + v);
  for (const auto& a : std::vector<std::string>{usr() + "/bin/gwrctl", "--config", config, "telegram", "setup", "--wait",
                                                "30s"}) {
    argv.push_back(a);
  }
  const auto setup = run(argv, 60s);
  ASSERT_EQ(setup.exit_code, 0) << setup.output;
  ASSERT_TRUE(tg.wait_for([&] { return !tg.sent_messages().empty(); }, 10s));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::fprintf(stderr, "[onboarding] gwr-service install -> gwr running -> telegram setup -> first test message: %.2f s\n",
               took);
  EXPECT_EQ(tg.sent_messages().front().chat_id, 4242);
  // And the doctor agrees with what was discovered.
  auto doctor = ctl({"doctor", "--offline"});
  EXPECT_NE(doctor.output.find("port " + std::to_string(port)), std::string::npos) << doctor.output;
  EXPECT_EQ(doctor.output.find("AAH-gwrs-own-bot"), std::string::npos) << "the token was printed";
  std::fprintf(stderr, "%s%s", setup.output.c_str(), doctor.output.c_str());
}

TEST_F(DeployTest, TreeUninstallLeavesNothingBehind) {
  TempDir other;
  const std::string p = other.path() + "/prefix";
  // A separate install, removed through the uninstall target's script.
  auto install = run({"cmake", "--install", std::string(GWR_BUILD_DIR), "--prefix", p}, 120s);
  ASSERT_EQ(install.exit_code, 0) << install.output;
  ASSERT_FALSE(files_under(p).empty());
  auto uninstall = run({"cmake", "-P", std::string(GWR_BUILD_DIR) + "/cmake_uninstall.cmake"}, 60s);
  EXPECT_EQ(uninstall.exit_code, 0) << uninstall.output;
  EXPECT_EQ(files_under(p), std::vector<std::string>{});
  EXPECT_FALSE(fs::exists(p)) << "empty directories left in " << p;
  // Restore the suite's install record for anyone who runs `uninstall` later.
  (void)run({"cmake", "--install", std::string(GWR_BUILD_DIR), "--prefix", usr()}, 120s);
}

TEST_F(DeployTest, DebianPackageHasEverythingAndInstalls) {
  if (!have("dpkg-deb") || !have("cpack")) GTEST_SKIP() << "dpkg-deb or cpack missing";
  TempDir out;
  auto pack = run({"/bin/sh", "-c", "cd '" + std::string(GWR_BUILD_DIR) + "' && cpack -G DEB -B '" + out.path() + "'"}, 300s);
  ASSERT_EQ(pack.exit_code, 0) << pack.output;
  std::string deb;
  for (const auto& e : fs::directory_iterator(out.path())) {
    if (e.path().extension() == ".deb") deb = e.path().string();
  }
  ASSERT_FALSE(deb.empty()) << pack.output;
  EXPECT_NE(deb.find("gwr_1.0.0_"), std::string::npos);
  const auto contents = run({"dpkg-deb", "-c", deb}).output;
  for (const char* f : {"./usr/bin/gwr-supervisor", "./usr/bin/gwr-prober", "./usr/bin/gwr-repairer",
                        "./usr/bin/gwr-telegram-bridge", "./usr/bin/gwr-web", "./usr/bin/gwrctl", "./usr/bin/gwr-service",
                        "./usr/lib/systemd/user/gwr.service", "./usr/share/gwr/allowlist.yaml",
                        "./usr/share/gwr/gwr.example.yaml", "./usr/share/bash-completion/completions/gwrctl"}) {
    EXPECT_NE(contents.find(f), std::string::npos) << f;
  }
  const auto depends = run({"dpkg-deb", "-f", deb, "Depends"}).output;
  for (const char* lib : {"libzmq5", "libprotobuf32", "libyaml-cpp0.7", "libcurl4", "libsqlite3-0", "libfmt9"}) {
    EXPECT_NE(depends.find(lib), std::string::npos) << lib << " missing from Depends: " << depends;
  }
  EXPECT_NE(run({"dpkg-deb", "-f", deb, "Package"}).output.find("gwr"), std::string::npos);
  if (have("apt-get")) {
    auto sim = run({"apt-get", "install", "--simulate", "-y", deb}, 120s);
    EXPECT_EQ(sim.exit_code, 0) << sim.output;
    EXPECT_NE(sim.output.find("Inst gwr"), std::string::npos) << sim.output;
  }
}

}  // namespace
}  // namespace gwr::testing
