// sleep: suspends only the caller; sleep(0) yields fairly; a yield loop starves nothing.
#include "green_support.hpp"

#include <unistd.h>

using namespace grove;
using namespace grove::test;

TEST_CASE("sleep suspends only the calling green thread, for at least the duration",
          "[green][sleep][tsan]") {
  std::vector<std::string> order;
  const auto t0 = now();
  auto slow = green::spawn([&] {
    green::sleep(40ms);
    order.push_back("slow");
    return ms_since(t0);
  });
  auto fast = green::spawn([&] {
    green::sleep(10ms);
    order.push_back("fast");
    return ms_since(t0);
  });
  REQUIRE(slow.join() >= 40);
  REQUIRE(fast.join() >= 10);
  REQUIRE(order == std::vector<std::string>{"fast", "slow"});
}

TEST_CASE("100 green threads sleeping 50 ms take about 50 ms together", "[green][sleep][tsan]") {
  const auto t0 = now();
  std::vector<green::Greenlet> gs;
  for (int i = 0; i < 100; ++i) gs.push_back(green::spawn([] { green::sleep(50ms); }));
  green::joinall(gs);
  const double took = ms_since(t0);
  REQUIRE(took >= 50);
  REQUIRE(took < 1000);  // sequential would be 5 s
}

TEST_CASE("sleep(0) lets every other runnable green thread run once, round robin",
          "[green][sleep][fairness][tsan]") {
  std::string trace;
  auto worker = [&](char c) {
    for (int i = 0; i < 3; ++i) {
      trace += c;
      green::sleep(0ns);
    }
  };
  auto a = green::spawn(worker, 'a');
  auto b = green::spawn(worker, 'b');
  auto c = green::spawn(worker, 'c');
  green::joinall({a, b, c});
  REQUIRE(trace == "abcabcabc");
}

TEST_CASE("a sleep(0) loop cannot starve a timer", "[green][sleep][fairness][tsan]") {
  bool fired = false;
  long spins = 0;
  auto spinner = green::spawn([&] {
    while (!fired) {
      ++spins;
      green::sleep(0ns);
    }
  });
  auto timed = green::spawn([&] {
    green::sleep(5ms);
    fired = true;
  });
  const auto t0 = now();
  timed.join(2s);
  spinner.join(2s);
  REQUIRE(fired);
  REQUIRE(spins > 0);
  REQUIRE(ms_since(t0) < 1000);
}

TEST_CASE("a sleep(0) loop cannot starve fd readiness", "[green][sleep][fairness][tsan]") {
  GreenFdPair p;
  bool got = false;
  auto spinner = green::spawn([&] {
    while (!got) green::sleep(0ns);
  });
  auto reader = green::spawn([&] {
    green::wait(p.a, Events::read);
    got = true;
  });
  auto writer = green::spawn([&] {
    green::sleep(2ms);
    REQUIRE(::write(p.b, "x", 1) == 1);
  });
  green::joinall({spinner, reader, writer}, 2s);
  REQUIRE(got);
}

TEST_CASE("a loop callback scheduled while green threads yield still runs",
          "[green][sleep][fairness][tsan]") {
  bool ran = false;
  green::hub_loop().call_soon([&] { ran = true; });
  auto spinner = green::spawn([&] {
    while (!ran) green::sleep(0ns);
  });
  spinner.join(2s);
  REQUIRE(ran);
}

TEST_CASE("sleep works in the main context too (the hub runs meanwhile)", "[green][sleep][tsan]") {
  int ticks = 0;
  auto ticker = green::spawn([&] {
    for (int i = 0; i < 5; ++i) {
      ++ticks;
      green::sleep(1ms);
    }
  });
  green::sleep(30ms);
  REQUIRE(ticks >= 2);  // the ticker ran while the main context slept
  ticker.join();
  REQUIRE(ticks == 5);
}
