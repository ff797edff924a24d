// Overriding async_to_sync with a bridge of your own.
//
// app.async_to_sync is any callable `void(grove::aio::Task<void>)` that runs the coroutine
// to completion and rethrows what it threw. The app reads it at every call, so assigning it
// changes how every coroutine view, hook, error handler and class-based view of the app and
// of its blueprints runs, without registering anything again.
//
// Two user-written bridges:
//   - pinned_engine_bridge("libev"): asgiref's model on an engine of your choosing: a fresh
//     loop of that engine on a worker thread; the request context travels with
//     web::capture_request_context() / web::RequestContextScope.
//   - timed(bridge): wraps another bridge (here the green one) and logs slow coroutines.
//
//   build/examples/grove-web-custom-bridge           # runs requests through the test client
//   build/examples/grove-web-custom-bridge --serve   # serves the app on 127.0.0.1:8000
#include <grove/aio.hpp>
#include <grove/http.hpp>
#include <grove/web.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

namespace web = grove::web;
namespace aio = grove::aio;
using namespace std::chrono_literals;

// asgiref's AsyncToSync, on the engine named here rather than the default.
web::AsyncToSync pinned_engine_bridge(std::string engine) {
  return [engine](aio::Task<void> coro) {
    if (aio::is_loop_running())
      throw web::BridgeError(
          "pinned_engine_bridge: a loop already runs here; await the coroutine instead");
    web::RequestContextRef ctx = web::capture_request_context();  // in the caller
    std::exception_ptr error;
    std::thread worker([&] {
      web::RequestContextScope scope(ctx);  // web::request() works in the coroutine
      try {
        aio::run(std::move(coro), engine);  // cancels and names leftover tasks
      } catch (...) {
        error = std::current_exception();
      }
    });
    worker.join();
    if (error) std::rethrow_exception(error);
  };
}

// A decorator: any bridge, timed.
web::AsyncToSync timed(web::AsyncToSync inner, std::atomic<int>* calls) {
  return [inner = std::move(inner), calls](aio::Task<void> coro) {
    ++*calls;
    auto start = std::chrono::steady_clock::now();
    inner(std::move(coro));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    if (ms > 50ms && web::has_request_context())
      web::current_app().logger.warning("slow coroutine on " + web::request().path() + ": " +
                                        std::to_string(ms.count()) + " ms");
  };
}

int main(int argc, char** argv) {
  web::App app("custom-bridge");
  app.route("/engine", []() -> aio::Task<std::string> {
    co_await aio::sleep(1ms);
    co_return aio::get_running_loop().engine() + " " + web::request().path();
  });
  app.route("/slow", []() -> aio::Task<std::string> {
    co_await aio::sleep(60ms);
    co_return "slow";
  });
  web::Blueprint bp("bp", "/bp");
  bp.before_request([]() -> aio::Task<void> { co_return; });  // a coroutine hook, too
  bp.route("/x", [] { return "sync view, async hook"; });
  app.register_blueprint(bp);

  if (argc > 1 && std::strcmp(argv[1], "--serve") == 0) {
    app.async_to_sync = web::green_bridge;
    return grove::http::serve(app.application(), argc - 1, argv + 1);
  }

  auto engines = grove::built_engines();
  std::string engine = std::find(engines.begin(), engines.end(), "libev") != engines.end()
                           ? "libev"
                           : engines.front();
  int failures = 0;
  auto expect = [&](const std::string& got, const std::string& want) {
    std::printf("  %-40s %s\n", got.c_str(), got == want ? "ok" : ("expected " + want).c_str());
    failures += got != want;
  };

  auto client = app.test_client();
  std::printf("pinned_engine_bridge(\"%s\"):\n", engine.c_str());
  app.async_to_sync = pinned_engine_bridge(engine);
  expect(client.get("/engine").text(), engine + " /engine");
  expect(client.get("/bp/x").text(), "sync view, async hook");

  std::atomic<int> calls{0};
  std::printf("timed(green_bridge):\n");
  app.async_to_sync = timed(web::green_bridge, &calls);  // no re-registration
  expect(client.get("/slow").text(), "slow");
  expect(client.get("/bp/x").text(), "sync view, async hook");
  expect(std::to_string(calls.load()), "2");  // the /slow view and the blueprint's hook
  return failures == 0 ? 0 : 1;
}
