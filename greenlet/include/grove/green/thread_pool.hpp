// run_in_thread: blocking work on a native thread while only the calling green thread waits.
//
//   auto addrs = grove::green::run_in_thread([&] { return resolve("example.org"); });
//
// The work runs on a process-wide pool of native threads. Its result wakes the hub at once
// (through EventLoop::call_soon_threadsafe), and the hub counts the job as outstanding work
// so that a wait for it is never mistaken for "would block forever". If the waiting green
// thread is killed or times out, the job still runs to completion and its result is dropped.
#pragma once

#include <grove/green/detail/core.hpp>

#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace grove::green {

namespace detail {
// A job for the pool. run() is called on a worker thread; everything else on the hub's.
class ThreadJob {
 public:
  virtual ~ThreadJob() = default;
  virtual void run() noexcept = 0;
};
// Submits the job and parks the calling green thread until it is done.
void run_job(std::shared_ptr<ThreadJob> job);

template <class R, class F>
class TypedJob final : public ThreadJob {
 public:
  explicit TypedJob(F&& fn) : fn_(std::forward<F>(fn)) {}
  void run() noexcept override {
    try {
      if constexpr (std::is_void_v<R>) fn_();
      else value_.emplace(fn_());
    } catch (...) {
      error_ = std::current_exception();
    }
  }
  R result() {
    if (error_) std::rethrow_exception(error_);
    if constexpr (!std::is_void_v<R>) return std::move(*value_);
  }

 private:
  std::decay_t<F> fn_;
  std::conditional_t<std::is_void_v<R>, bool, std::optional<R>> value_{};
  std::exception_ptr error_;
};
}  // namespace detail

// Runs fn() on a pool thread; returns its value or rethrows its exception (original type).
template <class F>
auto run_in_thread(F&& fn) {
  using R = std::invoke_result_t<std::decay_t<F>&>;
  auto job = std::make_shared<detail::TypedJob<R, F>>(std::forward<F>(fn));
  detail::run_job(job);
  return job->result();
}

// The most native threads the pool runs at once (default 10, as gevent's). Idle threads
// exit after a few seconds.
void set_thread_pool_size(std::size_t threads);
std::size_t thread_pool_size();

}  // namespace grove::green
