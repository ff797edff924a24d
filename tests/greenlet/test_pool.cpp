// Group (join all, kill all) and Pool (bounded spawn that waits when full).
#include "green_support.hpp"

#include <stdexcept>

using namespace grove;
using namespace grove::test;

TEST_CASE("Group: join waits for every member - dead members leave", "[green][group][tsan]") {
  green::Group group;
  int done = 0;
  for (int i = 0; i < 10; ++i)
    group.spawn([&, i] {
      green::sleep(std::chrono::milliseconds(i));
      ++done;
    });
  REQUIRE(group.size() == 10);
  REQUIRE(group.join(2s));
  REQUIRE(done == 10);
  REQUIRE(group.empty());
}

TEST_CASE("Group: join with a timeout returns false - kill stops everyone",
          "[green][group][tsan]") {
  green::Group group;
  int exits = 0;
  for (int i = 0; i < 5; ++i)
    group.spawn([&] {
      try {
        green::sleep(10s);
      } catch (const green::GreenletExit&) {
        ++exits;
        throw;
      }
    });
  REQUIRE_FALSE(group.join(10ms));
  group.kill();
  REQUIRE(exits == 5);
  REQUIRE(group.empty());
}

TEST_CASE("Group: join(raise_error) rethrows a member's exception", "[green][group][tsan]") {
  CapturedDiagnostics diag;
  green::Group group;
  group.spawn([] { green::sleep(1ms); });
  group.spawn([] { throw std::domain_error("bad member"); });
  REQUIRE_THROWS_AS(group.join(2s, true), std::domain_error);
}

TEST_CASE("Group: add and discard members spawned elsewhere", "[green][group][tsan]") {
  green::Group group;
  auto g = green::spawn([] { green::sleep(5ms); });
  group.add(g);
  REQUIRE(group.contains(g));
  group.discard(g);
  REQUIRE_FALSE(group.contains(g));
  REQUIRE(group.join(0ms));
  g.join();
}

TEST_CASE("Pool: never more live members than its size - spawn waits when full",
          "[green][pool][tsan]") {
  green::Pool pool(3);
  int live = 0, most = 0, done = 0;
  for (int i = 0; i < 12; ++i) {
    pool.spawn([&] {
      most = std::max(most, ++live);
      green::sleep(2ms);
      --live;
      ++done;
    });
    REQUIRE(pool.size() <= 3);
  }
  pool.join();
  REQUIRE(done == 12);
  REQUIRE(most == 3);
}

TEST_CASE("Pool: wait_available times out while full", "[green][pool][timeout][tsan]") {
  green::Pool pool(1);
  green::Event release;
  pool.spawn([&] { release.wait(); });
  REQUIRE(pool.full());
  REQUIRE_FALSE(pool.wait_available(5ms));
  release.set();
  REQUIRE(pool.wait_available(1s));
  pool.join();
}

TEST_CASE("Pool: spawning from several green threads at once respects the bound",
          "[green][pool][tsan]") {
  green::Pool pool(2);
  int live = 0, most = 0;
  std::vector<green::Greenlet> spawners;
  for (int s = 0; s < 4; ++s)
    spawners.push_back(green::spawn([&] {
      for (int i = 0; i < 5; ++i)
        pool.spawn([&] {
          most = std::max(most, ++live);
          green::sleep(1ms);
          --live;
        });
    }));
  green::joinall(spawners);
  pool.join();
  REQUIRE(most <= 2);
}
