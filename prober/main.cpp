// gwr-prober: the single source of truth about the gateway's health.
#include "common/environment.h"
#include "common/worker.h"
#include "prober/prober_worker.h"

int main(int argc, char** argv) {
  gwr::RealEnvironment env;
  gwr::prober::ProberWorker worker;
  return gwr::run_worker("prober", worker, argc, argv, env.env());
}
