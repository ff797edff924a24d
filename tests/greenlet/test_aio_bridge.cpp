// The green engine runs grove::aio coroutines and green threads in one hub: a green thread
// waits for a coroutine blocking only itself, a coroutine awaits a green thread, and the
// running loop is per green thread.
#include "green_support.hpp"

#include <grove/aio.hpp>
#include <grove/green/aio.hpp>

#include <set>
#include <stdexcept>

using namespace grove;
using namespace grove::test;

namespace {

struct Registered {
  Registered() { green::register_green_engine(); }
} registered;

aio::Task<int> sleepy_value(Duration d, int v) {
  co_await aio::sleep(d);
  co_return v;
}

// Returns v once *ticks reaches n, which only another green thread can make happen: the
// caller proves that one ran while it waited. -1 if that takes 10 s.
aio::Task<int> value_after_ticks(const int* ticks, int n, int v) {
  const auto until = Clock::now() + 10s;
  while (*ticks < n) {
    if (Clock::now() > until) co_return -1;
    co_await aio::sleep(1ms);
  }
  co_return v;
}

aio::Task<int> sleepy_failure(Duration d) {
  co_await aio::sleep(d);
  throw std::invalid_argument("from a coroutine");
}

// Records the loop it runs on before and after a suspension, and when it slept.
aio::Task<bool> same_loop_across_suspension(EventLoop** seen, TimePoint* began, TimePoint* ended) {
  EventLoop* before = &aio::get_running_loop();
  *began = now();
  co_await aio::sleep(20ms);
  *ended = now();
  EventLoop* after = &aio::get_running_loop();
  *seen = after;
  co_return before == after;
}

aio::Task<int> await_green_thread() {
  auto g = green::spawn([] {
    green::sleep(5ms);  // a blocking-style wait, on the green thread's own stack
    return 21;
  });
  const int v = co_await g;
  co_return v * 2;
}

aio::Task<std::string> await_failing_green_thread() {
  auto g = green::spawn([]() -> int { throw std::out_of_range("from a green thread"); });
  try {
    co_await g;
  } catch (const std::out_of_range& e) {
    co_return e.what();
  }
  co_return "no exception";
}

aio::Task<void> cancellable(bool* cancelled) {
  try {
    co_await aio::sleep(10s);
  } catch (const aio::CancelledError&) {
    *cancelled = true;
    throw;
  }
}

aio::Task<std::string> blocking_call_inside_coroutine() {
  try {
    green::sleep(1ms);
  } catch (const std::logic_error& e) {
    co_return e.what();
  }
  co_return "no error";
}

}  // namespace

TEST_CASE("aio::run on the green engine runs coroutines beside green threads",
          "[green][aio][tsan]") {
  int ticks = 0;
  bool stop = false;
  auto ticker = green::spawn([&] {
    while (!stop) {
      ++ticks;
      green::sleep(1ms);
    }
  });
  // The ticker runs while the main context runs the coroutine.
  REQUIRE(aio::run(value_after_ticks(&ticks, 3, 7), "green") == 7);
  stop = true;
  ticker.join();
}

TEST_CASE("a green thread waits for a coroutine's result, blocking only itself",
          "[green][aio][tsan]") {
  int ticks = 0;
  auto waiter = green::spawn([&] { return green::wait(value_after_ticks(&ticks, 3, 5)); });
  auto ticker = green::spawn([&] {
    while (!waiter.dead()) {
      ++ticks;
      green::sleep(1ms);
    }
  });
  REQUIRE(waiter.join() == 5);  // the ticker ran while the waiter waited
  ticker.join();
}

TEST_CASE("a coroutine's exception reaches the waiting green thread with its type",
          "[green][aio][tsan]") {
  auto g = green::spawn([] { return green::wait(sleepy_failure(1ms)); });
  REQUIRE_THROWS_AS(g.join(), std::invalid_argument);
}

TEST_CASE("green::wait on a task handle, with a timeout", "[green][aio][tsan]") {
  auto g = green::spawn([] {
    auto task = aio::create_task(green::green_loop(), sleepy_value(50ms, 3));
    bool timed_out = false;
    try {
      green::wait(task, 5ms);
    } catch (const green::Timeout&) {
      timed_out = true;
    }
    return std::make_pair(timed_out, green::wait(task));  // the task went on
  });
  auto [timed_out, value] = g.join();
  REQUIRE(timed_out);
  REQUIRE(value == 3);
}

TEST_CASE("a coroutine awaits a green thread and gets its value or its exception",
          "[green][aio][tsan]") {
  REQUIRE(aio::run(await_green_thread(), "green") == 42);
  REQUIRE(aio::run(await_failing_green_thread(), "green") == "from a green thread");
}

TEST_CASE("green threads running aio::run concurrently each see only their own loop",
          "[green][aio][context][tsan]") {
  constexpr int kThreads = 10;
  std::vector<green::Handle<std::pair<bool, EventLoop*>>> gs;
  std::vector<bool> sibling_saw_loop;
  std::vector<TimePoint> began(kThreads), ended(kThreads);
  for (int i = 0; i < kThreads; ++i)
    gs.push_back(green::spawn([&, i] {
      EventLoop* seen = nullptr;
      const bool same = aio::run(
          same_loop_across_suspension(&seen, &began[std::size_t(i)], &ended[std::size_t(i)]),
          "green");
      return std::make_pair(same, seen);
    }));
  auto sibling = green::spawn([&] {
    for (int i = 0; i < 10; ++i) {
      sibling_saw_loop.push_back(aio::is_loop_running());
      green::sleep(1ms);
    }
  });
  std::set<EventLoop*> loops;
  for (auto& g : gs) {
    auto [same, seen] = g.join();
    REQUIRE(same);
    loops.insert(seen);
  }
  sibling.join();
  REQUIRE(loops.size() == kThreads);  // one loop per green thread's run()
  // They ran concurrently: every coroutine had started sleeping before the first woke.
  REQUIRE(*std::max_element(began.begin(), began.end()) <
          *std::min_element(ended.begin(), ended.end()));
  for (bool saw : sibling_saw_loop) REQUIRE_FALSE(saw);
  REQUIRE_FALSE(aio::is_loop_running());
}

TEST_CASE("killing a green thread that waits for a coroutine cancels the coroutine",
          "[green][aio][tsan]") {
  bool cancelled = false;
  auto g = green::spawn([&] { green::wait(cancellable(&cancelled)); });
  green::sleep(2ms);
  g.kill();
  REQUIRE(g.successful());
  const auto t0 = now();
  while (!cancelled && ms_since(t0) < 2000) green::sleep(1ms);
  REQUIRE(cancelled);
}

TEST_CASE("a blocking green call inside a coroutine is a clear error", "[green][aio][tsan]") {
  REQUIRE_THAT(aio::run(blocking_call_inside_coroutine(), "green"),
               Catch::Contains("inside the hub"));
}
