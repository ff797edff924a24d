// Helpers shared by the green-thread tests.
#pragma once

#include "loop_support.hpp"

#include <grove/green.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

namespace grove::test {

namespace green = grove::green;

// Collects the hub's diagnostics for the scope (instead of stderr).
class CapturedDiagnostics {
 public:
  CapturedDiagnostics() {
    green::set_diagnostic_sink([this](std::string_view m) {
      std::lock_guard lock(mutex_);
      lines_.emplace_back(m);
    });
  }
  ~CapturedDiagnostics() { green::set_diagnostic_sink(nullptr); }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  bool contains(const std::string& text) const {
    for (const auto& l : lines())
      if (l.find(text) != std::string::npos) return true;
    return false;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

// A non-blocking socketpair closed through green::close(), as fds the hub has waited on
// must be.
struct GreenFdPair {
  int a = -1, b = -1;
  GreenFdPair() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    a = fds[0];
    b = fds[1];
  }
  GreenFdPair(const GreenFdPair&) = delete;
  GreenFdPair& operator=(const GreenFdPair&) = delete;
  ~GreenFdPair() {
    if (a >= 0) green::close(a);
    if (b >= 0) green::close(b);
  }
};

inline double ms_since(TimePoint t) {
  return std::chrono::duration<double, std::milli>(since(t)).count();
}

inline TimePoint now() { return std::chrono::time_point_cast<Duration>(Clock::now()); }

}  // namespace grove::test
