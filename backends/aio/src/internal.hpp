// Internals shared by grove::aio's sources.
#pragma once

#include <grove/aio/task.hpp>

#include <exception>
#include <string>
#include <vector>

namespace grove::aio::detail {

// The pending tasks of each loop, for run() to cancel what is left. Per OS thread: a loop
// runs on one thread at a time and its tasks are created on that thread.
std::vector<TaskRef> pending_tasks(EventLoop& loop);
// Drops the registry of `loop` (its tasks are detached). run() calls it for a loop it
// created, before and after, so a later loop at the same address starts empty.
void forget_loop(EventLoop& loop) noexcept;

// Thread-pool jobs in flight that will post back to `loop` (to_thread, resolve).
int& thread_jobs(EventLoop& loop);

// "std::runtime_error: what()" for diagnostics.
std::string describe(std::exception_ptr error);
bool is_cancellation(std::exception_ptr error) noexcept;

}  // namespace grove::aio::detail
