// fd readiness: socketpairs and pipes, several watchers per fd, interest changes, closing.
#include "loop_support.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <string>
#include <system_error>
#include <vector>

using namespace grove;
using namespace grove::test;

TEST_CASE("read readiness on a socketpair", "[io]") {
  auto loop = make_test_loop();
  auto p = FdPair::socketpair();
  std::string got;
  IoWatcher w = loop->watch(p.b, Events::read, [&](Events e) {
    REQUIRE(e == Events::read);
    got += take(p.b);
    if (got == "hello") loop->stop();
  });
  loop->call_later(1ms, [&] { put(p.a, "hello"); });
  REQUIRE_FALSE(run_bounded(*loop));
  REQUIRE(got == "hello");
}

TEST_CASE("readiness on a pipe and write readiness", "[io]") {
  auto loop = make_test_loop();
  auto p = FdPair::pipe();
  bool writable = false;
  std::string got;
  IoWatcher wr = loop->watch(p.b, Events::write, [&](Events e) {
    REQUIRE(e == Events::write);
    writable = true;
    put(p.b, "x");
    wr.stop();
  });
  IoWatcher rd = loop->watch(p.a, Events::read, [&](Events) {
    got += take(p.a);
    loop->stop();
  });
  REQUIRE_FALSE(run_bounded(*loop));
  REQUIRE(writable);
  REQUIRE(got == "x");
}

TEST_CASE("readiness is level-triggered: unread data is reported again", "[io]") {
  auto loop = make_test_loop();
  auto p = FdPair::socketpair();
  put(p.a, "abcdef");
  std::string got;
  IoWatcher w = loop->watch(p.b, Events::read, [&](Events) {
    char c;
    REQUIRE(::read(p.b, &c, 1) == 1);  // one byte per event
    got += c;
    if (got.size() == 6) loop->stop();
  });
  REQUIRE_FALSE(run_bounded(*loop));
  REQUIRE(got == "abcdef");
}

TEST_CASE("several watchers on one fd each get their events", "[io][multiplex]") {
  auto loop = make_test_loop();
  auto p = FdPair::socketpair();
  int readers = 0, writers = 0, both = 0;
  IoWatcher r1 = loop->watch(p.b, Events::read, [&](Events e) {
    REQUIRE(e == Events::read);
    ++readers;
  });
  IoWatcher r2 = loop->watch(p.b, Events::read, [&](Events e) {
    REQUIRE(e == Events::read);
    ++readers;
    take(p.b);
  });
  IoWatcher w1 = loop->watch(p.b, Events::write, [&](Events e) {
    REQUIRE(e == Events::write);
    ++writers;
    w1.stop();
  });
  IoWatcher rw = loop->watch(p.b, Events::read | Events::write, [&](Events e) {
    ++both;
    if (any(e & Events::read)) rw.stop();
  });
  put(p.a, "ping");
  loop->call_later(20ms, [&] { loop->stop(); });
  REQUIRE_FALSE(run_bounded(*loop));
  REQUIRE(readers == 2);
  REQUIRE(writers == 1);
  REQUIRE(both >= 1);
}

TEST_CASE("stopping one watcher leaves the others on the fd running", "[io][multiplex]") {
  auto loop = make_test_loop();
  auto p = FdPair::socketpair();
  int a = 0, b = 0;
  IoWatcher wa = loop->watch(p.b, Events::read, [&](Events) { ++a; });
  IoWatcher wb = loop->watch(p.b, Events::read, [&](Events) {
    ++b;
    take(p.b);
    if (b == 2) loop->stop();
  });
  wa.stop();
  REQUIRE_FALSE(wa.active());
  put(p.a, "1");
  loop->call_later(5ms, [&] { put(p.a, "2"); });
  REQUIRE_FALSE(run_bounded(*loop));
  REQUIRE(a == 0);
  REQUIRE(b == 2);
  wa.start();
  REQUIRE(wa.active());
}

TEST_CASE("set_events switches what a watcher waits for", "[io]") {
  auto loop = make_test_loop();
  auto p = FdPair::socketpair();
  std::vector<Events> seen;
  IoWatcher w;
  w = loop->watch(p.b, Events::write, [&](Events e) {
    seen.push_back(e);
    if (e == Events::write) {
      w.set_events(Events::read);
      put(p.a, "now readable");
    } else {
      take(p.b);
      loop->stop();
    }
  });
  REQUIRE_FALSE(run_bounded(*loop));
  REQUIRE(seen == std::vector<Events>{Events::write, Events::read});
  REQUIRE(w.events() == Events::read);
}

TEST_CASE("a watcher can close itself and others from its callback", "[io][multiplex]") {
  auto loop = make_test_loop();
  auto p = FdPair::socketpair();
  int first = 0, second = 0;
  IoWatcher w2;
  IoWatcher w1 = loop->watch(p.b, Events::read, [&](Events) {
    ++first;
    w1.close();
    w2.close();
    loop->call_later(5ms, [&] { loop->stop(); });
  });
  w2 = loop->watch(p.b, Events::read, [&](Events) { ++second; });
  put(p.a, "x");
  REQUIRE_FALSE(run_bounded(*loop));
  REQUIRE(first == 1);
  REQUIRE(second == 0);
  REQUIRE_FALSE(w1);
}

TEST_CASE("close_fd wakes every watcher on the fd with Events::closed", "[io][close]") {
  auto loop = make_test_loop();
  auto p = FdPair::socketpair();
  std::vector<Events> a, b;
  IoWatcher wa = loop->watch(p.b, Events::read, [&](Events e) { a.push_back(e); });
  IoWatcher wb = loop->watch(p.b, Events::write, [&](Events e) { b.push_back(e); });
  IoWatcher wc = loop->watch(p.b, Events::read, [&](Events e) { b.push_back(e); });
  wc.stop();              // a stopped watcher is not waiting, so it is not woken
  loop->run_once(false);  // registers the others
  int fd = p.b;
  p.b = -1;
  loop->close_fd(fd);
  REQUIRE_FALSE(wa.active());
  REQUIRE(::fcntl(fd, F_GETFD) == -1);  // really closed
  REQUIRE_FALSE(run_bounded(*loop));
  REQUIRE(a == std::vector<Events>{Events::closed});
  REQUIRE(std::count(b.begin(), b.end(), Events::closed) == 1);  // wb's, not wc's
  REQUIRE_FALSE(wb.active());
}

TEST_CASE("a raw close of a watched fd followed by reuse of its number works", "[io][close]") {
  auto loop = make_test_loop();
  auto p = FdPair::socketpair();
  {
    IoWatcher w = loop->watch(p.b, Events::read, [&](Events) {});
    loop->run_once(false);
    ::close(p.b);  // behind the loop's back
    w.close();     // then the watcher goes; this must not fail
  }
  // A new socket most likely gets the same number; watching it must work from scratch.
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
  p.b = fds[0];
  int other = fds[1];
  std::string got;
  IoWatcher w = loop->watch(p.b, Events::read, [&](Events) {
    got = take(p.b);
    loop->stop();
  });
  put(other, "again");
  REQUIRE_FALSE(run_bounded(*loop));
  REQUIRE(got == "again");
  ::close(other);
}

TEST_CASE("watching an invalid fd is a clear error", "[io][errors]") {
  auto loop = make_test_loop();
  REQUIRE_THROWS_AS(loop->watch(-1, Events::read, [](Events) {}), std::system_error);
  REQUIRE_THROWS_WITH(loop->watch(987654, Events::read, [](Events) {}),
                      Catch::Contains("not an open file descriptor"));
  char path[] = "/tmp/grove-test-XXXXXX";
  int file = ::mkstemp(path);
  REQUIRE(file >= 0);
  ::unlink(path);
  REQUIRE_THROWS_WITH(loop->watch(file, Events::read, [](Events) {}),
                      Catch::Contains("regular files"));
  ::close(file);
}

TEST_CASE("an unreferenced watcher does not keep run() alive", "[io][refs]") {
  auto loop = make_test_loop();
  auto p = FdPair::socketpair();
  IoWatcher w = loop->watch(p.b, Events::read, [](Events) {});
  REQUIRE(loop->alive());
  w.unref();
  REQUIRE_FALSE(loop->alive());
  auto start = std::chrono::time_point_cast<Duration>(Clock::now());
  loop->run();
  REQUIRE(since(start) < 1s);
  w.ref();
  REQUIRE(loop->alive());
  w.close();
  REQUIRE_FALSE(loop->alive());
}

TEST_CASE("an exception from a watcher callback reaches the handler", "[io][errors]") {
  auto loop = make_test_loop();
  auto p = FdPair::socketpair();
  std::string context;
  loop->set_exception_handler([&](std::exception_ptr, std::string_view c) {
    context = std::string(c);
    loop->stop();
  });
  IoWatcher w = loop->watch(p.b, Events::read, [&](Events) {
    take(p.b);
    throw std::runtime_error("bad read");
  });
  put(p.a, "x");
  REQUIRE_FALSE(run_bounded(*loop));
  REQUIRE(context == "fd watcher callback");
}

TEST_CASE("socketpair ping-pong keeps going for many round trips", "[io]") {
  auto loop = make_test_loop();
  auto p = FdPair::socketpair();
  int rounds = 0;
  IoWatcher wa = loop->watch(p.a, Events::read, [&](Events) {
    take(p.a);
    if (++rounds == 2000) {
      loop->stop();
      return;
    }
    put(p.a, "p");
  });
  IoWatcher wb = loop->watch(p.b, Events::read, [&](Events) {
    take(p.b);
    put(p.b, "q");
  });
  put(p.a, "p");
  REQUIRE_FALSE(run_bounded(*loop, 10s));
  REQUIRE(rounds == 2000);
}
