// Waiting for several tasks, with a deadline, or without passing on a cancellation:
// gather(), wait_for(), shield() (asyncio's). Promises: no child outlives a gather (a
// failure cancels the others and still waits for them); wait_for cancels what it waited
// for on timeout and throws TimeoutError; shield keeps a cancellation from reaching the
// inner task.
//
//   auto [a, b] = co_await aio::gather(fetch(1), fetch(2));          // concurrently
//   int v = co_await aio::wait_for(fetch(3), 100ms);                 // or TimeoutError
//   co_await aio::shield(save());                                     // runs to its end
#pragma once

#include <grove/aio/task.hpp>

#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace grove::aio {

// A task's outcome as gather(return_exceptions, ...) reports it: a value or an exception.
template <class T>
class Outcome {
 public:
  explicit Outcome(T value) : value_(std::move(value)) {}
  explicit Outcome(std::exception_ptr error) : error_(std::move(error)) {}

  bool has_value() const noexcept { return !error_; }
  explicit operator bool() const noexcept { return has_value(); }
  // The value, or the exception rethrown.
  T& value() {
    if (error_) std::rethrow_exception(error_);
    return *value_;
  }
  std::exception_ptr error() const noexcept { return error_; }
  // The task ended with CancelledError.
  bool cancelled() const;

 private:
  std::optional<T> value_;
  std::exception_ptr error_;
};

template <>
class Outcome<void> {
 public:
  Outcome() = default;
  explicit Outcome(std::exception_ptr error) : error_(std::move(error)) {}
  bool has_value() const noexcept { return !error_; }
  explicit operator bool() const noexcept { return has_value(); }
  void value() const {
    if (error_) std::rethrow_exception(error_);
  }
  std::exception_ptr error() const noexcept { return error_; }
  bool cancelled() const;

 private:
  std::exception_ptr error_;
};

// The tag for gather's asyncio `return_exceptions=True` mode.
struct return_exceptions_t {
  explicit return_exceptions_t() = default;
};
inline constexpr return_exceptions_t return_exceptions{};

namespace detail {

bool is_cancellation(std::exception_ptr error) noexcept;
std::string format_duration(Duration d);

template <class T>
using gather_value_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class T>
struct is_task : std::false_type {};
template <class T>
struct is_task<Task<T>> : std::true_type {};
template <class T>
struct is_task_handle : std::false_type {};
template <class T>
struct is_task_handle<TaskHandle<T>> : std::true_type {};

template <class T>
TaskHandle<T> as_handle(EventLoop& loop, Task<T>&& task) {
  return create_task(loop, std::move(task));
}
template <class T>
TaskHandle<T> as_handle(EventLoop&, const TaskHandle<T>& handle) {
  return handle;
}

// What `co_await a` produces, for an awaiter or a type with operator co_await.
template <class A>
auto awaiter_of(A&& a) -> decltype(std::forward<A>(a).operator co_await()) {
  return std::forward<A>(a).operator co_await();
}
template <class A>
auto awaiter_of(A&& a) -> decltype(a.await_resume(), std::forward<A>(a)) {
  return std::forward<A>(a);
}
template <class A>
using await_result_t = decltype(awaiter_of(std::declval<A>()).await_resume());

// Wraps any awaitable (an Event::wait(), a sleep()) into a Task so that it can be scheduled.
template <class A>
Task<await_result_t<A>> as_task(A awaitable) {
  co_return co_await std::move(awaitable);
}

template <class T>
Outcome<T> outcome_of(TaskCore& core) {
  core.mark_retrieved();
  if (std::exception_ptr e = core.exception()) return Outcome<T>(std::move(e));
  if constexpr (std::is_void_v<T>) return Outcome<void>();
  else return Outcome<T>(result_of<T>(core));
}

template <class T>
gather_value_t<T> gather_value(TaskCore& core) {
  if constexpr (std::is_void_v<T>) {
    result_of<T>(core);
    return {};
  } else {
    return result_of<T>(core);
  }
}

// Waits until every child is done. Without return_exceptions, the first child to fail
// makes it cancel the others; it still waits for them, so no child outlives the gather.
// Cancelling the waiter cancels every child and waits for them.
class GatherWait : public Wait {
 public:
  GatherWait(std::vector<TaskCore*> children, bool return_exceptions);
  GatherWait(const GatherWait&) = delete;
  ~GatherWait() { withdraw(); }

  bool await_ready() const noexcept { return children_.empty(); }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    begin(h);
    subscribe();
    end_setup();
  }
  void await_resume();
  void on_cancel() override;

 private:
  struct Child final : DoneListener {
    GatherWait* owner = nullptr;
    void on_task_done(TaskCore& task) override { owner->child_done(task); }
  };
  void subscribe();
  void child_done(TaskCore& task);
  void cancel_children();
  void withdraw() noexcept override;

  std::vector<TaskCore*> children_;  // kept alive by the caller's handles
  std::unique_ptr<Child[]> listeners_;
  std::size_t remaining_ = 0;
  std::exception_ptr first_error_;
  bool return_exceptions_;
  bool outer_cancelled_ = false;
};

// (The children travel as one tuple: g++ 12 rejects coroutines whose parameters are a
// pack, "array used as initializer".)
template <class... T, std::size_t... I>
std::vector<TaskCore*> cores_of(const std::tuple<TaskHandle<T>...>& children,
                                std::index_sequence<I...>) {
  return {std::get<I>(children).core()...};
}
template <class... T, std::size_t... I>
std::tuple<gather_value_t<T>...> values_of(const std::tuple<TaskHandle<T>...>& children,
                                           std::index_sequence<I...>) {
  return std::tuple<gather_value_t<T>...>(gather_value<T>(*std::get<I>(children).core())...);
}
template <class... T, std::size_t... I>
std::tuple<Outcome<T>...> outcomes_of(const std::tuple<TaskHandle<T>...>& children,
                                      std::index_sequence<I...>) {
  return std::tuple<Outcome<T>...>(outcome_of<T>(*std::get<I>(children).core())...);
}

template <class... T>
Task<std::tuple<gather_value_t<T>...>> gather_tuple(std::tuple<TaskHandle<T>...> children) {
  co_await GatherWait(cores_of(children, std::index_sequence_for<T...>{}), false);
  co_return values_of(children, std::index_sequence_for<T...>{});
}

template <class... T>
Task<std::tuple<Outcome<T>...>> gather_tuple_outcomes(std::tuple<TaskHandle<T>...> children) {
  co_await GatherWait(cores_of(children, std::index_sequence_for<T...>{}), true);
  co_return outcomes_of(children, std::index_sequence_for<T...>{});
}

template <class T>
std::vector<TaskCore*> cores_of(const std::vector<TaskHandle<T>>& handles) {
  std::vector<TaskCore*> out;
  out.reserve(handles.size());
  for (const auto& h : handles) out.push_back(h.core());
  return out;
}

template <class T>
using gather_vector_t = std::conditional_t<std::is_void_v<T>, void, std::vector<T>>;

template <class T>
Task<gather_vector_t<T>> gather_vector(std::vector<TaskHandle<T>> children) {
  co_await GatherWait(cores_of(children), false);
  if constexpr (std::is_void_v<T>) {
    for (auto& c : children) result_of<void>(*c.core());
  } else {
    std::vector<T> out;
    out.reserve(children.size());
    for (auto& c : children) out.push_back(result_of<T>(*c.core()));
    co_return out;
  }
}

template <class T>
Task<std::vector<Outcome<T>>> gather_vector_outcomes(std::vector<TaskHandle<T>> children) {
  co_await GatherWait(cores_of(children), true);
  std::vector<Outcome<T>> out;
  out.reserve(children.size());
  for (auto& c : children) out.push_back(outcome_of<T>(*c.core()));
  co_return out;
}

template <class T>
std::vector<TaskHandle<T>> as_handles(EventLoop& loop, std::vector<Task<T>> tasks) {
  std::vector<TaskHandle<T>> out;
  out.reserve(tasks.size());
  for (auto& t : tasks) out.push_back(create_task(loop, std::move(t)));
  return out;
}

// Waits for a task with a deadline; on expiry cancels it and waits for it to unwind.
class WaitForWait : public Wait, public DoneListener {
 public:
  WaitForWait(TaskRef inner, Duration timeout) noexcept
      : inner_(std::move(inner)), timeout_(timeout) {}
  WaitForWait(const WaitForWait&) = delete;
  ~WaitForWait() { withdraw(); }

  bool await_ready() const noexcept { return inner_->done(); }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    begin(h);
    inner_->listen(*this);
    arm();
    end_setup();
  }
  void await_resume();
  void on_cancel() override;
  void on_task_done(TaskCore&) override;

 private:
  void arm();
  void withdraw() noexcept override;
  TaskRef inner_;
  Duration timeout_;
  Timer timer_;
  bool timed_out_ = false;
  bool outer_cancelled_ = false;
};

template <class T>
Task<T> wait_for_task(TaskHandle<T> inner, Duration timeout) {
  co_await WaitForWait(TaskRef(inner.core()), timeout);
  co_return result_of<T>(*inner.core());
}

// Waits for a task without passing the waiter's cancellation on to it.
class ShieldWait : public Wait, public DoneListener {
 public:
  explicit ShieldWait(TaskRef inner) noexcept : inner_(std::move(inner)) {}
  ShieldWait(const ShieldWait&) = delete;
  ~ShieldWait() { withdraw(); }

  bool await_ready() const noexcept { return inner_->done(); }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    begin(h);
    inner_->listen(*this);
    end_setup();
  }
  void await_resume() { finish(); }
  void on_task_done(TaskCore&) override { wake(); }

 private:
  void withdraw() noexcept override { Hook<DoneTag>::unlink(); }
  TaskRef inner_;
};

template <class T>
Task<T> shield_task(TaskHandle<T> inner) {
  co_await ShieldWait(TaskRef(inner.core()));
  co_return result_of<T>(*inner.core());
}

template <class A>
concept TaskLike =
    is_task<std::remove_cvref_t<A>>::value || is_task_handle<std::remove_cvref_t<A>>::value;

}  // namespace detail

template <class T>
bool Outcome<T>::cancelled() const {
  return detail::is_cancellation(error_);
}
inline bool Outcome<void>::cancelled() const { return detail::is_cancellation(error_); }

// --- gather ------------------------------------------------------------------------------
// Runs Tasks (each becomes a task on the running loop at once, as asyncio's gather does)
// and/or waits for TaskHandles concurrently; the result is a tuple in argument order
// (std::monostate for void). The first exception propagates once the other children,
// which it cancels, have finished. Cancelling the awaiting task cancels every child.
//
//   auto [a, b] = co_await aio::gather(fetch(1), fetch(2));
template <class... A>
requires(detail::TaskLike<A>&&...) auto gather(A&&... awaitables) {
  EventLoop& loop = get_running_loop();
  // Braces: the children are created (and so start) in argument order.
  return detail::gather_tuple(
      std::tuple<decltype(detail::as_handle(loop, std::forward<A>(awaitables)))...>{
          detail::as_handle(loop, std::forward<A>(awaitables))...});
}
// asyncio's return_exceptions=True: every child runs to its end; the result holds an
// Outcome<T> per child (value or exception). Cancelling the awaiter still cancels all.
template <class... A>
requires(detail::TaskLike<A>&&...) auto gather(return_exceptions_t, A&&... awaitables) {
  EventLoop& loop = get_running_loop();
  // Braces: the children are created (and so start) in argument order.
  return detail::gather_tuple_outcomes(
      std::tuple<decltype(detail::as_handle(loop, std::forward<A>(awaitables)))...>{
          detail::as_handle(loop, std::forward<A>(awaitables))...});
}
// The same for a run-time number of tasks: a vector of values in order (nothing for void).
template <class T>
Task<detail::gather_vector_t<T>> gather(std::vector<Task<T>> tasks) {
  return detail::gather_vector(detail::as_handles(get_running_loop(), std::move(tasks)));
}
template <class T>
Task<detail::gather_vector_t<T>> gather(std::vector<TaskHandle<T>> handles) {
  return detail::gather_vector(std::move(handles));
}
template <class T>
Task<std::vector<Outcome<T>>> gather(return_exceptions_t, std::vector<Task<T>> tasks) {
  return detail::gather_vector_outcomes(detail::as_handles(get_running_loop(), std::move(tasks)));
}
template <class T>
Task<std::vector<Outcome<T>>> gather(return_exceptions_t, std::vector<TaskHandle<T>> handles) {
  return detail::gather_vector_outcomes(std::move(handles));
}

// --- wait_for ----------------------------------------------------------------------------
// Awaits `awaitable` for at most `timeout`. On expiry the inner task is cancelled, awaited,
// and TimeoutError is thrown (if the inner task swallowed the cancellation and returned,
// its value is returned instead). Cancelling the waiter cancels the inner task too; use
// shield() to prevent that. Any awaitable works: Tasks and TaskHandles directly, others
// (Event::wait(), Queue::get(), ...) wrapped in a task.
template <class T>
Task<T> wait_for(Task<T> task, Duration timeout) {
  return detail::wait_for_task(create_task(std::move(task)), timeout);
}
template <class T>
Task<T> wait_for(TaskHandle<T> task, Duration timeout) {
  return detail::wait_for_task(std::move(task), timeout);
}
template <class A>
requires(!detail::TaskLike<A>) auto wait_for(A awaitable, Duration timeout) {
  return wait_for(detail::as_task(std::move(awaitable)), timeout);
}

// --- shield ------------------------------------------------------------------------------
// Awaits a task but does not pass the awaiter's cancellation on: the awaiter gets
// CancelledError at once, the task runs on (as asyncio.shield).
template <class T>
Task<T> shield(TaskHandle<T> task) {
  return detail::shield_task(std::move(task));
}
template <class T>
Task<T> shield(Task<T> task) {
  return detail::shield_task(create_task(std::move(task)));
}

}  // namespace grove::aio
