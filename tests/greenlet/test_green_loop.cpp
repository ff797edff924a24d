// The `green` engine: an EventLoop facade over the hub. Loop callbacks and green threads
// share one hub; run() from a green thread waits without blocking its siblings; the running
// loop is per green thread.
#include "green_support.hpp"

#include <grove/context.hpp>

#include <unistd.h>

#include <thread>

using namespace grove;
using namespace grove::test;

namespace {
struct Registered {
  Registered() { green::register_green_engine(); }
} registered;
}  // namespace

TEST_CASE("make_loop(\"green\") is a loop over this thread's hub", "[green][engine][tsan]") {
  auto loop = make_loop("green");
  REQUIRE(loop->engine() == "green");
  REQUIRE_THAT(loop->capabilities().poller, Catch::Contains(green::hub_engine()));
  const auto names = built_engines();
  REQUIRE(std::find(names.begin(), names.end(), "green") != names.end());
}

TEST_CASE("a green loop's watchers outlive it inert, and its capabilities say so",
          "[green][engine]") {
  Timer t;
  IoWatcher w;
  auto p = FdPair::socketpair();
  int calls = 0;
  std::vector<std::string> emulated;
  {
    auto loop = make_loop("green");
    emulated = loop->capabilities().emulated;
    t = loop->call_later(1s, [] {});
    w = loop->watch(p.a, Events::read, [&](Events) { ++calls; });
  }
  REQUIRE_FALSE(t.active());  // timers go with the loop, as on every engine
  REQUIRE(w.active());        // the difference: the watcher is the hub loop's
  REQUIRE(std::any_of(emulated.begin(), emulated.end(), [](const std::string& e) {
    return e.find("outlive a destroyed green loop") != std::string::npos;
  }));
  REQUIRE(::write(p.b, "x", 1) == 1);
  green::sleep(20ms);   // the hub turns with the fd readable
  REQUIRE(calls == 0);  // inert
  w.close();
  REQUIRE_FALSE(w.active());
}

TEST_CASE("the green loop runs callbacks, timers and watchers until no work is left",
          "[green][engine][tsan]") {
  auto loop = make_loop("green");
  auto p = FdPair::socketpair();
  std::vector<std::string> trace;
  loop->call_soon([&] { trace.push_back("soon"); });
  loop->call_later(50ms, [&] {
    trace.push_back("timer");
    REQUIRE(::write(p.b, "x", 1) == 1);
  });
  IoWatcher w = loop->watch(p.a, Events::read, [&](Events) {
    char c;
    REQUIRE(::read(p.a, &c, 1) == 1);
    trace.push_back("read");
    w.close();
  });
  loop->run();
  REQUIRE(trace == std::vector<std::string>{"soon", "timer", "read"});
}

TEST_CASE("run() on the green loop in one green thread does not block its siblings",
          "[green][engine][tsan]") {
  auto loop = make_loop("green");
  int ticks = 0;
  auto runner = green::spawn([&] {
    // now() is cached (refreshed at each hub turn), as on every engine: refresh it before
    // computing a relative deadline in code that has not waited for a while.
    loop->update_now();
    const auto t0 = now();
    loop->call_later(30ms, [&] { loop->stop(); });
    loop->run();
    return ms_since(t0);
  });
  auto ticker = green::spawn([&] {
    for (int i = 0; i < 10; ++i) {
      ++ticks;
      green::sleep(1ms);
    }
  });
  REQUIRE(runner.join() >= 29);
  ticker.join();
  REQUIRE(ticks == 10);
}

TEST_CASE("the running loop is per green thread: siblings never see another's",
          "[green][engine][context][tsan]") {
  auto loop = make_loop("green");
  EventLoop* runner_during = nullptr;
  EventLoop* sibling_during = reinterpret_cast<EventLoop*>(1);
  EventLoop* hub_during = nullptr;
  EventLoop* runner_after = reinterpret_cast<EventLoop*>(1);
  auto runner = green::spawn([&] {
    ExecutionContext* mine = &current_context();
    REQUIRE(mine->running_loop == nullptr);
    loop->call_later(5ms, [&] {
      runner_during = mine->running_loop;           // the runner's own context
      hub_during = current_context().running_loop;  // the hub's context
      loop->stop();
    });
    loop->run();
    runner_after = current_context().running_loop;
  });
  auto sibling = green::spawn([&] {
    green::sleep(2ms);  // while the runner is inside run()
    sibling_during = current_context().running_loop;
  });
  green::joinall({runner, sibling});
  REQUIRE(runner.successful());
  REQUIRE(runner_during == loop.get());
  REQUIRE(sibling_during == nullptr);
  REQUIRE(hub_during == loop.get());  // inside a callback of `loop`, the hub runs `loop`
  REQUIRE(runner_after == nullptr);
  REQUIRE(current_context().running_loop == nullptr);
}

TEST_CASE("run() returns when the hub has nothing left, even with green threads waiting",
          "[green][engine][tsan]") {
  auto loop = make_loop("green");
  int fired = 0;
  loop->call_later(2ms, [&] { ++fired; });
  loop->run();  // from the main context: returns once the timer has fired
  REQUIRE(fired == 1);
  REQUIRE_FALSE(loop->run_once(false));
}

TEST_CASE("run() from inside the hub is a clear error", "[green][engine][errors][tsan]") {
  auto loop = make_loop("green");
  std::string message;
  loop->call_soon([&] {
    try {
      loop->run();
    } catch (const std::logic_error& e) {
      message = e.what();
    }
  });
  loop->run();
  REQUIRE_THAT(message, Catch::Contains("inside the hub"));
}

TEST_CASE("a blocking green call inside the hub is a clear error",
          "[green][engine][errors][tsan]") {
  std::string message;
  green::hub_loop().call_soon([&] {
    try {
      green::sleep(1ms);
    } catch (const std::logic_error& e) {
      message = e.what();
    }
  });
  green::sleep(1ms);
  REQUIRE_THAT(message, Catch::Contains("inside the hub"));
}

TEST_CASE("call_soon_threadsafe on the green loop wakes the hub from another thread",
          "[green][engine][tsan]") {
  auto loop = make_loop("green");
  bool got = false;
  loop->work_started();
  std::thread t([&] {
    std::this_thread::sleep_for(2ms);
    loop->call_soon_threadsafe([&] {
      got = true;
      loop->work_finished();
    });
  });
  loop->run();
  t.join();
  REQUIRE(got);
}
