// Event, Lock, Semaphore, Queue.
#include "aio_support.hpp"

#include <memory>
#include <string>
#include <vector>

using namespace grove;
using namespace grove::aio::test;
namespace aio = grove::aio;

TEST_CASE("Event: set wakes every waiter, and wait on a set event returns at once", "[sync]") {
  aio::run([]() -> aio::Task<void> {
    aio::Event ev;
    int woken = 0;
    auto waiter = [](aio::Event& e, int& n) -> aio::Task<void> {
      co_await e.wait();
      ++n;
    };
    auto a = aio::create_task(waiter(ev, woken));
    auto b = aio::create_task(waiter(ev, woken));
    co_await aio::sleep(1ms);
    CHECK(woken == 0);
    CHECK_FALSE(ev.is_set());
    ev.set();
    co_await a;
    co_await b;
    CHECK(woken == 2);
    co_await ev.wait();  // already set
    ev.clear();
    CHECK_FALSE(ev.is_set());
  }());
}

TEST_CASE("Lock: mutual exclusion and first-come first-served", "[sync]") {
  aio::run([]() -> aio::Task<void> {
    aio::Lock lock;
    std::string trace;
    int inside = 0;
    int max_inside = 0;
    auto worker = [&](char id) -> aio::Task<void> {
      auto guard = co_await lock.scoped();
      ++inside;
      max_inside = std::max(max_inside, inside);
      trace += id;
      co_await aio::sleep(1ms);
      --inside;
    };
    co_await aio::gather(worker('a'), worker('b'), worker('c'), worker('d'));
    CHECK(max_inside == 1);
    CHECK(trace == "abcd");
    CHECK_FALSE(lock.locked());
    CHECK_THROWS_AS(lock.release(), aio::InvalidStateError);
  }());
}

TEST_CASE("Lock: acquire/release by hand and try_acquire", "[sync]") {
  aio::run([]() -> aio::Task<void> {
    aio::Lock lock;
    co_await lock.acquire();
    CHECK(lock.locked());
    CHECK_FALSE(lock.try_acquire());
    lock.release();
    CHECK(lock.try_acquire());
    lock.release();
  }());
}

TEST_CASE("Semaphore bounds concurrency", "[sync]") {
  aio::run([]() -> aio::Task<void> {
    aio::Semaphore sem(2);
    int inside = 0;
    int max_inside = 0;
    auto worker = [&]() -> aio::Task<void> {
      auto permit = co_await sem.scoped();
      ++inside;
      max_inside = std::max(max_inside, inside);
      co_await aio::sleep(2ms);
      --inside;
    };
    std::vector<aio::Task<void>> workers;
    for (int i = 0; i < 6; ++i) workers.push_back(worker());
    co_await aio::gather(std::move(workers));
    CHECK(max_inside == 2);
    CHECK(sem.value() == 2);
    sem.release();  // asyncio's Semaphore may grow beyond its start value
    CHECK(sem.value() == 3);
  }());
}

TEST_CASE("Queue: FIFO order and a bounded put that waits for room", "[sync]") {
  aio::run([]() -> aio::Task<void> {
    aio::Queue<int> q(2);
    std::vector<int> got;
    bool producer_done = false;
    auto producer = aio::create_task(aio::co_invoke([&]() -> aio::Task<void> {
      for (int i = 0; i < 5; ++i) co_await q.put(i);
      producer_done = true;
    }));
    co_await aio::sleep(2ms);
    CHECK(q.full());
    CHECK(q.size() == 2);
    CHECK_FALSE(producer_done);  // blocked on the third put
    for (int i = 0; i < 5; ++i) got.push_back(co_await q.get());
    co_await producer;
    CHECK(got == std::vector<int>{0, 1, 2, 3, 4});
    CHECK(q.empty());
  }());
}

TEST_CASE("Queue: get waits for a put, and items are handed over directly", "[sync]") {
  aio::run([]() -> aio::Task<void> {
    aio::Queue<std::unique_ptr<std::string>> q;  // move-only items
    auto consumer = aio::create_task(aio::co_invoke([&]() -> aio::Task<std::string> {
      auto item = co_await q.get();
      co_return *item;
    }));
    co_await aio::sleep(1ms);
    co_await q.put(std::make_unique<std::string>("hello"));
    CHECK(q.empty());  // went straight to the waiting consumer
    std::string v = co_await consumer;
    CHECK(v == "hello");
  }());
}

TEST_CASE("Queue: nowait variants, task_done and join", "[sync]") {
  aio::run([]() -> aio::Task<void> {
    aio::Queue<int> q(1);
    CHECK_THROWS_AS(q.get_nowait(), aio::QueueEmpty);
    q.put_nowait(1);
    CHECK_THROWS_AS(q.put_nowait(2), aio::QueueFull);
    int processed = 0;
    auto worker = aio::create_task(aio::co_invoke([&]() -> aio::Task<void> {
      for (;;) {
        int item = co_await q.get();
        co_await aio::sleep(1ms);
        processed += item;
        q.task_done();
      }
    }));
    co_await q.put(2);
    co_await q.put(3);
    co_await q.join();  // every item processed
    CHECK(processed == 6);
    worker.cancel();
    try {
      co_await worker;
    } catch (const aio::CancelledError&) {
    }
    CHECK_THROWS_AS(q.task_done(), aio::InvalidStateError);
  }());
}

TEST_CASE("a primitive destroyed while a task waits makes that wait throw", "[sync]") {
  aio::run([]() -> aio::Task<void> {
    auto ev = std::make_unique<aio::Event>();
    auto t = aio::create_task(aio::co_invoke([&]() -> aio::Task<void> { co_await ev->wait(); }));
    co_await aio::sleep(1ms);
    ev.reset();
    bool threw = false;
    try {
      co_await t;
    } catch (const aio::InvalidStateError& e) {
      threw = std::string(e.what()).find("destroyed") != std::string::npos;
    }
    CHECK(threw);
  }());
}
