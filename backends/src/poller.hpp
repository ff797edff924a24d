// The internal contract between the loop core and an engine.
//
// Like Go's netpoll, an engine only reports kernel readiness; the ready queue, timers,
// watcher multiplexing, signals and the bound on a blocking wait (a timerfd the core watches
// through open() like any fd) are the core's (core_loop.cpp), which is why every engine
// behaves the same. An engine implements four operations plus the fork hook its library
// needs, and names itself. Nothing else belongs here.
#pragma once

#include <grove/loop.hpp>

#include <memory>
#include <vector>

namespace grove::detail {

struct ReadyEvent {
  int fd;
  Events events;  // read/write, or closed when the engine found the fd invalid and dropped it
};

class Poller {
 public:
  virtual ~Poller() = default;

  // open: start reporting `want` (non-empty) on fd, which had `had` (none if new).
  // Returns 0, or the errno that makes the fd unwatchable (EBADF, EPERM, ...).
  virtual int open(int fd, Events had, Events want) = 0;
  // close: stop reporting fd. The fd may already be closed; that is not an error.
  virtual void close(int fd) = 0;
  // poll: append what is ready to `ready`. With `block`, first wait (with no timeout of the
  // engine's own) until an fd is ready or wake() is called; the core bounds the wait by
  // arming its deadline timerfd, which it watches through open(). Returning early or with
  // nothing is fine.
  virtual void poll(bool block, std::vector<ReadyEvent>& ready) = 0;
  // break: make a poll() in progress, or the next one, return at once. Thread-safe and
  // async-signal-unsafe.
  virtual void wake() = 0;
  // In a fork child: rebuild the library's kernel state (epoll set, wake-up fds).
  virtual void after_fork() = 0;
  // Whether the core may leave an fd registered after interest in it dropped (a watcher
  // stopped, or the last one on a socket closed) and narrow it only when an unwanted event
  // arrives, as libev does inside. True for epoll engines, where a registration costs
  // epoll_ctl calls and a closed file leaves the epoll set by itself; false where a
  // registration holds the file open (an io_uring poll keeps its socket alive after
  // close(), so the peer would never see the close).
  virtual bool lazy_removal() const { return true; }

  // What the engine is: `engine`, `poller`, and in `emulated` only what this engine itself
  // adds; the core fills in timer_resolution and its own emulated features.
  virtual Capabilities describe() const = 0;
};

// Conversions between Events and an engine library's readiness flags (libev's and
// libevent's EV_READ/EV_WRITE have different values and cannot share a translation unit).
template <int kRead, int kWrite>
constexpr int to_native(Events e) {
  return (any(e & Events::read) ? kRead : 0) | (any(e & Events::write) ? kWrite : 0);
}
template <int kRead, int kWrite>
constexpr Events from_native(int flags) {
  return ((flags & kRead) ? Events::read : Events::none) |
         ((flags & kWrite) ? Events::write : Events::none);
}

using PollerFactory = std::unique_ptr<Poller> (*)();

// One per built engine, defined in engines/<name>.cpp.
std::unique_ptr<Poller> make_asio_poller();
std::unique_ptr<Poller> make_libev_poller();
std::unique_ptr<Poller> make_libevent_poller();
std::unique_ptr<Poller> make_io_uring_poller();

// make_loop(preferred), or, when that engine is built but unavailable here (EngineUnavailable),
// the next built engine in the build's order that runs, with a warning (registry.cpp).
std::unique_ptr<EventLoop> make_loop_or_fallback(std::string_view preferred);

// The loop core over any poller (core_loop.cpp).
std::unique_ptr<EventLoop> make_core_loop(std::unique_ptr<Poller> poller);

}  // namespace grove::detail
