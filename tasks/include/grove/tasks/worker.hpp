// A worker: runs the tasks of some queues in green threads of the calling OS thread.
//
//   grove::tasks::Tasks tasks({.url = "redis://127.0.0.1:6379"});
//   register_my_tasks(tasks);                       // the same function the app calls
//   grove::tasks::Worker worker(tasks, {.queues = {"default", "mail"}, .concurrency = 100});
//   worker.run();                                   // until worker.stop() (SIGTERM in worker_main)
//
// Or, the usual way, an application's own worker binary:
//
//   int main(int argc, char** argv) {
//     grove::tasks::Tasks tasks;
//     register_my_tasks(tasks);
//     return grove::tasks::worker_main(argc, argv, tasks);  // --redis --queues --concurrency ...
//   }
//
// Contract:
//  - At most `concurrency` tasks run at once, each in its own green thread; blocking code in
//    them is cooperative once compat is patched (worker_main patches all).
//  - Each queue is a Redis stream read through the consumer group "grove-workers" (created
//    on start, from the stream's beginning). A delivered task stays pending until it is
//    acknowledged after success, retry scheduling or dead-lettering; a task pending longer
//    than visibility_timeout (its worker died) is claimed by a live worker (XAUTOCLAIM).
//    While a task runs, its worker renews its claim every visibility_timeout / 3, so a long
//    task is not taken from a live worker. A task whose workers were lost more than
//    max_deliveries - 1 times goes to the dead letters (a poison task).
//  - The worker also moves due delayed tasks and retries into their stream (every
//    poll_interval; any worker may do it, each move is atomic).
//  - stop() (from the worker's OS thread, a signal watcher included) stops fetching at once;
//    run() then waits up to `grace` for the running tasks and returns how many it left
//    running: those are neither acknowledged nor lost, another worker claims them after the
//    visibility timeout. A worker's process should exit soon after (worker_main does).
#pragma once

#include <grove/tasks/tasks.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace grove::tasks {

struct WorkerOptions {
  std::vector<std::string> queues = {"default"};
  std::size_t concurrency = 100;
  // A task pending this long without its worker renewing the claim is taken over.
  Duration visibility_timeout = 60s;
  // A task handed out more often than this (its workers were lost: killed, crashed, stuck
  // past the visibility timeout) goes to the dead letters instead of running again.
  std::int64_t max_deliveries = 10;
  // After stop(): how long running tasks may take to finish.
  Duration grace = 30s;
  // How often the worker looks for due delayed tasks and abandoned ones, and the longest a
  // fetch blocks (so stop() takes effect within it).
  Duration poll_interval = 200ms;
  // The consumer's name in the group; empty: "<host>:<pid>:<random>".
  std::string consumer;
  // Called once the consumer groups exist, before the first fetch.
  std::function<void()> on_ready;
};

// What a worker did; counted since its start.
struct WorkerStats {
  std::uint64_t completed = 0;  // succeeded
  std::uint64_t retried = 0;    // failed, scheduled again
  std::uint64_t dead = 0;       // failed for good, or malformed, or unknown
  std::uint64_t claimed = 0;    // taken over from another consumer
  std::size_t running = 0;
};

class Worker {
 public:
  // Throws std::invalid_argument for options that cannot work (no queue, concurrency 0, a
  // visibility timeout under 3 poll intervals).
  Worker(Tasks& tasks, WorkerOptions options);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  // Runs until stop(): from a green thread or the main context of the worker's OS thread.
  // Returns the number of tasks left running after the grace period.
  std::size_t run();
  void stop();
  WorkerStats stats() const;
  const WorkerOptions& options() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

// What an application's worker binary adds to worker_main:
//
//   std::string db;
//   return grove::tasks::worker_main(argc, argv, tasks, {
//       .add_flags = [&](void* cli) {
//         static_cast<CLI::App*>(cli)->add_option("--database-url", db, "PostgreSQL");
//       },
//       .before_run = [&] { create_tables(db); }});
struct WorkerMainOptions {
  // Called with the CLI::App* (CLI11) before parsing: the application's own flags.
  std::function<void(void* cli)> add_flags;
  // Called once the flags are parsed and compat is patched, before the worker starts, on the
  // worker's thread outside any green thread: e.g. check a database or create its tables. An
  // exception ends the process with status 1 and its message.
  std::function<void()> before_run;
};

// A worker process's main: parses the command line, patches compat (patch_all), runs a
// Worker for `tasks` until SIGTERM or SIGINT, and returns the exit status.
//   --redis URL  --prefix P  --queues default,mail  --concurrency 100
//   --visibility-timeout SECONDS  --grace SECONDS  --max-deliveries N
// --redis and --prefix default to tasks.options(). It prints "grove-worker: ready" on
// stdout once it reads its queues.
int worker_main(int argc, char** argv, Tasks& tasks, WorkerMainOptions options = {});

}  // namespace grove::tasks
