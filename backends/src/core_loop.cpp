// The loop core: callbacks, the iteration, and the cross-thread queue.
#include "core_loop.hpp"

#include <grove/diagnostics.hpp>

#include <unistd.h>
#include <stdexcept>
#include <system_error>

namespace grove {

namespace {
thread_local EventLoop* t_current = nullptr;
}

EventLoop* EventLoop::current() noexcept { return t_current; }

EventLoop::CurrentScope::CurrentScope(EventLoop* loop) noexcept : previous_(t_current) {
  t_current = loop;
}
EventLoop::CurrentScope::~CurrentScope() { t_current = previous_; }

void EventLoop::close_fd(int fd) {
  forget_fd(fd);
  ::close(fd);
}

void EventLoop::report_exception(std::exception_ptr error, std::string_view context) {
  if (handler_) {
    handler_(error, context);
    return;
  }
  report(Severity::error, "loop",
         "exception in " + std::string(context) + ": " + describe_exception(error));
}

namespace detail {

namespace {

// The engine's own description, completed with what the core provides on every engine.
Capabilities core_capabilities(const Poller& poller) {
  Capabilities caps = poller.describe();
  caps.timer_resolution = DeadlineFd::kGrain;
  std::vector<std::string> emulated = {"timers (grove core heap)", "signals (grove core self-pipe)",
                                       "several watchers per fd (grove core)",
                                       "poll timeout (grove core timerfd)"};
  emulated.insert(emulated.end(), caps.emulated.begin(), caps.emulated.end());
  caps.emulated = std::move(emulated);
  return caps;
}

}  // namespace

CoreLoop::CoreLoop(std::unique_ptr<Poller> poller)
    : poller_(std::move(poller)), lazy_removal_(poller_->lazy_removal()),
      caps_(core_capabilities(*poller_)), timer_pool_(new TimerPool) {
  watch_deadline();
  ready_.reserve(64);
  running_batch_.reserve(64);
  for (std::size_t i = 0; i < kHeap0; ++i) heap_.push_back({0, nullptr});  // unused slots
  // now() is what call_later() measures from before the first iteration: make it the end of
  // construction, not its start (a slow construction would otherwise let a timer set up
  // right after it fire earlier than its delay, counted from the call).
  update_now();
}

void CoreLoop::watch_deadline() {
  if (int err = poller_->open(deadline_.fd(), Events::none, Events::read))
    throw std::system_error(err, std::generic_category(),
                            "grove: the " + caps_.engine + " engine cannot watch a timerfd");
}

CoreLoop::~CoreLoop() {
  poller_->close(deadline_.fd());
  signal_pipe_.reset();
  // Break the loop <-> node links so handles that outlive the loop are inert.
  for (std::size_t i = kHeap0; i < heap_.size(); ++i) {
    TimerNode* t = heap_[i].node;
    t->in_heap = false;
    t->loop = nullptr;
    t->cb.reset();
    t->release();
  }
  timer_pool_->owner_gone();  // Timer handles still out keep their nodes (and the pool)
  for (auto& st : fds_)
    for (IoNode* w : st.watchers)
      if (w) {
        w->loop = nullptr;
        w->attached = false;
        w->release();
      }
  for (auto& list : signals_)
    for (SignalNode* s : list) {
      s->loop = nullptr;
      s->attached = false;
      s->release();
    }
}

void CoreLoop::call_soon(Callback cb) { ready_.push(std::move(cb)); }

void CoreLoop::call_soon_threadsafe(Callback cb) {
  {
    std::lock_guard lock(remote_mutex_);
    remote_.push_back(std::move(cb));
  }
  // One wake per batch. The flag is true from the first push after a drain until the loop's
  // next drain, which clears it under the lock it swaps the queue with: a push that saw it
  // true is therefore in a batch still to be drained, and one wake is already on its way.
  if (!remote_pending_.exchange(true, std::memory_order_acq_rel)) poller_->wake();
}

void CoreLoop::drain_remote(bool force) {
  if (!force && !remote_pending_.load(std::memory_order_acquire)) return;
  // Swapped with a member rather than a local: both vectors keep their capacity, so neither
  // side allocates per wake-up.
  {
    std::lock_guard lock(remote_mutex_);
    remote_pending_.store(false, std::memory_order_relaxed);
    remote_batch_.swap(remote_);
  }
  for (auto& cb : remote_batch_) ready_.push(std::move(cb));
  remote_batch_.clear();
}

void CoreLoop::run() {
  if (running_depth_ > 0)
    throw std::logic_error(
        "grove: EventLoop::run() called from inside one of the same loop's callbacks; "
        "schedule the work with call_soon() instead of running the loop again");
  CurrentScope scope(this);
  ++running_depth_;
  try {
    while (!stopping_ && alive()) iterate(true);
  } catch (...) {
    --running_depth_;
    stopping_ = false;
    throw;
  }
  --running_depth_;
  stopping_ = false;
}

bool CoreLoop::run_once(bool block) {
  if (running_depth_ > 0)
    throw std::logic_error(
        "grove: EventLoop::run_once() called from inside one of the same loop's callbacks; "
        "schedule the work with call_soon() instead of running the loop again");
  CurrentScope scope(this);
  ++running_depth_;
  try {
    iterate(block);
  } catch (...) {
    --running_depth_;
    throw;
  }
  --running_depth_;
  return alive();
}

Duration CoreLoop::poll_timeout(bool block) {
  if (!block || stopping_ || !ready_.empty() || remote_pending_.load(std::memory_order_relaxed))
    return Duration::zero();
  prune_cancelled_top();
  if (heap_empty()) return Duration(-1);
  // Measured from now_ (the time the timers were scheduled against), not from the clock,
  // as the first wait after a stale now_ should be: call_later(d) made before the first
  // iteration (or after long callbacks) then still waits d from the poll, and cannot fire
  // less than d after the call even if the thread was preempted in between. The price: a
  // deadline the clock has already passed may still wait up to its remaining d.
  auto wait = heap_top().at - now_.time_since_epoch().count();
  return Duration(wait > 0 ? wait : 0);
}

void CoreLoop::iterate(bool block) {
  apply_fd_changes();
  ready_events_.clear();
  const Duration timeout = poll_timeout(block);
  if (timeout > Duration::zero()) deadline_.arm(timeout);
  poller_->poll(timeout != Duration::zero(), ready_events_);
  update_now();
  drain_remote();
  for (const ReadyEvent& ev : ready_events_) {
    if (ev.fd == deadline_.fd()) [[unlikely]]
      deadline_.expired();
    else dispatch_io(ev);
  }
  if (!heap_empty() && heap_top().at <= now_.time_since_epoch().count()) fire_due_timers();
  if (!ready_.empty()) run_ready();
}

void CoreLoop::run_ready() {
  // Only what was queued before this point runs now; callbacks queued meanwhile wait for
  // the next iteration, after the next poll (asyncio's fairness rule).
  running_batch_.swap(ready_);
  const std::size_t n = running_batch_.size();
  std::size_t i = 0;
  try {
    while (i < n) {
      // One try around the whole batch rather than a call per callback: entering it is
      // free, and the loop stays a tight sequence of calls. Each callback is destroyed
      // right after it ran, while it is still in cache.
      try {
        for (; i < n; ++i) {
          running_batch_[i]();
          running_batch_[i].reset();
        }
      } catch (...) {
        running_batch_[i++].reset();  // the callback that threw is done
        report_exception(std::current_exception(), "call_soon callback");
      }
    }
  } catch (...) {
    // The exception handler rethrew: keep the callbacks that have not run yet, in order.
    CallbackQueue rest;
    rest.reserve(n - i + ready_.size());
    for (std::size_t j = i; j < n; ++j) rest.push(std::move(running_batch_[j]));
    for (auto& cb : ready_) rest.push(std::move(cb));
    ready_.swap(rest);
    running_batch_.forget_empty();
    throw;
  }
  running_batch_.forget_empty();
  // Nothing queued meanwhile (the common case): give the buffer that just ran back to the
  // ready queue, so that one buffer, warm in cache, serves batch after batch instead of two
  // alternating.
  if (ready_.empty()) ready_.swap(running_batch_);
}

void CoreLoop::invoke(Callback& cb, const char* context) {
  try {
    cb();
  } catch (...) {
    report_exception(std::current_exception(), context);
  }
}

std::unique_ptr<EventLoop> make_core_loop(std::unique_ptr<Poller> poller) {
  return std::make_unique<CoreLoop>(std::move(poller));
}

void CoreLoop::reinit_after_fork() {
  poller_->after_fork();
  poller_->close(deadline_.fd());
  deadline_.after_fork();  // shared with the parent: a new timerfd
  watch_deadline();
  if (signal_pipe_) signal_pipe_->after_fork();
  drain_remote(/*force=*/true);  // the wake written before the fork went with the old pipe
}

}  // namespace detail
}  // namespace grove
