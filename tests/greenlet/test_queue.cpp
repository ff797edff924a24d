// Queue<T> (bounded, FIFO) and Channel<T> (rendezvous) under contention, with timeouts.
#include "green_support.hpp"

#include <memory>
#include <numeric>

using namespace grove;
using namespace grove::test;

TEST_CASE("Queue: with one consumer, items come out in the order they went in",
          "[green][queue][tsan]") {
  green::Queue<int> q(3);
  std::vector<green::Greenlet> producers;
  for (int p = 0; p < 3; ++p)
    producers.push_back(green::spawn([&, p] {
      for (int i = 0; i < 50; ++i) q.put(p * 1000 + i);
    }));
  std::vector<int> last(3, -1);
  for (int n = 0; n < 150; ++n) {
    const int v = q.get();
    REQUIRE(v % 1000 == last[std::size_t(v / 1000)] + 1);
    last[std::size_t(v / 1000)] = v % 1000;
  }
  green::joinall(producers);
}

TEST_CASE("Queue: many producers and consumers pass every item exactly once",
          "[green][queue][tsan]") {
  green::Queue<std::pair<int, int>> q(4);
  constexpr int kProducers = 8, kEach = 200;
  std::vector<std::vector<int>> got(kProducers);
  std::vector<green::Greenlet> gs;
  for (int p = 0; p < kProducers; ++p)
    gs.push_back(green::spawn([&, p] {
      for (int i = 0; i < kEach; ++i) q.put({p, i});
    }));
  int consumed = 0;
  for (int c = 0; c < 5; ++c)
    gs.push_back(green::spawn([&] {
      for (;;) {
        auto [p, i] = q.get();
        if (p < 0) return;
        got[std::size_t(p)].push_back(i);
        ++consumed;
        if (i % 7 == 0) green::sleep(0ns);
      }
    }));
  green::joinall(std::vector<green::Greenlet>(gs.begin(), gs.begin() + kProducers));
  for (int c = 0; c < 5; ++c) q.put({-1, 0});
  green::joinall(gs);
  REQUIRE(consumed == kProducers * kEach);
  for (auto& seq : got) {
    std::sort(seq.begin(), seq.end());
    std::vector<int> expect(kEach);
    std::iota(expect.begin(), expect.end(), 0);
    REQUIRE(seq == expect);
  }
}

TEST_CASE("Queue: the bound holds - put waits while full", "[green][queue][tsan]") {
  green::Queue<int> q(2);
  std::size_t largest = 0;
  auto producer = green::spawn([&] {
    for (int i = 0; i < 10; ++i) {
      q.put(i);
      largest = std::max(largest, q.size());
    }
  });
  green::sleep(1ms);
  REQUIRE(q.full());
  REQUIRE(q.putters_waiting() == 1);
  for (int i = 0; i < 10; ++i) REQUIRE(q.get() == i);
  producer.join();
  REQUIRE(largest <= 2);
}

TEST_CASE("Queue: get and put time out with QueueEmpty and QueueFull",
          "[green][queue][timeout][tsan]") {
  green::Queue<int> q(1);
  auto t0 = now();
  REQUIRE_THROWS_AS(q.get(10ms), green::QueueEmpty);
  REQUIRE(ms_since(t0) >= 9);
  q.put(1);
  t0 = now();
  REQUIRE_THROWS_AS(q.put(2, 10ms), green::QueueFull);
  REQUIRE(ms_since(t0) >= 9);
  REQUIRE_THROWS_AS(q.put_nowait(3), green::QueueFull);
  REQUIRE(q.get_nowait() == 1);
  REQUIRE_THROWS_AS(q.get_nowait(), green::QueueEmpty);
}

TEST_CASE("Queue: a getter that times out does not swallow a later item", "[green][queue][tsan]") {
  green::Queue<int> q;
  auto impatient = green::spawn([&] {
    try {
      q.get(2ms);
    } catch (const green::QueueEmpty&) {
      return true;
    }
    return false;
  });
  auto patient = green::spawn([&] { return q.get(1s); });
  REQUIRE(impatient.join());
  q.put(42);
  REQUIRE(patient.join() == 42);
}

TEST_CASE("Queue: move-only items", "[green][queue][tsan]") {
  green::Queue<std::unique_ptr<int>> q(1);
  auto g = green::spawn([&] { return *q.get(); });
  q.put(std::make_unique<int>(9));
  REQUIRE(g.join() == 9);
}

TEST_CASE("Channel: put waits for a getter - items pass hand to hand", "[green][channel][tsan]") {
  green::Channel<int> ch;
  std::vector<std::string> trace;
  auto putter = green::spawn([&] {
    trace.push_back("put 1");
    ch.put(1);
    trace.push_back("put 1 taken");
    ch.put(2);
    trace.push_back("put 2 taken");
  });
  green::sleep(2ms);
  REQUIRE(trace == std::vector<std::string>{"put 1"});
  REQUIRE(ch.putters_waiting() == 1);
  REQUIRE(ch.get() == 1);
  REQUIRE(ch.get() == 2);
  putter.join();
  REQUIRE(trace.back() == "put 2 taken");
}

TEST_CASE("Channel: put and get time out without a partner", "[green][channel][timeout][tsan]") {
  green::Channel<int> ch;
  REQUIRE_THROWS_AS(ch.put(1, 5ms), green::QueueFull);
  REQUIRE_THROWS_AS(ch.get(5ms), green::QueueEmpty);
  REQUIRE(ch.putters_waiting() == 0);
  REQUIRE(ch.getters_waiting() == 0);
}

TEST_CASE("Channel: many getters and putters pair off", "[green][channel][tsan]") {
  green::Channel<int> ch;
  int sum = 0;
  std::vector<green::Greenlet> gs;
  for (int i = 1; i <= 50; ++i) gs.push_back(green::spawn([&, i] { ch.put(i); }));
  for (int i = 0; i < 50; ++i) gs.push_back(green::spawn([&] { sum += ch.get(); }));
  green::joinall(gs);
  REQUIRE(sum == 50 * 51 / 2);
}
