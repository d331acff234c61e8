// SignalPipe: turns asynchronous signals into readable bytes on a pipe, so a
// poll loop can wait for sockets, timers and signals at once (the self-pipe
// trick: every POSIX system has it).
#pragma once

#include <initializer_list>
#include <vector>

namespace gwr {

class SignalPipe {
 public:
  // Installs handlers for the given signals; only one SignalPipe may exist.
  explicit SignalPipe(std::initializer_list<int> signals);
  ~SignalPipe();
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;

  int fd() const { return read_fd_; }
  // The signals received since the last call, in arrival order.
  std::vector<int> drain();

 private:
  int read_fd_ = -1;
  std::vector<int> signals_;
};

}  // namespace gwr
