// The hub's primitive: wait(fd, events, timeout).
#include "green_support.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <system_error>

using namespace grove;
using namespace grove::test;

TEST_CASE("wait returns when the fd becomes readable, blocking only the caller",
          "[green][fd][tsan]") {
  GreenFdPair p;
  auto reader = green::spawn([&] {
    const Events got = green::wait(p.a, Events::read);
    char c = 0;
    REQUIRE(::read(p.a, &c, 1) == 1);
    return std::make_pair(got, c);
  });
  auto ticker = green::spawn([&] {
    for (int i = 0; i < 5; ++i) green::sleep(1ms);
    return reader.dead();  // the reader still waits: its wait did not hold the hub
  });
  REQUIRE_FALSE(ticker.join(2s));
  REQUIRE(::write(p.b, "z", 1) == 1);
  auto [got, c] = reader.join(2s);
  REQUIRE(got == Events::read);
  REQUIRE(c == 'z');
}

TEST_CASE("wait for write on a writable socket returns at once", "[green][fd][tsan]") {
  GreenFdPair p;
  REQUIRE(green::wait(p.a, Events::write, 1s) == Events::write);
  REQUIRE(green::wait_writable(p.a));
}

TEST_CASE("wait for either direction reports what is ready", "[green][fd][tsan]") {
  GreenFdPair p;
  // Writable only.
  REQUIRE(green::wait(p.a, Events::read | Events::write, 1s) == Events::write);
  // Readable too: engines may report the two directions together or one at a time.
  REQUIRE(::write(p.b, "x", 1) == 1);
  const Events got = green::wait(p.a, Events::read | Events::write, 1s);
  REQUIRE(any(got));
  REQUIRE((got & ~(Events::read | Events::write)) == Events::none);
  // Waiting for read alone now sees the byte.
  REQUIRE(green::wait(p.a, Events::read, 1s) == Events::read);
}

TEST_CASE("wait times out with Events::none", "[green][fd][timeout][tsan]") {
  GreenFdPair p;
  const auto t0 = now();
  REQUIRE(green::wait(p.a, Events::read, 20ms) == Events::none);
  REQUIRE(ms_since(t0) >= 19);
  REQUIRE_FALSE(green::wait_readable(p.a, 0ms));
}

TEST_CASE("a reader and a writer may wait on one fd at the same time", "[green][fd][tsan]") {
  GreenFdPair p;
  // Fill the send buffer so the writer really waits.
  char chunk[4096] = {};
  while (::write(p.a, chunk, sizeof chunk) > 0) {
  }
  auto reader = green::spawn([&] { return green::wait(p.a, Events::read, 2s); });
  auto writer = green::spawn([&] { return green::wait(p.a, Events::write, 2s); });
  green::sleep(2ms);
  REQUIRE(::write(p.b, "r", 1) == 1);  // makes p.a readable
  REQUIRE(reader.join() == Events::read);
  while (::read(p.b, chunk, sizeof chunk) > 0) {
  }  // drains: p.a becomes writable
  REQUIRE(writer.join() == Events::write);
}

TEST_CASE("two green threads waiting to read one fd is a clear error",
          "[green][fd][errors][tsan]") {
  GreenFdPair p;
  auto first = green::spawn([&] { return green::wait(p.a, Events::read, 2s); });
  auto second = green::spawn([&]() -> std::string {
    try {
      green::wait(p.a, Events::read, 1s);
    } catch (const std::logic_error& e) {
      return e.what();
    }
    return "no error";
  });
  const std::string message = second.join();
  REQUIRE_THAT(message, Catch::Contains("both wait to read fd " + std::to_string(p.a)));
  REQUIRE_THAT(message, Catch::Contains(first.name()));
  REQUIRE(::write(p.b, "x", 1) == 1);
  REQUIRE(first.join() == Events::read);
}

TEST_CASE("a green thread waiting on an fd that another closes wakes with EBADF",
          "[green][fd][errors][tsan]") {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
  auto waiter = green::spawn([&]() -> int {
    try {
      green::wait(fds[0], Events::read);
    } catch (const std::system_error& e) {
      return e.code().value();
    }
    return 0;
  });
  auto closer = green::spawn([&] {
    green::sleep(2ms);
    REQUIRE(green::close(fds[0]) == 0);
  });
  REQUIRE(waiter.join(2s) == EBADF);
  closer.join();
  ::close(fds[1]);
}

TEST_CASE("an fd number reused after green::close can be waited on again", "[green][fd][tsan]") {
  for (int round = 0; round < 3; ++round) {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    REQUIRE(::write(fds[1], "x", 1) == 1);
    REQUIRE(green::wait(fds[0], Events::read, 1s) == Events::read);
    green::close(fds[0]);
    green::close(fds[1]);
  }
}

TEST_CASE("waiting on a regular file or a bad fd is an error", "[green][fd][errors][tsan]") {
  char path[] = "/tmp/grove-green-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  ::unlink(path);
  REQUIRE_THROWS_AS(green::wait(fd, Events::read, 10ms), std::invalid_argument);
  ::close(fd);
  REQUIRE_THROWS_AS(green::wait(-1, Events::read), std::system_error);
}
