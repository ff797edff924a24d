// grove-worker: runs grove-demo's background tasks (demo_tasks.cpp).
//
//   grove-worker --redis redis://127.0.0.1:6379 --queues default --concurrency 100
//
// An application's worker is a binary like this one: the app's own function registers its
// tasks, grove::tasks::worker_main does the rest (flags: --help; docs/tasks.md).
#include "demo_tasks.hpp"

int main(int argc, char** argv) {
  grove::tasks::Tasks tasks({.prefix = kDemoTasksPrefix});
  register_demo_tasks(tasks);
  return grove::tasks::worker_main(argc, argv, tasks);
}
