// Internals shared by grove::aio's sources.
#pragma once

#include <grove/aio/task.hpp>

#include <atomic>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace grove::aio::detail {

// The pending tasks of each loop, for run() to cancel what is left. Per OS thread: a loop
// runs on one thread at a time and its tasks are created on that thread.
std::vector<TaskRef> pending_tasks(EventLoop& loop);
// Drops the registry of `loop` (its tasks are detached). run() calls it for a loop it
// created, before and after, so a later loop at the same address starts empty.
void forget_loop(EventLoop& loop) noexcept;

// Thread-pool jobs in flight that will post back to `loop` (to_thread, resolve), and how
// many pool threads may still be inside its call_soon_threadsafe.
int& thread_jobs(EventLoop& loop);
std::atomic<int>& thread_posts(EventLoop& loop);
std::shared_ptr<std::atomic<int>> thread_posts_counter(EventLoop& loop);

// "std::runtime_error: what()" for diagnostics.
std::string describe(std::exception_ptr error);
bool is_cancellation(std::exception_ptr error) noexcept;

}  // namespace grove::aio::detail
