// Timeout: a scoped deadline that throws in its green thread wherever it waits; nestable.
#include "green_support.hpp"

#include <stdexcept>

using namespace grove;
using namespace grove::test;

TEST_CASE("a Timeout interrupts sleep, Event, Queue, Lock, join and fd waits",
          "[green][timeout][tsan]") {
  GreenFdPair p;
  green::Event never;
  green::Queue<int> empty;
  green::Lock held;
  held.acquire();
  green::Event stop;
  auto forever = green::spawn([&] { stop.wait(); });

  std::vector<std::function<void()>> waits = {
      [] { green::sleep(10s); }, [&] { never.wait(); },   [&] { (void)empty.get(); },
      [&] { held.acquire(); },   [&] { forever.join(); }, [&] { green::wait(p.a, Events::read); },
  };
  for (std::size_t i = 0; i < waits.size(); ++i) {
    auto g = green::spawn([&, i] {
      green::Timeout t(10ms);
      try {
        waits[i]();
      } catch (const green::Timeout& e) {
        return e == t;
      }
      return false;
    });
    INFO("wait #" << i);
    const auto t0 = now();
    REQUIRE(g.join(2s));
    REQUIRE(ms_since(t0) >= 9);
  }
  stop.set();
  forever.join();
  held.release();
}

TEST_CASE("a Timeout that does not expire is cancelled when its scope ends",
          "[green][timeout][tsan]") {
  auto g = green::spawn([] {
    {
      // A deadline far enough away that a loaded machine does not reach it within the scope.
      green::Timeout t(400ms);
      green::sleep(1ms);
      REQUIRE(t.pending());
    }
    green::sleep(500ms);  // would throw here if the deadline had survived its scope
    return true;
  });
  REQUIRE(g.join());
}

TEST_CASE("nested Timeouts: the one that expires is the one thrown", "[green][timeout][tsan]") {
  auto inner_first = green::spawn([] {
    green::Timeout outer(200ms);
    try {
      green::Timeout inner(10ms);
      green::sleep(1s);
    } catch (const green::Timeout& e) {
      if (e == outer) return std::string("outer");
      return std::string("inner");
    }
    return std::string("none");
  });
  REQUIRE(inner_first.join() == "inner");

  auto outer_first = green::spawn([] {
    green::Timeout outer(10ms);
    try {
      green::Timeout inner(1s);
      green::sleep(2s);
    } catch (const green::Timeout& e) {
      return e == outer ? std::string("outer") : std::string("inner");
    }
    return std::string("none");
  });
  REQUIRE(outer_first.join() == "outer");
}

TEST_CASE("a Timeout can throw a custom exception", "[green][timeout][tsan]") {
  auto g = green::spawn([] {
    green::Timeout t(5ms, std::make_exception_ptr(std::runtime_error("too slow")));
    green::sleep(1s);
  });
  try {
    g.join();
    FAIL("no exception");
  } catch (const std::runtime_error& e) {
    REQUIRE(std::string(e.what()) == "too slow");
  }
}

TEST_CASE("Timeout is not a std::exception: catch (std::exception&) does not swallow it",
          "[green][timeout][tsan]") {
  auto g = green::spawn([] {
    green::Timeout t(5ms);
    try {
      green::sleep(1s);
    } catch (const std::exception&) {
      return "swallowed";
    } catch (const green::Timeout&) {
      return "timeout";
    }
    return "none";
  });
  REQUIRE(std::string(g.join()) == "timeout");
}

TEST_CASE("a Timeout with no duration never fires - with_timeout returns the value",
          "[green][timeout][tsan]") {
  green::Timeout never(std::nullopt);
  green::sleep(2ms);
  REQUIRE_FALSE(never.pending());
  REQUIRE(green::with_timeout(1s, [] { return 7; }) == 7);
  REQUIRE_THROWS_AS(green::with_timeout(5ms, [] { green::sleep(1s); }), green::Timeout);
}

TEST_CASE("a Timeout in the main context interrupts its wait", "[green][timeout][tsan]") {
  green::Event never;
  const auto t0 = now();
  REQUIRE_THROWS_AS((green::with_timeout(10ms, [&] { never.wait(); })), green::Timeout);
  REQUIRE(ms_since(t0) >= 9);
}

TEST_CASE("an expired Timeout whose wait succeeded anyway is not thrown later",
          "[green][timeout][tsan]") {
  // The Event is set and the deadline passes in the same hub turn (set first): the wait
  // reports success, and the deadline must not resurface after its scope ended.
  green::Event e;
  auto g = green::spawn([&] {
    {
      green::hub_loop().call_later(1ms, [&] { e.set(); });
      green::Timeout t(1ms);
      const auto busy_until = now() + 3ms;
      while (now() < busy_until) {
      }  // both are due when the hub next polls
      REQUIRE(e.wait());
    }
    green::sleep(5ms);
    return true;
  });
  REQUIRE(g.join(1s));
}
