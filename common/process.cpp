#include "common/process.h"

#include "common/platform/service.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "common/duration.h"
#include "common/text.h"

extern char** environ;

namespace gwr {

namespace {

struct CArgs {
  std::vector<std::string> storage;
  std::vector<char*> ptrs;
  explicit CArgs(const std::vector<std::string>& items) : storage(items) {
    for (auto& s : storage) ptrs.push_back(s.data());
    ptrs.push_back(nullptr);
  }
  char** get() { return ptrs.data(); }
};

std::vector<std::string> env_list(const std::map<std::string, std::string>& env) {
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

// PATH lookup done in the parent, so the child only calls execve.
std::string resolve_program(const std::string& name, const std::optional<std::map<std::string, std::string>>& env) {
  if (name.find('/') != std::string::npos) return name;
  std::string path;
  if (env) {
    auto it = env->find("PATH");
    if (it != env->end()) path = it->second;
  } else if (const char* p = std::getenv("PATH")) {
    path = p;
  }
  if (path.empty()) path = "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

void set_cloexec_nonblock(int fd, bool nonblock) {
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  if (nonblock) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

int64_t elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

Result<pid_t> spawn_process(const SpawnOptions& options) {
  if (options.argv.empty()) return make_error("empty argv");
  const std::string program = resolve_program(options.argv[0], options.env);
  if (program.empty()) return make_error(options.argv[0] + ": not found in PATH");
  CArgs args(options.argv);
  std::optional<CArgs> envp;
  if (options.env) envp.emplace(env_list(*options.env));
  int errpipe[2];
  if (::pipe(errpipe) != 0) return make_error(std::string("pipe: ") + std::strerror(errno));
  set_cloexec_nonblock(errpipe[0], false);
  set_cloexec_nonblock(errpipe[1], false);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(errpipe[0]);
    ::close(errpipe[1]);
    return make_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    if (options.die_with_parent && !child_dies_with_parent(SIGTERM, parent)) ::_exit(127);
    if (options.new_process_group) ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    const int devnull = ::open("/dev/null", O_RDWR);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    if (!options.stdout_path.empty()) {
      const int out = ::open(options.stdout_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (out >= 0) {
        ::dup2(out, STDOUT_FILENO);
        ::dup2(out, STDERR_FILENO);
      }
    }
    const int keep = errpipe[1];
    if (keep != 3) {
      ::dup2(keep, 3);
    }
    ::fcntl(3, F_SETFD, FD_CLOEXEC);
    child_close_fds_from(4);
    ::execve(program.c_str(), args.get(), envp ? envp->get() : environ);
    const int e = errno;
    ssize_t ignored = ::write(3, &e, sizeof e);
    (void)ignored;
    ::_exit(127);
  }
  ::close(errpipe[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(errpipe[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(errpipe[0]);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    ::waitpid(pid, nullptr, 0);
    return make_error(program + ": " + std::strerror(child_errno));
  }
  return pid;
}

std::string CommandResult::describe() const {
  if (!started) return error.empty() ? "not started" : error;
  if (timed_out) return "timed out after " + format_duration(duration);
  if (cancelled) return "cancelled after " + format_duration(duration);
  if (term_signal != 0) return "killed by signal " + std::to_string(term_signal);
  return "exit " + std::to_string(exit_code);
}

CommandResult RealCommandRunner::run(const CommandSpec& spec) {
  CommandResult result;
  const auto start = std::chrono::steady_clock::now();
  if (spec.argv.empty() || spec.argv[0].empty()) {
    result.error = "empty command";
    return result;
  }
  const std::string program = resolve_program(spec.argv[0], spec.env);
  if (program.empty()) {
    result.error = spec.argv[0] + ": command not found";
    return result;
  }
  CArgs args(spec.argv);
  std::optional<CArgs> envp;
  if (spec.env) envp.emplace(env_list(*spec.env));

  int out_pipe[2], in_pipe[2], err_pipe[2];
  if (::pipe(out_pipe) != 0) {
    result.error = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  if (::pipe(in_pipe) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    result.error = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  if (::pipe(err_pipe) != 0) {
    for (int fd : {out_pipe[0], out_pipe[1], in_pipe[0], in_pipe[1]}) ::close(fd);
    result.error = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  for (int fd : {out_pipe[0], in_pipe[1], err_pipe[0], err_pipe[1]}) set_cloexec_nonblock(fd, false);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    for (int fd : {out_pipe[0], out_pipe[1], in_pipe[0], in_pipe[1], err_pipe[0], err_pipe[1]}) ::close(fd);
    result.error = std::string("fork: ") + std::strerror(errno);
    return result;
  }
  if (pid == 0) {
    ::setpgid(0, 0);  // its own group, so a timeout kills everything it started
    if (!child_dies_with_parent(SIGKILL, parent)) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::dup2(in_pipe[0], STDIN_FILENO);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(out_pipe[1], STDERR_FILENO);
    ::dup2(err_pipe[1], 3);
    ::fcntl(3, F_SETFD, FD_CLOEXEC);
    child_close_fds_from(4);
    if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) {
      const int e = errno;
      ssize_t ignored = ::write(3, &e, sizeof e);
      (void)ignored;
      ::_exit(127);
    }
    ::execve(program.c_str(), args.get(), envp ? envp->get() : environ);
    const int e = errno;
    ssize_t ignored = ::write(3, &e, sizeof e);
    (void)ignored;
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent: no race with an early kill
  result.pid = pid;
  ::close(out_pipe[1]);
  ::close(in_pipe[0]);
  ::close(err_pipe[1]);
  int child_errno = 0;
  ssize_t en;
  do {
    en = ::read(err_pipe[0], &child_errno, sizeof child_errno);
  } while (en < 0 && errno == EINTR);
  ::close(err_pipe[0]);
  if (en == static_cast<ssize_t>(sizeof child_errno)) {
    ::close(out_pipe[0]);
    ::close(in_pipe[1]);
    ::waitpid(pid, nullptr, 0);
    result.error = spec.argv[0] + ": " + std::strerror(child_errno);
    result.duration = std::chrono::milliseconds(elapsed_ms(start));
    return result;
  }
  result.started = true;
  if (spec.on_started) spec.on_started(pid);

  ::fcntl(out_pipe[0], F_SETFL, ::fcntl(out_pipe[0], F_GETFL) | O_NONBLOCK);
  ::fcntl(in_pipe[1], F_SETFL, ::fcntl(in_pipe[1], F_GETFL) | O_NONBLOCK);
  size_t in_off = 0;
  int in_fd = in_pipe[1];
  if (spec.stdin_data.empty()) {
    ::close(in_fd);
    in_fd = -1;
  }
  int out_fd = out_pipe[0];
  // Output is kept bounded as it streams: the first half of max_output, and
  // a rolling window of the end. Cuts happen before anyone could redact the
  // text, so each cut drops the word it falls in (common/text.h).
  std::string head, tail;
  const size_t half = spec.max_output / 2;
  bool tail_cut = false;     // bytes between head and tail were dropped
  char after_head = ' ';     // the first byte that did not fit in head
  bool exited = false;
  int status = 0;
  int64_t exited_at = -1;
  auto reap = [&]() {
    if (exited) return;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      exited = true;
      exited_at = elapsed_ms(start);
    }
  };
  // Exited, but left unreaped so that its pid (and its group's id) cannot be
  // reused while the group is signalled.
  auto ended_unreaped = [&]() {
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
  };
  auto append = [&](const char* data, size_t len) {
    const size_t to_head = std::min(len, half - std::min(half, head.size()));
    head.append(data, to_head);
    if (len > to_head && tail.empty() && !tail_cut) after_head = data[to_head];
    tail.append(data + to_head, len - to_head);
    if (tail.size() > 2 * half + 4096) {
      tail.erase(0, tail.size() - half);
      tail_cut = true;
    }
  };
  int idle_sleep_ms = 1;  // doubles while nothing is left to read and it has not exited
  while (true) {
    reap();
    const int64_t now = elapsed_ms(start);
    // Once the command itself has ended, stop waiting for EOF after a short
    // grace: a daemon it started may hold the pipe open forever.
    if (exited && (out_fd < 0 || now - exited_at > 200)) break;
    const bool cancelled = spec.cancel != nullptr && spec.cancel->load();
    if (!exited && (now >= spec.timeout.count() || cancelled)) {
      (cancelled ? result.cancelled : result.timed_out) = true;
      ::kill(-pid, SIGTERM);
      const auto term_at = std::chrono::steady_clock::now();
      while (elapsed_ms(term_at) < (cancelled ? 200 : 1000) && !ended_unreaped()) ::usleep(10'000);
      ::kill(-pid, SIGKILL);  // the command if it is still there, and stragglers in its group
      ::waitpid(pid, &status, 0);
      exited = true;
      break;
    }
    pollfd fds[2];
    int nfds = 0;
    if (out_fd >= 0) fds[nfds++] = {out_fd, POLLIN, 0};
    if (in_fd >= 0) fds[nfds++] = {in_fd, POLLOUT, 0};
    int wait_ms = exited ? 20 : static_cast<int>(std::min<int64_t>(50, spec.timeout.count() - now));
    if (wait_ms < 1) wait_ms = 1;
    if (nfds == 0) {
      // Its output is closed but it has not been reaped yet: that is usually
      // the moment it exits, so look again soon, then less often (a command
      // that closed its output and runs on is checked every 50 ms).
      idle_sleep_ms = std::min(idle_sleep_ms * 2, wait_ms);
      ::usleep(static_cast<useconds_t>(idle_sleep_ms) * 1000);
      continue;
    }
    const int pr = ::poll(fds, static_cast<nfds_t>(nfds), wait_ms);
    if (pr < 0 && errno != EINTR) break;
    for (int i = 0; i < nfds && pr > 0; ++i) {
      if (fds[i].fd == out_fd && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
        char buf[8192];
        const ssize_t n = ::read(out_fd, buf, sizeof buf);
        if (n > 0) {
          append(buf, static_cast<size_t>(n));
        } else if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
          ::close(out_fd);
          out_fd = -1;
        }
      } else if (fds[i].fd == in_fd && (fds[i].revents & (POLLOUT | POLLERR | POLLHUP))) {
        const ssize_t n = ::write(in_fd, spec.stdin_data.data() + in_off, spec.stdin_data.size() - in_off);
        if (n > 0) in_off += static_cast<size_t>(n);
        if (n < 0 && errno != EAGAIN && errno != EINTR) in_off = spec.stdin_data.size();
        if (in_off >= spec.stdin_data.size()) {
          ::close(in_fd);
          in_fd = -1;
        }
      }
    }
  }
  if (out_fd >= 0) ::close(out_fd);
  if (in_fd >= 0) ::close(in_fd);
  if (tail.size() > half) {
    tail.erase(0, tail.size() - half);
    tail_cut = true;
  }
  result.truncated = tail_cut;
  if (!tail_cut) {
    result.output = valid_utf8(head + tail);
  } else {
    // head ends where after_head began, tail starts in the middle of the
    // stream: drop the partial word on both sides of the gap.
    std::string_view h = head;
    if (!h.empty() && !std::isspace(static_cast<unsigned char>(after_head))) h = head_words(h, h.size() - 1);
    std::string_view t = tail;
    t = tail_words(t, t.size() > 0 ? t.size() - 1 : 0);
    result.output = valid_utf8(h) + "\n[... output truncated ...]\n" + valid_utf8(t);
  }
  if (WIFEXITED(status) && !result.timed_out) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    result.term_signal = WTERMSIG(status);
    result.exit_code = -1;
  }
  result.duration = std::chrono::milliseconds(elapsed_ms(start));
  return result;
}

std::string join_argv(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    const bool plain = !a.empty() && a.find_first_of(" \t\n'\"\\$`;&|<>*?()[]{}!#~") == std::string::npos;
    if (plain) {
      out += a;
    } else {
      out += '\'';
      for (char c : a) {
        if (c == '\'') {
          out += "'\\''";
        } else {
          out += c;
        }
      }
      out += '\'';
    }
  }
  return out;
}

}  // namespace gwr
