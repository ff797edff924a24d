// tasks_bench: grove's side of bench/run_tasks.sh (enqueue and complete throughput of a
// no-op task, beside Celery on the same Redis).
//
//   tasks_bench worker --redis URL --prefix P --concurrency 100   a worker (worker_main)
//   tasks_bench produce URL PREFIX N                              enqueues N no-op tasks one
//       after another, waits until the workers completed them all, prints "tasks_per_s=X"
#include <grove/green.hpp>
#include <grove/green/aio.hpp>
#include <grove/tasks.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace tasks = grove::tasks;
using grove::web::Json;
using namespace std::chrono_literals;

namespace {

void register_bench_tasks(tasks::Tasks& t) {
  t.task("noop", [](const Json&) { return Json(); });
}

int produce(const std::string& url, const std::string& prefix, long n) {
  tasks::Tasks t({.url = url, .prefix = prefix});
  register_bench_tasks(t);
  std::string done_key = prefix + ":completed:default";
  auto completed = [&] {
    auto v = grove::green::wait(t.pool().get(done_key));
    return v ? std::atol(v->c_str()) : 0L;
  };
  long before = completed();
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) t.enqueue("noop");
  double enqueue_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  while (completed() - before < n) grove::green::sleep(1ms);
  double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("tasks=%ld enqueue_s=%.3f total_s=%.3f tasks_per_s=%.0f\n", n, enqueue_s, total_s,
              n / total_s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "worker") == 0) {
    tasks::Tasks t;
    register_bench_tasks(t);
    argv[1] = argv[0];
    return tasks::worker_main(argc - 1, argv + 1, t);
  }
  if (argc == 5 && std::strcmp(argv[1], "produce") == 0)
    return produce(argv[2], argv[3], std::atol(argv[4]));
  std::fprintf(stderr,
               "usage: tasks_bench worker --redis URL --prefix P --concurrency N\n"
               "       tasks_bench produce URL PREFIX N\n");
  return 2;
}
