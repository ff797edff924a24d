// run(): driving the main task, then cleaning up what it left behind.
#include <grove/aio/run.hpp>

#include "internal.hpp"

#include <string>
#include <thread>

namespace grove::aio::detail {

namespace {
// Stops the loop when the task it listens to completes.
struct StopOnDone final : DoneListener {
  explicit StopOnDone(EventLoop& l) : loop(l) {}
  EventLoop& loop;
  void on_task_done(TaskCore&) override { loop.stop(); }
};

// Stops the loop when every task it was given is done.
struct StopWhenAllDone {
  struct Listener final : DoneListener {
    StopWhenAllDone* owner = nullptr;
    void on_task_done(TaskCore&) override {
      if (--owner->remaining == 0) owner->loop.stop();
    }
  };
  explicit StopWhenAllDone(EventLoop& l, const std::vector<TaskRef>& tasks)
      : loop(l), listeners(tasks.size()) {
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      listeners[i].owner = this;
      if (!tasks[i]->done()) {
        ++remaining;
        tasks[i]->listen(listeners[i]);
      }
    }
  }
  EventLoop& loop;
  std::vector<Listener> listeners;  // sized once: listeners never move while linked
  std::size_t remaining = 0;
};

std::string quoted_names(const std::vector<TaskRef>& tasks) {
  std::string out;
  for (const auto& t : tasks) {
    if (!out.empty()) out += ", ";
    out += '\'';
    out += t->name();
    out += '\'';
  }
  return out;
}
}  // namespace

void check_no_running_loop(const char* caller) {
  if (!is_loop_running()) return;
  throw RuntimeError(std::string("grove::aio::") + caller +
                     "() cannot be called while an event loop is running in this context; "
                     "await the coroutine instead (co_await coro, or aio::create_task(coro) "
                     "to run it concurrently)");
}

RunScope::RunScope(EventLoop& loop) : loop_(loop), running_(&loop) { forget_loop(loop); }
RunScope::~RunScope() { forget_loop(loop_); }

// g++ 12 warns that `stop` is linked into `main`'s listener list past its lifetime; it is
// not: the listener unlinks itself in its destructor (Hook::~Hook).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
bool drive(EventLoop& loop, TaskCore& main) {
  StopOnDone stop(loop);
  if (!main.done()) main.listen(stop);
  while (!main.done()) {
    if (!loop.alive()) return false;
    loop.run();
  }
  return true;
}
#pragma GCC diagnostic pop

void throw_deadlock(TaskCore& main, const char* caller) {
  throw RuntimeError(
      std::string("grove::aio::") + caller + "(): task '" + main.name() +
      "' is waiting for something that can never happen: nothing is left on the loop "
      "(no timer, fd watcher, callback or thread job) that could wake it. Is it waiting "
      "on an Event, Lock or Queue that no other task will set, release or fill?");
}

void shut_down_tasks(EventLoop& loop, TaskCore* main, bool warn_leftovers) {
  std::vector<TaskRef> reported;  // what was pending when shutdown began, minus main
  // Unwinding tasks may start new ones: a few rounds, then whatever is left is destroyed.
  for (int round = 0; round < 4; ++round) {
    std::vector<TaskRef> left = pending_tasks(loop);
    if (left.empty()) break;
    if (round == 0)
      for (const auto& t : left)
        if (t.get() != main) reported.push_back(t);
    for (const auto& t : left) t->cancel();
    {
      StopWhenAllDone until(loop, left);
      while (until.remaining > 0 && loop.alive()) loop.run();
    }
    // Whatever still runs ignored its cancellation and waits for something that cannot
    // come (or the last round is over): destroy its frames. RAII cleanup runs, nothing
    // else does.
    if (round == 3 || !loop.alive())
      for (const auto& t : pending_tasks(loop)) t->destroy_pending();
    for (const auto& t : left) {
      if (t.get() == main) continue;
      t->mark_retrieved();
      std::exception_ptr e = t->exception();
      if (e && !is_cancellation(e))
        loop.report_exception(e, "background task '" + t->name() + "' cancelled by aio::run()");
    }
  }
  if (warn_leftovers && !reported.empty())
    warn("grove::aio::run(): " + std::to_string(reported.size()) + " task" +
         (reported.size() == 1 ? " was" : "s were") +
         " still pending when the main coroutine returned and " +
         (reported.size() == 1 ? "was" : "were") + " cancelled: " + quoted_names(reported) +
         ". background tasks are cancelled when the coroutine returns; use a task queue "
         "(an aio::Queue drained by worker tasks that the main coroutine awaits) for work "
         "that must finish");
  // Thread jobs post back to this loop: it must outlive them, including the moment after
  // their result ran here while the posting thread is still returning from
  // call_soon_threadsafe.
  while (thread_jobs(loop) > 0) loop.run_once(true);
  while (thread_posts(loop).load(std::memory_order_acquire) > 0) std::this_thread::yield();
  // Resumptions queued for tasks that are gone are no-ops; run them so nothing that holds
  // a task stays in the loop's queue.
  for (int i = 0; i < 4 && loop.alive(); ++i) loop.run_once(false);
}

}  // namespace grove::aio::detail
