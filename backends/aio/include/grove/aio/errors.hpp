// Exceptions and warnings of grove::aio.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace grove::aio {

// Thrown at a task's await point when the task is cancelled.
//
// Like asyncio's CancelledError (a BaseException since Python 3.8) it deliberately does NOT
// derive from std::exception: a `catch (const std::exception&)` meant for errors must not
// swallow a cancellation and keep a cancelled task running. Catch it by name (or `...`),
// clean up, and rethrow.
class CancelledError {
 public:
  const char* what() const noexcept { return "grove::aio: the task was cancelled"; }
};

// A timeout expired: wait_for(), or an I/O or HTTP operation given a timeout.
class TimeoutError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An operation on a task in the wrong state, e.g. result() of a task that is not done.
class InvalidStateError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// The loop is missing or the wrong one: create_task() with no running loop, run() called
// while a loop is already running in this context.
class RuntimeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Queue::get_nowait() on an empty queue / Queue::put_nowait() on a full one.
class QueueEmpty : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class QueueFull : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// --- warnings ---------------------------------------------------------------------------
// grove::aio reports problems that are not errors of the current call (tasks cancelled by
// run(), a task's exception nobody retrieved) through one process-wide warning handler.
// The default writes "grove: warning: <text>" to stderr.
using WarningHandler = std::function<void(std::string_view message)>;
// Installs `handler` (an empty one restores the default) and returns the previous one.
// Thread-safe; the handler itself may be called from any thread that runs a loop.
WarningHandler set_warning_handler(WarningHandler handler);
// Sends `message` to the current warning handler.
void warn(std::string_view message);

}  // namespace grove::aio
