// Worker processes (this executable with --worker, running grove::tasks::worker_main):
// a task abandoned by a killed worker is claimed by another, SIGTERM's grace period, and
// 100 blocking tasks at once.
#include "fixture.hpp"

using namespace grove;
using namespace grove::tasks;
using namespace grove::tasks::test;

TEST_CASE(
    "a task whose worker was SIGKILLed mid-run is claimed by another worker after the visibility "
    "timeout",
    "[tasks][process]") {
  Fixture f;
  if (!f) return;
  std::string id = f.tasks->enqueue("sleep", {{"ms", 1500}}, {.retries = 0});
  auto first = std::make_unique<WorkerProcess>(f.worker_args({"--visibility-timeout", "1"}));
  REQUIRE(f.eventually([&] { return f.pending() == 1; }));
  first->signal(SIGKILL);
  CHECK(first->wait_exit(5000ms) == 128 + SIGKILL);
  CHECK(f.tasks->result(id).status == Status::pending);
  WorkerProcess second(f.worker_args({"--visibility-timeout", "1"}));
  Result r = f.tasks->wait(id, 20s);
  CHECK(r.status == Status::succeeded);
  CHECK(r.value.at("pid").as_int() == second.pid());
  CHECK(f.pending() == 0);
}

TEST_CASE("a task that kills every worker running it goes to the dead letters after max_deliveries",
          "[tasks][process]") {
  Fixture f;
  if (!f) return;
  std::string id = f.tasks->enqueue("crash", {}, {.retries = 0});
  auto args = f.worker_args({"--visibility-timeout", "1", "--max-deliveries", "2"});
  for (int i = 0; i < 2; ++i) {
    WorkerProcess victim(args);
    CHECK(victim.wait_exit(20000ms) == 3);  // the task's std::_Exit(3)
  }
  WorkerProcess third(args);
  Result r = f.tasks->wait(id, 20s);
  CHECK(r.status == Status::failed);
  CHECK_THAT(r.error, Catch::StartsWith("the task's worker was lost 2 times while running it"));
  CHECK(f.pending() == 0);
  CHECK(f.integer(redis::command("XLEN", f.key("dead:default"))) == 1);
}

TEST_CASE("SIGTERM: running tasks finish within the grace period, the rest stay pending",
          "[tasks][process]") {
  Fixture f;
  if (!f) return;
  WorkerProcess worker(f.worker_args({"--grace", "1", "--concurrency", "10"}));
  std::string quick =
      f.tasks->enqueue("sleep", {{"ms", 300}, {"started", f.key("quick")}}, {.retries = 0});
  std::string slow =
      f.tasks->enqueue("sleep", {{"ms", 60000}, {"started", f.key("slow")}}, {.retries = 0});
  // Both running (a task delivered after SIGTERM would stay pending without running).
  REQUIRE(f.eventually(
      [&] { return f.integer(redis::command("EXISTS", f.key("quick"), f.key("slow"))) == 2; }));
  worker.signal(SIGTERM);
  CHECK(worker.wait_exit(15000ms) == 0);
  CHECK(f.tasks->result(quick).status == Status::succeeded);
  CHECK(f.tasks->result(slow).status == Status::pending);
  // Left pending, not lost: the slow task is still in the group's pending list.
  CHECK(f.pending() == 1);
  // A task enqueued after the stop waits for the next worker.
  std::string later = f.tasks->enqueue("echo", {{"n", 1}});
  CHECK(f.integer(redis::command("XLEN", f.key("queue:default"))) == 2);
  CHECK(f.tasks->result(later).status == Status::pending);
}

TEST_CASE("100 blocking tasks run at once on a worker of concurrency 100", "[tasks][process]") {
  Fixture f;
  if (!f) return;
  WorkerProcess worker(f.worker_args({"--concurrency", "100"}));
  constexpr int kTasks = 100, kSleepMs = 200;  // one after another: 20 s
  auto start = std::chrono::steady_clock::now();
  std::vector<std::string> ids;
  for (int i = 0; i < kTasks; ++i) ids.push_back(f.tasks->enqueue("sleep", {{"ms", kSleepMs}}));
  for (const std::string& id : ids) REQUIRE(f.tasks->wait(id, 30s).status == Status::succeeded);
  double elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  // Overlap: far below the sequential 20 s (a loaded machine still finishes in ~1 s).
  CHECK(elapsed_ms < kTasks * kSleepMs / 4.0);
  worker.signal(SIGTERM);
  CHECK(worker.wait_exit(15000ms) == 0);
}
