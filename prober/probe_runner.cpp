#include "prober/probe_runner.h"

#include <cstdlib>

#include "common/log.h"

namespace gwr::prober {

ProbeFunctions ProbeFunctions::real() {
  ProbeFunctions f;
  f.port = [](const ProbeJob& j) { return probe_port(j.host, j.port, j.timeout); };
  f.health = [](HttpClient& http, const ProbeJob& j) {
    auto obs = probe_health(http, j.host, j.port, j.health_path, j.startup_path, j.timeout);
    if (obs.ok && !j.readiness_path.empty()) obs.readiness = probe_readiness(http, j.host, j.port, j.readiness_path, j.timeout);
    return obs;
  };
  return f;
}

ProbeRunner::ProbeRunner(std::function<std::unique_ptr<HttpClient>()> http, const Clock& clock, ProbeFunctions checks)
    : clock_(clock) {
  auto start = [&](pb::CheckKind kind) {
    auto busy = busy_;
    const Clock* clock_ptr = &clock_;
    CheckActor::Options o;
    o.name = kind == pb::CHECK_PORT ? "port check" : "health check";
    auto actor = CheckActor::start(o, [kind, busy, clock_ptr, http, checks](CheckActor::Self& self) {
      std::unique_ptr<HttpClient> client = kind == pb::CHECK_HEALTH ? http() : nullptr;
      self.ready();
      auto& started = kind == pb::CHECK_PORT ? busy->port_started : busy->health_started;
      while (auto job = self.receive()) {
        {
          std::lock_guard lock(busy->mu);
          started = clock_ptr->steady();
        }
        ProbeResult r;
        r.kind = job->kind;
        r.generation = job->generation;
        r.started_wall_ms = clock_ptr->wall_ms();
        if (kind == pb::CHECK_PORT) {
          r.port = checks.port(*job);
        } else {
          r.health = checks.health(*client, *job);
        }
        {
          std::lock_guard lock(busy->mu);
          started.reset();
        }
        self.post(std::move(r));
      }
    });
    if (!actor) {
      log::error("probe_thread_failed", {{"error", actor.message()}});
      log::flush();
      std::abort();  // the supervisor restarts the prober
    }
    return std::move(*actor);
  };
  port_ = start(pb::CHECK_PORT);
  health_ = start(pb::CHECK_HEALTH);
}

ProbeRunner::~ProbeRunner() {
  // A thread may be inside a check for up to its timeout: it ends on its own.
  port_->stop(std::chrono::milliseconds(0));
  health_->stop(std::chrono::milliseconds(0));
}

std::vector<int> ProbeRunner::notify_fds() const { return {port_->notify_fd(), health_->notify_fd()}; }

void ProbeRunner::submit(ProbeJob job) { (job.kind == pb::CHECK_PORT ? port_ : health_)->send(std::move(job)); }

std::vector<ProbeResult> ProbeRunner::drain() {
  auto out = port_->drain();
  for (auto& r : health_->drain()) out.push_back(std::move(r));
  return out;
}

std::optional<std::chrono::milliseconds> ProbeRunner::busy_for() const {
  std::lock_guard lock(busy_->mu);
  std::optional<SteadyTime> oldest;
  for (const auto& t : {busy_->port_started, busy_->health_started}) {
    if (t && (!oldest || *t < *oldest)) oldest = t;
  }
  if (!oldest) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.steady() - *oldest);
}

}  // namespace gwr::prober
