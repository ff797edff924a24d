// The two built-in async_to_sync bridges.
#include "internal.hpp"

#include <grove/aio/run.hpp>
#include <grove/green.hpp>
#include <grove/web/app.hpp>

#include <thread>

namespace grove::web {

namespace {

std::string running_engine() {
  try {
    return aio::get_running_loop().engine();
  } catch (...) {
    return "?";
  }
}

}  // namespace

void thread_bridge(aio::Task<void> coro) {
  if (aio::is_loop_running())
    throw BridgeError(
        "grove::web::thread_bridge (async_to_sync) cannot run a coroutine here: an event loop ('" +
        running_engine() +
        "') is already running in this context, and blocking it until the coroutine finishes "
        "would stall everything on it. Await the coroutine instead (co_await it, or "
        "aio::create_task), or use the green bridge (app.async_to_sync = web::green_bridge; "
        "--bridge green), which waits only the calling green thread");
  RequestContextRef ctx = capture_request_context();
  std::exception_ptr error;
  // asgiref's model: a fresh loop of the default engine on a thread of its own, the caller
  // blocked until it is done. The request context travels to that thread.
  std::thread worker([&] {
    RequestContextScope scope(ctx);
    try {
      aio::run(std::move(coro));
    } catch (...) {
      error = std::current_exception();
    }
  });
  worker.join();
  if (error) std::rethrow_exception(error);
}

void green_bridge(aio::Task<void> coro) {
  if (aio::is_loop_running())
    throw BridgeError(
        "grove::web::green_bridge (async_to_sync) cannot run a coroutine here: an event loop ('" +
        running_engine() +
        "') is already running in this context (a coroutine, or a green thread inside "
        "aio::run). Await the coroutine instead (co_await it, or aio::create_task)");
  if (green::in_hub())
    throw BridgeError(
        "grove::web::green_bridge (async_to_sync) was called from inside the hub (a loop "
        "callback); the hub cannot wait for itself. Await the coroutine instead, or call the "
        "synchronous code from a green thread (green::spawn)");
  green::register_green_engine();
  // A loop of its own over this thread's hub: the coroutine and the tasks it creates run in
  // the hub beside every green thread, with this request bound around each of their steps;
  // only the calling green thread waits. run_main gives aio::run's semantics on it (leftover
  // tasks cancelled and named in a warning, errors rethrown with their type).
  std::unique_ptr<EventLoop> loop =
      context_loop(green::make_green_loop(), capture_request_context());
  aio::detail::run_main(*loop, detail::track_main(*loop, std::move(coro)));
}

std::string bridge_name(const AsyncToSync& bridge) {
  using Fn = void (*)(aio::Task<void>);
  if (const Fn* f = bridge.target<Fn>()) {
    if (*f == &thread_bridge) return "thread";
    if (*f == &green_bridge || *f == &grove::green::async_to_sync) return "green";
  }
  return bridge ? "custom" : "none";
}

AsyncToSync bridge_from_name(std::string_view name) {
  if (name == "thread") return thread_bridge;
  if (name == "green") return green_bridge;
  throw std::invalid_argument("unknown bridge '" + std::string(name) + "' (known: green, thread)");
}

}  // namespace grove::web
