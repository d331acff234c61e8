#include "common/config.h"
#include "common/config_schema.h"

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace gwr {
namespace {

using testing::TempDir;
using testing::write_file;

class ConfigTest : public ::testing::Test {
 protected:
  LoadOptions options(const std::string& yaml) {
    write_file(dir_ / "gwr.yaml", yaml);
    LoadOptions o;
    o.config_path = dir_ / "gwr.yaml";
    o.environment = {{"HOME", dir_.path()}};
    return o;
  }
  std::string paths_yaml() const {
    return "paths:\n  runtime_dir: " + (dir_ / "run") + "\n  state_dir: " + (dir_ / "state") + "\n  log_dir: " +
           (dir_ / "log") + "\n";
  }
  static const ConfigError& error_of(const ConfigResult<LoadedConfig>& r) { return std::get<ConfigError>(r); }
  static const LoadedConfig& loaded(const ConfigResult<LoadedConfig>& r) { return std::get<LoadedConfig>(r); }

  TempDir dir_;
};

TEST_F(ConfigTest, BuiltInDefaultsAreValid) {
  LoadOptions o;
  o.environment = {{"HOME", dir_.path()}};
  auto r = load_config(o);
  ASSERT_TRUE(std::holds_alternative<LoadedConfig>(r)) << error_of(r).describe();
  const auto& c = loaded(r).config;
  EXPECT_EQ(loaded(r).config_path, "");
  EXPECT_EQ(c.gateway().host(), "127.0.0.1");
  EXPECT_EQ(c.gateway().port(), 18789u);
  EXPECT_EQ(c.gateway().state_dir(), dir_.path() + "/.openclaw");
  EXPECT_EQ(c.probes().process().interval(), 10'000);
  EXPECT_EQ(c.repair().max_per_hour(), 3u);
  EXPECT_EQ(c.repair().cooldown(), 1'800'000);
  EXPECT_TRUE(c.telegram().bot_token().empty());
  EXPECT_FALSE(validate_config(c).has_value());
}

TEST_F(ConfigTest, OneGatewaySectionIsTheGatewayNamedMain) {
  auto r = load_config(options("gateway:\n  port: 1111\n" + paths_yaml()));
  ASSERT_TRUE(std::holds_alternative<LoadedConfig>(r)) << error_of(r).describe();
  const auto& l = loaded(r);
  ASSERT_EQ(l.gateways.size(), 1u);
  EXPECT_FALSE(l.gateway_list);
  EXPECT_EQ(l.gateways[0].name, "main");
  EXPECT_EQ(l.gateways[0].config.gateway().port(), 1111u);
  EXPECT_EQ(l.gateways[0].config.paths().state_dir(), dir_ / "state");
}

TEST_F(ConfigTest, AGatewayListGivesEachItsOwnConfigWithItsOverrides) {
  auto r = load_config(options(paths_yaml() +
                               "repair:\n  max_per_hour: 4\n  cooldown: 10m\n"
                               "probes:\n  health: {interval: 7s}\n"
                               "gateways:\n"
                               "  - name: main\n"
                               "    port: 18789\n"
                               "  - name: rescue\n"
                               "    port: 19789\n"
                               "    state_dir: ~/.openclaw-rescue\n"
                               "    service: openclaw-gateway-rescue.service\n"
                               "    commands: {restart: [openclaw, --profile, rescue, gateway, restart],\n"
                               "               stop: [openclaw, --profile, rescue, gateway, stop, --force],\n"
                               "               start: [openclaw, --profile, rescue, gateway, start]}\n"
                               "    repair: {max_per_hour: 1}\n"
                               "    probes: {health: {timeout: 2s}}\n"));
  ASSERT_TRUE(std::holds_alternative<LoadedConfig>(r)) << error_of(r).describe();
  const auto& l = loaded(r);
  ASSERT_EQ(l.gateways.size(), 2u);
  EXPECT_TRUE(l.gateway_list);
  const auto& main = l.gateways[0];
  const auto& rescue = l.gateways[1];
  EXPECT_EQ(main.name, "main");
  EXPECT_EQ(rescue.name, "rescue");
  EXPECT_EQ(main.config.gateway().port(), 18789u);
  EXPECT_EQ(rescue.config.gateway().port(), 19789u);
  EXPECT_EQ(rescue.config.gateway().state_dir(), dir_.path() + "/.openclaw-rescue");
  EXPECT_EQ(main.config.gateway().state_dir(), dir_.path() + "/.openclaw");
  ASSERT_EQ(rescue.config.gateway().commands().restart_size(), 5);
  EXPECT_EQ(rescue.config.gateway().commands().restart(2), "rescue");
  // Overrides over the shared sections; what an entry does not say is shared.
  EXPECT_EQ(main.config.repair().max_per_hour(), 4u);
  EXPECT_EQ(rescue.config.repair().max_per_hour(), 1u);
  EXPECT_EQ(rescue.config.repair().cooldown(), 600'000);
  EXPECT_EQ(rescue.config.probes().health().interval(), 7'000);
  EXPECT_EQ(rescue.config.probes().health().timeout(), 2'000);
  EXPECT_EQ(main.config.probes().health().timeout(), l.config.probes().health().timeout());
  // main keeps a one-gateway gwr's state; another gets a directory of its own.
  EXPECT_EQ(main.config.paths().state_dir(), dir_ / "state");
  EXPECT_EQ(rescue.config.paths().state_dir(), dir_ / "state/gateways/rescue");
  // The shared config's gateway: is the first one's.
  EXPECT_EQ(l.config.gateway().port(), 18789u);
  EXPECT_EQ(find_gateway(l, "rescue"), &l.gateways[1]);
  EXPECT_EQ(find_gateway(l, "nope"), nullptr);
}

// The environment's gateway keys are main's; a run-time change applies to
// every gateway, over what an entry says.
TEST_F(ConfigTest, AGatewayListTakesTheEnvironmentForMainAndRunTimeChangesForAll) {
  write_file(dir_ / "state/config-overrides.yaml", "repair.max_per_hour: \"7\"\n");
  auto o = options(paths_yaml() +
                   "gateways:\n"
                   "  - name: main\n"
                   "    port: 18789\n"
                   "  - name: rescue\n"
                   "    port: 19789\n"
                   "    state_dir: /tmp/rescue\n"
                   "    service: \"\"\n"
                   "    commands: {restart: [x, r], stop: [x, s], start: [x, t]}\n"
                   "    repair: {max_per_hour: 1}\n");
  o.environment["OPENCLAW_GATEWAY_TOKEN"] = "tok-main-0123456789";
  o.environment["GATEWAY_PORT"] = "18790";
  auto r = load_config(o);
  ASSERT_TRUE(std::holds_alternative<LoadedConfig>(r)) << error_of(r).describe();
  const auto& l = loaded(r);
  EXPECT_EQ(l.gateways[0].config.gateway().port(), 18790u);
  EXPECT_EQ(l.gateways[0].config.gateway().token(), "tok-main-0123456789");
  EXPECT_EQ(l.gateways[1].config.gateway().port(), 19789u);
  EXPECT_EQ(l.gateways[1].config.gateway().token(), "");
  EXPECT_EQ(l.gateways[0].config.repair().max_per_hour(), 7u);
  EXPECT_EQ(l.gateways[1].config.repair().max_per_hour(), 7u) << "the owner's run-time change wins";
}

TEST_F(ConfigTest, ABadGatewayListIsRefusedNamingTheEntry) {
  struct Case {
    std::string yaml;
    std::string key;
    std::string words;
  };
  const std::vector<Case> cases = {
      {"gateways: []\n", "gateways", "list of gateways"},
      {"gateways: main\n", "gateways", "list of gateways"},
      {"gateways:\n  - port: 1\n", "gateways", "needs a name"},
      {"gateways:\n  - name: Main\n", "gateways", "needs a name"},
      {"gateways:\n  - name: a-very-long-name\n", "gateways", "needs a name"},
      {"gateways:\n  - name: ../x\n", "gateways", "needs a name"},
      {"gateways:\n  - name: a\n    port: 1\n  - name: a\n    port: 2\n", "gateways", "two gateways are named a"},
      {"gateways:\n  - name: a\n    port: 1\n  - name: b\n    port: 1\n    state_dir: /tmp/b\n", "gateways[b].port",
       "both say port 1"},
      {"gateways:\n  - name: a\n    port: 1\n  - name: b\n    port: 2\n    state_dir: /tmp/b\n",
       "gateways[b].commands.restart", "same restart command"},
      {"gateways:\n  - name: a\n    port: 1\n  - name: b\n    port: 2\n    state_dir: /tmp/b\n"
       "    commands: {restart: [x, r], stop: [x, s], start: [x, t]}\n",
       "gateways[b].service", "same service"},
      {"gateways:\n  - name: a\n    port: 1\n  - name: b\n    port: 2\n    service: \"\"\n"
       "    commands: {restart: [x, r], stop: [x, s], start: [x, t]}\n",
       "gateways[b].state_dir", "share the state"},
      {"gateway:\n  port: 1\ngateways:\n  - name: a\n", "gateways", "not both"},
      {"gateways:\n  - name: a\n    prot: 1\n", "gateways[a].prot", "unknown key"},
      {"gateways:\n  - name: a\n    port: 70000\n", "gateways[a].port", ""},
      {"gateways:\n  - name: a\n    repair: {max_per_hour: lots}\n", "gateways[a].repair.max_per_hour", ""},
      {"gateways:\n  - name: a\n    probes: 3\n", "gateways[a].probes", "mapping"},
  };
  for (const auto& c : cases) {
    auto r = load_config(options(paths_yaml() + c.yaml));
    ASSERT_TRUE(std::holds_alternative<ConfigError>(r)) << c.yaml;
    const auto& e = error_of(r);
    EXPECT_EQ(e.key, c.key) << c.yaml << " -> " << e.describe();
    EXPECT_NE(e.describe().find(c.words), std::string::npos) << c.yaml << " -> " << e.describe();
    EXPECT_GT(e.origin.line, 0) << c.yaml << " -> " << e.describe();
  }
}

TEST_F(ConfigTest, SearchOrderUsesGwrConfigThenHome) {
  write_file(dir_ / "elsewhere.yaml", "gateway:\n  port: 1111\n" + paths_yaml());
  LoadOptions o;
  o.environment = {{"HOME", dir_.path()}, {"GWR_CONFIG", dir_ / "elsewhere.yaml"}};
  auto r = load_config(o);
  ASSERT_TRUE(std::holds_alternative<LoadedConfig>(r)) << error_of(r).describe();
  EXPECT_EQ(loaded(r).config.gateway().port(), 1111u);

  write_file(dir_ / ".config/gwr/gwr.yaml", "gateway:\n  port: 2222\n" + paths_yaml());
  o.environment.erase("GWR_CONFIG");
  auto r2 = load_config(o);
  ASSERT_TRUE(std::holds_alternative<LoadedConfig>(r2));
  EXPECT_EQ(loaded(r2).config.gateway().port(), 2222u);
  EXPECT_EQ(loaded(r2).config_path, dir_ / ".config/gwr/gwr.yaml");
}

TEST_F(ConfigTest, AListFromTheEnvironmentReplacesTheYamlOne) {
  auto o = options("telegram:\n  allowed_user_ids: [1, 2]\n" + paths_yaml());
  write_file(dir_ / ".env", "TELEGRAM_ALLOWED_USER_IDS=42\n");
  auto r = load_config(o);
  ASSERT_TRUE(std::holds_alternative<LoadedConfig>(r)) << error_of(r).describe();
  EXPECT_EQ(std::vector<int64_t>(loaded(r).config.telegram().allowed_user_ids().begin(),
                                 loaded(r).config.telegram().allowed_user_ids().end()),
            (std::vector<int64_t>{42}));
  o.environment["TELEGRAM_ALLOWED_USER_IDS"] = "[7, 8 ,9]";
  auto r2 = load_config(o);
  ASSERT_TRUE(std::holds_alternative<LoadedConfig>(r2)) << error_of(r2).describe();
  EXPECT_EQ(loaded(r2).config.telegram().allowed_user_ids_size(), 3);
  EXPECT_EQ(loaded(r2).config.telegram().allowed_user_ids(2), 9);
  o.environment["TELEGRAM_ALLOWED_USER_IDS"] = "7,x";
  auto bad = load_config(o);
  ASSERT_TRUE(std::holds_alternative<ConfigError>(bad));
  EXPECT_EQ(error_of(bad).key, "TELEGRAM_ALLOWED_USER_IDS -> telegram.allowed_user_ids");
}

TEST_F(ConfigTest, PrecedenceYamlThenEnvFileThenEnvironmentThenOverrides) {
  auto o = options("gateway:\n  port: 1000\nrepair:\n  max_per_hour: 5\n  cooldown: 10m\n" + paths_yaml());
  write_file(dir_ / ".env", "GATEWAY_PORT=2000\nMAX_REPAIRS_PER_HOUR=7\n");
  o.environment["GATEWAY_PORT"] = "3000";
  auto r = load_config(o);
  ASSERT_TRUE(std::holds_alternative<LoadedConfig>(r)) << error_of(r).describe();
  EXPECT_EQ(loaded(r).config.gateway().port(), 3000u);        // environment beats .env and yaml
  EXPECT_EQ(loaded(r).config.repair().max_per_hour(), 7u);    // .env beats yaml
  EXPECT_EQ(loaded(r).config.repair().cooldown(), 600'000);   // yaml beats defaults
  EXPECT_EQ(loaded(r).env_path, dir_ / ".env");

  write_file(dir_ / "state/config-overrides.yaml", "repair.max_per_hour: \"9\"\n");
  auto r2 = load_config(o);
  ASSERT_TRUE(std::holds_alternative<LoadedConfig>(r2)) << error_of(r2).describe();
  EXPECT_EQ(loaded(r2).config.repair().max_per_hour(), 9u);   // run-time override wins
  EXPECT_EQ(loaded(r2).overridden_keys, std::vector<std::string>{"repair.max_per_hour"});
}

TEST_F(ConfigTest, PrdEnvironmentNamesWithPlainNumbers) {
  auto o = options(paths_yaml());
  o.environment["HEALTH_CHECK_INTERVAL"] = "20";
  o.environment["COOLDOWN_MINUTES"] = "45";
  o.environment["MAX_MEMORY_MB"] = "4096";
  o.environment["TIER3_ENABLED"] = "false";
  o.environment["TELEGRAM_BOT_TOKEN"] = "123456:ABCdef_ghi-jkl";
  o.environment["TELEGRAM_CHAT_ID"] = "-100123";
  o.environment["QWEN_API_KEY"] = "sk-test";
  auto r = load_config(o);
  ASSERT_TRUE(std::holds_alternative<LoadedConfig>(r)) << error_of(r).describe();
  const auto& c = loaded(r).config;
  EXPECT_EQ(c.probes().process().interval(), 20'000);
  EXPECT_EQ(c.repair().cooldown(), 45 * 60'000);
  EXPECT_EQ(c.probes().memory().max_rss_mb(), 4096u);
  EXPECT_FALSE(c.repair().tier3().enabled());
  EXPECT_EQ(c.telegram().chat_id(), -100123);
  EXPECT_EQ(c.repair().tier3().api_key(), "sk-test");
}

TEST_F(ConfigTest, UnknownKeyNamesKeyAndLine) {
  auto r = load_config(options(paths_yaml() + "probes:\n  health:\n    intervall: 10s\n"));
  ASSERT_TRUE(std::holds_alternative<ConfigError>(r));
  EXPECT_EQ(error_of(r).key, "probes.health.intervall");
  EXPECT_EQ(error_of(r).origin.line, 7);
  EXPECT_NE(error_of(r).describe().find("line 7"), std::string::npos);
}

TEST_F(ConfigTest, BadValueNamesKeyAndLine) {
  auto r = load_config(options("gateway:\n  host: x\n  port: eighty\n" + paths_yaml()));
  ASSERT_TRUE(std::holds_alternative<ConfigError>(r));
  EXPECT_EQ(error_of(r).key, "gateway.port");
  EXPECT_EQ(error_of(r).origin.line, 3);

  auto d = load_config(options(paths_yaml() + "repair:\n  cooldown: 30\n"));
  ASSERT_TRUE(std::holds_alternative<ConfigError>(d));
  EXPECT_EQ(error_of(d).key, "repair.cooldown");
  EXPECT_NE(error_of(d).message.find("unit"), std::string::npos);
}

TEST_F(ConfigTest, SemanticValidationNamesKeyAndLine) {
  auto r = load_config(options(paths_yaml() + "gateway:\n  port: 70000\n"));
  ASSERT_TRUE(std::holds_alternative<ConfigError>(r));
  EXPECT_EQ(error_of(r).key, "gateway.port");
  EXPECT_EQ(error_of(r).origin.line, 6);

  auto g = load_config(options(paths_yaml() + "repair:\n  tier2:\n    stale_lock_globs: [\"*.lock\"]\n"));
  ASSERT_TRUE(std::holds_alternative<ConfigError>(g));
  EXPECT_EQ(error_of(g).key, "repair.tier2.stale_lock_globs");

  auto t = load_config(options(paths_yaml() + "telegram:\n  bot_token: \"123:abc\"\n"));
  ASSERT_TRUE(std::holds_alternative<ConfigError>(t));
  EXPECT_EQ(error_of(t).key, "telegram.chat_id");
}

TEST_F(ConfigTest, AFleetHubNeedsItsKeysAndANodeItsHubAndNoBotOfItsOwn) {
  auto expect_refused = [&](const std::string& fleet, const std::string& key, const std::string& more = "") {
    auto r = load_config(options(paths_yaml() + more + "fleet:\n" + fleet));
    ASSERT_TRUE(std::holds_alternative<ConfigError>(r)) << fleet;
    EXPECT_EQ(error_of(r).key, key) << fleet << error_of(r).describe();
  };
  expect_refused("  role: hub\n", "fleet.listen");
  expect_refused("  role: hub\n  listen: 0.0.0.0:7690\n", "fleet.listen");
  expect_refused("  role: hub\n  listen: tcp://0.0.0.0:7690\n", "fleet.secret_key");
  expect_refused("  role: hub\n  listen: tcp://0.0.0.0:7690\n  secret_key: /k/hub.key\n", "fleet.authorized_keys");
  expect_refused("  role: node\n", "fleet.hub");
  expect_refused("  role: node\n  hub: tcp://hub:7690\n", "fleet.secret_key");
  expect_refused("  role: node\n  hub: tcp://hub:7690\n  secret_key: /k/n.key\n", "fleet.hub_public_key");
  expect_refused("  role: node\n  hub: tcp://hub:7690\n  secret_key: /k/n.key\n  hub_public_key: /k/hub.pub\n",
                 "telegram.bot_token", "telegram:\n  bot_token: \"123:abc\"\n  chat_id: 5\n");
  expect_refused("  role: leader\n", "fleet.role");
  expect_refused("  role: hub\n  node_timeout: 1s\n", "fleet.node_timeout");
  auto hub = load_config(options(paths_yaml() +
                                 "fleet:\n  role: hub\n  listen: tcp://0.0.0.0:7690\n  secret_key: ~/k/hub.key\n"
                                 "  authorized_keys: ~/k/nodes\n  node_timeout: 2m\n"));
  ASSERT_TRUE(std::holds_alternative<LoadedConfig>(hub)) << error_of(hub).describe();
  EXPECT_EQ(loaded(hub).config.fleet().secret_key(), dir_.path() + "/k/hub.key");
  EXPECT_EQ(loaded(hub).config.fleet().node_timeout(), 120'000);
  EXPECT_EQ(default_config({}).fleet().role(), "standalone");
}

TEST_F(ConfigTest, MaintenanceWindowsAreCheckedItemByItemWithTheKeyAndItsLine) {
  auto good = load_config(options(paths_yaml() + "repair:\n  maintenance_windows: [\"Sun 03:00-04:00\", \"daily 12:00-12:15\"]\n"));
  ASSERT_FALSE(std::holds_alternative<ConfigError>(good)) << error_of(good).message;
  auto bad = load_config(options(paths_yaml() + "repair:\n  maintenance_windows:\n    - \"Sun 03:00-04:00\"\n    - \"Sun 3:00-4\"\n"));
  ASSERT_TRUE(std::holds_alternative<ConfigError>(bad));
  EXPECT_EQ(error_of(bad).key, "repair.maintenance_windows");
  EXPECT_GT(error_of(bad).origin.line, 0);
  EXPECT_NE(error_of(bad).message.find("\"Sun 3:00-4\": end \"4\""), std::string::npos) << error_of(bad).message;
}

TEST_F(ConfigTest, LaunchMatchMayBeEmptyButNotTheProcessName) {
  auto same = load_config(options(paths_yaml() + "gateway:\n  process_match: gw\n  launch_match: gw\n"));
  ASSERT_TRUE(std::holds_alternative<ConfigError>(same));
  EXPECT_EQ(error_of(same).key, "gateway.launch_match");
  auto none = load_config(options(paths_yaml() + "gateway:\n  launch_match: \"\"\n"));
  ASSERT_TRUE(std::holds_alternative<LoadedConfig>(none)) << error_of(none).describe();
  EXPECT_EQ(loaded(none).config.gateway().launch_match(), "");
  EXPECT_EQ(default_config({}).gateway().launch_match(), "openclaw");
}

TEST_F(ConfigTest, TraversalGlobsAreRejected) {
  for (const char* glob : {"../x/*.jsonl.lock", "/etc/*.jsonl.lock", "agents/../../*.jsonl.lock", "agents/**/x.jsonl.lock",
                           "a.jsonl.lock", "agents/*/sessions/*"}) {
    auto r = load_config(options(paths_yaml() + "repair:\n  tier2:\n    stale_lock_globs: [\"" + glob + "\"]\n"));
    EXPECT_TRUE(std::holds_alternative<ConfigError>(r)) << glob;
  }
}

TEST_F(ConfigTest, SyntaxErrorNamesLine) {
  auto r = load_config(options("gateway:\n  port: [1, 2\n"));
  ASSERT_TRUE(std::holds_alternative<ConfigError>(r));
  EXPECT_GT(error_of(r).origin.line, 0);
}

TEST_F(ConfigTest, InvalidEnvironmentValueNamesVariable) {
  auto o = options(paths_yaml());
  o.environment["GATEWAY_PORT"] = "abc";
  auto r = load_config(o);
  ASSERT_TRUE(std::holds_alternative<ConfigError>(r));
  EXPECT_NE(error_of(r).key.find("GATEWAY_PORT"), std::string::npos);
}

TEST_F(ConfigTest, SecretNeverInErrorMessage) {
  auto o = options(paths_yaml());
  o.environment["TELEGRAM_BOT_TOKEN"] = "not a token with spaces SECRETVALUE";
  o.environment["TELEGRAM_CHAT_ID"] = "5";
  auto r = load_config(o);
  ASSERT_TRUE(std::holds_alternative<ConfigError>(r));
  EXPECT_EQ(error_of(r).describe().find("SECRETVALUE"), std::string::npos);
}

TEST_F(ConfigTest, MissingExplicitFileIsAnError) {
  LoadOptions o;
  o.config_path = dir_ / "nope.yaml";
  auto r = load_config(o);
  ASSERT_TRUE(std::holds_alternative<ConfigError>(r));
  EXPECT_NE(error_of(r).describe().find("not found"), std::string::npos);
}

TEST_F(ConfigTest, GetSetAndMask) {
  pb::Config c = default_config({{"HOME", "/home/u"}});
  c.mutable_telegram()->set_bot_token("123456:secret");
  EXPECT_EQ(get_config_value(c, "probes.health.interval").value(), "5s");
  EXPECT_EQ(get_config_value(c, "telegram.bot_token").value(), "********");
  EXPECT_EQ(get_config_value(c, "telegram.bot_token", true).value(), "123456:secret");
  EXPECT_EQ(get_config_value(c, "gateway.commands.restart").value(), "[openclaw, gateway, restart]");
  EXPECT_FALSE(get_config_value(c, "nope.key").ok());
  EXPECT_FALSE(set_config_value(c, "probes.health.interval", "20s", {}).has_value());
  EXPECT_EQ(c.probes().health().interval(), 20'000);
  EXPECT_TRUE(set_config_value(c, "probes.health.interval", "soon", {}).has_value());
  EXPECT_FALSE(set_config_value(c, "gateway.log_files", "[/a/*.log, /b.log]", {}).has_value());
  EXPECT_EQ(c.gateway().log_files_size(), 2);
  EXPECT_TRUE(is_runtime_settable("probes.health.interval"));
  EXPECT_FALSE(is_runtime_settable("gateway.commands.restart"));
  EXPECT_FALSE(is_runtime_settable("telegram.bot_token"));
  EXPECT_TRUE(is_secret_key("repair.tier3.api_key"));
  const auto masked = masked_config(c);
  EXPECT_EQ(masked.telegram().bot_token(), "********");
  EXPECT_EQ(config_secret_values(c), std::vector<std::string>{"123456:secret"});
  EXPECT_EQ(render_config_yaml(c).find("123456:secret"), std::string::npos);  // the value; key names may say "secret"
}

TEST_F(ConfigTest, RenderedYamlLoadsBackIdentically) {
  pb::Config c = default_config({{"HOME", dir_.path()}});
  c.mutable_paths()->set_runtime_dir(dir_ / "run");
  c.mutable_paths()->set_state_dir(dir_ / "state");
  c.mutable_probes()->mutable_health()->set_interval(12'345);
  auto r = load_config(options(render_config_yaml(c, true)));
  ASSERT_TRUE(std::holds_alternative<LoadedConfig>(r)) << error_of(r).describe();
  EXPECT_TRUE(config_diff(c, loaded(r).config).empty());
}

TEST_F(ConfigTest, DiffListsChangedLeaves) {
  pb::Config a = default_config({});
  pb::Config b = a;
  b.mutable_gateway()->set_port(1);
  b.mutable_repair()->mutable_tier2()->add_stale_lock_globs("agents/*/x/*.jsonl.lock");
  EXPECT_EQ(config_diff(a, b), (std::vector<std::string>{"gateway.port", "repair.tier2.stale_lock_globs"}));
}

TEST_F(ConfigTest, EveryKeyFromDesignExists) {
  for (const char* key :
       {"gateway.host", "gateway.port", "gateway.health_path", "gateway.process_match", "gateway.state_dir",
        "gateway.log_files", "gateway.commands.restart", "gateway.commands.stop", "gateway.commands.start",
        "gateway.commands.doctor", "probes.process.interval", "probes.port.interval", "probes.health.interval",
        "probes.memory.interval", "probes.port.timeout", "probes.health.timeout", "probes.port.failures",
        "probes.health.failures", "probes.memory.max_rss_mb", "probes.startup_grace", "repair.max_per_hour",
        "repair.cooldown", "repair.tier1.deadline", "repair.tier2.deadline", "repair.tier2.stale_lock_globs",
        "repair.tier3.enabled", "repair.tier3.engine", "repair.tier3.command", "repair.tier3.base_url",
        "repair.tier3.model", "repair.tier3.deadline", "repair.allowlist", "telegram.api_base_url",
        "telegram.bot_token", "telegram.chat_id", "telegram.allowed_user_ids", "paths.runtime_dir", "paths.state_dir",
        "paths.log_dir"}) {
    EXPECT_TRUE(is_config_key(key)) << key;
  }
}

TEST_F(ConfigTest, ExampleConfigInRepositoryIsValidAndComplete) {
  const std::string example = testing::source_path("config/gwr.example.yaml");
  LoadOptions o;
  o.config_path = example;
  o.environment = {{"HOME", dir_.path()}};
  o.apply_overrides = false;
  auto r = load_config(o);
  ASSERT_TRUE(std::holds_alternative<LoadedConfig>(r)) << error_of(r).describe();
  // Documents every key.
  const std::string text = testing::read_file(example);
  for (const auto& key : config_keys()) {
    const auto leaf = key.substr(key.rfind('.') + 1);
    EXPECT_NE(text.find(leaf + ":"), std::string::npos) << key << " is not documented in gwr.example.yaml";
  }
  // And it is what the declarations say, to the byte.
  EXPECT_EQ(text, render_example_config())
      << "config/gwr.example.yaml is generated from proto/gwr.proto: run\n"
         "  build/bin/gwrctl config example > config/gwr.example.yaml";
}

// One declaration per key (proto/gwr.proto): each says what it is for and
// what a change needs, and its default is a valid value of the key.
TEST_F(ConfigTest, EveryKeyIsDeclaredWholly) {
  const pb::Config defaults = default_config({{"HOME", dir_.path()}});
  for (const auto& k : config_schema()) {
    EXPECT_FALSE(k.spec->doc().empty()) << k.key << " has no doc";
    EXPECT_NE(k.spec->reload(), pb::RELOAD_UNSPECIFIED) << k.key << " does not say what a change needs";
    if (k.spec->reload() == pb::RELOAD_RESTART_WORKER) {
      EXPECT_FALSE(k.spec->restarts().empty()) << k.key << " restarts no worker";
    }
    if (k.runtime_settable) {
      EXPECT_EQ(k.spec->reload(), pb::RELOAD_LIVE) << k.key << " is settable but not live";
    }
    auto value = get_config_value(defaults, k.key, true);
    ASSERT_TRUE(value.ok()) << k.key;
    if (!k.spec->platform().empty()) {
      EXPECT_FALSE(value->empty()) << k.key << ": platform default missing";
    }
    if (!k.spec->default_().empty() && !k.field->is_repeated()) {
      // The declared default is what the built-in config holds.
      pb::Config c;
      ASSERT_FALSE(set_config_value(c, k.key, k.spec->default_(), {})) << k.key << ": bad default";
      EXPECT_EQ(*get_config_value(c, k.key, true), *value) << k.key;
    }
  }
  EXPECT_FALSE(validate_config(defaults, {})) << "the built-in defaults must be valid";
}

// The checks come from the declarations: a bound declared is a bound kept.
TEST_F(ConfigTest, DeclaredBoundsAndChoicesAreEnforced) {
  struct Case {
    const char* key;
    const char* value;
    const char* says;
  };
  for (const Case& c : {Case{"gateway.port", "0", "between 1 and 65535"},
                        Case{"probes.health.timeout", "2m", "between 10ms and 1m"},
                        Case{"probes.memory.min_available_percent", "101", "at most 100"},
                        Case{"probes.port.interval", "5ms", "at least 100ms"},
                        Case{"repair.max_per_hour", "61", "between 1 and 60"},
                        Case{"history.max_age", "30m", "at least 1h"},
                        Case{"repair.tier3.engine", "gpt", "qwen-cli or openai"},
                        Case{"log.level", "loud", "one of trace"},
                        Case{"telegram.api_base_url", "ftp://x", "http:// or https://"},
                        Case{"gateway.process_match", "", "must not be empty"},
                        Case{"gateway.commands.restart", "[]", "non-empty list"}}) {
    pb::Config config = default_config({{"HOME", dir_.path()}});
    ASSERT_FALSE(set_config_value(config, c.key, c.value, {})) << c.key;
    auto err = validate_config(config, {});
    ASSERT_TRUE(err) << c.key << "=" << c.value << " passed";
    EXPECT_EQ(err->key, c.key);
    EXPECT_NE(err->message.find(c.says), std::string::npos) << c.key << ": " << err->message;
  }
}

TEST_F(ConfigTest, WhatAChangeNeedsComesFromTheDeclarations) {
  EXPECT_TRUE(restarts_worker({"gateway.port"}, "prober"));
  EXPECT_FALSE(restarts_worker({"gateway.port"}, "telegram-bridge"));
  EXPECT_TRUE(restarts_worker({"probes.health.interval", "telegram.bot_token"}, "telegram-bridge"));
  EXPECT_FALSE(restarts_worker({"telegram.reminder_interval", "history.max_age"}, "telegram-bridge"));
  EXPECT_EQ(keys_needing_restart({"paths.state_dir", "log.level", "log.max_files"}),
            (std::vector<std::string>{"paths.state_dir", "log.max_files"}));
  const auto keys = config_keys_json();
  ASSERT_EQ(keys.size(), config_keys().size());
  for (const auto& j : keys) {
    if (j["key"] == "history.max_age") {
      EXPECT_EQ(j["default"], "90d");
      EXPECT_EQ(j["min"], "1h");
      EXPECT_EQ(j["reload"], "live");
      EXPECT_EQ(j["runtime_settable"], true);
    }
    if (j["key"] == "telegram.bot_token") {
      EXPECT_EQ(j["secret"], true);
    }
  }
}

}  // namespace
}  // namespace gwr
