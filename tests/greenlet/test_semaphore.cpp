// Semaphore, BoundedSemaphore, Lock and RLock under contention, with timeouts.
#include "green_support.hpp"

#include <mutex>

using namespace grove;
using namespace grove::test;

TEST_CASE("Semaphore: never more holders than permits, under contention",
          "[green][semaphore][tsan]") {
  green::Semaphore sem(3);
  int holders = 0, most = 0, done = 0;
  std::vector<green::Greenlet> gs;
  for (int i = 0; i < 30; ++i)
    gs.push_back(green::spawn([&] {
      for (int k = 0; k < 3; ++k) {
        std::lock_guard guard(sem);
        most = std::max(most, ++holders);
        green::sleep(k % 2 ? 0ns : 1ms);
        --holders;
      }
      ++done;
    }));
  green::joinall(gs);
  REQUIRE(done == 30);
  REQUIRE(most == 3);
  REQUIRE(sem.value() == 3);
}

TEST_CASE("Semaphore: waiters are served first come, first served", "[green][semaphore][tsan]") {
  green::Semaphore sem(0);
  std::string order;
  std::vector<green::Greenlet> gs;
  for (char c : std::string("abcd"))
    gs.push_back(green::spawn([&, c] {
      sem.acquire();
      order += c;
    }));
  green::sleep(1ms);  // all four wait, in spawn order
  for (int i = 0; i < 4; ++i) sem.release();
  // A newcomer cannot barge past the waiters the permits were handed to.
  REQUIRE_FALSE(sem.try_acquire());
  green::joinall(gs);
  REQUIRE(order == "abcd");
}

TEST_CASE("Semaphore: acquire with a timeout fails after the timeout", "[green][semaphore][tsan]") {
  green::Semaphore sem(1);
  sem.acquire();
  const auto t0 = now();
  auto g = green::spawn([&] { return sem.acquire(10ms); });
  REQUIRE_FALSE(g.join());
  REQUIRE(ms_since(t0) >= 9);
  REQUIRE_FALSE(sem.acquire(0ms));
  sem.release();
  REQUIRE(sem.acquire(0ms));
  sem.release();
}

TEST_CASE("Semaphore: a waiter killed while waiting loses nothing", "[green][semaphore][tsan]") {
  green::Semaphore sem(0);
  auto victim = green::spawn([&] { sem.acquire(); });
  auto patient = green::spawn([&] { return sem.acquire(1s); });
  green::sleep(1ms);
  victim.kill();
  sem.release();  // must go to `patient`, not to the dead victim
  REQUIRE(patient.join());
  REQUIRE(sem.value() == 0);
}

TEST_CASE("BoundedSemaphore: releasing too often is an error", "[green][semaphore][errors][tsan]") {
  green::BoundedSemaphore sem(2);
  sem.acquire();
  sem.release();
  REQUIRE_THROWS_AS(sem.release(), std::logic_error);
  green::Lock lock;
  REQUIRE_THROWS_AS(lock.release(), std::logic_error);
}

TEST_CASE("Lock: mutual exclusion across waits", "[green][lock][tsan]") {
  green::Lock lock;
  int inside = 0, worst = 0;
  std::vector<green::Greenlet> gs;
  for (int i = 0; i < 20; ++i)
    gs.push_back(green::spawn([&] {
      for (int k = 0; k < 5; ++k) {
        std::lock_guard guard(lock);
        worst = std::max(worst, ++inside);
        green::sleep(0ns);
        --inside;
      }
    }));
  green::joinall(gs);
  REQUIRE(worst == 1);
  REQUIRE_FALSE(lock.locked());
}

TEST_CASE("Lock: acquire times out while another holds it", "[green][lock][timeout][tsan]") {
  green::Lock lock;
  auto holder = green::spawn([&] {
    std::lock_guard guard(lock);
    green::sleep(30ms);
  });
  green::sleep(0ns);
  auto g = green::spawn([&] { return std::make_pair(lock.acquire(5ms), lock.acquire(1s)); });
  auto [first, second] = g.join();
  REQUIRE_FALSE(first);
  REQUIRE(second);
  lock.release();
  holder.join();
}

TEST_CASE("RLock: the holder may re-acquire - others wait until fully released",
          "[green][lock][tsan]") {
  green::RLock lock;
  std::vector<std::string> trace;
  auto a = green::spawn([&] {
    std::lock_guard l1(lock);
    std::lock_guard l2(lock);
    trace.push_back("a in");
    green::sleep(5ms);
    trace.push_back("a out");
  });
  auto b = green::spawn([&] {
    green::sleep(0ns);
    std::lock_guard l(lock);
    trace.push_back("b in");
  });
  green::joinall({a, b});
  REQUIRE(trace == std::vector<std::string>{"a in", "a out", "b in"});
  auto c = green::spawn([&] {
    try {
      lock.release();
    } catch (const std::logic_error&) {
      return true;
    }
    return false;
  });
  REQUIRE(c.join());
  REQUIRE(lock.acquire(0ms) == true);
  lock.release();
}
