// gather(): order, the first error, sibling cancellation, return_exceptions.
#include "aio_support.hpp"

#include <stdexcept>
#include <string>
#include <vector>

using namespace grove;
using namespace grove::aio::test;
namespace aio = grove::aio;

namespace {
aio::Task<int> value_after(int v, Duration d) {
  co_await aio::sleep(d);
  co_return v;
}

aio::Task<std::string> text_after(std::string s, Duration d) {
  co_await aio::sleep(d);
  co_return s;
}

aio::Task<void> nothing_after(Duration d, int& counter) {
  co_await aio::sleep(d);
  ++counter;
}

aio::Task<int> fail_after(Duration d, std::string what) {
  co_await aio::sleep(d);
  throw std::runtime_error(what);
}

// Records whether it was cancelled.
aio::Task<int> slow(bool& cancelled, Duration d = 10s) {
  try {
    co_await aio::sleep(d);
  } catch (const aio::CancelledError&) {
    cancelled = true;
    throw;
  }
  co_return 0;
}
}  // namespace

TEST_CASE("gather returns results in argument order, not completion order", "[gather]") {
  aio::run([]() -> aio::Task<void> {
    int voids = 0;
    auto [a, b, c, d] = co_await aio::gather(value_after(1, 15ms), text_after("two", 1ms),
                                             value_after(3, 5ms), nothing_after(2ms, voids));
    CHECK(a == 1);
    CHECK(b == "two");
    CHECK(c == 3);
    CHECK(voids == 1);
    (void)d;  // std::monostate
  }());
}

TEST_CASE("gather children run concurrently", "[gather]") {
  aio::run([]() -> aio::Task<void> {
    const auto start = clock_now();
    std::vector<aio::Task<int>> tasks;
    for (int i = 0; i < 20; ++i) tasks.push_back(value_after(i, 50ms));
    std::vector<int> got = co_await aio::gather(std::move(tasks));
    CHECK(ms_since(start) < 1000);  // not 20 x 50 ms
    REQUIRE(got.size() == 20);
    for (int i = 0; i < 20; ++i) CHECK(got[std::size_t(i)] == i);
  }());
}

TEST_CASE("gather of a vector of void tasks, of handles, and of nothing", "[gather]") {
  aio::run([]() -> aio::Task<void> {
    int counter = 0;
    std::vector<aio::Task<void>> voids;
    for (int i = 0; i < 5; ++i) voids.push_back(nothing_after(1ms, counter));
    co_await aio::gather(std::move(voids));
    CHECK(counter == 5);

    std::vector<aio::TaskHandle<int>> handles;
    for (int i = 0; i < 3; ++i) handles.push_back(aio::create_task(value_after(i * 10, 1ms)));
    std::vector<int> got = co_await aio::gather(handles);
    CHECK(got == std::vector<int>{0, 10, 20});
    CHECK(handles[2].result() == 20);

    std::vector<int> none = co_await aio::gather(std::vector<aio::Task<int>>{});
    CHECK(none.empty());

    auto h = aio::create_task(value_after(7, 1ms));
    auto [x, y] = co_await aio::gather(h, value_after(8, 1ms));  // handles and tasks mixed
    CHECK(x == 7);
    CHECK(y == 8);
  }());
}

TEST_CASE("the first exception propagates and the siblings are cancelled", "[gather]") {
  aio::run([]() -> aio::Task<void> {
    bool a_cancelled = false, b_cancelled = false;
    std::string what;
    const auto start = clock_now();
    try {
      co_await aio::gather(slow(a_cancelled), fail_after(2ms, "first"), slow(b_cancelled),
                           fail_after(30ms, "second"));
    } catch (const std::runtime_error& e) {
      what = e.what();
    }
    CHECK(what == "first");
    CHECK(a_cancelled);
    CHECK(b_cancelled);
    CHECK(ms_since(start) < 1000);  // did not wait for the 10 s sleepers
  }());
}

TEST_CASE("gather waits for cancelled siblings to unwind before it rethrows", "[gather]") {
  aio::run([]() -> aio::Task<void> {
    bool cleanup_done = false;
    auto slow_cleanup = [](bool& done) -> aio::Task<int> {
      try {
        co_await aio::sleep(10s);
      } catch (const aio::CancelledError&) {
      }
      co_await aio::sleep(5ms);  // cleanup that takes a while (cancellation was caught)
      done = true;
      co_return 0;
    };
    bool threw = false;
    try {
      co_await aio::gather(slow_cleanup(cleanup_done), fail_after(1ms, "boom"));
    } catch (const std::runtime_error&) {
      threw = true;
    }
    CHECK(threw);
    CHECK(cleanup_done);
  }());
}

TEST_CASE("a child cancelled by someone else fails the gather with CancelledError", "[gather]") {
  aio::run([]() -> aio::Task<void> {
    bool sibling_cancelled = false;
    auto victim = aio::create_task(value_after(1, 10s));
    auto g = aio::create_task(aio::gather(victim, slow(sibling_cancelled)));
    co_await aio::sleep(2ms);
    victim.cancel();
    bool got_cancelled = false;
    try {
      co_await g;
    } catch (const aio::CancelledError&) {
      got_cancelled = true;
    }
    CHECK(got_cancelled);
    CHECK(sibling_cancelled);
  }());
}

TEST_CASE("return_exceptions collects values and exceptions in order", "[gather]") {
  aio::run([]() -> aio::Task<void> {
    auto [a, b, c] = co_await aio::gather(aio::return_exceptions, value_after(1, 3ms),
                                          fail_after(1ms, "bad"), text_after("c", 2ms));
    CHECK(a.has_value());
    CHECK(a.value() == 1);
    CHECK_FALSE(b.has_value());
    CHECK_FALSE(b.cancelled());
    CHECK_THROWS_AS(b.value(), std::runtime_error);
    CHECK(c.value() == "c");
  }());
}

TEST_CASE("return_exceptions: nothing is cancelled because of an error", "[gather]") {
  aio::run([]() -> aio::Task<void> {
    bool slow_cancelled = false;
    auto victim = aio::create_task(value_after(9, 10s));
    auto g =
        aio::create_task(aio::gather(aio::return_exceptions, value_after(1, 20ms),
                                     fail_after(1ms, "bad"), slow(slow_cancelled, 30ms), victim));
    co_await aio::sleep(5ms);
    victim.cancel();
    auto [a, b, c, d] = co_await g;
    CHECK(a.value() == 1);
    CHECK_FALSE(b.has_value());
    CHECK_THROWS_WITH(b.value(), "bad");
    CHECK_FALSE(slow_cancelled);  // the error did not cancel it
    CHECK(c.has_value());
    CHECK(d.cancelled());
    CHECK_THROWS_AS(d.value(), aio::CancelledError);
  }());
}

TEST_CASE("return_exceptions over a vector", "[gather]") {
  aio::run([]() -> aio::Task<void> {
    std::vector<aio::Task<int>> tasks;
    tasks.push_back(value_after(1, 1ms));
    tasks.push_back(fail_after(1ms, "x"));
    tasks.push_back(value_after(3, 2ms));
    auto out = co_await aio::gather(aio::return_exceptions, std::move(tasks));
    REQUIRE(out.size() == 3);
    CHECK(out[0].value() == 1);
    CHECK(out[1].error());
    CHECK(out[2].value() == 3);
  }());
}

TEST_CASE("gather of 10,000 sleep(0) tasks", "[gather]") {
  aio::run([]() -> aio::Task<void> {
    std::vector<aio::Task<int>> tasks;
    tasks.reserve(10'000);
    for (int i = 0; i < 10'000; ++i) tasks.push_back(value_after(i, 0ms));
    std::vector<int> out = co_await aio::gather(std::move(tasks));
    REQUIRE(out.size() == 10'000);
    CHECK(out.front() == 0);
    CHECK(out.back() == 9'999);
  }());
}
