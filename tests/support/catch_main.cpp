// Catch's implementation and main for every test executable (grove_test_main). Compiled once
// per build, at -O0 (tests/CMakeLists.txt): it is the test runner, not code under test.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "catch_main.hpp"

int main(int argc, char** argv) {
  // An executable that defines grove_test_take_over may run as something else (tasks_tests
  // --worker is a worker process), so that it needs no Catch implementation of its own.
  if (grove_test_take_over != nullptr) {
    if (int status = grove_test_take_over(argc, argv); status >= 0) {
      return status;
    }
  }
  return Catch::Session().run(argc, argv);
}
