// Signals: delivered on the loop's thread, several watchers, stop/close, disposition restored.
#include "loop_support.hpp"

#include <csignal>

using namespace grove;
using namespace grove::test;

TEST_CASE("a signal reaches its watchers on the loop's thread", "[signals]") {
  auto loop = make_test_loop();
  int a = 0, b = 0;
  SignalWatcher wa = loop->watch_signal(SIGUSR1, [&](int signum) {
    REQUIRE(signum == SIGUSR1);
    ++a;
  });
  SignalWatcher wb = loop->watch_signal(SIGUSR1, [&](int) {
    ++b;
    loop->stop();
  });
  loop->call_later(1ms, [] { ::raise(SIGUSR1); });
  REQUIRE_FALSE(run_bounded(*loop));
  REQUIRE(a == 1);
  REQUIRE(b == 1);
}

TEST_CASE("a stopped signal watcher is not called while others are", "[signals]") {
  auto loop = make_test_loop();
  int usr1 = 0, usr2 = 0;
  SignalWatcher w1 = loop->watch_signal(SIGUSR1, [&](int) { ++usr1; });
  SignalWatcher keep = loop->watch_signal(SIGUSR1, [&](int) {});
  SignalWatcher w2 = loop->watch_signal(SIGUSR2, [&](int) {
    ++usr2;
    loop->stop();
  });
  w1.stop();
  loop->call_later(1ms, [] {
    ::raise(SIGUSR1);
    ::raise(SIGUSR2);
  });
  REQUIRE_FALSE(run_bounded(*loop));
  REQUIRE(usr1 == 0);
  REQUIRE(usr2 == 1);
}

TEST_CASE("closing the last watcher restores the previous disposition", "[signals]") {
  static volatile std::sig_atomic_t previous_ran = 0;
  struct sigaction sa {
  }, old{};
  sa.sa_handler = [](int) { previous_ran = 1; };
  ::sigaction(SIGUSR2, &sa, &old);
  {
    auto loop = make_test_loop();
    SignalWatcher w = loop->watch_signal(SIGUSR2, [](int) {});
    w.close();
  }
  ::raise(SIGUSR2);
  REQUIRE(previous_ran == 1);
  ::sigaction(SIGUSR2, &old, nullptr);
}

TEST_CASE("watching SIGKILL or a bad number is a clear error", "[signals][errors]") {
  auto loop = make_test_loop();
  REQUIRE_THROWS_WITH(loop->watch_signal(SIGKILL, [](int) {}), Catch::Contains("cannot be caught"));
  REQUIRE_THROWS_AS(loop->watch_signal(0, [](int) {}), std::invalid_argument);
}

TEST_CASE("an unreferenced signal watcher does not keep run() alive", "[signals][refs]") {
  auto loop = make_test_loop();
  SignalWatcher w = loop->watch_signal(SIGUSR1, [](int) {});
  REQUIRE(loop->alive());
  w.unref();
  REQUIRE_FALSE(loop->alive());
  loop->run();  // returns at once
}
