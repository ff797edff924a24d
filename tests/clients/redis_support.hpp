// Helpers shared by the grove::redis tests: the process's Redis server, its URL, and a
// coroutine runner on the engine under test.
#pragma once

#include <grove/aio.hpp>
#include <grove/redis.hpp>

#include "services.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace grove::redis::test {

using namespace std::chrono_literals;
using grove::test::Service;
using SteadyClock = std::chrono::steady_clock;

inline double ms_since(SteadyClock::time_point t) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t).count();
}

inline std::string url_of(const Service& s, const std::string& rest = "") {
  return "redis://127.0.0.1:" + std::to_string(s.port()) + rest;
}

// Runs a coroutine lambda to completion on a fresh loop of the engine under test (GROVE_LOOP).
template <class F>
auto run(F f) {
  return aio::run(aio::co_invoke(std::move(f)));
}

// The message of the E that awaiting `task` throws; nullopt if it completes. (A co_await
// inside Catch's CHECK runs more than once under g++ 12: docs/aio.md.)
template <class E, class T>
aio::Task<std::optional<std::string>> thrown(aio::Task<T> task) {
  try {
    co_await std::move(task);
  } catch (const E& e) {
    co_return std::string(e.what());
  }
  co_return std::nullopt;
}
template <class E, class T>
aio::Task<std::optional<std::string>> thrown(aio::TaskHandle<T> task) {
  try {
    co_await task;
  } catch (const E& e) {
    co_return std::string(e.what());
  }
  co_return std::nullopt;
}

// A key of this test's own.
inline std::string unique_key(const std::string& base) {
  static int n = 0;
  return base + ":" + std::to_string(::getpid()) + ":" + std::to_string(++n);
}

}  // namespace grove::redis::test
