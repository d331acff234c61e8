// gwr-fleet: several hosts behind one bot (issue #18). Started by
// gwr-supervisor only when fleet.role is hub or node; see fleet_worker.h.
#include <memory>

#include "common/environment.h"
#include "common/plain_http.h"
#include "common/worker.h"
#include "fleet/fleet_worker.h"

int main(int argc, char** argv) {
  // It asks no one over HTTP; the factory is only the environment's shape.
  gwr::RealEnvironment env([] { return std::make_unique<gwr::PlainHttpClient>(); });
  gwr::fleet::FleetWorker worker;
  return gwr::run_worker("fleet", worker, argc, argv, env.env());
}
