#include "prober/probe_runner.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

#include "common/clock.h"
#include "common/http_client.h"

namespace gwr::prober {

struct ProbeRunner::Shared {
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::deque<ProbeJob> port_jobs, health_jobs;
  std::vector<ProbeResult> results;
  std::optional<std::chrono::steady_clock::time_point> port_started, health_started;
  int pipe_r = -1, pipe_w = -1;

  ~Shared() {
    if (pipe_r >= 0) ::close(pipe_r);
    if (pipe_w >= 0) ::close(pipe_w);
  }
};

namespace {

void worker_loop(const std::shared_ptr<ProbeRunner::Shared>& s, pb::CheckKind kind);

}  // namespace

ProbeRunner::ProbeRunner() : shared_(std::make_shared<Shared>()) {
  int fds[2];
  if (::pipe(fds) != 0) std::abort();
  for (int fd : fds) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  shared_->pipe_r = fds[0];
  shared_->pipe_w = fds[1];
  auto s = shared_;
  threads_.emplace_back([s] { worker_loop(s, pb::CHECK_PORT); });
  threads_.emplace_back([s] { worker_loop(s, pb::CHECK_HEALTH); });
}

ProbeRunner::~ProbeRunner() {
  {
    std::lock_guard lock(shared_->mu);
    shared_->stop = true;
  }
  shared_->cv.notify_all();
  // A thread may be inside a check for up to its timeout; it owns a
  // reference to the shared state, so it can finish on its own.
  for (auto& t : threads_) t.detach();
}

int ProbeRunner::notify_fd() const { return shared_->pipe_r; }

void ProbeRunner::submit(ProbeJob job) {
  {
    std::lock_guard lock(shared_->mu);
    (job.kind == pb::CHECK_PORT ? shared_->port_jobs : shared_->health_jobs).push_back(std::move(job));
  }
  shared_->cv.notify_all();
}

std::vector<ProbeResult> ProbeRunner::drain() {
  char buf[64];
  while (::read(shared_->pipe_r, buf, sizeof buf) > 0) {
  }
  std::lock_guard lock(shared_->mu);
  std::vector<ProbeResult> out;
  out.swap(shared_->results);
  return out;
}

std::optional<std::chrono::milliseconds> ProbeRunner::busy_for() const {
  std::lock_guard lock(shared_->mu);
  std::optional<std::chrono::steady_clock::time_point> oldest;
  for (const auto& t : {shared_->port_started, shared_->health_started}) {
    if (t && (!oldest || *t < *oldest)) oldest = t;
  }
  if (!oldest) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - *oldest);
}

namespace {

void worker_loop(const std::shared_ptr<ProbeRunner::Shared>& s, pb::CheckKind kind) {
  CurlHttpClient http;
  auto& queue = kind == pb::CHECK_PORT ? s->port_jobs : s->health_jobs;
  auto& started = kind == pb::CHECK_PORT ? s->port_started : s->health_started;
  while (true) {
    ProbeJob job;
    {
      std::unique_lock lock(s->mu);
      s->cv.wait(lock, [&] { return s->stop || !queue.empty(); });
      if (s->stop) return;
      job = std::move(queue.front());
      queue.pop_front();
      started = std::chrono::steady_clock::now();
    }
    ProbeResult r;
    r.kind = job.kind;
    r.generation = job.generation;
    r.started_wall_ms = SystemClock::instance().wall_ms();
    if (job.kind == pb::CHECK_PORT) {
      r.port = probe_port(job.host, job.port, job.timeout);
    } else {
      r.health = probe_health(http, job.host, job.port, job.health_path, job.startup_path, job.timeout);
    }
    {
      std::lock_guard lock(s->mu);
      started.reset();
      if (s->stop) return;
      s->results.push_back(std::move(r));
    }
    const char b = 1;
    ssize_t ignored = ::write(s->pipe_w, &b, 1);
    (void)ignored;
  }
}

}  // namespace

}  // namespace gwr::prober
