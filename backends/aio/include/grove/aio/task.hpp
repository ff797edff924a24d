// grove::aio tasks: Task<T> (a lazy coroutine), TaskHandle<T> (a scheduled task, asyncio's
// Task object), create_task(), sleep(), and the running-loop queries.
//
//   aio::Task<int> answer() { co_await aio::sleep(10ms); co_return 42; }
//   aio::Task<void> main_coro() {
//     aio::TaskHandle<int> t = aio::create_task(answer());   // runs concurrently
//     int v = co_await t;                                     // or co_await answer() inline
//   }
//   aio::run(main_coro());
//
// Every suspension of a coroutine belongs to a *task*: the root created by create_task() or
// run(), shared by the whole chain of Task<T>s it awaits. The task knows the one await
// point its chain is suspended at, which is how cancel() reaches it.
#pragma once

#include <grove/aio/detail/task_core.hpp>
#include <grove/aio/errors.hpp>
#include <grove/context.hpp>
#include <grove/loop.hpp>

#include <chrono>
#include <concepts>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace grove::aio {

// (Task and TaskHandle are declared, with their default T = void, in detail/task_core.hpp.)

// A timeout that never expires (the default of every operation that takes one).
inline constexpr Duration forever = Duration::max();

// --- the running loop of this execution context ----------------------------------------
// Whether a loop is running in this execution context (set by run(), or by a bridge that
// runs a loop here). Per context: under greenlet, per green thread.
bool is_loop_running() noexcept;
// The loop running in this execution context; throws RuntimeError if there is none.
EventLoop& get_running_loop();

// Promises, the task core, the Wait protocol: grove/aio/detail/task_core.hpp.

// --- Task<T> ---------------------------------------------------------------------------
// A lazy coroutine: nothing runs until it is awaited (or handed to create_task/run). It
// completes with a value or with the exception its body threw, rethrown to the awaiter with
// its original type. Move-only; awaited at most once.
//
// Destroying a Task whose coroutine is suspended destroys its frame (and those of the Tasks
// it awaits): locals are destroyed, the wait it was suspended in is withdrawn (timers
// cancelled, watchers closed, waiter lists left, locks handed on), and no code after the
// await point runs. run() uses this for tasks that ignore cancellation.
template <class T>
class [[nodiscard]] Task {
 public:
  using promise_type = detail::Promise<T>;
  using value_type = T;

  Task() noexcept = default;
  Task(Task&& other) noexcept : h_(std::exchange(other.h_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      reset();
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  ~Task() { reset(); }

  // Holds a coroutine (not default-constructed or moved from).
  explicit operator bool() const noexcept { return bool(h_); }
  bool done() const noexcept { return h_ && h_.done(); }

  struct Awaiter {
    std::coroutine_handle<promise_type> h;

    bool await_ready() const {
      if (!h) throw InvalidStateError("grove::aio: co_await on an empty Task (moved from?)");
      if (h.promise().started)
        throw InvalidStateError(
            "grove::aio: a Task can be awaited only once; to await a result several "
            "times, create_task() it and await the TaskHandle");
      return false;
    }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> caller) noexcept {
      promise_type& p = h.promise();
      p.started = true;
      p.continuation = caller;
      p.task = detail::task_of(caller);
      return detail::transfer_to(p.task, h);
    }
    T await_resume() { return h.promise().take(); }
  };
  Awaiter operator co_await() & noexcept { return Awaiter{h_}; }
  Awaiter operator co_await() && noexcept { return Awaiter{h_}; }

 private:
  friend struct detail::Promise<T>;
  friend struct detail::TaskAccess;
  explicit Task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  void reset() noexcept {
    if (h_) std::exchange(h_, {}).destroy();
  }
  std::coroutine_handle<promise_type> h_;
};

}  // namespace grove::aio

// The machinery that needs Task<T> complete (get_return_object, reading results).
#include <grove/aio/detail/task_access.hpp>  // IWYU pragma: export

namespace grove::aio {

// --- TaskHandle<T> ---------------------------------------------------------------------
// A task scheduled on a loop (asyncio's Task object). Copies share the task. Dropping every
// handle does not stop it: the loop keeps it until it completes.
template <class T>
class TaskHandle {
 public:
  TaskHandle() noexcept = default;
  explicit TaskHandle(detail::TaskRef core) noexcept : core_(std::move(core)) {}

  explicit operator bool() const noexcept { return bool(core_); }
  std::string name() const { return core_->name(); }
  bool done() const noexcept { return core_->done(); }
  bool cancelled() const noexcept { return core_->cancelled(); }

  // Requests cancellation: CancelledError is thrown at the await point where the task is
  // suspended (or at its next one, if it is running or its wait was already satisfied).
  // If that await point is another task (a TaskHandle, gather, wait_for), that task is
  // cancelled and awaited first. A task not started yet ends cancelled without running.
  // The task may catch CancelledError and go on, as in asyncio. Returns false if the task
  // was already done.
  bool cancel() { return core_->cancel(); }

  // The value; rethrows the task's exception (CancelledError if cancelled). Throws
  // InvalidStateError if the task is not done.
  std::add_lvalue_reference_t<T> result() {
    check_done("result()");
    return detail::value_of<T>(*core_);
  }
  // The exception the task ended with (CancelledError if cancelled), or null if it
  // returned. Throws InvalidStateError if the task is not done.
  std::exception_ptr exception() const {
    check_done("exception()");
    core_->mark_retrieved();
    return core_->exception();
  }
  // Runs `cb` on the loop (call_soon) once the task is done; at once if it is.
  void add_done_callback(Callback cb) { core_->add_done_callback(std::move(cb)); }

  // Awaiting a handle waits for the task and returns its value (a copy when T is copyable,
  // so a task may be awaited several times) or rethrows its exception.
  struct Awaiter : detail::TaskWait {
    using TaskWait::TaskWait;
    T await_resume() {
      finish_wait();
      return detail::result_of<T>(*inner_);
    }
  };
  Awaiter operator co_await() const noexcept { return Awaiter(core_); }

  detail::TaskCore* core() const noexcept { return core_.get(); }

 private:
  void check_done(const char* what) const {
    if (!core_->done())
      throw InvalidStateError("grove::aio: " + std::string(what) + " of task '" + core_->name() +
                              "', which is not done yet; await it first");
  }
  detail::TaskRef core_;
};

// --- create_task -----------------------------------------------------------------------
// Schedules `coro` to start on the next iteration of `loop`, concurrently with the caller.
template <class T>
TaskHandle<T> create_task(EventLoop& loop, Task<T> coro, std::string name = {}) {
  if (!coro) throw InvalidStateError("grove::aio: create_task() of an empty Task (moved from?)");
  if (detail::TaskAccess::promise(coro).started)
    throw InvalidStateError("grove::aio: create_task() of a Task that was already awaited");
  auto h = detail::TaskAccess::release(coro);
  detail::TaskCore* core;
  try {
    core = detail::new_task<T>(loop, h, std::move(name));
  } catch (...) {
    h.destroy();
    throw;
  }
  return TaskHandle<T>(detail::TaskRef(core));
}
// Schedules `coro` on the loop running in this execution context (get_running_loop()).
template <class T>
TaskHandle<T> create_task(Task<T> coro, std::string name = {}) {
  return create_task(get_running_loop(), std::move(coro), std::move(name));
}

// --- sleep -------------------------------------------------------------------------------
namespace detail {
class SleepWait : public Wait {
 public:
  explicit SleepWait(Duration delay) noexcept : delay_(delay) {}
  SleepWait(SleepWait&&) noexcept = default;
  ~SleepWait() { withdraw(); }

  bool await_ready() const noexcept { return false; }  // sleep(0) always yields
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    begin(h);
    arm();
    end_setup();
  }
  void await_resume() { finish(); }

 private:
  void arm() {
    if (delay_ <= Duration::zero()) wake();  // sleep(0): the next iteration
    else timer_.emplace(loop().call_later(delay_, [this] { wake(); }));
  }
  void withdraw() noexcept override {
    if (timer_) timer_->cancel();
  }
  Duration delay_;
  std::optional<Timer> timer_;  // none for sleep(0): no handle to make or drop
};
}  // namespace detail

// Suspends the task for `delay`. sleep(0s) yields: the task resumes on the next loop
// iteration, after every other task that was ready (the loop runs callbacks queued by
// callbacks on the next iteration), so a loop of sleep(0) cannot starve anyone.
template <class Rep, class Period>
detail::SleepWait sleep(std::chrono::duration<Rep, Period> delay) {
  return detail::SleepWait(std::chrono::ceil<Duration>(delay));
}

// --- co_invoke ---------------------------------------------------------------------------
// Calls a coroutine lambda and keeps the lambda object (its captures) alive inside the
// returned Task until the coroutine finishes. A capturing lambda coroutine's body reads its
// captures through the closure object, which dies at the end of the full expression that
// called it: `create_task([x] () -> Task<> {...}())` reads freed memory after its first
// suspension. `create_task(co_invoke([x] () -> Task<> {...}))` is the safe spelling.
template <class F, class... Args>
auto co_invoke(F f, Args... args) -> std::invoke_result_t<F&, Args&&...> {
  co_return co_await std::invoke(f, std::move(args)...);
}

}  // namespace grove::aio
