// The `green` engine: an EventLoop whose work goes to the calling thread's hub loop, and whose
// run()/run_once() wait like a green thread instead of blocking the OS thread.
#include "green_loop_impl.hpp"

#include <grove/green/green_loop.hpp>

#include <algorithm>
#include <mutex>

namespace grove::green {

namespace detail {

GreenLoop::GreenLoop(Hub& hub, bool own) : hub_(&hub), remote_(hub.remote()), own_(own) {
  const Capabilities& under = hub.loop().capabilities();
  caps_.engine = "green";
  caps_.poller = under.poller + " (the hub's " + under.engine + " loop)";
  caps_.timer_resolution = under.timer_resolution;
  caps_.emulated = under.emulated;
  caps_.emulated.push_back("run() waits as a green thread");
  // Timers and queued callbacks go with a destroyed green loop, as on every engine; an fd or
  // signal watcher is the hub loop's and stays active() until closed (its callback no
  // longer runs). Said here because it is the one place the green engine differs.
  caps_.emulated.push_back(
      "watchers on the hub's loop: they outlive a destroyed green loop, inert but active() "
      "until closed");
  if (!own) hub.own_facade();  // from now on the hub itself runs coroutines: name its loop
  hub.add_facade(this);
  update_now();  // last: now() is the time the loop is ready, not when setting it up began
}

GreenLoop::~GreenLoop() {
  for (Timer& t : timers_) t.cancel();
  wake_all_closed(runners_);
  wake_all_closed(turn_waiters_);
  if (hub_) hub_->remove_facade(this);
}

Hub& GreenLoop::hub() const {
  if (!hub_)
    throw std::logic_error("grove: this green loop's hub has shut down (its OS thread ended)");
  return *hub_;
}

Hub& GreenLoop::hub_for_running() const {
  Hub& h = hub();
  if (t_hub != &h)
    throw std::logic_error("grove: a green loop can only be run on the OS thread that made it");
  if (h.in_hub())
    throw std::logic_error(
        "grove: EventLoop::run()/run_once() on the green engine was called from inside the "
        "hub (a loop callback or a coroutine); schedule the work with call_soon() instead of "
        "running the loop again");
  return h;
}

// Callbacks scheduled through a green loop run inside the hub, whose execution context is
// shared by every green loop of this thread. For their duration the green loop is what any
// engine's loop is for its callbacks: the running loop of the context (a coroutine resumed
// there finds its own loop), EventLoop::current(), the clock now() reads, and the receiver
// of their exceptions. A green loop that is gone takes its pending work with it, as a
// destroyed loop does.
template <grove::detail::Forwarded K, class F>
auto GreenLoop::wrap(F&& f) {
  return [self = this, f = std::forward<F>(f)](auto&&... args) mutable {
    Hub* hub = t_hub;
    if (!hub || !hub->has_facade(self)) return;
    if constexpr (grove::detail::runs_once(K)) {
      // A callback rethrew through the handler and run() has not thrown it yet: on any
      // engine nothing queued behind it runs before that. Keep it for the next run().
      if (self->rethrown_) {
        self->deferred_.push_back(std::move(f));
        return;
      }
    }
    RunningLoopScope running(self);
    CurrentScope current(self);
    self->now_ = hub->loop().now();
    try {
      f(std::forward<decltype(args)>(args)...);
    } catch (...) {
      self->callback_failed(std::current_exception(), grove::detail::describe(K));
    }
  };
}

void GreenLoop::callback_failed(std::exception_ptr error, const char* context) noexcept {
  try {
    report_exception(std::move(error), context);
  } catch (...) {
    // The handler rethrew: run()/run_once() throw it in the green thread that runs them.
    if (!rethrown_) rethrown_ = std::current_exception();
    runners_.notify_all();
    turn_waiters_.notify_all();
  }
}

void GreenLoop::throw_if_rethrown() {
  if (!rethrown_) return;
  std::exception_ptr e = std::exchange(rethrown_, nullptr);
  // What was held back runs first, in order, on the next turn.
  for (Callback& cb : std::exchange(deferred_, {}))
    hub().loop().call_soon(wrap<grove::detail::Forwarded::call_soon>(std::move(cb)));
  std::rethrow_exception(e);
}

Timer GreenLoop::keep(Timer t) {
  // Prune fired and cancelled timers as the list doubles: amortised O(1) per timer.
  if (timers_.size() >= prune_at_) {
    std::erase_if(timers_, [](const Timer& x) { return !x.active(); });
    prune_at_ = std::max<std::size_t>(64, timers_.size() * 2);
  }
  timers_.push_back(t);
  return t;
}

void GreenLoop::call_soon_threadsafe(Callback cb) {
  std::lock_guard lock(remote_->mutex);
  if (!remote_->loop)
    throw std::logic_error("grove: call_soon_threadsafe on a green loop whose hub has shut down");
  remote_->loop->call_soon_threadsafe(wrap<grove::detail::Forwarded::call_soon>(std::move(cb)));
}

void GreenLoop::forget_fd(int fd) { hub().forget_fd(fd); }

bool GreenLoop::alive() const { return hub_ && (hub_->loop().alive() || hub_->has_runnable()); }

void GreenLoop::stop() {
  stopping_ = true;
  runners_.notify_all();
}

void GreenLoop::run() {
  hub_for_running();
  update_now();
  RunningLoopScope running(this);
  ++running_;
  struct Leave {
    GreenLoop* self;
    ~Leave() {
      if (--self->running_ == 0) self->stopping_ = false;
    }
  } leave{this};
  throw_if_rethrown();
  while (!stopping_) {
    Waiter w;
    const Wake why = runners_.wait(w, std::nullopt);
    throw_if_rethrown();
    if (why == Wake::notified) continue;  // stop()
    if (why == Wake::nothing_left || why == Wake::closed) break;
    throw_pending();
  }
  update_now();
}

bool GreenLoop::run_once(bool block) {
  Hub& h = hub_for_running();
  update_now();
  RunningLoopScope running(this);
  ++running_;
  struct Leave {
    GreenLoop* self;
    ~Leave() { --self->running_; }
  } leave{this};
  if (!block) h.request_nonblocking_poll();
  Waiter w;
  const Wake why = turn_waiters_.wait(w, std::nullopt);
  if (why == Wake::thrown || why == Wake::timed_out) throw_pending();
  update_now();
  throw_if_rethrown();
  return alive();
}

void GreenLoop::after_turn() noexcept {
  now_ = hub_->loop().now();
  turn_waiters_.notify_all();
}

bool GreenLoop::finish_waiters() noexcept {
  bool any_waiting = false;
  for (WaitList* list : {&runners_, &turn_waiters_})
    while (Waiter* w = list->pop_front()) any_waiting |= wake(w->green, Wake::nothing_left);
  return any_waiting;
}

void GreenLoop::detach_hub() noexcept {
  wake_all_closed(runners_);
  wake_all_closed(turn_waiters_);
  hub_ = nullptr;
}

}  // namespace detail

// --- the hub's facade bookkeeping -----------------------------------------------------------

void detail::Hub::add_facade(GreenLoop* loop) { facades_.push_back(loop); }

void detail::Hub::remove_facade(GreenLoop* loop) noexcept { std::erase(facades_, loop); }

bool detail::Hub::has_facade(const GreenLoop* loop) const noexcept {
  return std::find(facades_.begin(), facades_.end(), loop) != facades_.end();
}

detail::GreenLoop& detail::Hub::own_facade() {
  if (!own_facade_) {
    own_facade_ = std::make_unique<GreenLoop>(*this, true);
    self_->context.running_loop = own_facade_.get();
  }
  return *own_facade_;
}

EventLoop& green_loop() { return detail::Hub::get().own_facade(); }

bool is_green_loop(const EventLoop& loop) noexcept {
  detail::Hub* hub = detail::t_hub;
  auto* facade = dynamic_cast<const detail::GreenLoop*>(&loop);
  return hub && facade && hub->has_facade(facade);
}

std::unique_ptr<EventLoop> make_green_loop() {
  return std::make_unique<detail::GreenLoop>(detail::Hub::get());
}

void register_green_engine() {
  static std::once_flag once;
  std::call_once(once, [] { grove::register_engine("green", &make_green_loop); });
}

}  // namespace grove::green
