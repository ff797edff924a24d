// A fork child that calls reinit_after_fork() keeps using its loop; the parent's loop is
// unaffected.
#include "loop_support.hpp"

#include <sys/wait.h>

#include <csignal>
#include <thread>

using namespace grove;
using namespace grove::test;

namespace {
// The child's verdict travels as its exit status: 0 ok, anything else names the failure.
int child_uses_loop(EventLoop& loop, int peer) {
  loop.reinit_after_fork();
  bool message = false, timer = false, woke = false, signal = false;
  auto maybe_done = [&] {
    if (message && timer && woke && signal) loop.stop();
  };
  std::string got;
  IoWatcher w = loop.watch(peer, Events::read, [&](Events) {
    char buf[64];
    ssize_t n = ::read(peer, buf, sizeof buf);
    if (n > 0) got.append(buf, std::size_t(n));
    if (got == "to child") {
      message = true;
      maybe_done();
    }
  });
  loop.call_later(1ms, [&] {
    timer = true;
    ::kill(::getpid(), SIGUSR1);
    maybe_done();
  });
  SignalWatcher sig = loop.watch_signal(SIGUSR1, [&](int) {
    signal = true;
    maybe_done();
  });
  std::thread([&] {
    loop.call_soon_threadsafe([&] {
      woke = true;
      maybe_done();
    });
  }).join();
  if (run_bounded(loop, 5s)) return 10 + message + 2 * timer + 4 * woke + 8 * signal;
  (void)!::write(peer, "to parent", 9);
  return 0;
}
}  // namespace

TEST_CASE("a fork child reinitialises its loop and keeps using it", "[fork][tsan]") {
  auto loop = make_test_loop();
  auto p = FdPair::socketpair();
  // Register something before the fork so the engine has kernel state to rebuild.
  IoWatcher before = loop->watch(p.a, Events::read, [](Events) {});
  SignalWatcher sig = loop->watch_signal(SIGUSR2, [](int) {});
  loop->run_once(false);
  before.close();

  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int status = child_uses_loop(*loop, p.b);
    std::_Exit(status);
  }
  // The parent talks to the child over the pair, on its own loop.
  std::string got;
  IoWatcher w = loop->watch(p.a, Events::read, [&](Events) {
    char buf[64];
    ssize_t n = ::read(p.a, buf, sizeof buf);
    if (n > 0) got.append(buf, std::size_t(n));
    if (got == "to parent") loop->stop();
  });
  (void)!::write(p.a, "to child", 8);
  REQUIRE_FALSE(run_bounded(*loop, 5s));
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  REQUIRE(got == "to parent");
}
