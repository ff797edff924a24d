// grove-worker: runs grove-demo's background tasks (demo_tasks.cpp).
//
//   grove-worker --redis redis://127.0.0.1:6379 --queues default --concurrency 100
//   grove-worker --database-url "host=127.0.0.1 dbname=app"   # for the record task
//
// An application's worker binary is like this one: the app's own function registers its
// tasks, grove::tasks::worker_main does the rest (flags: --help; docs/tasks.md).
#include "demo_tasks.hpp"

#include <grove/pg.hpp>

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
  auto database_url = std::make_shared<std::string>();
  grove::tasks::Tasks tasks({.prefix = kDemoTasksPrefix});
  register_demo_tasks(tasks, database_url);
  grove::tasks::WorkerMainOptions options;
  options.add_flags = [database_url](void* cli) {
    static_cast<CLI::App*>(cli)->add_option(
        "--database-url", *database_url,
        "PostgreSQL for the record task (libpq connection string or postgresql:// URI)");
  };
  options.before_run = [database_url] {
    if (database_url->empty()) return;
    try {
      create_demo_task_tables(*database_url);
    } catch (const grove::pg::Error& e) {
      throw std::runtime_error(std::string("--database-url: ") + e.what());
    }
  };
  return grove::tasks::worker_main(argc, argv, tasks, std::move(options));
}
