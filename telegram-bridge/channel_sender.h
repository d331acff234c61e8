// ChannelSender: one thread per channel beside Telegram (ntfy, Discord,
// webhook) that drains that channel's queue in notify.db, in order, one
// request at a time and at most one a second (notice.h says what each answer
// means). Each channel has its own thread, HTTP client and connection, so a
// channel that hangs or refuses never delays another, nor Telegram.
// At a stop, a thread blocked in its (10 s) request is left behind: the row
// it was sending stays queued and the next process sends it (at least once).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "common/actor.h"
#include "common/clock.h"
#include "common/environment.h"
#include "common/result.h"
#include "telegram-bridge/notice.h"

namespace gwr::telegram {

struct ChannelSenderSettings {
  ChannelTarget target;
  NoticeSource source;
  std::string db_path;          // notify.db
  const Clock* clock = nullptr;
  HttpFactory http;
};

class ChannelSender {
 public:
  static Result<std::unique_ptr<ChannelSender>> start(ChannelSenderSettings settings);
  ~ChannelSender();
  ChannelSender(const ChannelSender&) = delete;
  ChannelSender& operator=(const ChannelSender&) = delete;

  Channel channel() const { return channel_; }
  // Something was queued for this channel.
  void wake();
  // Its address or token changed: what waits is tried again at once.
  void retarget(ChannelTarget target);
  // Readable when the thread reported a new status.
  int notify_fd() const;
  // The newest status the thread reported (reads what it posted).
  const pb::ChannelStatus& status();
  // Signals the thread and waits up to `budget`; true when it ended.
  bool stop(std::chrono::milliseconds budget);

 private:
  struct Command {
    std::optional<ChannelTarget> target;  // nullopt: only "look at the queue"
  };
  using SenderActor = Actor<Command, pb::ChannelStatus>;
  ChannelSender(Channel channel, std::unique_ptr<SenderActor> actor);
  Channel channel_;
  std::unique_ptr<SenderActor> actor_;
  pb::ChannelStatus status_;
};

}  // namespace gwr::telegram
