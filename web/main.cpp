// gwr-web: gwr's read-only web endpoints (/metrics, the status page, /api).
// Started by gwr-supervisor only when http.listen is set; see web_worker.h.
#include <memory>

#include "common/environment.h"
#include "common/plain_http.h"
#include "common/worker.h"
#include "web/web_worker.h"

int main(int argc, char** argv) {
  // It asks no one over HTTP; the factory is only the environment's shape.
  gwr::RealEnvironment env([] { return std::make_unique<gwr::PlainHttpClient>(); });
  gwr::web::WebWorker worker;
  return gwr::run_worker("web", worker, argc, argv, env.env());
}
