// The second half of task.hpp's machinery, which needs Task<T> complete: the promises'
// get_return_object, access to a Task's coroutine, reading a completed task's result, and
// creating the task core. Not a contract: included by task.hpp after Task<T>.
#pragma once

#include <grove/aio/detail/task_core.hpp>

namespace grove::aio {

namespace detail {
inline std::coroutine_handle<> transfer_to(TaskCore* task, std::coroutine_handle<> next) noexcept {
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
  if constexpr (std::is_void_v<T>) value_of<T>(core);
  else if constexpr (std::is_copy_constructible_v<T>) return value_of<T>(core);
  else return std::move(value_of<T>(core));
}

// The result moved out (run() hands it to its caller).
template <class T>
T take_result(TaskCore& core) {
  if constexpr (std::is_void_v<T>) value_of<T>(core);
  else return std::move(value_of<T>(core));
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

}  // namespace grove::aio
