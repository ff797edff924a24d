// call_soon: FIFO order, deferral of callbacks scheduled by callbacks, exceptions.
#include "loop_support.hpp"

#include <algorithm>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace grove;
using namespace grove::test;

TEST_CASE("call_soon runs callbacks in FIFO order", "[callbacks]") {
  auto loop = make_test_loop();
  std::vector<int> order;
  for (int i = 0; i < 100; ++i) loop->call_soon([&, i] { order.push_back(i); });
  REQUIRE_FALSE(run_bounded(*loop));
  REQUIRE(order.size() == 100);
  for (int i = 0; i < 100; ++i) REQUIRE(order[std::size_t(i)] == i);
}

TEST_CASE("a callback scheduled by a callback runs on the next iteration", "[callbacks]") {
  auto loop = make_test_loop();
  std::vector<std::string> log;
  loop->call_soon([&] {
    log.push_back("a");
    loop->call_soon([&] { log.push_back("c"); });
  });
  loop->call_soon([&] { log.push_back("b"); });
  loop->run_once(false);
  REQUIRE(log == std::vector<std::string>{"a", "b"});
  loop->run_once(false);
  REQUIRE(log == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("a self-rescheduling callback does not starve timers", "[callbacks]") {
  auto loop = make_test_loop();
  bool timer_fired = false;
  int spins = 0;
  std::function<void()> again = [&] {
    ++spins;
    if (!timer_fired) loop->call_soon([&] { again(); });
  };
  loop->call_soon([&] { again(); });
  loop->call_later(5ms, [&] { timer_fired = true; });
  REQUIRE_FALSE(run_bounded(*loop, 2s));
  REQUIRE(timer_fired);
  REQUIRE(spins > 1);
}

TEST_CASE("move-only captures are accepted", "[callbacks]") {
  auto loop = make_test_loop();
  auto value = std::make_unique<int>(42);
  int seen = 0;
  loop->call_soon([&, v = std::move(value)] { seen = *v; });
  loop->run();
  REQUIRE(seen == 42);
}

TEST_CASE("exceptions escaping callbacks reach the handler and the loop goes on",
          "[callbacks][errors]") {
  auto loop = make_test_loop();
  std::vector<std::string> caught;
  loop->set_exception_handler([&](std::exception_ptr e, std::string_view context) {
    try {
      std::rethrow_exception(e);
    } catch (const std::runtime_error& err) {
      caught.push_back(std::string(context) + ": " + err.what());
    }
  });
  bool after = false, timer_after = false;
  loop->call_soon([] { throw std::runtime_error("boom"); });
  loop->call_soon([&] { after = true; });
  loop->call_later(1ms, [] { throw std::runtime_error("tick"); });
  loop->call_later(2ms, [&] { timer_after = true; });
  REQUIRE_FALSE(run_bounded(*loop));
  REQUIRE(after);
  REQUIRE(timer_after);
  // Timers and queued callbacks due in one iteration have no defined order between them.
  std::sort(caught.begin(), caught.end());
  REQUIRE(caught == std::vector<std::string>{"call_soon callback: boom", "timer callback: tick"});
}

TEST_CASE("a handler that rethrows makes run() throw and keeps the loop usable",
          "[callbacks][errors]") {
  auto loop = make_test_loop();
  loop->set_exception_handler(
      [](std::exception_ptr e, std::string_view) { std::rethrow_exception(e); });
  std::vector<int> ran;
  loop->call_soon([&] { ran.push_back(1); });
  loop->call_soon([] { throw std::logic_error("stop here"); });
  loop->call_soon([&] { ran.push_back(3); });
  REQUIRE_THROWS_AS(loop->run(), std::logic_error);
  REQUIRE(ran == std::vector<int>{1});
  loop->run();  // what was queued behind the failing callback still runs, in order
  REQUIRE(ran == std::vector<int>{1, 3});
}

TEST_CASE("the default exception handler prints the context and keeps going",
          "[callbacks][errors]") {
  auto loop = make_test_loop();
  bool after = false;
  loop->call_soon([] { throw std::runtime_error("printed, not fatal"); });
  loop->call_soon([&] { after = true; });
  loop->run();
  REQUIRE(after);
}
