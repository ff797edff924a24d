// Helpers shared by the engine conformance tests.
#pragma once

#include <grove/loop.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <utility>

namespace grove::test {

using namespace std::chrono_literals;

// The engine under test: GROVE_LOOP, set per test by CTest.
inline std::unique_ptr<EventLoop> make_test_loop() { return make_loop(); }

// An fd pair closed on scope exit (both ends non-blocking).
struct FdPair {
  int a = -1, b = -1;
  ~FdPair() {
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
  }
  static FdPair socketpair() {
    FdPair p;
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    p.a = fds[0];
    p.b = fds[1];
    return p;
  }
  static FdPair pipe() {
    FdPair p;
    int fds[2];
    REQUIRE(::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
    p.a = fds[0];  // read end
    p.b = fds[1];  // write end
    return p;
  }
};

// Runs the loop but gives up after `limit` (an unreferenced guard timer), so that a broken
// engine fails the test instead of hanging it. Returns whether the guard fired.
inline bool run_bounded(EventLoop& loop, Duration limit = 5s) {
  bool expired = false;
  Timer guard = loop.call_later(limit, [&] {
    expired = true;
    loop.stop();
  });
  guard.unref();
  loop.run();
  guard.cancel();
  return expired;
}

// Writes all of s to fd (a socket or pipe with room).
inline void put(int fd, const std::string& s) {
  REQUIRE(::write(fd, s.data(), s.size()) == ssize_t(s.size()));
}
// Reads whatever a non-blocking fd has now.
inline std::string take(int fd) {
  char buf[4096];
  std::string out;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, std::size_t(n));
  }
  return out;
}

inline Duration since(TimePoint t) {
  return std::chrono::time_point_cast<Duration>(Clock::now()) - t;
}

}  // namespace grove::test
