// What tells gwr the owner's intent (issue #20), as pure parsers: the
// maintenance windows, what systemctl and launchctl print, and which
// command lines are upgrades of the gateway.
#include <gtest/gtest.h>

#include "common/maintenance_window.h"
#include "common/service_state.h"

namespace gwr {
namespace {

// Sunday = 0, as struct tm.
LocalMoment at(int weekday, int hour, int minute, int second = 0) { return {weekday, hour * 60 + minute, second}; }

TEST(MaintenanceWindow, ParsesTheDocumentedForms) {
  auto w = parse_maintenance_window("Sun 03:00-04:00");
  ASSERT_TRUE(w.ok()) << w.message();
  EXPECT_EQ(w->days, 0x01);
  EXPECT_EQ(w->start_minute, 180);
  EXPECT_EQ(w->length_minutes, 60);
  for (const char* ok : {"daily 12:00-12:15", "weekdays 9:00-17:30", "weekends 00:00-24:00", "saturday 23:30-00:30",
                         "  MON   1:05 - 2:10 ", "Fri 22:00-02:00"}) {
    EXPECT_TRUE(parse_maintenance_window(ok).ok()) << ok << ": " << parse_maintenance_window(ok).message();
  }
  EXPECT_EQ(parse_maintenance_window("Sat 23:30-00:30")->length_minutes, 60);
}

TEST(MaintenanceWindow, BadItemsSayWhatIsWrong) {
  struct Case {
    const char* text;
    const char* says;
  };
  for (const Case& c : {Case{"Sun", "no time span"}, Case{"Sonntag 03:00-04:00", "is not a day"},
                        Case{"Sun 03:00", "no '-'"}, Case{"Sun 3-4", "is not a 24-hour HH:MM"},
                        Case{"Sun 25:00-26:00", "is not a 24-hour HH:MM"}, Case{"Sun 03:60-04:00", "is not a 24-hour HH:MM"},
                        Case{"Sun 24:00-01:00", "start \"24:00\""}, Case{"Sun 03:00-03:00", "the same"},
                        Case{"Sun 03:00-04:00€", "is not a 24-hour HH:MM"}, Case{"", "no time span"}}) {
    auto w = parse_maintenance_window(c.text);
    ASSERT_FALSE(w.ok()) << c.text;
    EXPECT_NE(w.message().find(c.says), std::string::npos) << c.text << ": " << w.message();
  }
  auto all = parse_maintenance_windows({"daily 12:00-12:15", "Sun 3:00-4"});
  ASSERT_FALSE(all.ok());
  EXPECT_EQ(all.message().rfind("\"Sun 3:00-4\": ", 0), 0u) << all.message();
}

TEST(MaintenanceWindow, InsideOutsideAndWhenItEnds) {
  const auto ws = *parse_maintenance_windows({"Sun 03:00-04:00", "daily 12:00-12:15"});
  EXPECT_FALSE(maintenance_window_at(ws, at(0, 2, 59)));
  auto in = maintenance_window_at(ws, at(0, 3, 0));
  ASSERT_TRUE(in);
  EXPECT_EQ(in->ends_in_ms, 60 * 60'000);
  EXPECT_EQ(maintenance_window_at(ws, at(0, 3, 59, 30))->ends_in_ms, 30'000);
  EXPECT_FALSE(maintenance_window_at(ws, at(0, 4, 0)));   // the end is not inside
  EXPECT_FALSE(maintenance_window_at(ws, at(1, 3, 30)));  // Monday
  for (int d = 0; d < 7; ++d) EXPECT_TRUE(maintenance_window_at(ws, at(d, 12, 10))) << d;
}

TEST(MaintenanceWindow, PastMidnightAndAcrossTheWeekEnd) {
  const auto sat = *parse_maintenance_windows({"Sat 23:30-00:30"});
  EXPECT_TRUE(maintenance_window_at(sat, at(6, 23, 45)));
  auto sunday = maintenance_window_at(sat, at(0, 0, 10));  // Saturday's window, on Sunday
  ASSERT_TRUE(sunday);
  EXPECT_EQ(sunday->ends_in_ms, 20 * 60'000);
  EXPECT_FALSE(maintenance_window_at(sat, at(0, 0, 30)));
  EXPECT_FALSE(maintenance_window_at(sat, at(5, 23, 45)));  // Friday
  // Windows that follow each other are one wait.
  const auto chain = *parse_maintenance_windows({"Mon 01:00-02:00", "Mon 02:00-03:00", "Mon 02:30-02:45"});
  EXPECT_EQ(maintenance_window_at(chain, at(1, 1, 30))->ends_in_ms, 90 * 60'000);
  // Every day, the whole day: inside, whatever the moment, and it terminates.
  const auto always = *parse_maintenance_windows({"daily 00:00-24:00"});
  EXPECT_TRUE(maintenance_window_at(always, at(3, 17, 0)));
}

TEST(ServiceState, SystemctlShow) {
  auto stopped = parse_systemctl_show("LoadState=loaded\nActiveState=inactive\nSubState=dead\nResult=success\n", "systemd (user)");
  EXPECT_EQ(stopped.verdict, ServiceState::Verdict::kStopped);
  EXPECT_TRUE(stopped.deliberate());
  EXPECT_EQ(stopped.detail, "inactive (dead), result success");
  EXPECT_EQ(stopped.manager, "systemd (user)");
  EXPECT_EQ(parse_systemctl_show("ActiveState=deactivating\nSubState=stop-sigterm\nLoadState=loaded\nResult=success", "s").verdict,
            ServiceState::Verdict::kStopping);
  EXPECT_EQ(parse_systemctl_show("LoadState=loaded\nActiveState=inactive\nSubState=dead\nResult=signal", "s").verdict,
            ServiceState::Verdict::kFailed);
  EXPECT_EQ(parse_systemctl_show("LoadState=loaded\nActiveState=failed\nSubState=failed\nResult=exit-code", "s").verdict,
            ServiceState::Verdict::kFailed);
  EXPECT_EQ(parse_systemctl_show("LoadState=loaded\nActiveState=activating\nSubState=auto-restart\nResult=signal", "s").verdict,
            ServiceState::Verdict::kRestarting);
  EXPECT_EQ(parse_systemctl_show("LoadState=loaded\nActiveState=active\nSubState=running\nResult=success", "s").verdict,
            ServiceState::Verdict::kRunning);
  // No such unit, garbage, nothing: nobody answered.
  for (const char* unknown : {"LoadState=not-found\nActiveState=inactive\nSubState=dead\nResult=success", "",
                              "Failed to connect to bus: No medium found", "ActiveState\n=\n\xff\xfe"}) {
    EXPECT_EQ(parse_systemctl_show(unknown, "s").verdict, ServiceState::Verdict::kUnknown) << unknown;
    EXPECT_FALSE(parse_systemctl_show(unknown, "s").deliberate());
  }
}

TEST(ServiceState, LaunchctlPrint) {
  EXPECT_EQ(parse_launchctl_print(113, "Could not find service \"ai.openclaw.gateway\" in domain for user gui: 501\n").verdict,
            ServiceState::Verdict::kStopped);
  const char* running = "gui/501/ai.openclaw.gateway = {\n\tactive count = 1\n\tpath = /Users/a/Library/LaunchAgents/ai.openclaw.gateway.plist\n\tstate = running\n\tpid = 4242\n}\n";
  EXPECT_EQ(parse_launchctl_print(0, running).verdict, ServiceState::Verdict::kRunning);
  const char* waiting = "gui/501/ai.openclaw.gateway = {\n\tstate = not running\n\tlast exit code = 1\n}\n";
  EXPECT_EQ(parse_launchctl_print(0, waiting).verdict, ServiceState::Verdict::kRestarting);
  EXPECT_EQ(parse_launchctl_print(5, "Bad request.").verdict, ServiceState::Verdict::kUnknown);
}

TEST(UpgradeCommand, TheWaysAnOwnerUpgradesOpenClaw) {
  using V = std::vector<std::string>;
  for (const V& argv : {V{"openclaw", "update"}, V{"/usr/local/bin/openclaw", "update", "--yes"},
                        V{"npm", "install", "-g", "openclaw@latest"}, V{"npm", "i", "-g", "openclaw"},
                        V{"/usr/bin/npm", "-g", "update", "openclaw"}, V{"pnpm", "add", "-g", "openclaw@2026.9.6"},
                        V{"node", "/usr/lib/node_modules/npm/bin/npm-cli.js", "install", "-g", "openclaw"},
                        V{"node", "/usr/local/bin/openclaw", "update"}, V{"/bin/sh", "/tmp/x/openclaw", "update"},
                        V{"node", "--max-old-space-size=4096", "/opt/lib/node_modules/openclaw/openclaw.mjs", "update"},
                        V{"brew", "upgrade", "openclaw"}, V{"brew", "upgrade"}, V{"brew", "reinstall", "openclaw"},
                        V{"yarn", "global", "add", "openclaw"}, V{"bun", "add", "-g", "openclaw"}}) {
    std::string joined;
    for (const auto& a : argv) joined += a + " ";
    EXPECT_TRUE(upgrade_command(argv)) << joined;
  }
  for (const V& argv : {V{"openclaw", "gateway", "run"}, V{"openclaw-gateway"}, V{"npm", "install", "-g", "openclaw-helper"},
                        V{"npm", "run", "openclaw"}, V{"npm", "view", "openclaw", "version"}, V{"brew", "upgrade", "node"},
                        V{"vim", "openclaw", "update"}, V{"node", "server.js", "install", "openclaw"}, V{}, V{""},
                        V{"brew", "info", "openclaw"}, V{"node"}, V{"sh", "-c"}, V{"node", "/usr/local/bin/openclaw", "gateway", "run"}}) {
    std::string joined;
    for (const auto& a : argv) joined += a + " ";
    EXPECT_FALSE(upgrade_command(argv)) << joined;
  }
  EXPECT_EQ(*upgrade_command({"npm", "install", "-g", "openclaw@latest"}), "npm install openclaw");
}

}  // namespace
}  // namespace gwr
