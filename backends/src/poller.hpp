// The internal contract between the loop core and an engine.
//
// Like Go's netpoll, an engine only reports kernel readiness; the ready queue, timers,
// watcher multiplexing and signals are the core's (core_loop.cpp), which is why every
// engine behaves the same. An engine implements five operations (construction is `init`)
// plus the fork hook its library needs. Nothing else belongs here.
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
  // poll: wait up to `timeout` (negative: no limit; zero: do not block) for readiness or
  // wake(), and append what is ready to `ready`. Returning early or with nothing is fine.
  virtual void poll(Duration timeout, std::vector<ReadyEvent>& ready) = 0;
  // break: make a poll() in progress, or the next one, return at once. Thread-safe and
  // async-signal-unsafe.
  virtual void wake() = 0;
  // In a fork child: rebuild the library's kernel state (epoll set, wake-up fds).
  virtual void after_fork() = 0;

  virtual const Capabilities& capabilities() const = 0;
};

using PollerFactory = std::unique_ptr<Poller> (*)();

// One per built engine, defined in engines/<name>.cpp.
std::unique_ptr<Poller> make_asio_poller();
std::unique_ptr<Poller> make_libev_poller();
std::unique_ptr<Poller> make_libevent_poller();

// The loop core over any poller (core_loop.cpp).
std::unique_ptr<EventLoop> make_core_loop(std::unique_ptr<Poller> poller);

}  // namespace grove::detail
