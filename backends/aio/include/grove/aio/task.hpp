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

#include <grove/aio/detail/list.hpp>
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

template <class T = void>
class Task;
template <class T = void>
class TaskHandle;

// A timeout that never expires (the default of every operation that takes one).
inline constexpr Duration forever = Duration::max();

// --- the running loop of this execution context ----------------------------------------
// Whether a loop is running in this execution context (set by run(), or by a bridge that
// runs a loop here). Per context: under greenlet, per green thread.
bool is_loop_running() noexcept;
// The loop running in this execution context; throws RuntimeError if there is none.
EventLoop& get_running_loop();

namespace detail {

class TaskCore;
class Wait;

// Symmetric transfer from a coroutine of `task` to `next`. Returning `next` from
// await_suspend is a tail call only when the compiler makes it one: g++ does at -O2 but
// not at -O0/-O1 nor under AddressSanitizer, where every transfer nests a resume() call and
// a long enough chain of awaits overflows the stack. So the transfer is a real symmetric
// transfer while the stack is shallow, and beyond a small depth it hands `next` to the
// task's driver loop (TaskCore::drive) instead, which unwinds and resumes it from the top.
inline std::coroutine_handle<> transfer_to(TaskCore* task, std::coroutine_handle<> next) noexcept;

// --- promises ----------------------------------------------------------------------------
struct PromiseBase {
  std::coroutine_handle<> continuation;  // the coroutine awaiting this one, if any
  TaskCore* task = nullptr;              // the task this coroutine runs in, if any
  std::exception_ptr error;
  bool started = false;

  std::suspend_always initial_suspend() noexcept { return {}; }

  // Symmetric transfer: completing a coroutine jumps straight to its awaiter (see
  // transfer_to() for the stack guard that keeps this flat at -O0 and under ASan).
  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      PromiseBase& p = h.promise();
      if (p.continuation) return transfer_to(p.task, p.continuation);
      top_done(p);
      return std::noop_coroutine();
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { error = std::current_exception(); }

  // The outermost coroutine of a task finished: the task completes (never destroys the
  // frame here, which is still inside its own final_suspend).
  static void top_done(PromiseBase& p) noexcept;
};

template <class T>
struct Promise : PromiseBase {
  std::optional<T> value;

  Task<T> get_return_object() noexcept;
  // `U = T` lets `co_return {a, b};` pick T's constructor.
  template <class U = T>
    requires std::convertible_to<U&&, T>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
  T& get() {
    if (error) std::rethrow_exception(error);
    return *value;
  }
  T take() { return std::move(get()); }
};

template <>
struct Promise<void> : PromiseBase {
  Task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void get() {
    if (error) std::rethrow_exception(error);
  }
  void take() { get(); }
};

// The task of the coroutine `h`, or nullptr when `h` is not a grove::aio coroutine.
template <class P>
TaskCore* task_of(std::coroutine_handle<P> h) noexcept {
  if constexpr (std::is_base_of_v<PromiseBase, P>)
    return h.promise().task;
  else
    return nullptr;
}

struct TaskAccess;

// --- waiting -----------------------------------------------------------------------------
struct DoneTag {};
struct RegistryTag {};

// Notified synchronously when a task completes (awaiters of the task, gather, run()).
// Implementations only record and schedule; they never resume a coroutine from here.
class DoneListener : public Hook<DoneTag> {
 public:
  virtual void on_task_done(TaskCore& task) = 0;
  // The task is destroyed with the listener still listed (only listeners the task owns).
  virtual void dispose() noexcept {}

 protected:
  DoneListener() = default;
  DoneListener(DoneListener&&) noexcept = default;
  ~DoneListener() = default;
};

// One await point at which a task is suspended: the bridge between what it waits for (a
// timer, an fd, a primitive, another task) and its resumption.
//
// Awaiters derive from Wait and follow one protocol in await_suspend(h):
//   1. anything that can throw (registering a watcher, ...);
//   2. begin(h): the task is now suspended here;
//   3. register what will call wake() (it may call wake() at once);
//   4. end_setup(): delivers a cancel() that arrived before this await.
// and call finish() in await_resume(). Withdrawal (withdraw(), destructor) must leave
// nothing behind that could call wake() later.
class Wait {
 public:
  Wait() = default;
  // Awaiters are moved only before they are awaited; the moved-to one starts fresh.
  Wait(Wait&&) noexcept {}
  Wait& operator=(const Wait&) = delete;

  // What happened; the task resumes on the next loop iteration. Idempotent.
  void wake();
  // The wait failed: the exception is thrown at the await point.
  void fail(std::exception_ptr error);
  // The task was cancelled while suspended here. The default withdraws the wait and makes
  // the await throw CancelledError; waits on other tasks forward the cancellation instead.
  virtual void on_cancel();

  bool suspended() const noexcept { return task_ != nullptr && !woken_; }
  TaskCore* task() const noexcept { return task_; }
  EventLoop& loop() const noexcept;

 protected:
  ~Wait();

  template <class P>
  void begin(std::coroutine_handle<P> h) {
    begin_in(task_of(h), h);
  }
  void begin_in(TaskCore* task, std::coroutine_handle<> h);
  [[noreturn]] static void no_task();
  void end_setup();
  // Marks the await cancelled and wakes it (without withdrawing anything).
  void cancel_here();
  // Stops waiting: cancels timers, unlinks from waiter lists. Must be safe to call twice.
  virtual void withdraw() noexcept {}
  // In await_resume: throws CancelledError or the failure. `late_cancel`: a cancel() that
  // arrived after the wait was satisfied but before the task resumed is thrown here too
  // (right for waits that hand over nothing; waits that hand over a lock, a permit or an
  // item pass false and the cancellation is thrown at the task's next await).
  void finish(bool late_cancel = true);

  TaskCore* task_ = nullptr;
  bool woken_ = false;
  bool cancelled_ = false;
};

// The scheduled task: owns the outermost coroutine frame while it runs, then the result;
// and the done listeners. Reference counted: handles, awaiters and queued resumptions hold
// it; the loop's registry of pending tasks holds it until it completes, so a task nobody
// holds still runs. The frames are destroyed as soon as the task completes (parameters and
// locals go away then, as in asyncio), the result is kept here.
class TaskCore : public grove::detail::RefCounted, public Hook<RegistryTag> {
 public:
  EventLoop& loop() const noexcept { return *loop_; }
  std::string name() const;
  bool done() const noexcept { return state_ == State::done; }
  bool cancelled() const noexcept { return cancelled_; }
  // See TaskHandle::cancel().
  bool cancel();
  // After done(): the exception the task ended with (a CancelledError if cancelled), or null.
  std::exception_ptr exception() const;
  void mark_retrieved() noexcept { retrieved_ = true; }

  void listen(DoneListener& listener) noexcept { listeners_.push_back(listener); }
  void add_done_callback(Callback cb);

  // --- used by Wait ---
  void suspend_on(Wait& wait, std::coroutine_handle<> leaf) noexcept;
  void wake(Wait& wait);
  void forget(Wait& wait) noexcept;
  bool cancel_requested() const noexcept { return cancel_requested_; }
  bool take_cancel_request() noexcept { return std::exchange(cancel_requested_, false); }
  // The failure of the current wait (Wait::fail): one wait per task at a time, and rare,
  // so it lives here rather than in every awaiter.
  void set_wait_error(std::exception_ptr e) noexcept { wait_error_ = std::move(e); }
  [[noreturn]] void throw_wait_error();
  bool has_wait_error() const noexcept { return bool(wait_error_); }

  // --- symmetric transfer with a stack guard (see transfer_to) ---
  std::coroutine_handle<> transfer(std::coroutine_handle<> next) noexcept {
    if (!stack_base_) return next;  // not resumed by drive(): nothing to bounce to
    const auto here = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
    const std::uintptr_t depth = stack_base_ > here ? stack_base_ - here : here - stack_base_;
    if (depth < kMaxTransferStack) return next;
    next_ = next;  // suspend; drive() resumes `next` from the bottom of the stack
    return std::noop_coroutine();
  }
  static constexpr std::uintptr_t kMaxTransferStack = 16 * 1024;

  // --- lifecycle ---
  void schedule_start();
  void top_done() noexcept;
  // Destroys the frames of a task that will never finish (run()'s last resort): locals'
  // destructors run, waits are withdrawn, the task ends cancelled.
  void destroy_pending() noexcept;

 protected:
  TaskCore(EventLoop& loop, std::coroutine_handle<> top, PromiseBase& promise,
           std::string name);
  ~TaskCore() override;
  // Moves the value out of the finished outermost promise (TaskResult<T>).
  virtual void harvest(PromiseBase& promise) noexcept = 0;

 private:
  enum class State : std::uint8_t { scheduled, running, done };
  void release_frame() noexcept;
  void schedule_resume();
  void resume(std::uint32_t seq);
  void drive(std::coroutine_handle<> h);
  void complete() noexcept;

  EventLoop* loop_;
  std::coroutine_handle<> top_;  // the outermost frame, until it is destroyed
  PromiseBase* promise_;
  std::exception_ptr error_;
  std::exception_ptr wait_error_;
  std::coroutine_handle<> leaf_;  // where the chain is suspended (or will start)
  std::coroutine_handle<> next_;  // a transfer bounced to drive()
  std::uintptr_t stack_base_ = 0;  // drive()'s frame while it runs the chain
  Wait* waiting_ = nullptr;        // the cancellable wait at leaf_, if not yet woken
  List<DoneListener, DoneTag> listeners_;  // awaiters and done callbacks, in order
  std::string name_;
  std::uint64_t id_;
  std::uint32_t seq_ = 0;  // bumped per suspension: a stale resumption is ignored
  State state_ = State::scheduled;
  bool cancel_requested_ = false;
  bool cancelled_ = false;
  bool retrieved_ = false;
  bool resuming_ = false;
  bool frame_done_ = false;  // completed; the frame goes once control is out of it
};

// A task's result: its value once the coroutine returned.
template <class T>
class TaskResult final : public TaskCore {
 public:
  TaskResult(EventLoop& loop, std::coroutine_handle<> top, PromiseBase& promise,
             std::string name)
      : TaskCore(loop, top, promise, std::move(name)) {}
  T& value() noexcept { return *value_; }

 private:
  void harvest(PromiseBase& p) noexcept override {
    auto& promise = static_cast<Promise<T>&>(p);
    if (!promise.error) value_.emplace(std::move(*promise.value));
  }
  std::optional<T> value_;
};

template <>
class TaskResult<void> final : public TaskCore {
 public:
  TaskResult(EventLoop& loop, std::coroutine_handle<> top, PromiseBase& promise,
             std::string name)
      : TaskCore(loop, top, promise, std::move(name)) {}

 private:
  void harvest(PromiseBase&) noexcept override {}
};

using TaskRef = grove::detail::Ref<TaskCore>;

// --- the hot path, inline: every await goes through these ---------------------------------
inline void TaskCore::suspend_on(Wait& wait, std::coroutine_handle<> leaf) noexcept {
  leaf_ = leaf;
  waiting_ = &wait;
  ++seq_;
}

inline void TaskCore::schedule_resume() {
  loop_->call_soon([self = grove::detail::Ref<TaskCore>(this), seq = seq_] { self->resume(seq); });
}

inline void TaskCore::wake(Wait& wait) {
  if (waiting_ == &wait) waiting_ = nullptr;
  schedule_resume();
}

inline void TaskCore::forget(Wait& wait) noexcept {
  if (waiting_ != &wait) return;
  waiting_ = nullptr;
  leaf_ = {};
  ++seq_;
}

inline Wait::~Wait() {
  if (task_ && !woken_) task_->forget(*this);
}

inline EventLoop& Wait::loop() const noexcept { return task_->loop(); }

inline void Wait::begin_in(TaskCore* task, std::coroutine_handle<> h) {
  if (!task) no_task();
  task_ = task;
  task->suspend_on(*this, h);
}

inline void Wait::end_setup() {
  if (!woken_ && task_->cancel_requested()) on_cancel();
}

inline void Wait::wake() {
  if (woken_ || !task_) return;
  woken_ = true;
  task_->wake(*this);
}

inline void Wait::finish(bool late_cancel) {
  if (!task_) return;  // did not suspend
  if (cancelled_) throw CancelledError();
  if (task_->has_wait_error()) task_->throw_wait_error();
  if (late_cancel && task_->take_cancel_request()) throw CancelledError();
}



// Waits for another task to complete (awaiting a TaskHandle). Cancelling the waiter
// cancels the awaited task and keeps waiting for it: the inner task unwinds first.
class TaskWait : public Wait, public DoneListener {
 public:
  explicit TaskWait(TaskRef inner) noexcept : inner_(std::move(inner)) {}
  TaskWait(TaskWait&&) noexcept = default;
  ~TaskWait() { withdraw(); }

  bool await_ready() const noexcept { return inner_->done(); }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    begin(h);
    inner_->listen(*this);
    end_setup();
  }
  void on_task_done(TaskCore&) override { wake(); }
  void on_cancel() override;

 protected:
  void withdraw() noexcept override { Hook<DoneTag>::unlink(); }
  // Throws CancelledError if this await was cancelled; else the inner task's outcome is
  // the caller's to read.
  void finish_wait();

  TaskRef inner_;
  bool forwarded_ = false;
};

}  // namespace detail

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

namespace detail {
inline std::coroutine_handle<> transfer_to(TaskCore* task,
                                           std::coroutine_handle<> next) noexcept {
  return task ? task->transfer(next) : next;
}

template <class T>
Task<T> Promise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
inline Task<void> Promise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}

struct TaskAccess {
  template <class T>
  static std::coroutine_handle<Promise<T>> release(Task<T>& t) noexcept {
    return std::exchange(t.h_, {});
  }
  template <class T>
  static Promise<T>& promise(Task<T>& t) noexcept {
    return t.h_.promise();
  }
};

// The value of a completed task (a reference into it), or its exception rethrown.
template <class T>
std::add_lvalue_reference_t<T> value_of(TaskCore& core) {
  core.mark_retrieved();
  if (std::exception_ptr e = core.exception()) std::rethrow_exception(e);
  if constexpr (!std::is_void_v<T>) return static_cast<TaskResult<T>&>(core).value();
}

// The result of a completed task for an awaiter: a copy if T is copyable (so several
// awaiters may read it), else moved out (once); or its exception rethrown.
template <class T>
T result_of(TaskCore& core) {
  if constexpr (std::is_void_v<T>)
    value_of<T>(core);
  else if constexpr (std::is_copy_constructible_v<T>)
    return value_of<T>(core);
  else
    return std::move(value_of<T>(core));
}

// The result moved out (run() hands it to its caller).
template <class T>
T take_result(TaskCore& core) {
  if constexpr (std::is_void_v<T>)
    value_of<T>(core);
  else
    return std::move(value_of<T>(core));
}

template <class T>
TaskCore* new_task(EventLoop& loop, std::coroutine_handle<Promise<T>> top, std::string name) {
  auto* core = new TaskResult<T>(loop, top, top.promise(), std::move(name));
  core->schedule_start();
  return core;
}

// `co_await CurrentTask{}` gives the task the coroutine runs in (null outside tasks)
// without suspending.
struct CurrentTask {
  TaskCore* task = nullptr;
  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    task = task_of(h);
    return false;
  }
  TaskCore* await_resume() const noexcept { return task; }
};
}  // namespace detail

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
      throw InvalidStateError("grove::aio: " + std::string(what) + " of task '" +
                              core_->name() + "', which is not done yet; await it first");
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
    if (delay_ <= Duration::zero())
      wake();  // sleep(0): the next iteration
    else
      timer_.emplace(loop().call_later(delay_, [this] { wake(); }));
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
