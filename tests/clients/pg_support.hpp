// Helpers shared by the grove::pg tests: the process's PostgreSQL server and a coroutine
// runner on the engine under test.
#pragma once

#include <grove/aio.hpp>
#include <grove/pg.hpp>

#include "services.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

namespace grove::pg::test {

using namespace std::chrono_literals;
using grove::test::Service;
using SteadyClock = std::chrono::steady_clock;

inline double ms_since(SteadyClock::time_point t) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t).count();
}

// Runs a coroutine lambda to completion on a fresh loop of the engine under test (GROVE_LOOP).
template <class F>
auto run(F f) {
  return aio::run(aio::co_invoke(std::move(f)));
}

// A table of this test's own (the server is shared by the test cases of one process).
inline std::string unique_name(const std::string& base) {
  static int n = 0;
  return base + "_" + std::to_string(::getpid()) + "_" + std::to_string(++n);
}

}  // namespace grove::pg::test
