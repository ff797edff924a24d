// grove::redis internals shared by Connection, Subscriber and Pool: a connection's state and
// the send/receive steps over its socket. Not installed.
#pragma once

#include <grove/redis/connection.hpp>

#include <deque>
#include <vector>

namespace grove::redis {

// The socket is a plain non-blocking fd, each wait a fresh aio::wait_readable/writable on
// whatever loop runs the command: a pooled connection serves coroutine views of many
// requests, and the green bridge runs each request on a loop of its own (an aio::Socket
// stays bound to its first loop).
struct Connection::State {
  int fd = -1;
  Parser parser;
  ConnectionOptions options;
  std::string endpoint;  // redacted URL, for messages
  int protocol = 2;
  bool broken = false;
  bool busy = false;
  std::vector<char> buffer = std::vector<char>(64 * 1024);

  State(int socket_fd, ConnectionOptions o, std::string where)
      : fd(socket_fd), parser(o.limits), options(o), endpoint(std::move(where)) {}
  ~State();
  State(const State&) = delete;
  State& operator=(const State&) = delete;
};

namespace detail {

// A point to finish by; TimePoint::max() for none.
TimePoint deadline_after(Duration d);

// A connected non-blocking TCP socket to one of `host`'s addresses, within `timeout`.
// Throws ConnectionError saying where and why.
aio::Task<int> connect_tcp(std::string host, std::uint16_t port, Duration timeout,
                           std::string endpoint);

// Marks a connection busy for one operation: a second concurrent one, an empty or a broken
// connection are usage errors that say what to do.
class BusyGuard {
 public:
  explicit BusyGuard(Connection::State* s);
  ~BusyGuard();
  BusyGuard(const BusyGuard&) = delete;
  BusyGuard& operator=(const BusyGuard&) = delete;

 private:
  Connection::State* s_;
};

// Sends `wire`, then reads `replies` replies (RESP3 pushes that arrive between them are
// skipped). Any failure but a timeout before the first byte leaves the state broken.
aio::Task<std::vector<Reply>> exchange(Connection::State& s, std::string wire, std::size_t replies,
                                       TimePoint deadline);
// Sends `wire` (broken on failure).
aio::Task<void> send_all(Connection::State& s, std::string wire, TimePoint deadline);
// The next reply, pushes included. Throws Timeout at the deadline; if no byte of a reply had
// arrived by then the connection stays usable (a quiet subscriber), otherwise it is broken.
aio::Task<Reply> read_reply(Connection::State& s, TimePoint deadline);

}  // namespace detail
}  // namespace grove::redis
