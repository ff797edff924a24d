// run(): fresh loop, result or exception, leftover tasks, re-entrancy, deadlocks.
#include "aio_support.hpp"

#include <stdexcept>
#include <string>
#include <thread>

using namespace grove;
using namespace grove::aio::test;
namespace aio = grove::aio;

TEST_CASE("run returns the coroutine's value and rethrows its exception", "[run]") {
  CHECK(aio::run([]() -> aio::Task<std::string> {
          co_await aio::sleep(1ms);
          co_return "done";
        }()) == "done");
  CHECK_THROWS_WITH(aio::run([]() -> aio::Task<void> {
                      co_await aio::sleep(0ms);
                      throw std::out_of_range("oops");
                    }()),
                    "oops");
}

TEST_CASE("run uses a fresh loop of the selected engine, or the one named", "[run]") {
  const std::string selected = selected_engine();
  std::string engine;
  aio::run([&]() -> aio::Task<void> {
    engine = aio::get_running_loop().engine();
    co_return;
  }());
  CHECK(engine == selected);
  for (const std::string& name : built_engines()) {
    std::string used;
    aio::run(
        [&]() -> aio::Task<void> {
          used = aio::get_running_loop().engine();
          co_await aio::sleep(1ms);
        }(),
        name);
    CHECK(used == name);
  }
  CHECK_THROWS_AS(aio::run([]() -> aio::Task<void> { co_return; }(), "no-such-engine"),
                  UnknownEngine);
}

TEST_CASE("run cancels leftover tasks, awaits them and names them in a warning", "[run]") {
  WarningCapture warnings;
  bool ticker_cancelled = false;
  bool ticker_cleaned = false;
  int ticks = 0;
  aio::Event ticked;  // outlives main: the ticker may still tick in main's last iteration
  const int result = aio::run([&]() -> aio::Task<int> {
    aio::create_task(aio::co_invoke([&]() -> aio::Task<void> {
                       Cleanup c(ticker_cleaned);
                       try {
                         for (;;) {
                           co_await aio::sleep(1ms);
                           ++ticks;
                           ticked.set();
                         }
                       } catch (const aio::CancelledError&) {
                         ticker_cancelled = true;
                         throw;
                       }
                     }),
                     "ticker");
    aio::create_task([]() -> aio::Task<void> { co_await aio::sleep(10s); }());
    co_await ticked.wait();  // the ticker is running in the background
    co_return 3;
  }());
  CHECK(result == 3);
  CHECK(ticker_cancelled);
  CHECK(ticker_cleaned);
  CHECK(ticks > 0);
  const auto messages = warnings.messages();
  REQUIRE(messages.size() == 1);
  CHECK_THAT(messages[0],
             Catch::Contains("background tasks are cancelled when the coroutine returns; use a "
                             "task queue") &&
                 Catch::Contains("'ticker'") && Catch::Contains("'Task-") &&
                 Catch::Contains("2 tasks"));
}

TEST_CASE("run gives no warning when nothing is left", "[run]") {
  WarningCapture warnings;
  aio::run([]() -> aio::Task<void> {
    auto t = aio::create_task([]() -> aio::Task<void> { co_await aio::sleep(1ms); }());
    co_await t;
  }());
  CHECK(warnings.messages().empty());
}

TEST_CASE("run destroys leftover tasks that ignore their cancellation", "[run]") {
  WarningCapture warnings;
  bool cleaned = false;
  bool resumed_after_destroy = false;
  aio::run([&]() -> aio::Task<void> {
    aio::create_task(aio::co_invoke([&]() -> aio::Task<void> {
                       Cleanup c(cleaned);
                       aio::Event never;
                       try {
                         co_await never.wait();
                       } catch (const aio::CancelledError&) {
                       }
                       co_await never.wait();  // ignores the cancellation and waits again, forever
                       resumed_after_destroy = true;
                     }),
                     "stubborn");
    co_await aio::sleep(1ms);
  }());
  CHECK(cleaned);                      // its frame was destroyed: locals cleaned up...
  CHECK_FALSE(resumed_after_destroy);  // ...and no code after the await point ran
  CHECK_THAT(warnings.all(), Catch::Contains("'stubborn'"));
}

TEST_CASE("a destroyed task leaves the waiter queues it was in", "[run]") {
  WarningCapture warnings;
  aio::Lock lock;  // outlives the run: primitives belong to no loop
  aio::run(aio::co_invoke([&]() -> aio::Task<void> {
    co_await lock.acquire();
    aio::create_task(aio::co_invoke([&]() -> aio::Task<void> {
      try {
        co_await lock.acquire();
      } catch (const aio::CancelledError&) {
      }
      co_await lock.acquire();  // queued again, ignoring the cancellation
      lock.release();
    }));
    co_await aio::sleep(1ms);
  }));
  // The stubborn task's frame was destroyed while it queued for the lock: releasing finds
  // nobody to hand it to.
  lock.release();
  CHECK_FALSE(lock.locked());
  CHECK(lock.try_acquire());
  lock.release();
}

TEST_CASE("a leftover task's error during cancellation reaches the loop's exception handler",
          "[run]") {
  WarningCapture warnings;
  std::string context, what;
  const int v = aio::run(aio::co_invoke([&]() -> aio::Task<int> {
    aio::get_running_loop().set_exception_handler([&](std::exception_ptr e, std::string_view c) {
      context = c;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        what = ex.what();
      }
    });
    aio::create_task(
        []() -> aio::Task<void> {
          try {
            co_await aio::sleep(10s);
          } catch (const aio::CancelledError&) {
            throw std::runtime_error("failed while cancelling");
          }
        }(),
        "fragile");
    co_await aio::sleep(1ms);
    co_return 1;
  }));
  CHECK(v == 1);
  CHECK_THAT(context, Catch::Contains("'fragile'"));
  CHECK(what == "failed while cancelling");
}

TEST_CASE("run from a context already running a loop says to await instead", "[run]") {
  aio::run([]() -> aio::Task<void> {
    std::string what;
    try {
      aio::run([]() -> aio::Task<int> { co_return 1; }());
    } catch (const aio::RuntimeError& e) {
      what = e.what();
    }
    CHECK_THAT(what, Catch::Contains("cannot be called while an event loop is running") &&
                         Catch::Contains("await the coroutine instead"));
    co_return;
  }());
}

TEST_CASE("run reports a main coroutine that waits for something that can never happen", "[run]") {
  std::string what;
  try {
    aio::run([]() -> aio::Task<void> {
      aio::Event never;
      co_await never.wait();
    }());
  } catch (const aio::RuntimeError& e) {
    what = e.what();
  }
  CHECK_THAT(what, Catch::Contains("can never happen") && Catch::Contains("'main'"));
}

TEST_CASE("the warning handler is replaceable and restorable", "[run]") {
  std::vector<std::string> seen;
  auto previous = aio::set_warning_handler([&](std::string_view m) { seen.emplace_back(m); });
  aio::warn("one");
  aio::set_warning_handler(std::move(previous));
  CHECK(seen == std::vector<std::string>{"one"});
}

TEST_CASE("run can be called again, and from several threads at once", "[run][tsan]") {
  for (int i = 0; i < 3; ++i)
    CHECK(aio::run([](int v) -> aio::Task<int> {
            co_await aio::sleep(1ms);
            co_return v;
          }(i)) == i);
  int results[2] = {0, 0};
  std::thread a([&] {
    results[0] = aio::run([]() -> aio::Task<int> {
      co_await aio::sleep(5ms);
      co_return 1;
    }());
  });
  std::thread b([&] {
    results[1] = aio::run([]() -> aio::Task<int> {
      co_await aio::sleep(5ms);
      co_return 2;
    }());
  });
  a.join();
  b.join();
  CHECK(results[0] == 1);
  CHECK(results[1] == 2);
}
