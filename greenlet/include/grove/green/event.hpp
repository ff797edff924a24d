// Event and AsyncResult: one green thread (or a loop callback) signals, many wait.
#pragma once

#include <grove/green/detail/core.hpp>

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace grove::green {

// A flag green threads can wait for (gevent's Event). set() wakes every waiter.
// Destroying an Event that green threads still wait on wakes them with `false`.
class Event {
 public:
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event();

  // Sets the flag and wakes every waiter; later waits return at once. Callable from loop
  // callbacks too.
  void set();
  void clear() { flag_ = false; }
  bool is_set() const { return flag_; }
  // Waits until the flag is set; returns true if it was, false if `timeout` passed first.
  bool wait(std::optional<Duration> timeout = std::nullopt);

 private:
  bool flag_ = false;
  detail::WaitList waiters_;
};

// A value or an exception that will be available later (gevent's AsyncResult): one side
// set()s it, any number of green threads get() it.
template <class T>
class AsyncResult {
 public:
  AsyncResult() = default;
  AsyncResult(const AsyncResult&) = delete;
  AsyncResult& operator=(const AsyncResult&) = delete;
  ~AsyncResult() { detail::wake_all_closed(waiters_); }

  // Stores the value (a later set replaces it) and wakes every waiter.
  template <class... A>
  void set(A&&... value) {
    if constexpr (!std::is_void_v<T>) value_.emplace(std::forward<A>(value)...);
    error_ = nullptr;
    ready_ = true;
    waiters_.notify_all();
  }
  void set_exception(std::exception_ptr error) {
    if constexpr (!std::is_void_v<T>) value_.reset();
    error_ = std::move(error);
    ready_ = true;
    waiters_.notify_all();
  }

  bool ready() const { return ready_; }
  bool successful() const { return ready_ && !error_; }
  std::exception_ptr exception() const { return error_; }

  // Waits until ready; returns ready().
  bool wait(std::optional<Duration> timeout = std::nullopt) {
    return detail::wait_ready(ready_, waiters_, timeout);
  }
  // Waits until ready; returns a copy of the value or rethrows the exception. Throws
  // Timeout if `timeout` passes first.
  T get(std::optional<Duration> timeout = std::nullopt) {
    if (!wait(timeout)) detail::throw_timed_out(timeout.value_or(Duration::zero()));
    if (error_) std::rethrow_exception(error_);
    if constexpr (!std::is_void_v<T>) return *value_;
  }

 private:
  struct Empty {};
  std::conditional_t<std::is_void_v<T>, Empty, std::optional<T>> value_;
  std::exception_ptr error_;
  bool ready_ = false;
  detail::WaitList waiters_;
};

}  // namespace grove::green
