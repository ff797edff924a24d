// Helpers shared by the grove::aio tests.
#pragma once

#include <grove/aio.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

namespace grove::aio::test {

using namespace std::chrono_literals;

// Collects warnings for its lifetime instead of printing them.
class WarningCapture {
 public:
  WarningCapture() {
    previous_ = set_warning_handler([this](std::string_view m) {
      std::lock_guard lock(mutex_);
      messages_.emplace_back(m);
    });
  }
  ~WarningCapture() { set_warning_handler(std::move(previous_)); }
  std::vector<std::string> messages() const {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  std::string all() const {
    std::string out;
    for (const auto& m : messages()) out += m + "\n";
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> messages_;
  WarningHandler previous_;
};

inline TimePoint clock_now() { return std::chrono::time_point_cast<Duration>(Clock::now()); }

inline double ms_since(TimePoint t) {
  return std::chrono::duration<double, std::milli>(clock_now() - t).count();
}

// A value type that counts live instances (to catch double destruction and leaks).
struct Counted {
  static inline int live = 0;
  static inline int constructed = 0;
  int value;
  explicit Counted(int v = 0) : value(v) {
    ++live;
    ++constructed;
  }
  Counted(const Counted& o) : value(o.value) {
    ++live;
    ++constructed;
  }
  Counted(Counted&& o) noexcept : value(o.value) {
    o.value = -1;
    ++live;
    ++constructed;
  }
  Counted& operator=(const Counted&) = default;
  ~Counted() {
    value = -2;
    --live;
  }
};

// Sets a flag when destroyed: proves a coroutine's locals were cleaned up.
struct Cleanup {
  bool* flag;
  explicit Cleanup(bool& f) : flag(&f) {}
  Cleanup(const Cleanup&) = delete;
  ~Cleanup() { *flag = true; }
};

}  // namespace grove::aio::test
