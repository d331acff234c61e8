// `gwrctl discover` (issue #19): what OpenClaw's files say about the gateway,
// in the precedence OpenClaw itself uses, and config lines that stay valid
// YAML whatever the file system holds.
#include "ctl/discover.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "tests/support/test_support.h"

namespace gwr::ctl {
namespace {

namespace fs = std::filesystem;
using gwr::testing::TempDir;

void put(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

TEST(Discover, ReadsThePortFromJson5AndListsTheOtherProfiles) {
  TempDir home;
  put(home / ".openclaw/openclaw.json", "// mine\n{ gateway: { port: 18800, /* moved */ }, }\n");
  put(home / ".openclaw-rescue/openclaw.json", "{ gateway: { port: 19789 } }");
  put(home / ".openclaw-broken/openclaw.json", "{ gateway: ");
  fs::create_directories(home / ".openclaw-empty");  // no config: not a gateway
  const auto d = discover({{"HOME", home.path()}});
  EXPECT_TRUE(d.config_found);
  EXPECT_EQ(d.port, 18800u);
  EXPECT_EQ(d.port_source, "gateway.port in " + home / ".openclaw/openclaw.json");
  EXPECT_EQ(d.state_dir, home / ".openclaw");
  ASSERT_EQ(d.others.size(), 2u);
  EXPECT_EQ(d.others[0].profile, "broken");
  EXPECT_FALSE(d.others[0].error.empty());
  EXPECT_EQ(d.others[1].profile, "rescue");
  EXPECT_EQ(d.others[1].port, 19789u);
  EXPECT_TRUE(d.notes.empty());
  const YAML::Node y = YAML::Load(discovery_yaml(d));
  EXPECT_EQ(y["gateway"]["port"].as<int>(), 18800);
  EXPECT_EQ(y["gateway"]["state_dir"].as<std::string>(), home / ".openclaw");
  EXPECT_EQ(y["gateway"].size(), 2u) << discovery_yaml(d);
  EXPECT_NE(discovery_yaml(d).find("rescue: port 19789"), std::string::npos);
}

TEST(Discover, PortPrecedenceIsOpenClawsOwn) {
  TempDir home;
  put(home / ".openclaw/openclaw.json", "{ gateway: { port: 18800 } }");
  auto d = discover({{"HOME", home.path()}, {"OPENCLAW_GATEWAY_PORT", "18900"}});
  EXPECT_EQ(d.port, 18900u);
  EXPECT_EQ(d.port_source, "OPENCLAW_GATEWAY_PORT");
  for (const std::string bad : {"x", "0", "65536", "-1", "18 800", "1e4", "１８８００"}) {
    d = discover({{"HOME", home.path()}, {"OPENCLAW_GATEWAY_PORT", bad}});
    EXPECT_EQ(d.port, 18800u) << bad;
    ASSERT_EQ(d.notes.size(), 1u) << bad;
    EXPECT_NE(d.notes[0].find("is not a port"), std::string::npos);
  }
  // No port in the config, or a port that is not one: OpenClaw's default.
  put(home / ".openclaw/openclaw.json", "{ gateway: { port: 'eighteen' }, }");
  d = discover({{"HOME", home.path()}});
  EXPECT_EQ(d.port, 18789u);
  EXPECT_EQ(d.port_source, "OpenClaw's default");
}

TEST(Discover, WhatTheServiceStartsTheGatewayWithWinsOverItsConfig) {
  EXPECT_EQ(parse_unit_ports("[Service]\nExecStart=/usr/bin/node /opt/openclaw.mjs gateway run --port 18900\n").flag, 18900u);
  EXPECT_EQ(parse_unit_ports("ExecStart=/usr/bin/openclaw gateway run --port=18901 --force\n").flag, 18901u);
  EXPECT_EQ(parse_unit_ports("Environment=\"OPENCLAW_GATEWAY_PORT=18902\" NODE_ENV=production\n").env, 18902u);
  EXPECT_EQ(parse_unit_ports("Environment=A=1 OPENCLAW_GATEWAY_PORT=18903\n").env, 18903u);
  // Not ports: nothing taken.
  for (const std::string& bad : std::vector<std::string>{"ExecStart=openclaw gateway run --port\n", "ExecStart=openclaw --port 0\n",
                                "ExecStart=openclaw --port 70000\n", "ExecStart=openclaw --portal 18904\n",
                                "# ExecStart=openclaw --port 18905\n", "Environment=OPENCLAW_GATEWAY_PORT=x\n",
                                std::string("ExecStart=\xff --port \xfe\n")}) {
    const auto p = parse_unit_ports(bad);
    EXPECT_EQ(p.flag, 0u) << bad;
    EXPECT_EQ(p.env, 0u) << bad;
  }
  TempDir home;
  put(home / ".openclaw/openclaw.json", "{ gateway: { port: 18800 } }");
  put(home / ".config/systemd/user/openclaw-gateway.service",
      "[Service]\nExecStart=/usr/bin/openclaw gateway run\nEnvironment=OPENCLAW_GATEWAY_PORT=18810\n");
  auto d = discover({{"HOME", home.path()}, {"OPENCLAW_GATEWAY_PORT", "18820"}});
  EXPECT_EQ(d.port, 18810u) << "the unit's environment is the gateway's, the installer's is not";
  EXPECT_EQ(d.port_source, "OPENCLAW_GATEWAY_PORT in openclaw-gateway.service");
  // A drop-in that adds --port wins over everything.
  put(home / ".config/systemd/user/openclaw-gateway.service.d/override.conf",
      "[Service]\nExecStart=\nExecStart=/usr/bin/openclaw gateway run --port 18830\n");
  d = discover({{"HOME", home.path()}});
  EXPECT_EQ(d.port, 18830u);
  EXPECT_EQ(d.port_source, "--port in openclaw-gateway.service");
  // A later drop-in that starts it without --port takes that back.
  put(home / ".config/systemd/user/openclaw-gateway.service.d/zz-plain.conf",
      "[Service]\nExecStart=\nExecStart=/usr/bin/openclaw gateway run\n");
  d = discover({{"HOME", home.path()}});
  EXPECT_EQ(d.port, 18810u);
}

TEST(Discover, StateDirAndConfigFromTheEnvironmentAndTheLegacyName) {
  TempDir home, elsewhere;
  put(elsewhere / "state/openclaw.json", "{ gateway: { port: 20001 } }");
  put(elsewhere / "custom.json", "{ gateway: { port: 20002 } }");
  auto d = discover({{"HOME", home.path()}, {"OPENCLAW_STATE_DIR", elsewhere / "state"}});
  EXPECT_EQ(d.state_dir, elsewhere / "state");
  EXPECT_EQ(d.port, 20001u);
  d = discover({{"HOME", home.path()}, {"OPENCLAW_STATE_DIR", elsewhere / "state"},
                {"OPENCLAW_CONFIG_PATH", elsewhere / "custom.json"}});
  EXPECT_EQ(d.port, 20002u);
  EXPECT_EQ(d.config, elsewhere / "custom.json");
  // ~/.clawdbot, OpenClaw's earlier name, when ~/.openclaw is not there.
  put(home / ".clawdbot/openclaw.json", "{ gateway: { port: 20003 } }");
  d = discover({{"HOME", home.path()}});
  EXPECT_EQ(d.state_dir, home / ".clawdbot");
  EXPECT_EQ(d.port, 20003u);
}

TEST(Discover, WhatIsNotFoundIsSaidWithTheKeyToSet) {
  TempDir home;
  auto d = discover({{"HOME", home.path()}});
  EXPECT_FALSE(d.config_found);
  EXPECT_EQ(d.port, 18789u);
  ASSERT_EQ(d.notes.size(), 1u);
  EXPECT_NE(d.notes[0].find("gateway.port"), std::string::npos);
  EXPECT_NE(discovery_yaml(d).find("# Not found: no OpenClaw config"), std::string::npos);
  d = discover({});
  EXPECT_TRUE(d.state_dir.empty());
  ASSERT_FALSE(d.notes.empty());
  EXPECT_NE(d.notes[0].find("gateway.state_dir"), std::string::npos);
  const YAML::Node y = YAML::Load(discovery_yaml(d));
  EXPECT_EQ(y["gateway"]["port"].as<int>(), 18789);
  EXPECT_FALSE(y["gateway"]["state_dir"]);
  // A config that is not JSON5: read as not found, said so.
  put(home / ".openclaw/openclaw.json", std::string("{\"gateway\": \xff\xfe"));
  d = discover({{"HOME", home.path()}});
  EXPECT_TRUE(d.config_found);
  EXPECT_FALSE(d.config_error.empty());
  EXPECT_NE(discovery_yaml(d).find("could not be read"), std::string::npos);
  EXPECT_NO_THROW((void)discovery_json(d).dump());
}

// A name on disk is anything: a newline in a profile's directory must not
// become a key of the config, a quote in the state dir must not end it.
TEST(Discover, NamesFromTheFileSystemCannotInjectConfig) {
  TempDir home;
  put(home / ".openclaw-evil\nrepair:\n  max_per_hour: 999\n#/openclaw.json", "{ gateway: { port: 19000 } }");
  put(home / ".openclaw-\xff\xfe/openclaw.json", "{}");
  const std::string odd = home / "odd \"dir\" \\ €";
  put(odd + "/openclaw.json", "{ gateway: { port: 19001 } }");
  auto d = discover({{"HOME", home.path()}, {"OPENCLAW_STATE_DIR", odd}});
  ASSERT_EQ(d.others.size(), 2u);
  const std::string text = discovery_yaml(d);
  const YAML::Node y = YAML::Load(text);
  EXPECT_FALSE(y["repair"]) << text;
  EXPECT_EQ(y.size(), 1u) << text;
  EXPECT_EQ(y["gateway"]["state_dir"].as<std::string>(), odd);
  EXPECT_EQ(y["gateway"]["port"].as<int>(), 19001);
  EXPECT_NO_THROW((void)discovery_json(d).dump());
  // A state dir with a newline is not written at all (said instead).
  const std::string nl = home / "new\nline";
  put(nl + "/openclaw.json", "{}");
  d = discover({{"HOME", home.path()}, {"OPENCLAW_STATE_DIR", nl}});
  const YAML::Node z = YAML::Load(discovery_yaml(d));
  EXPECT_FALSE(z["gateway"]["state_dir"]) << discovery_yaml(d);
  EXPECT_EQ(z.size(), 1u);
  ASSERT_FALSE(d.notes.empty());
  EXPECT_NE(d.notes.back().find("gateway.state_dir"), std::string::npos);
}

}  // namespace
}  // namespace gwr::ctl
