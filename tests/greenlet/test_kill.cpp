// kill: the exception is thrown at the green thread's switch point; GreenletExit is a
// normal exit; an unstarted green thread never runs.
#include "green_support.hpp"

#include <stdexcept>

using namespace grove;
using namespace grove::test;

namespace {
struct Stop {
  int why;
};
}  // namespace

TEST_CASE("kill throws GreenletExit at the switch point and counts as a normal exit",
          "[green][kill][tsan]") {
  CapturedDiagnostics diag;
  bool unwound = false, after_sleep = false;
  auto g = green::spawn([&] {
    struct Guard {
      bool& flag;
      ~Guard() { flag = true; }
    } guard{unwound};
    green::sleep(10s);
    after_sleep = true;
  });
  green::sleep(1ms);  // let it start and wait
  REQUIRE(g.started());
  const auto t0 = now();
  green::kill(g);  // blocks until it is dead
  REQUIRE(ms_since(t0) < 1000);
  REQUIRE(g.dead());
  REQUIRE(unwound);
  REQUIRE_FALSE(after_sleep);
  REQUIRE(g.successful());
  REQUIRE_FALSE(g.exception());
  REQUIRE_NOTHROW(g.join());
  REQUIRE(diag.lines().empty());  // a normal exit is not reported
}

TEST_CASE("kill with a custom exception: it is thrown where the thread waits and join rethrows it",
          "[green][kill][tsan]") {
  CapturedDiagnostics diag;
  green::Event never;
  int caught_why = 0;
  auto g = green::spawn([&] {
    try {
      never.wait();
    } catch (const Stop& s) {
      caught_why = s.why;
      throw;
    }
  });
  green::sleep(1ms);
  green::kill(g, Stop{3});
  REQUIRE(caught_why == 3);
  REQUIRE_THROWS_AS(g.join(), Stop);
  REQUIRE_FALSE(g.successful());
}

TEST_CASE("killing a green thread that has not started means it never runs",
          "[green][kill][tsan]") {
  bool ran = false;
  auto g = green::spawn([&] { ran = true; });
  green::kill(g);
  REQUIRE(g.dead());
  REQUIRE_FALSE(g.started());
  green::sleep(1ms);
  REQUIRE_FALSE(ran);
  REQUIRE(g.successful());
}

TEST_CASE("kill without block returns at once - the exception lands at the next switch",
          "[green][kill][tsan]") {
  std::vector<int> steps;
  auto g = green::spawn([&] {
    steps.push_back(1);
    green::sleep(0ns);  // runnable again when the kill arrives
    steps.push_back(2);
  });
  green::sleep(0ns);  // g runs step 1 and yields
  REQUIRE(steps == std::vector<int>{1});
  green::kill(g, nullptr, /*block=*/false);
  REQUIRE_FALSE(g.dead());
  g.join();
  REQUIRE(steps == std::vector<int>{1});
  REQUIRE(g.successful());
}

TEST_CASE("a green thread may kill another, and catch GreenletExit to clean up",
          "[green][kill][tsan]") {
  int cleanups = 0;
  auto victim = green::spawn([&] {
    try {
      green::sleep(10s);
    } catch (const green::GreenletExit&) {
      ++cleanups;
      throw;
    }
  });
  auto killer = green::spawn([&] {
    green::sleep(1ms);
    victim.kill();
    return victim.dead();
  });
  REQUIRE(killer.join());
  REQUIRE(cleanups == 1);
}

TEST_CASE("kill with a timeout gives up waiting for a stubborn green thread",
          "[green][kill][tsan]") {
  green::Event release;
  auto stubborn = green::spawn([&] {
    for (;;) {
      try {
        release.wait();
        return;
      } catch (const green::GreenletExit&) {
        // refuses to die
      }
    }
  });
  green::sleep(1ms);
  const auto t0 = now();
  green::kill(stubborn, nullptr, true, 30ms);
  REQUIRE(ms_since(t0) >= 25);
  REQUIRE_FALSE(stubborn.dead());
  release.set();
  stubborn.join(1s);
}

TEST_CASE("killing a dead green thread does nothing - killing main is an error",
          "[green][kill][tsan]") {
  auto g = green::spawn([] { return 1; });
  g.join();
  REQUIRE_NOTHROW(green::kill(g));
  REQUIRE_THROWS_AS(green::kill(green::current()), std::logic_error);
}

TEST_CASE("killall kills every green thread before waiting", "[green][kill][tsan]") {
  std::vector<green::Greenlet> gs;
  int exits = 0;
  for (int i = 0; i < 10; ++i)
    gs.push_back(green::spawn([&] {
      try {
        green::sleep(10s);
      } catch (const green::GreenletExit&) {
        ++exits;
        throw;
      }
    }));
  green::sleep(1ms);
  green::killall(gs);
  REQUIRE(exits == 10);
  for (auto& g : gs) REQUIRE(g.dead());
}
