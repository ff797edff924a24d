// context_loop(): an EventLoop that forwards to another and runs each callback with a request
// context bound and itself as the running loop.
//
// The green bridge runs the coroutines of many requests in one execution context (the
// hub), so "which request is this" cannot be a property of the execution context there.
// Every step of an aio task runs from a callback of the task's loop (a ready-queue entry, a
// timer, an fd watcher); giving each bridged coroutine a loop of its own that wraps those
// callbacks makes the binding follow the coroutine across every suspension, and keeps the
// tasks it creates on that loop, where run()'s leftover-task cleanup finds them.
#include "internal.hpp"

#include <grove/aio/task.hpp>
#include <grove/context.hpp>
#include <grove/detail/forwarding_loop.hpp>

#include <atomic>
#include <grove/web/app.hpp>

namespace grove::web {

namespace {

class ContextLoop;

// Shared with every wrapped callback, so a callback that outlives the loop (a resumption
// still queued on the hub after the bridge returned) finds it gone instead of dangling.
struct Shared {
  ContextLoop* loop = nullptr;
  RequestContextRef ctx;
  // Callbacks scheduled through this loop that still exist (queued, armed timers, open
  // watchers): each wrapped callable holds one count until it is destroyed.
  std::atomic<long> own{0};
  // Set once the bridged coroutine has finished (track_main).
  std::atomic<bool> main_done{false};
};

// One count in Shared::own, carried by a wrapped callable (moves with it).
class OwnToken {
 public:
  explicit OwnToken(std::shared_ptr<Shared> s) : s_(std::move(s)) {
    s_->own.fetch_add(1, std::memory_order_relaxed);
  }
  OwnToken(OwnToken&& o) noexcept : s_(std::move(o.s_)) {}
  OwnToken& operator=(OwnToken&&) = delete;
  ~OwnToken() {
    if (s_) s_->own.fetch_sub(1, std::memory_order_relaxed);
  }
  Shared& operator*() const { return *s_; }

 private:
  std::shared_ptr<Shared> s_;
};

class ContextLoop final : public grove::detail::ForwardingLoop<ContextLoop> {
 public:
  ContextLoop(std::unique_ptr<EventLoop> owned, EventLoop& inner, RequestContextRef ctx)
      : owned_(std::move(owned)), inner_(&inner), shared_(std::make_shared<Shared>()) {
    shared_->loop = this;
    shared_->ctx = std::move(ctx);
    follow_inner_clock();
  }
  ~ContextLoop() override { shared_->loop = nullptr; }

  EventLoop& inner() const { return *inner_; }

  // Runs on the inner loop's thread around one callback.
  struct Enter {
    RunningLoopScope running;
    RequestContextScope scope;
    explicit Enter(const Shared& s) : running(s.loop), scope(s.ctx) {
      if (s.loop) s.loop->follow_inner_clock();
    }
  };

  // Every callback but a signal watcher's holds a count in Shared::own while it exists.
  template <grove::detail::Forwarded K, class F>
  auto wrap(F&& f) {
    if constexpr (K == grove::detail::Forwarded::signal_watcher) {
      return [s = shared_, f = std::forward<F>(f)](auto&&... args) mutable {
        Enter enter(*s);
        f(std::forward<decltype(args)>(args)...);
      };
    } else {
      return [t = OwnToken(shared_), f = std::forward<F>(f)](auto&&... args) mutable {
        Enter enter(*t);
        f(std::forward<decltype(args)>(args)...);
      };
    }
  }

  // While the bridged coroutine runs: whatever the inner loop says (for a green loop, the
  // whole hub), so aio's "waiting for something that can never happen" check stays as it
  // is. Once it is done: only this loop's own work, so aio::run's clean-up does not spend
  // turns of a hub that is alive for everyone else's sake.
  bool alive() const override {
    if (!shared_->main_done.load(std::memory_order_acquire)) return inner_->alive();
    return shared_->own.load(std::memory_order_relaxed) > 0 || work_ > 0;
  }
  void work_started() override {
    ++work_;
    inner_->work_started();
  }
  void work_finished() override {
    --work_;
    inner_->work_finished();
  }
  const std::shared_ptr<Shared>& shared_ptr() const { return shared_; }

 private:
  std::unique_ptr<EventLoop> owned_;
  EventLoop* inner_;
  std::shared_ptr<Shared> shared_;
  long work_ = 0;  // work_started() not yet finished (loop thread only)
};

struct MarkDone {
  std::shared_ptr<Shared> s;
  ~MarkDone() { s->main_done.store(true, std::memory_order_release); }
};

aio::Task<void> run_marked(aio::Task<void> coro, std::shared_ptr<Shared> s) {
  MarkDone mark{std::move(s)};
  co_await std::move(coro);
}

}  // namespace

aio::Task<void> detail::track_main(EventLoop& loop, aio::Task<void> coro) {
  auto* cl = dynamic_cast<ContextLoop*>(&loop);
  if (!cl) return coro;
  return run_marked(std::move(coro), cl->shared_ptr());
}

std::unique_ptr<EventLoop> context_loop(std::unique_ptr<EventLoop> inner, RequestContextRef ctx) {
  EventLoop& ref = *inner;
  return std::make_unique<ContextLoop>(std::move(inner), ref, std::move(ctx));
}

std::unique_ptr<EventLoop> context_loop(EventLoop& inner, RequestContextRef ctx) {
  return std::make_unique<ContextLoop>(nullptr, inner, std::move(ctx));
}

}  // namespace grove::web
