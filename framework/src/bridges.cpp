// The two built-in async_to_sync bridges.
#include "internal.hpp"

#include <grove/aio/run.hpp>
#include <grove/green.hpp>
#include <grove/web/app.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace grove::web {

namespace {

std::string running_engine() {
  try {
    return aio::get_running_loop().engine();
  } catch (...) {
    return "?";
  }
}

// Installs `pump` on the request of `ctx` (if any) for a scope: the bridge serves the
// body reads of request.stream() while it runs the request's coroutine.
class PumpScope {
 public:
  PumpScope(const RequestContextRef& ctx, Request::BodyPump pump)
      : req_(ctx ? ctx.get()->request : nullptr) {
    if (!req_) return;
    saved_ = req_->body_pump();
    req_->set_body_pump(std::move(pump));
  }
  ~PumpScope() {
    if (req_) req_->set_body_pump(std::move(saved_));
  }
  PumpScope(const PumpScope&) = delete;
  PumpScope& operator=(const PumpScope&) = delete;

 private:
  Request* req_;
  Request::BodyPump saved_;
};

// The thread bridge's pump: the worker thread posts jobs, the caller (blocked on the
// connection's side anyway) runs them until the worker is done.
struct Mailbox {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::function<void()>> jobs;
  bool done = false;

  void post(std::function<void()> job) {
    {
      std::lock_guard lock(mutex);
      jobs.push_back(std::move(job));
    }
    changed.notify_one();
  }
  void finish() {
    {
      std::lock_guard lock(mutex);
      done = true;
    }
    changed.notify_one();
  }
  // Runs the jobs posted until finish(); a job left when it comes belongs to a cancelled
  // read and is dropped.
  void serve() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return done || !jobs.empty(); });
        if (done) return;
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      job();
    }
  }
};

// The green bridge's pump: each job in a green thread of its own beside the hub (the
// coroutine runs in the hub, where nothing may block). One read at a time per request, so
// one reader; it is killed if the coroutine ended without waiting for it (cancelled).
class Readers {
 public:
  void spawn(std::function<void()> job) { current_ = green::spawn(std::move(job)); }
  ~Readers() {
    if (!current_ || current_.dead()) return;
    try {
      current_.kill();
    } catch (...) {  // the reader ends at its next switch in any case
    }
  }

 private:
  green::Greenlet current_;
};

}  // namespace

void thread_bridge(aio::Task<void> coro) {
  if (aio::is_loop_running())
    throw BridgeError(
        "grove::web::thread_bridge (async_to_sync) cannot run a coroutine here: an event loop ('" +
        running_engine() +
        "') is already running in this context, and blocking it until the coroutine finishes "
        "would stall everything on it. Await the coroutine instead (co_await it, or "
        "aio::create_task), or use the green bridge (app.async_to_sync = web::green_bridge; "
        "--bridge green), which waits only the calling green thread");
  RequestContextRef ctx = capture_request_context();
  std::exception_ptr error;
  auto mailbox = std::make_shared<Mailbox>();
  PumpScope pump(ctx, [mailbox](std::function<void()> job) { mailbox->post(std::move(job)); });
  // asgiref's model: a fresh loop of the default engine on a thread of its own, the caller
  // blocked until it is done (serving its body reads meanwhile). The request context
  // travels to that thread.
  std::thread worker([&] {
    {
      RequestContextScope scope(ctx);
      try {
        aio::run(std::move(coro));
      } catch (...) {
        error = std::current_exception();
      }
    }
    mailbox->finish();
  });
  mailbox->serve();
  worker.join();
  if (error) std::rethrow_exception(error);
}

void green_bridge(aio::Task<void> coro) {
  if (aio::is_loop_running())
    throw BridgeError(
        "grove::web::green_bridge (async_to_sync) cannot run a coroutine here: an event loop ('" +
        running_engine() +
        "') is already running in this context (a coroutine, or a green thread inside "
        "aio::run). Await the coroutine instead (co_await it, or aio::create_task)");
  if (green::in_hub())
    throw BridgeError(
        "grove::web::green_bridge (async_to_sync) was called from inside the hub (a loop "
        "callback); the hub cannot wait for itself. Await the coroutine instead, or call the "
        "synchronous code from a green thread (green::spawn)");
  green::register_green_engine();
  // A loop of its own over this thread's hub: the coroutine and the tasks it creates run in
  // the hub beside every green thread, with this request bound around each of their steps;
  // only the calling green thread waits. run_main gives aio::run's semantics on it (leftover
  // tasks cancelled and named in a warning, errors rethrown with their type).
  RequestContextRef ctx = capture_request_context();
  std::unique_ptr<EventLoop> loop = context_loop(green::make_green_loop(), ctx);
  Readers readers;  // a reader left (the coroutine cancelled) dies before the loop goes
  PumpScope pump(ctx, [&readers](std::function<void()> job) { readers.spawn(std::move(job)); });
  aio::detail::run_main(*loop, detail::track_main(*loop, std::move(coro)));
}

std::string bridge_name(const AsyncToSync& bridge) {
  using Fn = void (*)(aio::Task<void>);
  if (const Fn* f = bridge.target<Fn>()) {
    if (*f == &thread_bridge) return "thread";
    if (*f == &green_bridge || *f == &grove::green::async_to_sync) return "green";
  }
  return bridge ? "custom" : "none";
}

AsyncToSync bridge_from_name(std::string_view name) {
  if (name == "thread") return thread_bridge;
  if (name == "green") return green_bridge;
  throw std::invalid_argument("unknown bridge '" + std::string(name) + "' (known: green, thread)");
}

}  // namespace grove::web
