// Helpers shared by the framework tests.
#pragma once

#include <grove/web.hpp>

#include <catch2/catch.hpp>

#include <mutex>
#include <string>
#include <vector>

namespace grove::web::test {

using namespace std::chrono_literals;

// Captures what app.logger writes.
struct LogCapture {
  std::mutex mutex;
  std::vector<std::string> lines;
  explicit LogCapture(App& app) {
    app.logger.set_sink([this](Logger::Level level, std::string_view, std::string_view message) {
      std::lock_guard lock(mutex);
      lines.push_back(std::string(level_name(level)) + ": " + std::string(message));
    });
  }
  bool contains(std::string_view text) {
    std::lock_guard lock(mutex);
    for (auto& l : lines)
      if (l.find(text) != std::string::npos) return true;
    return false;
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return lines.size();
  }
};

inline std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace grove::web::test
