// grove::tasks in one process: enqueue, results, retries, dead letters, delays,
// idempotent ids, timeouts, metrics and API misuse, against a real Redis.
#include "fixture.hpp"

using namespace grove;
using namespace grove::tasks;
using namespace grove::tasks::test;

TEST_CASE("an enqueued task runs on a worker and its result comes back", "[tasks]") {
  Fixture f;
  if (!f) return;
  InProcessWorker w(*f.tasks, f.worker_options());
  std::string echo = f.tasks->enqueue("echo", {{"hello", "world"}});
  std::string add = f.tasks->enqueue("add", {{"a", 2}, {"b", 3}});
  std::string add_async = f.tasks->enqueue("add_async", {{"a", 40}, {"b", 2}});
  Result r = f.tasks->wait(echo, 10s);
  CHECK(r.status == Status::succeeded);
  CHECK(r.value == Json{{"hello", "world"}});
  CHECK(r.attempts == 1);
  CHECK(f.tasks->wait(add, 10s).value == Json(5));
  CHECK(f.tasks->wait(add_async, 10s).value == Json(42));
  // Fetched again without waiting: the stored result.
  CHECK(f.tasks->result(add).value == Json(5));
  // Acknowledged and deleted: nothing waits, nothing is pending.
  CHECK(f.integer(redis::command("XLEN", f.key("queue:default"))) == 0);
  CHECK(f.pending() == 0);
  CHECK(w.stop() == 0);
  CHECK(w.worker().stats().completed == 3);
}

TEST_CASE("a result is pending until a worker runs the task, and wait() times out meanwhile",
          "[tasks]") {
  Fixture f;
  if (!f) return;
  std::string id = f.tasks->enqueue("add", {{"a", 1}, {"b", 1}}, {.queue = "later"});
  CHECK(f.tasks->result(id).status == Status::pending);
  CHECK_FALSE(f.tasks->result(id).ready());
  CHECK_THROWS_WITH(f.tasks->wait(id, 100ms), Catch::Contains("no result after 100 ms"));
  InProcessWorker w(*f.tasks, f.worker_options({"later"}));
  CHECK(f.tasks->wait(id, 10s).value == Json(2));
}

namespace {
aio::Task<Result> enqueue_and_wait(Tasks& t, Json args) {
  std::string id = co_await t.enqueue_async("add", std::move(args));
  co_return co_await t.wait_async(id, 10s);
}
}  // namespace

TEST_CASE("wait_async and enqueue_async serve coroutines", "[tasks]") {
  Fixture f;
  if (!f) return;
  InProcessWorker w(*f.tasks, f.worker_options());
  Result r = green::wait(enqueue_and_wait(*f.tasks, Json{{"a", 20}, {"b", 22}}));
  CHECK(r.value == Json(42));
}

TEST_CASE("a failing task is retried with backoff, then dead-lettered with the exception text",
          "[tasks]") {
  Fixture f;
  if (!f) return;
  InProcessWorker w(*f.tasks, f.worker_options());
  std::string id =
      f.tasks->enqueue("fail", {{"message", "the mail server said no"}}, {.retries = 2});
  Result r = f.tasks->wait(id, 10s);
  CHECK(r.status == Status::failed);
  CHECK(r.error == "the mail server said no");
  CHECK(r.attempts == 3);
  redis::Reply dead = f.call(redis::command("XRANGE", f.key("dead:default"), "-", "+"));
  REQUIRE(dead.elements().size() == 1);
  auto fields = dead.elements()[0].elements()[1].as_pairs();
  bool error_seen = false, id_seen = false;
  for (const auto& [k, v] : fields) {
    if (k == "error") error_seen = v == "the mail server said no";
    if (k == "id") id_seen = v == id;
  }
  CHECK(error_seen);
  CHECK(id_seen);
  CHECK(f.integer(redis::command("GET", f.key("retries:default"))) == 2);
  CHECK(f.pending() == 0);
  CHECK(w.stop() == 0);
  CHECK(w.worker().stats().retried == 2);
  CHECK(w.worker().stats().dead == 1);
}

TEST_CASE("a task that outlives its timeout fails with a timeout", "[tasks]") {
  Fixture f;
  if (!f) return;
  InProcessWorker w(*f.tasks, f.worker_options());
  std::string id = f.tasks->enqueue("green_sleep", {{"ms", 5000}}, {.retries = 0, .timeout = 50ms});
  Result r = f.tasks->wait(id, 10s);
  CHECK(r.status == Status::failed);
  CHECK_THAT(r.error, Catch::Contains("timed out"));
}

TEST_CASE("a delayed task waits in the sorted set, then runs no earlier than its time", "[tasks]") {
  Fixture f;
  if (!f) return;
  auto wall = [] { return std::chrono::system_clock::now(); };
  auto enqueued = wall();
  std::string id = f.tasks->enqueue("echo", {{"x", 1}}, {.delay = 300ms});
  CHECK(f.integer(redis::command("ZCARD", f.key("delayed:default"))) == 1);
  CHECK(f.integer(redis::command("XLEN", f.key("queue:default"))) == 0);
  InProcessWorker w(*f.tasks, f.worker_options());
  Result r = f.tasks->wait(id, 10s);
  CHECK(r.status == Status::succeeded);
  CHECK(wall() - enqueued >= 300ms);
  CHECK(f.integer(redis::command("ZCARD", f.key("delayed:default"))) == 0);
}

TEST_CASE("enqueueing with a caller-chosen id is idempotent", "[tasks]") {
  Fixture f;
  if (!f) return;
  CHECK(f.tasks->enqueue("add", {{"a", 1}, {"b", 2}}, {.id = "order-42"}) == "order-42");
  CHECK(f.tasks->enqueue("add", {{"a", 1}, {"b", 2}}, {.id = "order-42"}) == "order-42");
  CHECK(f.integer(redis::command("XLEN", f.key("queue:default"))) == 1);
  CHECK(f.call(redis::command("EXISTS", f.key("id:order-42"))).as_integer() == 1);
  InProcessWorker w(*f.tasks, f.worker_options());
  CHECK(f.tasks->wait("order-42", 10s).value == Json(3));
  // Done, and enqueued again within result_ttl: still nothing new.
  f.tasks->enqueue("add", {{"a", 1}, {"b", 2}}, {.id = "order-42"});
  CHECK(w.stop() == 0);
  CHECK(w.worker().stats().completed == 1);
  CHECK(f.integer(redis::command("XLEN", f.key("queue:default"))) == 0);
}

TEST_CASE("the queue figures are Prometheus metrics", "[tasks]") {
  Fixture f;
  if (!f) return;
  f.tasks->add_metrics();
  f.tasks->enqueue("echo", {}, {.queue = "mail"});
  f.tasks->enqueue("echo", {}, {.queue = "mail"});
  f.tasks->enqueue("echo", {}, {.delay = 1h, .queue = "mail"});
  http::MetricsWriter w;
  http::collect_metrics(w);
  const std::string& text = w.text();
  CHECK_THAT(text, Catch::Contains("grove_tasks_redis_up 1"));
  CHECK_THAT(text, Catch::Contains("grove_tasks_queue_length{queue=\"mail\"} 2"));
  CHECK_THAT(text, Catch::Contains("grove_tasks_delayed{queue=\"mail\"} 1"));
  CHECK_THAT(text, Catch::Contains("grove_tasks_dead_letters{queue=\"mail\"} 0"));
  CHECK_THAT(text, Catch::Contains("# TYPE grove_tasks_retries_total counter"));
}

TEST_CASE("misusing the tasks API throws saying what to do", "[tasks]") {
  Fixture f;
  if (!f) return;
  Tasks& t = *f.tasks;
  CHECK_THROWS_AS(t.enqueue("no_such_task"), UnknownTask);
  CHECK_THROWS_WITH(t.enqueue("no_such_task"), Catch::Contains("tasks.task(\"no_such_task\", fn)"));
  CHECK_THROWS_WITH(t.task("echo", [](const Json& a) { return a; }),
                    Catch::Contains("registered already"));
  CHECK_THROWS_WITH(t.enqueue("echo", {}, {.queue = ""}),
                    Catch::Contains("queue must be a non-empty name"));
  CHECK_THROWS_WITH(t.enqueue("echo", {}, {.retries = -1}),
                    Catch::Contains("retries must be from 0 to 1000"));
  CHECK_THROWS_WITH(t.enqueue("echo", {}, {.delay = -1s}), Catch::Contains("must not be negative"));
  CHECK_THROWS_WITH(Worker(t, {.queues = {}}), Catch::Contains("name at least one queue"));
  CHECK_THROWS_WITH(Worker(t, {.concurrency = 0}),
                    Catch::Contains("concurrency must be at least 1"));
  CHECK_THROWS_WITH(Worker(t, {.visibility_timeout = 10ms}),
                    Catch::Contains("raise it or lower poll_interval"));
  CHECK_THROWS_WITH(Tasks({.prefix = ""}), Catch::Contains("prefix must not be empty"));
  t.enqueue("echo");  // opens the pool
  CHECK_THROWS_WITH(t.configure({}), Catch::Contains("must come before the first enqueue"));
  t.add_metrics();
  CHECK_THROWS_WITH(t.add_metrics(), Catch::Contains("called already"));
}

TEST_CASE("a worker rides out a Redis restart: it reconnects, remakes its group and runs new tasks",
          "[tasks][restart]") {
  Fixture f({}, grove::test::private_redis());
  if (!f) return;
  InProcessWorker w(*f.tasks, f.worker_options());
  CHECK(f.tasks->wait(f.tasks->enqueue("add", {{"a", 1}, {"b", 1}}), 10s).value == Json(2));
  f.redis_service->stop();
  green::sleep(300ms);  // the worker's fetches and upkeep fail meanwhile, and it retries
  f.redis_service->start();
  // The restarted server kept nothing: the task's XADD makes a stream without the group.
  std::string id = f.tasks->enqueue("add", {{"a", 2}, {"b", 2}});
  CHECK(f.tasks->wait(id, 20s).value == Json(4));
  CHECK(w.stop() == 0);
}
