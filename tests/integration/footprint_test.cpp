// Issue #16: what each process maps. The prober never maps libcurl or a TLS
// stack; the repairer and the bridge map them only once they send an https
// request (Telegram on, a Tier 3 HTTP engine, a heartbeat), not at start.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace gwr::testing {
namespace {

using namespace std::chrono_literals;

// The TLS and HTTP libraries among the files pid maps.
std::vector<std::string> heavy_mappings(pid_t pid) {
  std::vector<std::string> out;
  std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
  std::string line;
  while (std::getline(in, line)) {
    for (const char* lib : {"libcurl", "libssl", "libcrypto", "libgnutls", "libldap", "libssh", "libspdlog"}) {
      if (line.find(lib) != std::string::npos && std::find(out.begin(), out.end(), lib) == out.end()) out.push_back(lib);
    }
  }
  return out;
}

TEST(Footprint, NoProcessMapsLibcurlOrATlsStackUntilItSpeaksHttps) {
  if (!std::filesystem::exists("/proc/self/maps")) GTEST_SKIP() << "no /proc here";
  Daemon d;  // Telegram off, no heartbeat, Tier 3 on the qwen CLI: nothing of it speaks https
  ASSERT_TRUE(d.start());
  ASSERT_TRUE(d.wait_all_heartbeating(10s));
  std::this_thread::sleep_for(1500ms);  // a few probes and heartbeats
  const auto pids = d.worker_pids();
  ASSERT_EQ(pids.size(), 4u);  // the supervisor and its three workers
  for (const auto& [name, pid] : pids) {
    ASSERT_GT(pid, 0) << name;
    EXPECT_EQ(heavy_mappings(pid), std::vector<std::string>{}) << name;
  }
}

}  // namespace
}  // namespace gwr::testing
