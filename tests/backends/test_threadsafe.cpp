// call_soon_threadsafe: wakes a blocked loop at once, loses nothing under contention.
#include "loop_support.hpp"

#include <atomic>
#include <thread>
#include <vector>

using namespace grove;
using namespace grove::test;

TEST_CASE("call_soon_threadsafe wakes a loop blocked with no timers within milliseconds",
          "[threadsafe][tsan]") {
  auto loop = make_test_loop();
  auto p = FdPair::socketpair();
  IoWatcher idle = loop->watch(p.b, Events::read, [](Events) {});  // blocks forever
  std::vector<Duration> latencies;
  for (int i = 0; i < 20; ++i) {
    TimePoint sent{};
    std::atomic<bool> go{false};
    std::thread t([&] {
      while (!go.load()) std::this_thread::yield();
      std::this_thread::sleep_for(2ms);  // let the loop block in its poller
      sent = std::chrono::time_point_cast<Duration>(Clock::now());
      loop->call_soon_threadsafe([&] {
        latencies.push_back(since(sent));
        loop->stop();
      });
    });
    go = true;
    REQUIRE_FALSE(run_bounded(*loop, 5s));
    t.join();
  }
  REQUIRE(latencies.size() == 20);
  std::sort(latencies.begin(), latencies.end());
  // The median wake-up is a context switch; a missed wake-up would take the guard's 5 s.
  REQUIRE(latencies[10] < 5ms);
  REQUIRE(latencies.back() < 100ms);
}

TEST_CASE("call_soon_threadsafe from many threads loses nothing and keeps per-thread order",
          "[threadsafe][tsan]") {
  auto loop = make_test_loop();
  constexpr int kThreads = 4, kEach = 5000;
  std::vector<std::vector<int>> seen(kThreads);
  std::atomic<int> done{0};
  loop->work_started();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i)
        loop->call_soon_threadsafe([&, t, i] { seen[std::size_t(t)].push_back(i); });
      if (++done == kThreads) loop->call_soon_threadsafe([&] { loop->work_finished(); });
    });
  REQUIRE_FALSE(run_bounded(*loop, 20s));
  for (auto& th : threads) th.join();
  for (auto& s : seen) {
    REQUIRE(s.size() == std::size_t(kEach));
    for (int i = 0; i < kEach; ++i) REQUIRE(s[std::size_t(i)] == i);
  }
}
