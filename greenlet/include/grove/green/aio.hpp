// Green threads and grove::aio coroutines in one hub (needs grove::aio linked beside
// grove::green).
//
//   // A green thread waits for a coroutine; only it blocks, its siblings run on.
//   int v = grove::green::wait(fetch_value());            // aio::Task<int>
//
//   // A coroutine (an aio task on a green loop) awaits a green thread.
//   aio::Task<int> coro() {
//     auto g = grove::green::spawn([] { return blocking_style_work(); });
//     co_return co_await g;                                 // the value, or its exception
//   }
//   aio::run(coro(), "green");   // from any green thread, or the main context
//
// Coroutines run inside the hub (loop callbacks of a green loop); green threads run on their
// own stacks. A coroutine must not make blocking green calls (sleep, wait, a lock...): they
// throw std::logic_error inside the hub. Spawn a green thread for blocking-style work and
// await it instead.
#pragma once

#include <grove/aio.hpp>
#include <grove/green/event.hpp>
#include <grove/green/green_loop.hpp>
#include <grove/green/greenlet.hpp>
#include <grove/green/timeout.hpp>

#include <coroutine>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>

namespace grove::green {

namespace detail {

// Parks the calling green thread until `task` is done; false if `timeout` passed first.
inline bool wait_task_done(aio::detail::TaskCore& task, std::optional<Duration> timeout) {
  if (task.done()) return true;
  if (!is_green_loop(task.loop()))
    throw std::logic_error(
        "grove: green::wait(task) needs a task on a green loop of this OS thread (for "
        "instance aio::create_task(green::green_loop(), coro)); a task on another loop only "
        "runs while that loop runs, and this green thread would wait forever");
  // Shared: the callback may outlive this wait (killed, timed out).
  auto done = std::make_shared<Event>();
  task.add_done_callback([done] { done->set(); });
  return done->wait(timeout);
}

// A coroutine's await on a green thread, in aio's Wait protocol (cancellable: a cancelled
// coroutine stops waiting; the green thread runs on).
template <class R>
class GreenletWait final : public aio::detail::Wait {
 public:
  explicit GreenletWait(Handle<R> g) : g_(std::move(g)) {}
  GreenletWait(GreenletWait&& o) noexcept : Wait(std::move(o)), g_(std::move(o.g_)) {}
  ~GreenletWait() { withdraw(); }

  bool await_ready() const { return g_.dead(); }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    if (!is_green_loop(aio::get_running_loop()))
      throw std::logic_error(
          "grove: a coroutine can co_await a green thread only on a green loop of the same "
          "OS thread (aio::run(coro, \"green\")): elsewhere the green thread never runs");
    begin(h);
    // Runs on the dying green thread; wake() only schedules the coroutine's resumption.
    link_ = g_.link([this] {
      link_ = 0;
      wake();
    });
    end_setup();
  }
  R await_resume() {
    finish();
    if (std::exception_ptr e = g_.exception()) std::rethrow_exception(e);
    return Handle<R>::take(*g_.core());
  }

 private:
  void withdraw() noexcept override {
    if (link_) g_.unlink(std::exchange(link_, 0));
  }
  Handle<R> g_;
  std::uint64_t link_ = 0;
};

}  // namespace detail

// Waits, blocking only the calling green thread, until `task` (on a green loop of this
// thread) is done; returns its value or rethrows its exception with its type. Throws
// Timeout if `timeout` passes first (the task goes on).
template <class T>
T wait(aio::TaskHandle<T> task, std::optional<Duration> timeout = std::nullopt) {
  if (!detail::wait_task_done(*task.core(), timeout))
    detail::throw_timed_out(timeout.value_or(Duration::zero()));
  return aio::detail::result_of<T>(*task.core());
}

// Runs `coro` as a task in this thread's hub (on green_loop()) and waits for it, blocking
// only the calling green thread. If the caller stops waiting early (killed, a Timeout), the
// task is cancelled.
template <class T>
T wait(aio::Task<T> coro, std::optional<Duration> timeout = std::nullopt) {
  aio::TaskHandle<T> task = aio::create_task(green_loop(), std::move(coro));
  try {
    return green::wait(task, timeout);
  } catch (...) {
    if (!task.done()) task.cancel();
    throw;
  }
}

// `co_await g` in a grove::aio coroutine running on a green loop: the green thread's value,
// or its exception rethrown with its type.
template <class R>
detail::GreenletWait<R> operator co_await(const Handle<R>& g) {
  return detail::GreenletWait<R>(g);
}

}  // namespace grove::green
