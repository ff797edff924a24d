// Tasks: the scheduled root of a coroutine chain, its suspension bookkeeping and the
// per-loop registry of pending tasks.
#include "internal.hpp"

#include <grove/diagnostics.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <typeinfo>

namespace grove::aio {

bool is_loop_running() noexcept { return current_context().running_loop != nullptr; }

EventLoop& get_running_loop() {
  if (EventLoop* loop = current_context().running_loop) return *loop;
  throw RuntimeError(
      "grove::aio: no running event loop in this context; start the coroutine with "
      "aio::run(coro), or pass the loop explicitly: aio::create_task(loop, coro)");
}

namespace detail {

// --- diagnostics -------------------------------------------------------------------------
std::string describe(std::exception_ptr error) {
  // A cancellation's message says nothing a reader of the warning needs.
  return is_cancellation(error) ? "grove::aio::CancelledError" : describe_exception(error);
}

bool is_cancellation(std::exception_ptr error) noexcept {
  if (!error) return false;
  try {
    std::rethrow_exception(error);
  } catch (const CancelledError&) {
    return true;
  } catch (...) {
    return false;
  }
}

// --- registry ----------------------------------------------------------------------------
namespace {
struct LoopTasks {
  EventLoop* loop;
  List<TaskCore, RegistryTag> pending;
  int thread_jobs = 0;
  // Shared with the pool threads, which may outlive the registry entry.
  std::shared_ptr<std::atomic<int>> thread_posts = std::make_shared<std::atomic<int>>(0);
};
thread_local std::vector<std::unique_ptr<LoopTasks>> t_registries;
thread_local LoopTasks* t_last = nullptr;  // the loop asked for last: nearly always the one

LoopTasks& tasks_of(EventLoop& loop) {
  if (t_last && t_last->loop == &loop) return *t_last;
  for (auto& r : t_registries)
    if (r->loop == &loop) return *(t_last = r.get());
  t_registries.push_back(std::make_unique<LoopTasks>());
  t_registries.back()->loop = &loop;
  return *(t_last = t_registries.back().get());
}

std::atomic<std::uint64_t> g_next_task_id{1};
}  // namespace

std::vector<TaskRef> pending_tasks(EventLoop& loop) {
  std::vector<TaskRef> out;
  tasks_of(loop).pending.for_each([&](TaskCore& t) { out.emplace_back(&t); });
  return out;
}

int& thread_jobs(EventLoop& loop) { return tasks_of(loop).thread_jobs; }
std::atomic<int>& thread_posts(EventLoop& loop) { return *tasks_of(loop).thread_posts; }
std::shared_ptr<std::atomic<int>> thread_posts_counter(EventLoop& loop) {
  return tasks_of(loop).thread_posts;
}

void forget_loop(EventLoop& loop) noexcept {
  auto it = std::find_if(t_registries.begin(), t_registries.end(),
                         [&](const auto& r) { return r->loop == &loop; });
  if (it == t_registries.end()) return;
  if (t_last == it->get()) t_last = nullptr;
  t_registries.erase(it);  // ~List detaches whatever is still listed
}

// --- TaskCore ----------------------------------------------------------------------------
TaskCore::TaskCore(EventLoop& loop, std::coroutine_handle<> top, PromiseBase& promise,
                   std::string name)
    : loop_(&loop), top_(top), promise_(&promise), name_(std::move(name)),
      id_(g_next_task_id.fetch_add(1, std::memory_order_relaxed)) {
  promise.task = this;
  promise.started = true;
  tasks_of(loop).pending.push_back(*this);
  retain();  // the registry's reference, dropped when the task completes
}

TaskCore::~TaskCore() {
  if (!retrieved_ && !cancelled_ && error_)
    warn("Task exception was never retrieved: task '" + name() + "' failed with " +
         describe(error_) +
         " and nothing awaited it or asked for its result(); await the task, or handle "
         "errors inside it");
  while (!listeners_.empty()) listeners_.pop_front().dispose();
  release_frame();
}

void TaskCore::release_frame() noexcept {
  promise_ = nullptr;
  if (top_) std::exchange(top_, {}).destroy();
}

std::string TaskCore::name() const { return name_.empty() ? "Task-" + std::to_string(id_) : name_; }

std::exception_ptr TaskCore::exception() const {
  if (cancelled_) return std::make_exception_ptr(CancelledError());
  return error_;
}

namespace {
// A done callback, listed with the awaiters so that all run in the order they were added.
struct CallbackListener final : DoneListener {
  explicit CallbackListener(Callback c) : cb(std::move(c)) {}
  Callback cb;
  void on_task_done(TaskCore& task) override {
    task.loop().call_soon(std::move(cb));
    delete this;
  }
  void dispose() noexcept override { delete this; }
};
}  // namespace

void TaskCore::add_done_callback(Callback cb) {
  if (done()) loop_->call_soon(std::move(cb));
  else listen(*new CallbackListener(std::move(cb)));
}

void TaskCore::schedule_start() {
  leaf_ = top_;
  ++seq_;
  schedule_resume();
}

void TaskCore::resume(std::uint32_t seq) {
  if (seq != seq_ || !leaf_) return;  // superseded, or the frames were destroyed
  state_ = State::running;
  // The queued callback that called us holds a reference, so the task outlives this call
  // even if it completes inside it.
  drive(std::exchange(leaf_, {}));
}

void TaskCore::drive(std::coroutine_handle<> h) {
  const std::uintptr_t saved_base = stack_base_;
  const bool saved_resuming = resuming_;
  stack_base_ = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  resuming_ = true;
  while (h) {
    h.resume();
    h = std::exchange(next_, {});
  }
  stack_base_ = saved_base;
  resuming_ = saved_resuming;
  // Completed inside: its frames go now that no code of theirs is on the stack.
  if (frame_done_) release_frame();
}

void TaskCore::throw_wait_error() { std::rethrow_exception(std::exchange(wait_error_, nullptr)); }

bool TaskCore::cancel() {
  if (state_ == State::done) return false;
  if (state_ == State::scheduled) {  // never ran: ends cancelled without running
    leaf_ = {};
    ++seq_;
    cancelled_ = true;
    release_frame();  // its parameters are destroyed now
    complete();
    return true;
  }
  cancel_requested_ = true;
  if (waiting_) waiting_->on_cancel();
  return true;
}

void PromiseBase::top_done(PromiseBase& p) noexcept {
  if (p.task) p.task->top_done();
}

void TaskCore::top_done() noexcept {
  error_ = promise_->error;
  harvest(*promise_);
  cancelled_ = is_cancellation(error_);
  frame_done_ = true;
  // The frame is still running this; drive() destroys it once it has returned. Resumed by
  // anything else (a foreign awaitable), the next iteration does, and keeps us alive until.
  if (!resuming_) loop_->call_soon([self = TaskRef(this)] { self->release_frame(); });
  complete();
}

void TaskCore::destroy_pending() noexcept {
  if (state_ == State::done) return;
  leaf_ = {};
  waiting_ = nullptr;
  ++seq_;
  release_frame();
  cancelled_ = true;
  complete();
}

void TaskCore::complete() noexcept {
  state_ = State::done;
  waiting_ = nullptr;
  while (!listeners_.empty()) listeners_.pop_front().on_task_done(*this);
  if (Hook<RegistryTag>::linked()) {
    Hook<RegistryTag>::unlink();
    release();  // the registry's reference; callers hold their own
  }
}

// --- Wait ------------------------------------------------------------------------------
void Wait::no_task() {
  throw RuntimeError(
      "grove::aio: this await must run inside a task; start the coroutine with "
      "aio::run() or aio::create_task()");
}

void Wait::fail(std::exception_ptr error) {
  if (woken_ || !task_) return;
  task_->set_wait_error(std::move(error));
  wake();
}

void Wait::on_cancel() {
  withdraw();
  cancel_here();
}

void Wait::cancel_here() {
  cancelled_ = true;
  task_->take_cancel_request();
  wake();
}

// --- TaskWait ----------------------------------------------------------------------------
void TaskWait::on_cancel() {
  forwarded_ = true;
  inner_->cancel();  // we stay subscribed: the inner task's end wakes us
}

void TaskWait::finish_wait() {
  if (!task_) return;
  if (cancelled_) throw CancelledError();
  if (forwarded_) {
    task_->take_cancel_request();
    // The inner task ignored the cancellation and returned: the cancel still holds here.
    if (!inner_->exception()) {
      inner_->mark_retrieved();
      throw CancelledError();
    }
  }
}

}  // namespace detail
}  // namespace grove::aio
