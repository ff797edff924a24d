// run(): asyncio.run for grove — a fresh loop, the coroutine to completion, cleanup.
// Promises: the tasks the coroutine left running are cancelled and awaited before run()
// returns (and named in a warning); its result or exception is the coroutine's; calling it
// where a loop already runs throws RuntimeError saying to await instead.
//
//   int main() { return aio::run(main_coro()); }            // the default engine
//   aio::run(serve(), "libev");                              // a named engine
#pragma once

#include <grove/aio/task.hpp>

#include <memory>
#include <string_view>

namespace grove::aio {

namespace detail {
// Throws RuntimeError (saying to await instead) if a loop runs in this context.
void check_no_running_loop(const char* caller);
// Runs the loop until `main` completes. False: it never can (nothing left could wake it).
bool drive(EventLoop& loop, TaskCore& main);
// Cancels the tasks still pending on `loop`, runs the loop until they unwind, destroys
// what refuses to, waits for thread-pool jobs to return, and warns naming them.
// `main` (may be null) is not reported.
void shut_down_tasks(EventLoop& loop, TaskCore* main, bool warn_leftovers);
[[noreturn]] void throw_deadlock(TaskCore& main, const char* caller);

// Makes `loop` the running loop of this context for a scope, with a clean task registry.
class RunScope {
 public:
  explicit RunScope(EventLoop& loop);
  ~RunScope();
  RunScope(const RunScope&) = delete;
  RunScope& operator=(const RunScope&) = delete;

 private:
  EventLoop& loop_;
  RunningLoopScope running_;
};

template <class T>
T run_main(EventLoop& loop, Task<T> main) {
  RunScope scope(loop);
  TaskHandle<T> handle = create_task(loop, std::move(main), "main");
  bool completed;
  try {
    completed = drive(loop, *handle.core());
  } catch (...) {  // the loop's exception handler rethrew: clean up, then propagate
    shut_down_tasks(loop, nullptr, false);
    throw;
  }
  if (!completed) {
    shut_down_tasks(loop, handle.core(), true);
    throw_deadlock(*handle.core(), "run");
  }
  shut_down_tasks(loop, handle.core(), true);
  return detail::take_result<T>(*handle.core());
}
}  // namespace detail

// Runs `main` to completion on a new loop of the default engine (GROVE_LOOP, else the
// build's default) or of `engine`, and returns its value or rethrows its exception.
//
// Tasks still pending when `main` returns are cancelled, awaited (the loop runs until
// they unwind; any that ignore the cancellation have their frames destroyed) and named in
// a warning: background tasks are cancelled when the coroutine returns. Threads started by
// to_thread()/resolve() are waited for before the loop is destroyed.
//
// Throws RuntimeError if this context already runs a loop (await the coroutine there
// instead), and if `main` waits for something that can never happen.
template <class T>
T run(Task<T> main, std::string_view engine = {}) {
  detail::check_no_running_loop("run");
  std::unique_ptr<EventLoop> loop = engine.empty() ? make_loop() : make_loop(engine);
  return detail::run_main(*loop, std::move(main));
}

// asyncio's loop.run_until_complete(): runs `main` on a loop the caller owns, as the
// running loop of this context. Other tasks on the loop are left as they are.
template <class T>
T run_until_complete(EventLoop& loop, Task<T> main) {
  detail::check_no_running_loop("run_until_complete");
  RunningLoopScope running(&loop);
  TaskHandle<T> handle = create_task(loop, std::move(main), "main");
  if (!detail::drive(loop, *handle.core())) {
    handle.cancel();
    detail::drive(loop, *handle.core());
    handle.core()->destroy_pending();
    detail::throw_deadlock(*handle.core(), "run_until_complete");
  }
  return handle.result();
}

}  // namespace grove::aio
