// The master of `serve --workers N` (master.hpp): workers, replacement, graceful stop, reload
// (SIGHUP) and binary upgrade (SIGUSR2).
#include "master.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace grove::http::detail {

namespace {

// How long new workers (a reload) or a new binary (an upgrade) have to start accepting.
constexpr auto kReadyTimeout = std::chrono::seconds(30);

std::string join_fds(const std::vector<int>& fds) {
  std::string out;
  for (int fd : fds) out += (out.empty() ? "" : ",") + std::to_string(fd);
  return out;
}

std::string describe_status(int status) {
  return WIFSIGNALED(status)
             ? std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
                   ::strsignal(WTERMSIG(status)) + ")"
             : "exited with status " + std::to_string(WEXITSTATUS(status));
}

}  // namespace

std::vector<int> take_fds_from_env(const char* name) {
  const char* value = std::getenv(name);
  if (!value) return {};
  std::string text = value;
  ::unsetenv(name);  // the workers and any later upgrade must not see it
  std::vector<int> fds;
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    int fd = -1;
    auto [next, ec] = std::from_chars(p, end, fd);
    if (ec != std::errc() || fd < 0 || ::fcntl(fd, F_GETFD) < 0 || (next != end && *next != ','))
      throw std::invalid_argument(
          std::string(name) + "='" + text +
          "': expected open file descriptors separated by commas (set by the "
          "master of a binary upgrade, SIGUSR2)");
    fds.push_back(fd);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    p = next == end ? end : next + 1;
  }
  return fds;
}

pid_t Master::spawn(int index, int ready_fd, int ready_read_end) {
  pid_t pid = ::fork();
  if (pid < 0) {
    Log::write(LogLevel::error, std::string("fork failed: ") + std::strerror(errno));
    return -1;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive the master
    if (ready_read_end >= 0) ::close(ready_read_end);
    // A signal passed on before the worker's server watches it stays pending (blocked)
    // instead of killing the worker; serve_forever() unblocks it once it watches it.
    sigset_t mask = old_mask_;
    if (config.tls) sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGUSR1);
    ::sigprocmask(SIG_SETMASK, &mask, nullptr);
    int rc = 0;
    try {
      ServerConfig own = config;
      own.worker_index = index;  // its metrics listener and labels
      Server server(app, own);
      server.start();
      if (ready_fd >= 0) {
        char ready = 1;
        (void)!::write(ready_fd, &ready, 1);
        ::close(ready_fd);
      }
      Log::write(LogLevel::debug, "worker " + std::to_string(index) + " started");
      server.serve_forever();
    } catch (...) {
      Log::write(LogLevel::error,
                 "worker " + std::to_string(index) + " failed: " + describe_current_exception());
      rc = 1;
    }
    Log::flush();
    std::fflush(nullptr);
    ::_exit(rc);
  }
  children_[pid] = Worker{index, false};
  return pid;
}

// Starts `workers` new workers and waits until each has its listeners and accept loops
// (connections the kernel completes meanwhile wait in the shared backlog). False if one
// died or they were not all ready in time; the caller decides what goes.
bool Master::start_generation() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    Log::write(LogLevel::error, std::string("pipe failed: ") + std::strerror(errno));
    return false;
  }
  std::size_t started = 0;
  for (int i = 0; i < workers; ++i) started += spawn(i, p[1], p[0]) > 0;
  ::close(p[1]);
  std::size_t ready = 0;
  const auto until = Clock::now() + kReadyTimeout;
  while (ready < started && Clock::now() < until) {
    pollfd pfd{p[0], POLLIN, 0};
    if (::poll(&pfd, 1, 200) <= 0) continue;
    char buf[64];
    ssize_t n = ::read(p[0], buf, sizeof buf);
    if (n > 0) ready += std::size_t(n);
    else if (n == 0 || errno != EINTR) break;  // every new worker wrote or died
  }
  ::close(p[0]);
  return started == std::size_t(workers) && ready == started;
}

// SIGHUP: the configuration and certificates again, then a new generation; the old one is
// stopped gracefully only once the new one accepts.
void Master::reload_workers() {
  Log::write(LogLevel::info, "received SIGHUP: reloading (configuration, certificates, " +
                                 std::to_string(workers) + " new worker(s))");
  if (reload && !reload(config)) {
    Log::write(LogLevel::error, "reload abandoned: the workers serve on as they were");
    return;
  }
  std::vector<pid_t> old;
  for (auto& [pid, w] : children_)
    if (!w.retiring) old.push_back(pid);
  const bool ok = start_generation();
  std::vector<pid_t> going;
  for (auto& [pid, w] : children_) {
    const bool is_old = std::find(old.begin(), old.end(), pid) != old.end();
    if (!w.retiring && is_old == ok) {
      w.retiring = true;
      going.push_back(pid);
    }
  }
  for (pid_t pid : going) ::kill(pid, SIGTERM);
  if (ok)
    Log::write(LogLevel::info, "reload: " + std::to_string(workers) +
                                   " new worker(s) accept; stopping " +
                                   std::to_string(going.size()) + " old one(s) gracefully");
  else
    Log::write(LogLevel::error,
               "reload failed: the new workers did not all start accepting (see above); "
               "they are stopped and the old ones serve on");
}

void Master::set_cloexec(bool on) {
  for (const auto* fds : {&config.listen_fds, &config.tls_listen_fds})
    for (int fd : *fds) ::fcntl(fd, F_SETFD, on ? FD_CLOEXEC : 0);
}

// SIGUSR2: the program again, on the same listening sockets.
void Master::begin_upgrade() {
  if (exec_argv.empty()) return;
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    Log::write(LogLevel::error,
               std::string("binary upgrade: pipe failed: ") + std::strerror(errno));
    return;
  }
  set_cloexec(false);
  pid_t pid = ::fork();
  if (pid == 0) {
    // The new master: no blocked signals, no death signal, the sockets and the pipe kept.
    ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
    ::close(p[0]);
    ::fcntl(p[1], F_SETFD, 0);
    ::setenv(kListenFdsEnv, join_fds(config.listen_fds).c_str(), 1);
    ::setenv(kTlsListenFdsEnv, join_fds(config.tls_listen_fds).c_str(), 1);
    ::setenv(kUpgradeReadyFdEnv, std::to_string(p[1]).c_str(), 1);
    std::vector<char*> args;
    for (auto& a : exec_argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "binary upgrade: cannot execute %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  set_cloexec(true);
  ::close(p[1]);
  if (pid < 0) {
    ::close(p[0]);
    Log::write(LogLevel::error,
               std::string("binary upgrade: fork failed: ") + std::strerror(errno));
    return;
  }
  upgrade_pid_ = pid;
  upgrade_read_ = p[0];
  upgrade_deadline_ = Clock::now() + kReadyTimeout;
  Log::write(LogLevel::info, "received SIGUSR2: binary upgrade: started " + exec_argv[0] +
                                 " (pid " + std::to_string(pid) +
                                 ") on the same listening sockets");
}

void Master::abandon_upgrade(const std::string& why) {
  ::close(upgrade_read_);
  upgrade_read_ = -1;
  upgrade_pid_ = -1;
  Log::write(LogLevel::error, "binary upgrade abandoned: " + why + "; this master serves on");
}

void Master::check_upgrade() {
  pollfd pfd{upgrade_read_, POLLIN, 0};
  if (::poll(&pfd, 1, 0) > 0) {
    char b = 0;
    ssize_t n = ::read(upgrade_read_, &b, 1);
    if (n == 1) {
      Log::write(LogLevel::info, "binary upgrade: the new master (pid " +
                                     std::to_string(upgrade_pid_) +
                                     ") and its workers accept; stopping this master's " +
                                     std::to_string(children_.size()) + " worker(s) gracefully");
      ::close(upgrade_read_);
      upgrade_read_ = -1;
      upgrade_pid_ = -1;
      stopping_ = true;
      deadline_ = Clock::now() + config.graceful_timeout + 5s;
      stop_all();
      if (disown_listeners) disown_listeners();
      return;
    }
    if (n == 0) {
      ::kill(upgrade_pid_, SIGTERM);
      abandon_upgrade("the new binary stopped before its workers accepted");
      return;
    }
  }
  if (Clock::now() > upgrade_deadline_) {
    ::kill(upgrade_pid_, SIGTERM);
    abandon_upgrade("the new binary's workers did not accept within 30 s");
  }
}

// At the stop the master lets go of the listening sockets (their fd numbers stay valid, on
// /dev/null, for ~Server), so that each socket closes when the last worker closes its copy,
// right after taking the connections the kernel had already completed. Held until the
// master exits, a socket would go on completing connections that no process accepts any
// more, and the kernel would reset them all at the master's exit.
void Master::release_listeners() {
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) return;
  std::size_t released = 0;
  for (const auto* fds : {&config.listen_fds, &config.tls_listen_fds})
    for (int fd : *fds) released += ::dup2(null_fd, fd) == fd;
  ::close(null_fd);
  Log::write(LogLevel::debug,
             "master: let go of the listening sockets (" + std::to_string(released) + ")");
}

// At a stop, the listening sockets go first: once signalled, a worker may drain the accept
// queue and close its copy before this process runs again, and a copy still held here
// would then be the last, completing connections that nobody accepts and resetting them at
// exit.
void Master::stop_all() {
  release_listeners();
  for (auto& [pid, w] : children_) {
    ::kill(pid, SIGTERM);
    Log::write(LogLevel::debug, "master: sent SIGTERM to worker " + std::to_string(w.index) +
                                    " (pid " + std::to_string(pid) + ")");
  }
}

void Master::reap() {
  while (true) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    if (pid == upgrade_pid_) {
      abandon_upgrade("the new binary " + describe_status(status));
      continue;
    }
    auto it = children_.find(pid);
    if (it == children_.end()) continue;
    const Worker w = it->second;
    children_.erase(it);
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    // A worker still starting when the stop came dies of the signal itself: that is a
    // clean stop too.
    if ((stopping_ || w.retiring) && WIFSIGNALED(status) &&
        (WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGINT))
      clean = true;
    if (w.retiring) {
      Log::write(clean ? LogLevel::debug : LogLevel::warning,
                 "old worker " + std::to_string(w.index) + " (pid " + std::to_string(pid) + ") " +
                     describe_status(status));
      continue;
    }
    if (stopping_) {
      if (!clean) status_ = 1;
      continue;
    }
    const std::string how = describe_status(status);
    auto now = Clock::now();
    std::erase_if(recent_deaths_, [&](auto t) { return now - t > 10s; });
    recent_deaths_.push_back(now);
    if (recent_deaths_.size() > std::size_t(5 * workers)) {
      Log::write(LogLevel::error, "worker " + std::to_string(w.index) + " " + how +
                                      "; workers keep dying, giving up");
      stopping_ = true;
      status_ = 1;
      deadline_ = now + config.graceful_timeout + 5s;
      stop_all();
      continue;
    }
    Log::write(LogLevel::warning, "worker " + std::to_string(w.index) + " (pid " +
                                      std::to_string(pid) + ") " + how + "; starting a new one");
    spawn(w.index, -1, -1);
  }
}

int Master::run() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGCHLD, SIGHUP, SIGUSR1, SIGUSR2}) sigaddset(&set, sig);
  ::sigprocmask(SIG_BLOCK, &set, &old_mask_);
  if (upgrade_ready_fd >= 0) {
    // The new binary of an upgrade: the old master stops its workers once these accept.
    if (start_generation()) {
      char ready = 1;
      (void)!::write(upgrade_ready_fd, &ready, 1);
    } else {
      Log::write(LogLevel::error,
                 "binary upgrade: the workers did not all start accepting; stopping");
      stopping_ = true;
      status_ = 1;
      deadline_ = Clock::now() + config.graceful_timeout + 5s;
      stop_all();
    }
    ::close(upgrade_ready_fd);
    upgrade_ready_fd = -1;
  } else {
    for (int i = 0; i < workers; ++i) spawn(i, -1, -1);
  }

  while (!children_.empty()) {
    timespec tick{0, 200 * 1000 * 1000};
    siginfo_t info;
    int sig = ::sigtimedwait(&set, &info, &tick);
    if (sig == SIGHUP && !stopping_ && upgrade_pid_ < 0) reload_workers();
    if (sig == SIGUSR2 && !stopping_ && upgrade_pid_ < 0) begin_upgrade();
    if (sig == SIGUSR1)  // the green-thread dump: the workers have the hubs
      for (auto& [pid, w] : children_) ::kill(pid, SIGUSR1);
    if (sig == SIGTERM || sig == SIGINT) {
      if (!stopping_) {
        Log::write(LogLevel::info, std::string("received ") +
                                       (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ": stopping " +
                                       std::to_string(children_.size()) + " worker(s) gracefully");
        stopping_ = true;
        deadline_ = Clock::now() + config.graceful_timeout + 5s;
        if (upgrade_pid_ >= 0) {
          ::kill(upgrade_pid_, SIGTERM);
          abandon_upgrade("this master was told to stop");
        }
        stop_all();
      } else {
        for (auto& [pid, w] : children_) ::kill(pid, SIGINT);  // their second signal: now
      }
    }
    reap();
    if (upgrade_pid_ >= 0) check_upgrade();
    if (stopping_ && !children_.empty() && Clock::now() > deadline_) {
      Log::write(LogLevel::warning, "workers did not stop in time; killing them");
      for (auto& [pid, w] : children_) ::kill(pid, SIGKILL);
      deadline_ = Clock::now() + 24h;
    }
  }
  ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
  return status_;
}

}  // namespace grove::http::detail
