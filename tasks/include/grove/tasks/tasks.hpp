// Background tasks on Redis Streams: register functions, enqueue them with JSON arguments,
// fetch or wait for their results. Workers (grove/tasks/worker.hpp) run them.
//
//   grove::tasks::Tasks tasks({.url = "redis://127.0.0.1:6379/0"});
//   tasks.task("send_email", [](const web::Json& args) {          // plain function
//     smtp_send(args.at("to").as_string());                       // blocking is fine: compat
//     return web::Json{{"sent", true}};
//   });
//   tasks.task("resize", [](web::Json args) -> aio::Task<web::Json> {   // or a coroutine
//     co_return co_await resize(args);
//   });
//   std::string id = tasks.enqueue("send_email", {{"to", "a@b.c"}},
//                                  {.delay = 10s, .retries = 5, .timeout = 30s, .queue = "mail"});
//   tasks::Result now = tasks.result(id);                 // pending until a worker is done
//   tasks::Result done = tasks.wait(id, 60s);             // waits (WaitTimeout after 60s)
//   if (done.status == tasks::Status::succeeded) use(done.value);
//   // In a coroutine: co_await tasks.enqueue_async(...), co_await tasks.wait_async(id, 60s).
//
// Contract:
//  - Delivery is at least once: a task whose worker died runs again elsewhere, so a task
//    should be idempotent in effect. EnqueueOptions::id makes enqueueing idempotent: a
//    second enqueue with the same id within result_ttl enqueues nothing and returns the id.
//  - A task that throws (or outlives its timeout) is retried after backoff_base * 2^n (n
//    the retry, capped at backoff_max); after the last retry it goes to the queue's
//    dead-letter stream with the exception text, and its result is `failed` with that text.
//  - Results are kept for result_ttl. An id with no result is `pending`: queued, running,
//    waiting for a retry, or unknown.
//  - The synchronous calls block only the calling green thread (green::wait), or the calling
//    thread while its hub runs; the _async ones are aio coroutines for any loop.
//  - Register every task before the first enqueue() or worker start; registering is not
//    thread-safe against use.
// Keys, wire format and the choice of Streams: docs/tasks.md.
#pragma once

#include <grove/aio.hpp>
#include <grove/redis/pool.hpp>
#include <grove/tasks/errors.hpp>
#include <grove/web/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace grove::tasks {

using namespace std::chrono_literals;
using web::Json;

struct TasksOptions {
  std::string url = "redis://127.0.0.1:6379";
  // Every key starts with it ("grove:tasks:queue:default", ...): one prefix per application.
  std::string prefix = "grove:tasks";
  std::size_t pool_size = 16;
  // How long results and idempotency keys live.
  Duration result_ttl = 24h;
  // Retry n (from 0) waits backoff_base * 2^n, at most backoff_max.
  Duration backoff_base = 1s;
  Duration backoff_max = 10min;
};

struct EnqueueOptions {
  Duration delay = Duration::zero();    // run no earlier than now + delay
  int retries = 3;                      // retries after the first attempt (0 to 1000)
  Duration timeout = Duration::zero();  // per attempt; zero: none
  std::string queue = "default";
  std::string id;  // caller-chosen id: enqueueing is deduplicated
};

enum class Status { pending, succeeded, failed };
const char* to_string(Status s) noexcept;

struct Result {
  Status status = Status::pending;
  Json value;         // what the task returned (succeeded)
  std::string error;  // the last exception's text (failed)
  int attempts = 0;   // runs it took (succeeded or failed)
  bool ready() const noexcept { return status != Status::pending; }
};

// A registered task: a plain function or a coroutine.
struct Handler {
  std::function<Json(const Json&)> sync;
  std::function<aio::Task<Json>(Json)> coroutine;
};

class Tasks {
 public:
  explicit Tasks(TasksOptions options = {});
  Tasks(const Tasks&) = delete;
  Tasks& operator=(const Tasks&) = delete;
  ~Tasks();

  // Registers fn under name: Json(const Json&), void(const Json&), or a coroutine returning
  // aio::Task<Json> or aio::Task<void>. A second registration of a name throws.
  template <class F>
  void task(std::string name, F fn);

  // Queues a run of `name` (registered here, else UnknownTask) and returns its id.
  std::string enqueue(std::string_view name, Json args = Json::object(),
                      EnqueueOptions options = {});
  // In a coroutine, name the options first (`EnqueueOptions o{.queue = "mail"}; co_await
  // tasks.enqueue_async("x", args, o);`): g++ 12 destroys an aggregate built inside a
  // co_await expression twice (docs/aio.md, "Writing coroutines with g++ 12").
  aio::Task<std::string> enqueue_async(std::string name, Json args, EnqueueOptions options);
  aio::Task<std::string> enqueue_async(std::string name, Json args = Json::object()) {
    return enqueue_async(std::move(name), std::move(args), EnqueueOptions{});
  }

  // The result now (pending if none yet).
  Result result(std::string_view id);
  aio::Task<Result> result_async(std::string id);
  // Waits until the task has a result; WaitTimeout after `timeout`.
  Result wait(std::string_view id, Duration timeout);
  aio::Task<Result> wait_async(std::string id, Duration timeout);

  // Adds the queue figures (lengths, pending, delayed, retries, dead letters, completed,
  // per queue enqueued to) to the process's Prometheus metrics (grove/http/metrics.hpp),
  // read from Redis at each scrape; removed when this object goes. Call once.
  void add_metrics();

  // Changes the options before first use (grove-worker's --redis, --prefix); afterwards a
  // std::logic_error.
  void configure(TasksOptions options);

  const TasksOptions& options() const noexcept { return options_; }
  const Handler* find(std::string_view name) const;
  std::vector<std::string> names() const;
  // The pool every call uses (opened on first use).
  redis::Pool& pool();

 private:
  void add(std::string name, Handler handler);
  void remove_metrics();
  TasksOptions options_;
  std::map<std::string, Handler, std::less<>> handlers_;
  std::mutex pool_mutex_;
  std::unique_ptr<redis::Pool> pool_;
  std::uint64_t metrics_id_ = 0;
};

template <class F>
void Tasks::task(std::string name, F fn) {
  using R = std::invoke_result_t<F&, const Json&>;
  Handler h;
  if constexpr (std::is_same_v<R, aio::Task<Json>>) {
    // A coroutine of its own owns args: fn may take them by reference.
    h.coroutine = [fn = std::move(fn)](Json args) mutable -> aio::Task<Json> {
      co_return co_await fn(args);
    };
  } else if constexpr (std::is_same_v<R, aio::Task<void>>) {
    h.coroutine = [fn = std::move(fn)](Json args) mutable -> aio::Task<Json> {
      co_await fn(args);
      co_return Json();
    };
  } else if constexpr (std::is_void_v<R>) {
    h.sync = [fn = std::move(fn)](const Json& args) mutable {
      fn(args);
      return Json();
    };
  } else {
    static_assert(std::is_convertible_v<R, Json>,
                  "grove::tasks: a task returns web::Json (or void), or is a coroutine returning "
                  "aio::Task<web::Json> (or aio::Task<void>)");
    h.sync = [fn = std::move(fn)](const Json& args) mutable { return Json(fn(args)); };
  }
  add(std::move(name), std::move(h));
}

}  // namespace grove::tasks
