// sleep(), the fairness of sleep(0), wait_for() and its TimeoutError.
#include "aio_support.hpp"

#include <unistd.h>
#include <string>
#include <vector>

using namespace grove;
using namespace grove::aio::test;
namespace aio = grove::aio;

TEST_CASE("sleep suspends for at least its duration", "[sleep]") {
  aio::run([]() -> aio::Task<void> {
    const auto start = clock_now();
    co_await aio::sleep(20ms);
    CHECK(ms_since(start) >= 19.9);
    co_await aio::sleep(std::chrono::duration<double>(0.005));  // fractional seconds
    CHECK(ms_since(start) >= 24.9);
  }());
}

TEST_CASE("sleep(0) yields: ready tasks take turns round-robin", "[sleep][fairness]") {
  std::string order;
  aio::run([&]() -> aio::Task<void> {
    auto worker = [](std::string& out, char id) -> aio::Task<void> {
      for (int i = 0; i < 4; ++i) {
        out += id;
        co_await aio::sleep(0ms);
      }
    };
    co_await aio::gather(worker(order, 'a'), worker(order, 'b'), worker(order, 'c'));
  }());
  CHECK(order == "abcabcabcabc");
}

TEST_CASE("a task looping on sleep(0) starves neither timers nor other tasks",
          "[sleep][fairness]") {
  aio::run([]() -> aio::Task<void> {
    bool stop = false;
    long spins = 0;
    auto spinner = aio::create_task(aio::co_invoke([&]() -> aio::Task<void> {
      while (!stop) {
        ++spins;
        co_await aio::sleep(0ms);
      }
    }));
    const auto start = clock_now();
    co_await aio::sleep(20ms);  // a timer, while the spinner spins
    const double waited = ms_since(start);
    stop = true;
    co_await spinner;
    CHECK(waited >= 19.9);
    CHECK(waited < 1000);
    CHECK(spins > 10);
  }());
}

TEST_CASE("sleep(0) lets I/O in between", "[sleep][fairness]") {
  aio::run([]() -> aio::Task<void> {
    bool stop = false;
    auto spinner = aio::create_task(aio::co_invoke([&]() -> aio::Task<void> {
      while (!stop) co_await aio::sleep(0ms);
    }));
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    REQUIRE(::write(fds[1], "x", 1) == 1);
    Events e = co_await aio::wait_readable(fds[0], 1s);  // readiness arrives while spinning
    CHECK(e == Events::read);
    ::close(fds[0]);
    ::close(fds[1]);
    stop = true;
    co_await spinner;
  }());
}

TEST_CASE("wait_for returns the value when the task finishes in time", "[wait_for]") {
  aio::run([]() -> aio::Task<void> {
    auto quick = []() -> aio::Task<int> {
      co_await aio::sleep(1ms);
      co_return 7;
    };
    const int v = co_await aio::wait_for(quick(), 1s);
    CHECK(v == 7);
    auto failing = []() -> aio::Task<void> {
      co_await aio::sleep(1ms);
      throw std::logic_error("inner");
    };
    bool threw = false;
    try {
      co_await aio::wait_for(failing(), 1s);
    } catch (const std::logic_error&) {
      threw = true;
    }
    CHECK(threw);
  }());
}

TEST_CASE("wait_for throws TimeoutError and cancels the inner task", "[wait_for]") {
  aio::run([]() -> aio::Task<void> {
    bool inner_cancelled = false;
    auto handle = aio::create_task([](bool& flag) -> aio::Task<int> {
      try {
        co_await aio::sleep(10s);
      } catch (const aio::CancelledError&) {
        flag = true;
        throw;
      }
      co_return 1;
    }(inner_cancelled));
    const auto start = clock_now();
    std::string what;
    try {
      co_await aio::wait_for(handle, 30ms);
    } catch (const aio::TimeoutError& e) {
      what = e.what();
    }
    const double took = ms_since(start);
    CHECK_THAT(what, Catch::Contains("timed out after 30 ms"));
    CHECK(inner_cancelled);
    CHECK(handle.cancelled());
    CHECK(took >= 29.9);
    CHECK(took < 1000);
  }());
}

TEST_CASE("wait_for accepts any awaitable: an Event wait, a queue get", "[wait_for]") {
  aio::run([]() -> aio::Task<void> {
    aio::Event ev;
    bool timed_out = false;
    try {
      co_await aio::wait_for(ev.wait(), 5ms);
    } catch (const aio::TimeoutError&) {
      timed_out = true;
    }
    CHECK(timed_out);
    auto setter = aio::create_task(aio::co_invoke([&]() -> aio::Task<void> {
      co_await aio::sleep(2ms);
      ev.set();
    }));
    co_await aio::wait_for(ev.wait(), 1s);
    CHECK(ev.is_set());
    co_await setter;

    aio::Queue<std::string> q;
    q.put_nowait("item");
    std::string got = co_await aio::wait_for(q.get(), 1s);
    CHECK(got == "item");
  }());
}

TEST_CASE("an inner task that swallows the cancellation returns its value", "[wait_for]") {
  aio::run([]() -> aio::Task<void> {
    auto stubborn = []() -> aio::Task<int> {
      try {
        co_await aio::sleep(10s);
      } catch (const aio::CancelledError&) {
        co_return 99;
      }
      co_return 0;
    };
    const int v = co_await aio::wait_for(stubborn(), 5ms);
    CHECK(v == 99);
  }());
}
