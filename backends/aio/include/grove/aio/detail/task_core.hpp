// The machinery under grove/aio/task.hpp: promises, the task core every suspension belongs
// to, the Wait protocol awaiters follow, and the inline hot path of every await. Not a
// contract: included by task.hpp, subject to change; user code names aio::Task,
// aio::TaskHandle and the functions of task.hpp instead.
#pragma once

#include <chrono>
#include <concepts>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <grove/aio/detail/list.hpp>
#include <grove/aio/errors.hpp>
#include <grove/context.hpp>
#include <grove/loop.hpp>
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

bool is_loop_running() noexcept;
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
  void return_value(U&& v) { value.emplace(std::forward<U>(v)); }
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
  if constexpr (std::is_base_of_v<PromiseBase, P>) return h.promise().task;
  else return nullptr;
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
  TaskCore(EventLoop& loop, std::coroutine_handle<> top, PromiseBase& promise, std::string name);
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
  std::coroutine_handle<> leaf_;           // where the chain is suspended (or will start)
  std::coroutine_handle<> next_;           // a transfer bounced to drive()
  std::uintptr_t stack_base_ = 0;          // drive()'s frame while it runs the chain
  Wait* waiting_ = nullptr;                // the cancellable wait at leaf_, if not yet woken
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
  TaskResult(EventLoop& loop, std::coroutine_handle<> top, PromiseBase& promise, std::string name)
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
  TaskResult(EventLoop& loop, std::coroutine_handle<> top, PromiseBase& promise, std::string name)
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

}  // namespace grove::aio
