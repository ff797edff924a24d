// The two built-in async_to_sync bridges: where the coroutine runs, what they do with
// leftover tasks, the re-entrancy error, and (green) that only the calling green thread waits
// and that the running loop and the request context are per green thread.
#include "web_support.hpp"

#include <grove/aio.hpp>
#include <grove/compat.hpp>
#include <grove/context.hpp>
#include <grove/green.hpp>

#include <atomic>
#include <thread>

using namespace grove::web;
using namespace grove::web::test;
namespace aio = grove::aio;
namespace green = grove::green;

namespace {

struct WarningCapture {
  std::mutex mutex;
  std::vector<std::string> messages;
  aio::WarningHandler previous;
  WarningCapture() {
    previous = aio::set_warning_handler([this](std::string_view m) {
      std::lock_guard lock(mutex);
      messages.emplace_back(m);
    });
  }
  ~WarningCapture() { aio::set_warning_handler(previous); }
  std::string all() {
    std::lock_guard lock(mutex);
    std::string out;
    for (auto& m : messages) out += m + "\n";
    return out;
  }
};

aio::Task<void> forever(std::shared_ptr<std::atomic<bool>> cancelled) {
  try {
    co_await aio::sleep(std::chrono::hours(1));
  } catch (const aio::CancelledError&) {
    *cancelled = true;
    throw;
  }
}

aio::Task<void> leave_a_task_behind(std::shared_ptr<std::atomic<bool>> cancelled) {
  aio::create_task(forever(cancelled), "background-mail");
  co_await aio::sleep(1ms);
}

}  // namespace

TEST_CASE("web: bridges: leftover tasks are cancelled and named in a warning", "[bridges][tsan]") {
  const char* name = GENERATE("thread", "green");
  INFO("bridge " << name);
  AsyncToSync bridge = bridge_from_name(name);
  WarningCapture warnings;
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  bridge(leave_a_task_behind(cancelled));
  CHECK(*cancelled);
  std::string text = warnings.all();
  CHECK(text.find("'background-mail'") != std::string::npos);
  CHECK(text.find("cancelled") != std::string::npos);
}

TEST_CASE("web: bridges: calling a bridge where a loop runs is an error naming the fix",
          "[bridges][tsan]") {
  const char* name = GENERATE("thread", "green");
  INFO("bridge " << name);
  AsyncToSync bridge = bridge_from_name(name);
  auto inner = []() -> aio::Task<void> { co_return; };
  auto outer = [](AsyncToSync* b, aio::Task<void> (*make)()) -> aio::Task<void> {
    (*b)(make());  // synchronous code called from a coroutine, bridging again
    co_return;
  };
  try {
    aio::run(outer(&bridge, +inner));
    FAIL("no error");
  } catch (const BridgeError& e) {
    std::string what = e.what();
    CHECK(what.find("already running") != std::string::npos);
    CHECK(what.find("Await the coroutine instead") != std::string::npos);
    if (std::string(name) == "thread") CHECK(what.find("green bridge") != std::string::npos);
  }
}

TEST_CASE(
    "web: bridges: the thread bridge runs a fresh loop of the default engine on another thread",
    "[bridges][tsan]") {
  std::thread::id caller = std::this_thread::get_id();
  std::thread::id ran_on;
  std::string engine;
  auto probe = [](std::thread::id* where, std::string* eng) -> aio::Task<void> {
    co_await aio::sleep(0ms);
    *where = std::this_thread::get_id();
    *eng = aio::get_running_loop().engine();
  };
  thread_bridge(probe(&ran_on, &engine));
  CHECK(ran_on != caller);
  CHECK(engine == grove::selected_engine());
  CHECK_FALSE(aio::is_loop_running());
}

TEST_CASE("web: bridges: the green bridge waits only the calling green thread", "[bridges][tsan]") {
  constexpr int kWaiters = 10;
  std::atomic<int> done{0};
  int ticks = 0;
  bool stop_ticker = false;
  auto ticker = green::spawn([&] {
    while (!stop_ticker) {
      ++ticks;
      green::sleep(1ms);
    }
  });
  auto nap = []() -> aio::Task<void> { co_await aio::sleep(200ms); };
  auto start = std::chrono::steady_clock::now();
  std::vector<green::Greenlet> waiters;
  for (int i = 0; i < kWaiters; ++i)
    waiters.push_back(green::spawn([&] {
      green_bridge(nap());
      ++done;
    }));
  green::joinall(waiters);
  auto elapsed = std::chrono::steady_clock::now() - start;
  stop_ticker = true;
  ticker.join();
  CHECK(done == kWaiters);
  // Ten 200 ms coroutines overlapped: at most half of the 2 s they take one after another
  // (a wide margin: a loaded machine stretches each wait). The ticker kept running while
  // they waited.
  CHECK(elapsed < 1000ms);
  CHECK(ticks >= 10);
}

TEST_CASE("web: bridges: a sibling green thread never sees another's running loop",
          "[bridges][tsan]") {
  std::vector<std::string> seen;
  std::string inside;
  bool in_coroutine = false, sibling_looked = false, a_done = false;
  // The coroutine stays in flight until the sibling has looked at least once (or 2 s), so
  // the check does not depend on how the two green threads' sleeps line up under load.
  auto body = [](std::string* engine, bool* flag, const bool* looked) -> aio::Task<void> {
    *engine = aio::get_running_loop().engine();
    *flag = true;
    for (int i = 0; i < 2000 && !*looked; ++i) co_await aio::sleep(1ms);
    co_await aio::sleep(5ms);
    *flag = false;
  };
  auto a = green::spawn([&] {
    CHECK(grove::current_context().running_loop == nullptr);
    green_bridge(body(&inside, &in_coroutine, &sibling_looked));
    CHECK(grove::current_context().running_loop == nullptr);  // restored
    a_done = true;
  });
  auto b = green::spawn([&] {
    while (!a_done) {
      if (in_coroutine) {
        seen.push_back(aio::is_loop_running() ? "sibling-sees-loop" : "sibling-clean");
        CHECK(grove::current_context().running_loop == nullptr);
        sibling_looked = true;
      }
      green::sleep(1ms);
    }
  });
  a.join();
  b.join();
  CHECK(inside == "green");
  CHECK_FALSE(seen.empty());
  for (auto& s : seen) CHECK(s == "sibling-clean");
}

TEST_CASE("web: bridges: concurrent requests in green threads each keep their own request",
          "[bridges][tsan]") {
  App app;
  app.async_to_sync = green_bridge;
  app.route("/who/<int:ms>", [](int ms) -> aio::Task<std::string> {
    std::string before = request().path();
    co_await aio::sleep(std::chrono::milliseconds(ms));
    std::string after = request().path();
    co_await aio::sleep(1ms);
    co_return before + "|" + after + "|" + request().args().get("tag", "");
  });
  std::vector<green::Handle<std::string>> hs;
  for (int i = 0; i < 8; ++i)
    hs.push_back(green::spawn([&app, i] {
      return app.test_client()
          .get("/who/" + std::to_string(5 * (8 - i)) + "?tag=" + std::to_string(i))
          .text();
    }));
  for (int i = 0; i < 8; ++i) {
    std::string p = "/who/" + std::to_string(5 * (8 - i));
    CHECK(hs[i].join() == p + "|" + p + "|" + std::to_string(i));
  }
}

TEST_CASE(
    "web: bridges: killing a green thread that waits in the green bridge cancels its coroutine",
    "[bridges][tsan]") {
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  auto g = green::spawn([&] { green_bridge(forever(cancelled)); });
  green::sleep(20ms);
  auto start = std::chrono::steady_clock::now();
  g.kill();
  CHECK(g.dead());
  CHECK(*cancelled);
  CHECK(std::chrono::steady_clock::now() - start < 1s);
}

TEST_CASE("web: bridges: names", "[bridges][tsan]") {
  CHECK(bridge_name(thread_bridge) == "thread");
  CHECK(bridge_name(green_bridge) == "green");
  CHECK(bridge_name(grove::green::async_to_sync) == "green");
  CHECK(bridge_name([](aio::Task<void>) {}) == "custom");
  CHECK(bridge_name(AsyncToSync()) == "none");
  CHECK_THROWS_WITH(bridge_from_name("fast"), Catch::Contains("known: green, thread"));
}

TEST_CASE("web: bridges: check_deployment names the thread bridge under a patched green server",
          "[bridges]") {
  App app;
  app.route("/sync", [] { return "s"; });
  CHECK(app.check_deployment(true, true).empty());  // no coroutines: nothing to say
  app.route("/async", []() -> aio::Task<std::string> { co_return "a"; });
  CHECK(app.has_coroutines());
  CHECK(app.check_deployment(false, true).empty());  // compat off
  CHECK(app.check_deployment(true, false).empty());  // not under the green server
  app.async_to_sync = green_bridge;
  CHECK(app.check_deployment(true, true).empty());  // the green bridge is the fix
  app.async_to_sync = thread_bridge;
  auto ids = app.check_deployment(true, true);
  REQUIRE(ids.size() == 1);
  CHECK(ids[0] == "web.thread-bridge-under-green-server");
  bool found = false;
  for (auto& w : grove::compat::warnings())
    if (w.id == ids[0]) {
      found = true;
      CHECK(w.message.find("--bridge green") != std::string::npos);
      CHECK(w.message.find("the whole hub") != std::string::npos);
    }
  CHECK(found);
  // Blueprint coroutines count too.
  App other;
  Blueprint bp("bp");
  bp.before_request([]() -> aio::Task<void> { co_return; });
  other.register_blueprint(bp);
  CHECK(other.has_coroutines());
}
