// grove::detail::ForwardingLoop — machinery for an EventLoop that hands its work to another.
//
// Two loops are views of another loop: the green engine's GreenLoop (its work runs on the
// hub's loop) and the framework's context loop (a bridged coroutine's work runs on the
// request's loop, with the request context bound). Each forwards every call to the inner
// loop and wraps every callback it forwards, so that while the callback runs the outer loop
// is the running loop. This base does the forwarding once; a subclass supplies the inner
// loop and the wrapper, and overrides only the calls it answers differently.
//
//   class Outer final : public grove::detail::ForwardingLoop<Outer> {
//    public:
//     EventLoop& inner() const { return *inner_; }
//     template <grove::detail::Forwarded K, class F>
//     auto wrap(F&& f) {
//       return [self = this, f = std::forward<F>(f)](auto&&... args) mutable {
//         grove::RunningLoopScope running(self);
//         f(std::forward<decltype(args)>(args)...);
//       };
//     }
//     const grove::Capabilities& capabilities() const override { ... }  // and the rest
//   };
#pragma once

#include <grove/loop.hpp>

#include <utility>

namespace grove::detail {

// Which kind of callback a forwarding loop is wrapping: whether it runs once or may run again,
// and how the loop's exception handler names it.
enum class Forwarded { call_soon, timer, repeating_timer, fd_watcher, signal_watcher };

constexpr bool runs_once(Forwarded k) noexcept {
  return k == Forwarded::call_soon || k == Forwarded::timer;
}

constexpr const char* describe(Forwarded k) noexcept {
  switch (k) {
    case Forwarded::call_soon: return "call_soon callback";
    case Forwarded::timer:
    case Forwarded::repeating_timer: return "timer callback";
    case Forwarded::fd_watcher: return "fd watcher callback";
    case Forwarded::signal_watcher: return "signal watcher callback";
  }
  return "callback";
}

// Derived provides `EventLoop& inner() const` and `template <Forwarded K, class F> auto
// wrap(F&& f)`, returning a callable that runs f (with its arguments) as Derived wants; it may
// shadow `Timer keep(Timer)` to hold on to the timers it schedules.
template <class Derived>
class ForwardingLoop : public EventLoop {
 public:
  void call_soon(Callback cb) override {
    inner().call_soon(self().template wrap<Forwarded::call_soon>(std::move(cb)));
  }
  void call_soon_threadsafe(Callback cb) override {
    inner().call_soon_threadsafe(self().template wrap<Forwarded::call_soon>(std::move(cb)));
  }
  Timer call_at(TimePoint when, Callback cb) override {
    return self().keep(
        inner().call_at(when, self().template wrap<Forwarded::timer>(std::move(cb))));
  }
  Timer call_every(Duration interval, Callback cb) override {
    // The inner loop counts the first interval from its own now(), which may be older than
    // this loop's (refreshed by update_now()): never let it be, or the first run would come
    // before now() + interval as this loop's callers read it.
    EventLoop& under = inner();
    if (under.now() < now()) under.update_now();
    return self().keep(under.call_every(
        interval, self().template wrap<Forwarded::repeating_timer>(std::move(cb))));
  }
  IoWatcher watch(int fd, Events events, IoCallback cb) override {
    return inner().watch(fd, events, self().template wrap<Forwarded::fd_watcher>(std::move(cb)));
  }
  void forget_fd(int fd) override { inner().forget_fd(fd); }
  SignalWatcher watch_signal(int signum, SignalCallback cb) override {
    return inner().watch_signal(signum,
                                self().template wrap<Forwarded::signal_watcher>(std::move(cb)));
  }
  void run() override {
    inner().run();
    follow_inner_clock();
  }
  bool run_once(bool block) override {
    const bool more = inner().run_once(block);
    follow_inner_clock();
    return more;
  }
  void stop() override { inner().stop(); }
  bool is_running() const override { return inner().is_running(); }
  bool alive() const override { return inner().alive(); }
  void work_started() override { inner().work_started(); }
  void work_finished() override { inner().work_finished(); }
  void reinit_after_fork() override { inner().reinit_after_fork(); }
  const Capabilities& capabilities() const override { return inner().capabilities(); }

 protected:
  ForwardingLoop() = default;
  // The timers this loop schedules pass through here; the default keeps nothing.
  Timer keep(Timer t) { return t; }
  // now() as the inner loop last read the clock (a forwarded callback's time).
  void follow_inner_clock() { now_ = inner().now(); }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
  EventLoop& inner() const { return static_cast<const Derived&>(*this).inner(); }
};

}  // namespace grove::detail
