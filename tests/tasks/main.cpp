// tasks_tests run as a worker process (`tasks_tests --worker <grove-worker options>`) with
// the test registry, for the process tests; otherwise Catch runs the tests
// (tests/support/catch_main.cpp).
#include "catch_main.hpp"
#include "support.hpp"

#include <cstring>

int grove_test_take_over(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--worker") != 0) {
    return -1;
  }
  grove::tasks::Tasks tasks;
  grove::tasks::test::register_test_tasks(tasks);
  argv[1] = argv[0];
  return grove::tasks::worker_main(argc - 1, argv + 1, tasks);
}
