// grove::ExecutionContext — per-execution-context state that must follow the code that runs,
// not the OS thread underneath it.
//
// By default there is one context per OS thread. greenlet/ installs a provider that gives
// every green thread its own, so that "is a loop running here" (asyncio's
// get_running_loop) is answered per green thread: a sibling green thread never sees
// another's running loop. The coroutine API (aio) and the bridges read and write the
// running loop only through current_context().
#pragma once

namespace grove {

class EventLoop;

struct ExecutionContext {
  // The loop that grove::aio::run() (or a bridge) is running in this context, or nullptr.
  EventLoop* running_loop = nullptr;
};

// The context of the code calling it.
ExecutionContext& current_context() noexcept;

// Replaces how current_context() finds the context. The provider must return a context that
// lives as long as the execution context it stands for; returning nullptr means "use the
// OS thread's". Call it once, at start-up, before other threads use grove.
using ContextProvider = ExecutionContext* (*)() noexcept;
void set_context_provider(ContextProvider provider) noexcept;

// Sets current_context().running_loop for a scope and restores the previous value after.
class RunningLoopScope {
 public:
  explicit RunningLoopScope(EventLoop* loop) noexcept
      : context_(current_context()), previous_(context_.running_loop) {
    context_.running_loop = loop;
  }
  ~RunningLoopScope() { context_.running_loop = previous_; }
  RunningLoopScope(const RunningLoopScope&) = delete;
  RunningLoopScope& operator=(const RunningLoopScope&) = delete;

 private:
  ExecutionContext& context_;
  EventLoop* previous_;
};

}  // namespace grove
