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

#include <grove/context.hpp>
#include <grove/web/app.hpp>

namespace grove::web {

namespace {

class ContextLoop;

// Shared with every wrapped callback, so a callback that outlives the loop (a resumption
// still queued on the hub after the bridge returned) finds it gone instead of dangling.
struct Shared {
  ContextLoop* loop = nullptr;
  RequestContextRef ctx;
};

class ContextLoop final : public EventLoop {
 public:
  ContextLoop(std::unique_ptr<EventLoop> owned, EventLoop& inner, RequestContextRef ctx)
      : owned_(std::move(owned)), inner_(&inner), shared_(std::make_shared<Shared>()) {
    shared_->loop = this;
    shared_->ctx = std::move(ctx);
    now_ = inner_->now();
  }
  ~ContextLoop() override { shared_->loop = nullptr; }

  // Runs on the inner loop's thread around one callback.
  struct Enter {
    RunningLoopScope running;
    RequestContextScope scope;
    explicit Enter(const Shared& s) : running(s.loop), scope(s.ctx) {
      if (s.loop) s.loop->sync_now();
    }
  };

  Callback wrap(Callback cb) {
    return [s = shared_, cb = std::move(cb)]() mutable {
      Enter e(*s);
      cb();
    };
  }

  void sync_now() { now_ = inner_->now(); }

  void call_soon(Callback cb) override { inner_->call_soon(wrap(std::move(cb))); }
  void call_soon_threadsafe(Callback cb) override { inner_->call_soon_threadsafe(wrap(std::move(cb))); }
  Timer call_at(TimePoint when, Callback cb) override { return inner_->call_at(when, wrap(std::move(cb))); }
  Timer call_every(Duration interval, Callback cb) override {
    return inner_->call_every(interval, wrap(std::move(cb)));
  }
  IoWatcher watch(int fd, Events events, IoCallback cb) override {
    return inner_->watch(fd, events, [s = shared_, cb = std::move(cb)](Events e) mutable {
      Enter enter(*s);
      cb(e);
    });
  }
  void forget_fd(int fd) override { inner_->forget_fd(fd); }
  SignalWatcher watch_signal(int signum, SignalCallback cb) override {
    return inner_->watch_signal(signum, [s = shared_, cb = std::move(cb)](int sig) mutable {
      Enter enter(*s);
      cb(sig);
    });
  }
  void run() override {
    inner_->run();
    sync_now();
  }
  bool run_once(bool block) override {
    bool more = inner_->run_once(block);
    sync_now();
    return more;
  }
  void stop() override { inner_->stop(); }
  bool is_running() const override { return inner_->is_running(); }
  bool alive() const override { return inner_->alive(); }
  void work_started() override { inner_->work_started(); }
  void work_finished() override { inner_->work_finished(); }
  void reinit_after_fork() override { inner_->reinit_after_fork(); }
  const Capabilities& capabilities() const override { return inner_->capabilities(); }

 private:
  std::unique_ptr<EventLoop> owned_;
  EventLoop* inner_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace

std::unique_ptr<EventLoop> context_loop(std::unique_ptr<EventLoop> inner, RequestContextRef ctx) {
  EventLoop& ref = *inner;
  return std::make_unique<ContextLoop>(std::move(inner), ref, std::move(ctx));
}

std::unique_ptr<EventLoop> context_loop(EventLoop& inner, RequestContextRef ctx) {
  return std::make_unique<ContextLoop>(nullptr, inner, std::move(ctx));
}

}  // namespace grove::web
