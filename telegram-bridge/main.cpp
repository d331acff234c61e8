// gwr-telegram-bridge: the owner's window and remote control on Telegram.
// Started by gwr-supervisor; see bridge_worker.h for what it does.
#include <cstdlib>

#include "common/environment.h"
#include "common/http_client.h"
#include "common/worker.h"
#include "telegram-bridge/bridge_worker.h"

int main(int argc, char** argv) {
  // https through libcurl (loaded at the first such request), plain http without it.
  gwr::RealEnvironment env([] { return std::make_unique<gwr::SplitHttpClient>(); });
  gwr::telegram::BridgeWorker worker;
  const int rc = gwr::run_worker("telegram-bridge", worker, argc, argv, env.env());
  // A thread left blocked in a Telegram call owns nothing the exit needs,
  // but static destructors would run under its feet: leave without them.
  if (worker.abandoned_threads()) std::_Exit(rc);
  return rc;
}
