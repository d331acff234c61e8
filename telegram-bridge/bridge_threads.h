// The bridge's two Telegram threads and what they share.
//   poller: long-polls getUpdates, authorizes, runs commands (control calls on
//           its own short-lived sockets), and commits each handled update
//           together with its replies.
//   sender: drains the outbox in order under the SendGate.
// Each owns its HTTP client and database connection. Everything they share
// lives in a BridgeShared held by shared_ptr, so a thread blocked in a long
// HTTP call can be abandoned at shutdown without leaving anything dangling.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>
#include <mutex>
#include <string>
#include <thread>

#include "common/actor.h"
#include "common/clock.h"
#include "common/control_port.h"
#include "common/environment.h"
#include "telegram-bridge/access_policy.h"
#include "telegram-bridge/outgoing.h"

namespace gwr::telegram {

struct ThreadSettings {
  std::string api_base_url;
  std::string bot_token;
  std::string db_path;
  int64_t poll_timeout_ms = 30'000;
  const Clock* clock = nullptr;
  HttpFactory http;                                       // one client per thread
  std::function<std::unique_ptr<ControlPort>()> control_port;  // made on the thread that uses it
  std::vector<std::string> gateways;                      // their names, in config order
  bool fleet_hub = false;  // fleet.role hub: the nodes' gateways too (asked of gwr-fleet per command)
};

// What a thread is doing, for the heartbeat.
enum class ThreadState {
  kStarting,       // no answer from Telegram yet
  kIdle,           // sender: nothing to send
  kSending,
  kPolling,
  kUnreachable,    // retrying after a network error
  kRateLimited,    // 429: waiting as Telegram asked
  kTokenRejected,  // 401: check telegram.bot_token
  kConflict,       // 409: a webhook or another poller uses the token
};
// For people: "polling", "Telegram unreachable", "bot token rejected (401)", ...
const char* thread_state_text(ThreadState state);

struct ThreadStatus {
  ThreadState state = ThreadState::kStarting;
  std::string detail;         // the last error, redacted
  int64_t retry_at_ms = 0;    // when it tries again (0: not waiting)
};

class BridgeShared {
 public:
  enum class Role { kPoller, kSender };
  // Counters of notifications, to sleep on without missing one.
  struct Seen {
    uint64_t outbox = 0;
    uint64_t reachable = 0;
  };

  explicit BridgeShared(AccessPolicy access) : access_(std::move(access)) {}

  // Something was queued: the sender looks at once.
  void notify_outbox();
  // A thread heard from Telegram after failing: the other retries at once.
  void notify_reachable();
  void request_stop();
  bool stopping() const;
  Seen seen() const;
  // Sleeps until `deadline`, a stop, or a notification newer than `seen`
  // (outbox ones only when wake_on_outbox, reachability ones only when
  // wake_on_reachable). False when stopping.
  bool wait(std::chrono::steady_clock::time_point deadline, Seen seen, bool wake_on_outbox,
            bool wake_on_reachable = true);

  AccessPolicy access() const;
  void set_access(AccessPolicy access);

  // Messages telegram.db could not take (its disk is full): kept here and
  // sent from here, after what the outbox already holds for the same chat.
  // Their ids are negative. Lost if the process dies before they are sent.
  struct Unsaved {
    int64_t id = 0;
    int64_t chat_id = 0;
    Outgoing message;
    int64_t created_at_ms = 0;
    int64_t next_attempt_at_ms = 0;
    int64_t attempts = 0;
  };
  void keep_unsaved(int64_t chat_id, const Outgoing& message, int64_t now_ms);
  std::vector<Unsaved> unsaved_heads() const;  // the oldest of each chat
  void unsaved_done(int64_t id);
  void unsaved_retry(int64_t id, int64_t at_ms);
  size_t unsaved_count() const;
  // A thread's first message, sent while telegram.db could not record it.
  void remember_thread(const std::string& incident, int64_t chat_id, int64_t message_id);
  std::optional<std::pair<int64_t, int64_t>> thread(const std::string& incident) const;  // chat, message
  bool unsaved_opener_pending(const std::string& incident) const;

  void set_poller(ThreadStatus status);
  void set_sender(ThreadStatus status);
  ThreadStatus poller() const;
  ThreadStatus sender() const;
  void set_bot_username(std::string username);
  std::string bot_username() const;
  // The thread is blocked in a Telegram call and holds no socket: it may be
  // left behind at exit (what it was doing is redone by the next process).
  void set_in_call(Role role, bool in);

  void thread_started(Role role);
  void thread_exited(Role role);
  bool running(Role role) const;
  // Old threads cannot interfere with new ones: the sender has exited (it
  // must not finish a send that a new sender repeats) and the poller has
  // exited or is blocked in a Telegram call (it commits nothing once stopped).
  bool quiescent() const;
  // Each thread has exited or is blocked in a Telegram call (enough for exit).
  bool settled() const;
  // Waits until settled() (true) or the deadline passes.
  bool wait_settled(std::chrono::steady_clock::time_point deadline);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  Seen seen_;
  AccessPolicy access_;
  ThreadStatus poller_{ThreadState::kStarting, "", 0};
  ThreadStatus sender_{ThreadState::kIdle, "", 0};
  std::string username_;
  bool poller_in_call_ = false;
  bool sender_in_call_ = false;
  bool poller_running_ = false;
  bool sender_running_ = false;
  std::vector<Unsaved> unsaved_;
  int64_t next_unsaved_id_ = -1;
  std::map<std::string, std::pair<int64_t, int64_t>> threads_;
};

// Starts both threads; stop() signals them and waits a bounded time.
class BridgeThreads {
 public:
  BridgeThreads(ThreadSettings settings, AccessPolicy access);
  ~BridgeThreads();
  BridgeThreads(const BridgeThreads&) = delete;
  BridgeThreads& operator=(const BridgeThreads&) = delete;

  std::shared_ptr<BridgeShared> shared() const { return shared_; }
  // Signals both threads and waits up to `budget` for each to exit or to be
  // blocked in a Telegram call; those still running are detached. True when
  // both exited.
  bool stop(std::chrono::milliseconds budget);
  // Signals without waiting (a restart waits for quiescence in on_tick).
  void signal_stop();
  // The old threads can no longer interfere with new ones (see BridgeShared::quiescent).
  bool quiescent();

 private:
  using ThreadActor = Actor<NoMessage, NoMessage>;
  std::shared_ptr<BridgeShared> shared_;
  std::unique_ptr<ThreadActor> poller_;
  std::unique_ptr<ThreadActor> sender_;
};

}  // namespace gwr::telegram
