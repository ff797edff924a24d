// The master of `serve --workers N`: forks the workers over the listening sockets it bound,
// replaces one that dies, stops them all gracefully, and reloads without dropping a request:
//  - SIGHUP: re-reads the configuration and the certificates, starts a new generation of
//    workers, waits until every one of them accepts, then stops the old ones gracefully;
//  - SIGUSR2: re-executes the program (a new binary at the same path) on the same listening
//    sockets, passed in GROVE_LISTEN_FDS / GROVE_TLS_LISTEN_FDS; once the new master's workers
//    all accept (it says so through GROVE_UPGRADE_READY_FD), this master stops its own.
// Internal to serve.cpp.
#pragma once

#include "server_impl.hpp"

#include <csignal>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace grove::http::detail {

// The environment of a binary upgrade (SIGUSR2).
inline constexpr const char* kListenFdsEnv = "GROVE_LISTEN_FDS";
inline constexpr const char* kTlsListenFdsEnv = "GROVE_TLS_LISTEN_FDS";
inline constexpr const char* kUpgradeReadyFdEnv = "GROVE_UPGRADE_READY_FD";

// Reads a comma-separated fd list from the environment variable `name` and unsets it
// (std::invalid_argument naming it if malformed; empty if unset).
std::vector<int> take_fds_from_env(const char* name);

class Master {
 public:
  Application app;
  ServerConfig config;  // the workers' config: listen_fds, no binds
  int workers = 1;
  // SIGHUP: re-reads the configuration and the certificates into the workers' config; false
  // (the reason logged) keeps the old workers serving with the old ones.
  std::function<bool(ServerConfig&)> reload;
  // SIGUSR2: the program to re-execute (argv[0] as given, resolved against PATH if it has
  // no slash) and its arguments.
  std::vector<std::string> exec_argv;
  // Set when this master is the new binary of an upgrade: written once its workers accept.
  int upgrade_ready_fd = -1;
  // Called before this master exits after handing its listeners to a new binary: the
  // sockets' files (unix:) are the new master's now.
  std::function<void()> disown_listeners;

  // Until every worker has stopped; the exit status for serve().
  int run();

 private:
  struct Worker {
    int index = 0;
    bool retiring = false;  // told to stop by a reload or an upgrade: not replaced
  };

  pid_t spawn(int index, int ready_fd, int ready_read_end);
  bool start_generation();
  void reload_workers();
  void begin_upgrade();
  void check_upgrade();
  void abandon_upgrade(const std::string& why);
  void release_listeners();
  void stop_all();
  void reap();
  void set_cloexec(bool on);

  std::map<pid_t, Worker> children_;
  sigset_t old_mask_{};
  bool stopping_ = false;
  int status_ = 0;
  Clock::time_point deadline_{};
  std::vector<Clock::time_point> recent_deaths_;
  pid_t upgrade_pid_ = -1;  // the new binary's master while it starts
  int upgrade_read_ = -1;   // its readiness pipe
  Clock::time_point upgrade_deadline_{};
};

}  // namespace grove::http::detail
