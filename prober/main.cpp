// gwr-prober: the single source of truth about the gateway's health.
#include <memory>

#include "common/environment.h"
#include "common/plain_http.h"
#include "common/worker.h"
#include "prober/prober_worker.h"

int main(int argc, char** argv) {
  // The gateway's endpoints are plain HTTP: no libcurl, no TLS stack here.
  gwr::RealEnvironment env([] { return std::make_unique<gwr::PlainHttpClient>(); });
  gwr::prober::ProberWorker worker;
  return gwr::run_worker("prober", worker, argc, argv, env.env());
}
