// Actor: a thread that works for a poll loop, in the manner of czmq's
// zactor. The owner starts it and waits for its ready handshake, sends it
// work, polls one fd for what it reports, and stops it; a thread that does
// not finish in time is left to end on its own (it holds its own reference
// to everything it touches), so stopping never blocks on a hung peer.
//
// The shells' threads are all one of these: the prober's port and health
// checks, the repairer's repair, the Telegram bridge's poller and sender.
// (The supervisor's bus proxy is zmq's own loop on a plain thread.)
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "common/result.h"

namespace gwr {

// Nothing to send or to report.
using NoMessage = std::monostate;

template <class In, class Out>
class Actor {
  struct State;

 public:
  // What the thread sees of its actor.
  class Self {
   public:
    explicit Self(std::shared_ptr<State> s) : s_(std::move(s)) {}
    // The handshake: the thread is set up and works from now on.
    void ready() {
      {
        std::lock_guard lock(s_->mu);
        s_->ready = true;
      }
      s_->cv.notify_all();
    }
    bool stopping() const { return s_->stop.load(); }
    // For code that polls a flag (a command runner kills its child on it).
    const std::atomic<bool>& stop_flag() const { return s_->stop; }
    // The next message sent to the actor; nullopt once it is stopping.
    std::optional<In> receive() {
      std::unique_lock lock(s_->mu);
      s_->cv.wait(lock, [&] { return s_->stop.load() || !s_->inbox.empty(); });
      if (s_->stop.load()) return std::nullopt;
      In m = std::move(s_->inbox.front());
      s_->inbox.pop_front();
      return m;
    }
    // The next message, waiting at most until `deadline`: nullopt when the
    // deadline passed first or on a stop (stopping() tells which).
    std::optional<In> receive_until(std::chrono::steady_clock::time_point deadline) {
      std::unique_lock lock(s_->mu);
      s_->cv.wait_until(lock, deadline, [&] { return s_->stop.load() || !s_->inbox.empty(); });
      if (s_->stop.load() || s_->inbox.empty()) return std::nullopt;
      In m = std::move(s_->inbox.front());
      s_->inbox.pop_front();
      return m;
    }
    // Sleeps until `deadline` or a stop; false when stopping.
    bool sleep_until(std::chrono::steady_clock::time_point deadline) {
      std::unique_lock lock(s_->mu);
      s_->cv.wait_until(lock, deadline, [&] { return s_->stop.load(); });
      return !s_->stop.load();
    }
    // Reports to the owner: queued, and its fd becomes readable. Dropped
    // once the actor is stopping (the owner no longer reads).
    void post(Out m) {
      {
        std::lock_guard lock(s_->mu);
        if (s_->stop.load() && s_->drop_after_stop) return;
        s_->outbox.push_back(std::move(m));
      }
      const char b = 1;
      ssize_t ignored = ::write(s_->pipe_w, &b, 1);
      (void)ignored;
    }

   private:
    std::shared_ptr<State> s_;
  };

  using Body = std::function<void(Self&)>;

  struct Options {
    std::string name;                                  // for errors ("prober port check")
    std::chrono::milliseconds ready_budget{5'000};     // how long start() waits for ready()
    bool drop_after_stop = true;                       // post() after a stop is dropped
  };

  // Starts the thread and waits for its ready(); an error when the body
  // ended or threw first, or the budget passed.
  static Result<std::unique_ptr<Actor>> start(Options options, Body body) {
    std::unique_ptr<Actor> a(new Actor(options));
    auto s = a->s_;
    a->thread_ = std::thread([s, body = std::move(body)] {
      Self self(s);
      try {
        body(self);
      } catch (const std::exception& e) {
        std::lock_guard lock(s->mu);
        s->failure = e.what();
      }
      {
        std::lock_guard lock(s->mu);
        s->finished = true;
      }
      s->cv.notify_all();
    });
    std::unique_lock lock(s->mu);
    const bool up = s->cv.wait_for(lock, options.ready_budget, [&] { return s->ready || s->finished; });
    if (s->ready) return a;
    const std::string why = !up ? "not ready within " + std::to_string(options.ready_budget.count()) + " ms"
                                : (s->failure.empty() ? std::string("ended before it was ready") : s->failure);
    lock.unlock();
    (void)a->stop(std::chrono::milliseconds(0));
    return make_error(options.name + ": " + why);
  }

  ~Actor() { (void)stop(std::chrono::milliseconds(0)); }
  Actor(const Actor&) = delete;
  Actor& operator=(const Actor&) = delete;

  void send(In m) {
    {
      std::lock_guard lock(s_->mu);
      s_->inbox.push_back(std::move(m));
    }
    s_->cv.notify_all();
  }
  // Readable when the thread posted something.
  int notify_fd() const { return s_->pipe_r; }
  std::vector<Out> drain() {
    char buf[64];
    while (::read(s_->pipe_r, buf, sizeof buf) > 0) {
    }
    std::lock_guard lock(s_->mu);
    std::vector<Out> out(std::make_move_iterator(s_->outbox.begin()), std::make_move_iterator(s_->outbox.end()));
    s_->outbox.clear();
    return out;
  }
  void signal_stop() {
    s_->stop = true;
    s_->cv.notify_all();
  }
  bool finished() const {
    std::lock_guard lock(s_->mu);
    return s_->finished;
  }
  // What the body threw, if it did.
  std::string failure() const {
    std::lock_guard lock(s_->mu);
    return s_->failure;
  }
  // Signals the stop and waits up to `budget` for the thread to end; one
  // still busy then is detached and ends on its own. True when it ended.
  bool stop(std::chrono::milliseconds budget) {
    if (!thread_.joinable()) return true;
    signal_stop();
    bool ended;
    {
      std::unique_lock lock(s_->mu);
      ended = s_->cv.wait_for(lock, budget, [&] { return s_->finished; });
    }
    if (ended) {
      thread_.join();
    } else {
      thread_.detach();
    }
    return ended;
  }
  // Waits for the thread to end, however long (a repair that must not be
  // left running behind its owner's back).
  void join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::atomic<bool> stop{false};
    bool ready = false;
    bool finished = false;
    bool drop_after_stop = true;
    std::string failure;
    std::deque<In> inbox;
    std::deque<Out> outbox;
    int pipe_r = -1, pipe_w = -1;
    ~State() {
      if (pipe_r >= 0) ::close(pipe_r);
      if (pipe_w >= 0) ::close(pipe_w);
    }
  };

  explicit Actor(const Options& options) : s_(std::make_shared<State>()) {
    int fds[2];
    if (::pipe(fds) != 0) std::abort();
    for (int fd : fds) {
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
      ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    s_->pipe_r = fds[0];
    s_->pipe_w = fds[1];
    s_->drop_after_stop = options.drop_after_stop;
  }

  std::shared_ptr<State> s_;
  std::thread thread_;
};

}  // namespace gwr
