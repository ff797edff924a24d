// A wait that nothing can ever end fails with WouldBlockForever instead of hanging.
#include "green_support.hpp"

#include <thread>

using namespace grove;
using namespace grove::test;

TEST_CASE("waiting on an Event nobody can set is 'would block forever'", "[green][stuck][tsan]") {
  green::Event never;
  try {
    never.wait();
    FAIL("wait returned");
  } catch (const green::WouldBlockForever& e) {
    REQUIRE_THAT(e.what(), Catch::Contains("green thread 'main' would block forever"));
    REQUIRE_THAT(e.what(), Catch::Contains(green::hub_engine()));
  }
}

TEST_CASE("joining a green thread that waits forever reports it to the waiting main context",
          "[green][stuck][tsan]") {
  green::Event never;
  auto g = green::spawn([&] { never.wait(); });
  REQUIRE_THROWS_AS(g.join(), green::WouldBlockForever);
  REQUIRE_FALSE(g.dead());
  never.set();  // it can still finish once something wakes it
  g.join();
}

TEST_CASE("a deadlock between two locks is reported, not hung", "[green][stuck][tsan]") {
  green::Lock a, b;
  auto one = green::spawn([&] {
    std::lock_guard la(a);
    green::sleep(1ms);
    std::lock_guard lb(b);
  });
  auto two = green::spawn([&] {
    std::lock_guard lb(b);
    green::sleep(1ms);
    std::lock_guard la(a);
  });
  REQUIRE_THROWS_AS(green::joinall({one, two}), green::WouldBlockForever);
  green::killall({one, two});
}

TEST_CASE("a wait with a pending timer, watcher or thread-pool job is not 'forever'",
          "[green][stuck][tsan]") {
  green::Event e;
  green::hub_loop().call_later(5ms, [&] { e.set(); });
  REQUIRE(e.wait());
  green::Event e2;
  auto job = green::spawn([&] {
    green::run_in_thread([] { std::this_thread::sleep_for(5ms); });
    e2.set();
  });
  REQUIRE(e2.wait());
  job.join();
}
