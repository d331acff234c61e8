// fake-telegram: FakeTelegram as its own process, for benchmarks and demos that run gwr
// out of process. Scripted through the /_fake/* control API on the same port (README.md).
//
//   fake-telegram --token T [--port P] [--port-file FILE] [--username NAME]
//
// Exits 0 on SIGTERM or SIGINT, 1 when it cannot listen, 2 on bad usage.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>

#include "tests/fakes/telegram/fake_telegram.h"

namespace {

int usage(const char* error) {
  std::fprintf(stderr, "fake-telegram: %s\nusage: fake-telegram --token TOKEN [--port PORT] [--port-file FILE] "
                       "[--username NAME]\n", error);
  return 2;
}

// Written to a temporary name and renamed, so a reader never sees a partial number.
bool write_port_file(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string token;
  std::string port_file;
  std::string username;
  int port = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    std::string name = arg;
    std::string value;
    const size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else if (arg == "--help" || arg == "-h") {
      return usage("help");
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return usage(("missing value for " + arg).c_str());
    }
    if (name == "--token") {
      token = value;
    } else if (name == "--port") {
      char* end = nullptr;
      const long p = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || p < 0 || p > 65535) return usage("--port must be 0..65535");
      port = static_cast<int>(p);
    } else if (name == "--port-file") {
      port_file = value;
    } else if (name == "--username") {
      username = value;
    } else {
      return usage(("unknown option " + name).c_str());
    }
  }
  if (token.empty()) return usage("--token is required");

  // Blocked before any thread exists, so every server thread inherits the mask:
  // SIGTERM/SIGINT reach only sigwait below, and a vanished client cannot raise SIGPIPE.
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);

  gwr::testing::FakeTelegram fake(token, port);
  fake.set_control_api(true);
  if (!username.empty()) fake.set_bot_username(username);
  try {
    fake.start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fake-telegram: %s\n", e.what());
    return 1;
  }
  if (!port_file.empty() && !write_port_file(port_file, fake.port())) {
    std::fprintf(stderr, "fake-telegram: cannot write port file %s\n", port_file.c_str());
    return 1;
  }
  std::printf("fake-telegram listening on %s\n", fake.base_url().c_str());
  std::fflush(stdout);

  sigset_t wanted;
  sigemptyset(&wanted);
  sigaddset(&wanted, SIGTERM);
  sigaddset(&wanted, SIGINT);
  int sig = 0;
  sigwait(&wanted, &sig);
  fake.stop();
  return 0;
}
