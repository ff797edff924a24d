// run / run_once / stop, the per-thread current loop, and capability queries.
#include "loop_support.hpp"

#include <thread>

using namespace grove;
using namespace grove::test;

TEST_CASE("run returns when no referenced work is left", "[run]") {
  auto loop = make_test_loop();
  int n = 0;
  loop->call_later(2ms, [&] { ++n; });
  loop->call_soon([&] { ++n; });
  auto start = std::chrono::time_point_cast<Duration>(Clock::now());
  loop->run();
  REQUIRE(n == 2);
  REQUIRE(since(start) < 1s);
  REQUIRE_FALSE(loop->alive());
  loop->run();  // nothing to do: returns at once
}

TEST_CASE("stop() from inside a callback ends run() after the iteration", "[run]") {
  auto loop = make_test_loop();
  auto p = FdPair::socketpair();
  IoWatcher w = loop->watch(p.b, Events::read, [](Events) {});  // keeps the loop alive
  bool later_in_batch = false, next_iteration = false;
  loop->call_soon([&] {
    loop->stop();
    loop->call_soon([&] { next_iteration = true; });
  });
  loop->call_soon([&] { later_in_batch = true; });
  REQUIRE_FALSE(run_bounded(*loop));
  REQUIRE(later_in_batch);
  REQUIRE_FALSE(next_iteration);
  REQUIRE(loop->alive());
  // run() again picks up where it stopped
  loop->call_soon([&] { loop->stop(); });
  REQUIRE_FALSE(run_bounded(*loop));
  REQUIRE(next_iteration);
}

TEST_CASE("run_once without blocking returns at once", "[run]") {
  auto loop = make_test_loop();
  auto p = FdPair::socketpair();
  IoWatcher w = loop->watch(p.b, Events::read, [](Events) {});
  auto start = std::chrono::time_point_cast<Duration>(Clock::now());
  REQUIRE(loop->run_once(false));
  REQUIRE(since(start) < 100ms);
}

TEST_CASE("run_once blocks until the next timer", "[run]") {
  auto loop = make_test_loop();
  bool fired = false;
  loop->call_later(10ms, [&] { fired = true; });
  auto start = std::chrono::time_point_cast<Duration>(Clock::now());
  while (!fired) loop->run_once(true);
  REQUIRE(since(start) >= 10ms);
  REQUIRE(since(start) < 1s);
}

TEST_CASE("the current loop is set while it runs on its own thread only", "[run]") {
  auto loop = make_test_loop();
  REQUIRE(EventLoop::current() == nullptr);
  REQUIRE_FALSE(loop->is_running());
  EventLoop* inside = nullptr;
  bool running_inside = false;
  EventLoop* other_thread = reinterpret_cast<EventLoop*>(1);
  loop->call_soon([&] {
    inside = EventLoop::current();
    running_inside = loop->is_running();
    std::thread([&] { other_thread = EventLoop::current(); }).join();
  });
  loop->run();
  REQUIRE(inside == loop.get());
  REQUIRE(running_inside);
  REQUIRE(other_thread == nullptr);
  REQUIRE(EventLoop::current() == nullptr);
}

TEST_CASE("running a loop from its own callback is a clear error", "[run][errors]") {
  auto loop = make_test_loop();
  std::string message;
  loop->set_exception_handler([&](std::exception_ptr e, std::string_view) {
    try {
      std::rethrow_exception(e);
    } catch (const std::logic_error& err) {
      message = err.what();
    }
  });
  loop->call_soon([&] { loop->run(); });
  loop->run();
  REQUIRE_THAT(message, Catch::Contains("call_soon()"));
}

TEST_CASE("work_started keeps run() going until work_finished", "[run][refs][tsan]") {
  auto loop = make_test_loop();
  loop->work_started();
  REQUIRE(loop->alive());
  std::thread worker([&] {
    std::this_thread::sleep_for(10ms);
    loop->call_soon_threadsafe([&] { loop->work_finished(); });
  });
  REQUIRE_FALSE(run_bounded(*loop));
  worker.join();
  REQUIRE_FALSE(loop->alive());
}

TEST_CASE("capabilities name the engine and what grove provides above it", "[caps]") {
  auto loop = make_test_loop();
  const Capabilities& caps = loop->capabilities();
  REQUIRE(caps.engine == selected_engine());
  REQUIRE(loop->engine() == caps.engine);
  REQUIRE_FALSE(caps.poller.empty());
  REQUIRE(caps.timer_resolution > Duration::zero());
  REQUIRE(caps.timer_resolution <= std::chrono::milliseconds(1));
  REQUIRE_FALSE(caps.emulated.empty());
}

TEST_CASE("handles outlive their loop harmlessly", "[run]") {
  Timer t;
  IoWatcher w;
  auto p = FdPair::socketpair();
  {
    auto loop = make_test_loop();
    t = loop->call_later(1s, [] {});
    w = loop->watch(p.a, Events::read, [](Events) {});
  }
  REQUIRE_FALSE(t.active());
  t.cancel();
  REQUIRE_FALSE(w.active());
  w.stop();
  w.close();
}
