// Event and AsyncResult under contention, with timeouts.
#include "green_support.hpp"

#include <stdexcept>

using namespace grove;
using namespace grove::test;

TEST_CASE("Event: set wakes every waiter - later waits return at once", "[green][event][tsan]") {
  green::Event e;
  int woken = 0;
  std::vector<green::Greenlet> gs;
  for (int i = 0; i < 50; ++i)
    gs.push_back(green::spawn([&] {
      if (e.wait()) ++woken;
    }));
  green::sleep(1ms);
  REQUIRE(woken == 0);
  e.set();
  green::joinall(gs);
  REQUIRE(woken == 50);
  REQUIRE(e.wait(0ms));
  e.clear();
  REQUIRE_FALSE(e.is_set());
}

TEST_CASE("Event: wait with a timeout returns false when nobody sets it", "[green][event][tsan]") {
  green::Event e;
  const auto t0 = now();
  auto g = green::spawn([&] { return e.wait(15ms); });
  REQUIRE_FALSE(g.join());
  REQUIRE(ms_since(t0) >= 14);
}

TEST_CASE("Event: set from a loop callback wakes green threads", "[green][event][tsan]") {
  green::Event e;
  green::hub_loop().call_later(2ms, [&] { e.set(); });
  auto g = green::spawn([&] { return e.wait(1s); });
  REQUIRE(g.join());
}

TEST_CASE("Event: some waiters time out while others are woken", "[green][event][timeout][tsan]") {
  green::Event e;
  int timed_out = 0, woken = 0;
  std::vector<green::Greenlet> gs;
  for (int i = 0; i < 20; ++i)
    gs.push_back(green::spawn([&, i] {
      if (e.wait(i % 2 ? 5ms : 1s)) ++woken;
      else ++timed_out;
    }));
  const auto t0 = now();
  while (timed_out < 10 && ms_since(t0) < 2000) green::sleep(1ms);
  REQUIRE(timed_out == 10);
  REQUIRE(woken == 0);
  e.set();
  green::joinall(gs);
  REQUIRE(timed_out == 10);
  REQUIRE(woken == 10);
}

TEST_CASE("AsyncResult: get returns the value to every waiter", "[green][event][tsan]") {
  green::AsyncResult<std::string> r;
  std::vector<green::Handle<std::string>> gs;
  for (int i = 0; i < 10; ++i) gs.push_back(green::spawn([&] { return r.get(); }));
  green::spawn([&] {
    green::sleep(2ms);
    r.set("done");
  });
  for (auto& g : gs) REQUIRE(g.join() == "done");
  REQUIRE(r.ready());
  REQUIRE(r.successful());
}

TEST_CASE("AsyncResult: an exception keeps its type - get times out with Timeout",
          "[green][event][tsan]") {
  green::AsyncResult<int> r;
  REQUIRE_THROWS_AS(r.get(5ms), green::Timeout);
  auto g = green::spawn([&] { return r.get(); });
  r.set_exception(std::make_exception_ptr(std::out_of_range("nope")));
  REQUIRE_THROWS_AS(g.join(), std::out_of_range);
  REQUIRE_FALSE(r.successful());
  green::AsyncResult<void> v;
  v.set();
  REQUIRE_NOTHROW(v.get());
}
