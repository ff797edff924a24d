// cancel(): CancelledError at every kind of await point, and what happens around it.
#include "aio_support.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

using namespace grove;
using namespace grove::aio::test;
namespace aio = grove::aio;

namespace {

struct Pair {
  int a = -1, b = -1;
  Pair() { REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, &a) == 0); }
  ~Pair() {
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
  }
};

// Starts a task that awaits `make_await()`, lets it suspend there, cancels it, and checks
// that CancelledError was thrown at that await point and ended the task.
template <class MakeAwait>
aio::Task<void> cancel_while_awaiting(MakeAwait make_await) {
  bool reached = false;
  bool thrown_here = false;
  bool ran_past = false;
  auto task = aio::create_task(aio::co_invoke([&]() -> aio::Task<void> {
    reached = true;
    try {
      co_await make_await();
    } catch (const aio::CancelledError&) {
      thrown_here = true;
      throw;
    }
    ran_past = true;
  }));
  co_await aio::sleep(5ms);
  REQUIRE(reached);
  REQUIRE_FALSE(task.done());
  CHECK(task.cancel());
  bool awaited_cancelled = false;
  try {
    co_await task;
  } catch (const aio::CancelledError&) {
    awaited_cancelled = true;
  }
  CHECK(awaited_cancelled);
  CHECK(thrown_here);
  CHECK_FALSE(ran_past);
  CHECK(task.cancelled());
  CHECK_FALSE(task.cancel());  // already done
}

}  // namespace

TEST_CASE("cancel at sleep", "[cancel]") {
  aio::run(cancel_while_awaiting([] { return aio::sleep(10s); }));
}

TEST_CASE("cancel at Event::wait", "[cancel]") {
  aio::run([]() -> aio::Task<void> {
    aio::Event ev;
    co_await cancel_while_awaiting([&] { return ev.wait(); });
  }());
}

TEST_CASE("cancel at Lock::acquire leaves the lock consistent", "[cancel]") {
  aio::run([]() -> aio::Task<void> {
    aio::Lock lock;
    co_await lock.acquire();
    co_await cancel_while_awaiting([&] { return lock.acquire(); });
    CHECK(lock.locked());
    lock.release();  // nobody is queued any more
    CHECK_FALSE(lock.locked());
    CHECK(lock.try_acquire());
    lock.release();
  }());
}

TEST_CASE("cancel at Semaphore::acquire", "[cancel]") {
  aio::run([]() -> aio::Task<void> {
    aio::Semaphore sem(0);
    co_await cancel_while_awaiting([&] { return sem.acquire(); });
    sem.release();
    CHECK(sem.value() == 1);  // the cancelled waiter did not take it
  }());
}

TEST_CASE("cancel at Queue::get and at Queue::put on a full queue", "[cancel]") {
  aio::run([]() -> aio::Task<void> {
    aio::Queue<int> q(1);
    co_await cancel_while_awaiting([&] { return q.get(); });
    q.put_nowait(1);
    co_await cancel_while_awaiting([&] { return q.put(2); });
    CHECK(q.size() == 1);
    CHECK(q.get_nowait() == 1);  // the cancelled put did not insert its item
  }());
}

TEST_CASE("cancel at an fd readiness wait", "[cancel]") {
  aio::run([]() -> aio::Task<void> {
    Pair p;
    co_await cancel_while_awaiting([&] { return aio::wait_readable(p.a); });
    // The watcher is gone: the fd can be waited on again and reports data.
    REQUIRE(::write(p.b, "x", 1) == 1);
    Events e = co_await aio::wait_readable(p.a, 1s);
    CHECK(e == Events::read);
  }());
}

TEST_CASE("cancel at a socket recv", "[cancel]") {
  aio::run([]() -> aio::Task<void> {
    Pair p;
    aio::Socket s(std::exchange(p.a, -1));
    co_await cancel_while_awaiting([&] { return s.recv_some(100); });
    REQUIRE(::write(p.b, "hi", 2) == 2);
    std::string got = co_await s.recv_some(100, 1s);
    CHECK(got == "hi");
  }());
}

TEST_CASE("cancel at a worker-thread job", "[cancel][tsan]") {
  std::atomic<bool> release{false};
  std::atomic<bool> finished{false};
  aio::run(aio::co_invoke([&]() -> aio::Task<void> {
    co_await cancel_while_awaiting([&] {
      return aio::to_thread([&] {
        while (!release.load()) std::this_thread::sleep_for(1ms);
        finished = true;
        return 1;
      });
    });
    CHECK_FALSE(finished.load());  // the task was cancelled while the job still ran
    release = true;
  }));
  // run() returned only after the job had posted back: the loop outlived it.
  CHECK(finished.load());
}

TEST_CASE("cancelling a task that awaits another task cancels the inner one", "[cancel]") {
  aio::run([]() -> aio::Task<void> {
    bool inner_cancelled = false;
    auto inner = aio::create_task(aio::co_invoke([&]() -> aio::Task<int> {
      try {
        co_await aio::sleep(10s);
      } catch (const aio::CancelledError&) {
        inner_cancelled = true;
        throw;
      }
      co_return 1;
    }));
    co_await cancel_while_awaiting([&] { return inner; });
    CHECK(inner_cancelled);
    CHECK(inner.cancelled());
  }());
}

TEST_CASE("cancellation reaches the innermost of a chain of awaited Tasks", "[cancel]") {
  aio::run([]() -> aio::Task<void> {
    bool cleaned[3] = {false, false, false};
    auto level = [](bool& flag, aio::Task<void> inner) -> aio::Task<void> {
      Cleanup c(flag);
      co_await std::move(inner);
    };
    auto leaf = [](bool& flag) -> aio::Task<void> {
      Cleanup c(flag);
      co_await aio::sleep(10s);
    };
    co_await cancel_while_awaiting(
        [&] { return level(cleaned[0], level(cleaned[1], leaf(cleaned[2]))); });
    CHECK(cleaned[0]);
    CHECK(cleaned[1]);
    CHECK(cleaned[2]);
  }());
}

TEST_CASE("cancelling a gather cancels its children", "[cancel]") {
  aio::run([]() -> aio::Task<void> {
    int started = 0;
    int cancelled = 0;
    auto child = [&]() -> aio::Task<int> {
      ++started;
      try {
        co_await aio::sleep(10s);
      } catch (const aio::CancelledError&) {
        ++cancelled;
        throw;
      }
      co_return 0;
    };
    auto task = aio::create_task(
        aio::co_invoke([&]() -> aio::Task<void> { co_await aio::gather(child(), child()); }));
    // Cancelled before they start, children never run (asyncio's rule too): wait until both
    // are suspended in their sleep. A fixed delay is not enough on a loaded machine.
    for (int i = 0; i < 1000 && started < 2; ++i) co_await aio::sleep(1ms);
    REQUIRE(started == 2);
    CHECK(task.cancel());
    bool awaited_cancelled = false;
    try {
      co_await task;
    } catch (const aio::CancelledError&) {
      awaited_cancelled = true;
    }
    CHECK(awaited_cancelled);
    CHECK(cancelled == 2);
  }());
}

TEST_CASE("cancelling a wait_for cancels the inner task", "[cancel]") {
  aio::run([]() -> aio::Task<void> {
    bool inner_cancelled = false;
    auto inner = [](bool& flag) -> aio::Task<void> {
      try {
        co_await aio::sleep(10s);
      } catch (const aio::CancelledError&) {
        flag = true;
        throw;
      }
    };
    co_await cancel_while_awaiting([&] { return aio::wait_for(inner(inner_cancelled), 10s); });
    CHECK(inner_cancelled);
  }());
}

TEST_CASE("a task cancelled before it starts never runs", "[cancel]") {
  aio::run([]() -> aio::Task<void> {
    bool ran = false;
    auto t = aio::create_task([](bool& r) -> aio::Task<int> {
      r = true;
      co_return 1;
    }(ran));
    CHECK(t.cancel());
    CHECK(t.done());
    CHECK(t.cancelled());
    co_await aio::sleep(1ms);
    CHECK_FALSE(ran);
    CHECK_THROWS_AS(t.result(), aio::CancelledError);
  }());
}

TEST_CASE("a task that cancels itself gets CancelledError at its next await", "[cancel]") {
  aio::run([]() -> aio::Task<void> {
    aio::TaskHandle<void> self;
    std::string trace;
    self = aio::create_task(aio::co_invoke([&]() -> aio::Task<void> {
      co_await aio::sleep(0ms);
      self.cancel();
      trace += "cancel-requested;";  // still running: the request waits for an await
      try {
        co_await aio::sleep(0ms);
      } catch (const aio::CancelledError&) {
        trace += "cancelled;";
        throw;
      }
      trace += "not-reached;";
    }));
    try {
      co_await self;
    } catch (const aio::CancelledError&) {
      trace += "awaiter-saw-it";
    }
    CHECK(trace == "cancel-requested;cancelled;awaiter-saw-it");
  }());
}

TEST_CASE("a task may catch CancelledError and finish normally", "[cancel]") {
  aio::run([]() -> aio::Task<void> {
    auto t = aio::create_task([]() -> aio::Task<int> {
      try {
        co_await aio::sleep(10s);
      } catch (const aio::CancelledError&) {
        co_return -1;  // a graceful stop
      }
      co_return 1;
    }());
    co_await aio::sleep(1ms);
    t.cancel();
    const int v = co_await t;
    CHECK(v == -1);
    CHECK_FALSE(t.cancelled());
  }());
}

TEST_CASE("a lock granted just before a cancel is kept, and the cancel hits the next await",
          "[cancel]") {
  aio::run([]() -> aio::Task<void> {
    aio::Lock lock;
    co_await lock.acquire();
    std::string trace;
    auto t = aio::create_task(aio::co_invoke([&]() -> aio::Task<void> {
      auto guard = co_await lock.scoped();
      trace += "acquired;";
      try {
        co_await aio::sleep(0ms);
      } catch (const aio::CancelledError&) {
        trace += "cancelled-after;";
        throw;
      }
    }));
    co_await aio::sleep(1ms);  // t waits for the lock
    lock.release();            // handed to t, which resumes on the next iteration...
    t.cancel();                // ...after this cancel
    try {
      co_await t;
    } catch (const aio::CancelledError&) {
    }
    CHECK(trace == "acquired;cancelled-after;");
    CHECK_FALSE(lock.locked());  // the guard released it while unwinding
  }());
}

TEST_CASE("shield protects the inner task from the awaiter's cancellation", "[cancel]") {
  aio::run([]() -> aio::Task<void> {
    aio::Event go;
    auto inner = aio::create_task([](aio::Event& ev) -> aio::Task<int> {
      co_await ev.wait();
      co_return 5;
    }(go));
    co_await cancel_while_awaiting([&] { return aio::shield(inner); });
    CHECK_FALSE(inner.done());
    CHECK_FALSE(inner.cancelled());
    go.set();
    const int v = co_await inner;
    CHECK(v == 5);
    CHECK_FALSE(inner.cancelled());
  }());
}
