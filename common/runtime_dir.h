// The runtime directory holds the ipc:// sockets. It is created 0700 and must
// belong to us: a socket another user can reach would let them command gwr.
#pragma once

#include <string>

#include "common/result.h"

namespace gwr {

// Creates the directory (and parents) with mode 0700, or checks an existing
// one: owned by this user, mode fixed to 0700.
Status ensure_private_dir(const std::string& path);

// Removes socket files left behind by a previous run.
void remove_stale_sockets(const std::string& runtime_dir);

// An exclusive lock that proves this is the only supervisor using the
// directory; held until the process exits. The error names the holder's pid.
class InstanceLock {
 public:
  static Result<InstanceLock> acquire(const std::string& path);
  InstanceLock(InstanceLock&& other) noexcept;
  InstanceLock& operator=(InstanceLock&& other) noexcept;
  ~InstanceLock();
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;

 private:
  explicit InstanceLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace gwr
