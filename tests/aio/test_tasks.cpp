// Task<T> and TaskHandle<T>: values, exceptions with their type, laziness, symmetric
// transfer, handles, names, the running-loop queries.
#include "aio_support.hpp"

#include <memory>
#include <stdexcept>
#include <string>

using namespace grove;
using namespace grove::aio::test;
namespace aio = grove::aio;

namespace {

struct CustomError : std::runtime_error {
  explicit CustomError(int c) : std::runtime_error("custom " + std::to_string(c)), code(c) {}
  int code;
};

aio::Task<int> answer() { co_return 42; }

aio::Task<int> answer_later() {
  co_await aio::sleep(1ms);
  co_return 42;
}

aio::Task<void> fail_with(int code) {
  co_await aio::sleep(0ms);
  throw CustomError(code);
}

aio::Task<int> fail_immediately() {
  throw CustomError(7);
  co_return 0;
}

aio::Task<std::unique_ptr<int>> make_unique_later(int v) {
  co_await aio::sleep(0ms);
  co_return std::make_unique<int>(v);
}

aio::Task<int> add(int a, int b) { co_return co_await answer() - 42 + a + b; }

}  // namespace

TEST_CASE("a Task returns its value to its awaiter", "[tasks]") {
  CHECK(aio::run(answer()) == 42);
  CHECK(aio::run(answer_later()) == 42);
  CHECK(aio::run(add(2, 3)) == 5);
}

TEST_CASE("Task<void> completes and move-only values are moved out", "[tasks]") {
  bool ran = false;
  aio::run([&]() -> aio::Task<void> {
    co_await aio::sleep(0ms);
    ran = true;
  }());
  CHECK(ran);
  auto p = aio::run(make_unique_later(9));
  REQUIRE(p);
  CHECK(*p == 9);
}

TEST_CASE("an exception reaches the awaiter with its original type", "[tasks]") {
  auto outer = []() -> aio::Task<int> {
    try {
      co_await fail_with(3);
    } catch (const CustomError& e) {
      co_return e.code;
    }
    co_return -1;
  };
  CHECK(aio::run(outer()) == 3);
  CHECK_THROWS_AS(aio::run(fail_with(5)), CustomError);
  CHECK_THROWS_AS(aio::run(fail_immediately()), CustomError);
  try {
    aio::run(fail_with(11));
  } catch (const CustomError& e) {
    CHECK(e.code == 11);
  }
}

TEST_CASE("a non-std exception type is preserved too", "[tasks]") {
  struct Plain {
    int v;
  };
  auto thrower = []() -> aio::Task<void> {
    co_await aio::sleep(0ms);
    throw Plain{4};
  };
  try {
    aio::run(thrower());
    FAIL("no exception");
  } catch (const Plain& p) {
    CHECK(p.v == 4);
  }
}

TEST_CASE("a Task is lazy: nothing runs until it is awaited", "[tasks]") {
  int runs = 0;
  auto body = [&]() -> aio::Task<int> {
    ++runs;
    co_return 1;
  };
  aio::run([&]() -> aio::Task<void> {
    aio::Task<int> t = body();
    CHECK(runs == 0);
    co_await aio::sleep(1ms);
    CHECK(runs == 0);
    const int v = co_await t;
    CHECK(v == 1);
    CHECK(runs == 1);
  }());
}

TEST_CASE("a Task can be awaited only once", "[tasks]") {
  aio::run([]() -> aio::Task<void> {
    aio::Task<int> t = answer();
    const int v = co_await t;
    CHECK(v == 42);
    bool second_await_refused = false;
    try {
      co_await t;
    } catch (const aio::InvalidStateError&) {
      second_await_refused = true;
    }
    CHECK(second_await_refused);
    bool empty_refused = false;
    try {
      aio::Task<int> empty;
      co_await empty;
    } catch (const aio::InvalidStateError&) {
      empty_refused = true;
    }
    CHECK(empty_refused);
  }());
}

TEST_CASE("symmetric transfer: a million synchronous awaits do not grow the stack", "[tasks]") {
  // Each await completes without suspending; without symmetric transfer every completion
  // would nest a resume() call and overflow the stack long before a million.
  auto loop_of_awaits = []() -> aio::Task<long> {
    long sum = 0;
    for (int i = 0; i < 1'000'000; ++i) sum += co_await answer();
    co_return sum;
  };
  CHECK(aio::run(loop_of_awaits()) == 42'000'000L);
}

namespace {
aio::Task<int> recurse(int depth) {
  if (depth == 0) co_return 0;
  co_return 1 + co_await recurse(depth - 1);
}
}  // namespace

TEST_CASE("symmetric transfer: a deep chain of nested awaits unwinds in constant stack",
          "[tasks]") {
  CHECK(aio::run(recurse(100'000)) == 100'000);
}

TEST_CASE("create_task runs concurrently and its handle reports the outcome", "[tasks]") {
  aio::run([]() -> aio::Task<void> {
    auto ok = aio::create_task(answer_later(), "ok");
    auto bad = aio::create_task([]() -> aio::Task<int> {
      co_await aio::sleep(1ms);
      throw CustomError(2);
    }());
    CHECK(ok.name() == "ok");
    CHECK(bad.name().rfind("Task-", 0) == 0);
    CHECK_FALSE(ok.done());
    CHECK_THROWS_AS(ok.result(), aio::InvalidStateError);
    CHECK_THROWS_AS(ok.exception(), aio::InvalidStateError);
    const int first = co_await ok;
    const int second = co_await ok;  // a handle may be awaited again
    CHECK(first == 42);
    CHECK(second == 42);
    CHECK(ok.done());
    CHECK(ok.result() == 42);
    CHECK_FALSE(ok.exception());
    bool threw = false;
    try {
      co_await bad;
    } catch (const CustomError&) {
      threw = true;
    }
    CHECK(threw);
    CHECK(bad.done());
    CHECK_FALSE(bad.cancelled());
    CHECK_THROWS_AS(bad.result(), CustomError);
    CHECK(bad.exception());
  }());
}

TEST_CASE("create_task starts tasks in creation order on the next iteration", "[tasks]") {
  std::string order;
  aio::run([&]() -> aio::Task<void> {
    auto mark = [&](char c) -> aio::Task<void> {
      order += c;
      co_return;
    };
    auto a = aio::create_task(mark('a'));
    auto b = aio::create_task(mark('b'));
    auto c = aio::create_task(mark('c'));
    order += '0';
    co_await a;
    co_await b;
    co_await c;
  }());
  CHECK(order == "0abc");
}

TEST_CASE("a task nobody holds still runs to completion", "[tasks]") {
  int done = 0;
  aio::run([&]() -> aio::Task<void> {
    for (int i = 0; i < 5; ++i)
      aio::create_task([](int& d) -> aio::Task<void> {
        co_await aio::sleep(1ms);
        ++d;
      }(done));
    co_await aio::sleep(20ms);
  }());
  CHECK(done == 5);
}

TEST_CASE("add_done_callback runs on the loop after the task completes", "[tasks]") {
  std::vector<std::string> events;
  aio::run([&]() -> aio::Task<void> {
    auto t = aio::create_task(answer_later());
    t.add_done_callback([&] { events.push_back("cb1"); });
    co_await t;
    events.push_back("awaited");
    t.add_done_callback([&] { events.push_back("cb2"); });
    co_await aio::sleep(0ms);
    events.push_back("later");
  }());
  CHECK(events == std::vector<std::string>{"cb1", "awaited", "cb2", "later"});
}

TEST_CASE("running-loop queries follow run()", "[tasks]") {
  CHECK_FALSE(aio::is_loop_running());
  CHECK_THROWS_AS(aio::get_running_loop(), aio::RuntimeError);
  EventLoop* seen = nullptr;
  aio::run([&]() -> aio::Task<void> {
    CHECK(aio::is_loop_running());
    seen = &aio::get_running_loop();
    co_await aio::sleep(0ms);
    CHECK(&aio::get_running_loop() == seen);
  }());
  CHECK(seen != nullptr);
  CHECK_FALSE(aio::is_loop_running());
}

TEST_CASE("create_task without a running loop says how to start one", "[tasks]") {
  try {
    aio::create_task(answer());
    FAIL("no exception");
  } catch (const aio::RuntimeError& e) {
    CHECK_THAT(e.what(), Catch::Contains("no running event loop") && Catch::Contains("aio::run"));
  }
}

TEST_CASE("create_task on an explicit loop, driven by run_until_complete", "[tasks]") {
  auto loop = make_loop();
  auto t = aio::create_task(*loop, answer_later());
  const int v = aio::run_until_complete(*loop, [&]() -> aio::Task<int> {
    const int inner = co_await t;
    co_return inner + 1;
  }());
  CHECK(v == 43);
  CHECK(t.done());
}

TEST_CASE("a task's exception nobody retrieved is reported as a warning", "[tasks]") {
  WarningCapture warnings;
  aio::run([]() -> aio::Task<void> {
    aio::create_task(
        []() -> aio::Task<void> {
          throw CustomError(1);
          co_return;
        }(),
        "doomed");
    co_await aio::sleep(2ms);
  }());
  CHECK_THAT(warnings.all(), Catch::Contains("never retrieved") && Catch::Contains("'doomed'") &&
                                 Catch::Contains("custom 1"));
}

namespace {
// A coroutine type that is not grove's: it may await Tasks, but loop waits need a task.
struct Detached {
  struct promise_type {
    explicit promise_type(std::exception_ptr& e) : out(&e) {}
    std::exception_ptr* out;
    Detached get_return_object() { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() {}
    void unhandled_exception() { *out = std::current_exception(); }
  };
};

Detached foreign_sleep(std::exception_ptr& error) { co_await aio::sleep(1ms); }
}  // namespace

TEST_CASE("a loop wait outside a task is an error, not a hang", "[tasks]") {
  std::exception_ptr error;
  foreign_sleep(error);
  REQUIRE(error);
  try {
    std::rethrow_exception(error);
  } catch (const aio::RuntimeError& e) {
    CHECK_THAT(e.what(), Catch::Contains("inside a task"));
  }
}
