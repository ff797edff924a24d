// tasks_tests' main: the Catch session, or (`tasks_tests --worker <grove-worker options>`)
// a worker process running the test registry, for the process tests.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "support.hpp"

#include <cstring>

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--worker") == 0) {
    grove::tasks::Tasks tasks;
    grove::tasks::test::register_test_tasks(tasks);
    argv[1] = argv[0];
    return grove::tasks::worker_main(argc - 1, argv + 1, tasks);
  }
  return Catch::Session().run(argc, argv);
}
