#include <grove/web/logging.hpp>

#include <grove/diagnostics.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <typeinfo>

namespace grove::web {

const char* level_name(Logger::Level level) noexcept {
  switch (level) {
    case Logger::Level::debug: return "DEBUG";
    case Logger::Level::info: return "INFO";
    case Logger::Level::warning: return "WARNING";
    case Logger::Level::error: return "ERROR";
    case Logger::Level::critical: return "CRITICAL";
  }
  return "?";
}

std::string describe_exception(std::exception_ptr error) {
  return grove::describe_exception(error);
}

namespace {

// The default sink's line, the diagnostic sink's default writer for a Logger's records.
void write_logger_line(const Diagnostic& d) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
  std::string line = "[" + std::string(stamp) + "] " + level_name(Logger::Level(int(d.level))) +
                     " in " + std::string(d.logger) + ": " + std::string(d.message) + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

void Logger::log(Level level, std::string_view message) const {
  Sink sink;
  {
    std::lock_guard lock(mutex_);
    if (level < level_) return;
    sink = sink_;
  }
  if (sink) {
    sink(level, name_, message);
    return;
  }
  // Logger::Level and grove::Severity share their values (Python's logging levels).
  grove::report(Diagnostic{Severity(int(level)), "web", message, name_}, &write_logger_line);
}

void Logger::exception(std::string_view message, std::exception_ptr error) const {
  log(Level::error, std::string(message) + "\n  " + describe_exception(error));
}

void Logger::set_level(Level level) {
  std::lock_guard lock(mutex_);
  level_ = level;
}

Logger::Level Logger::level() const {
  std::lock_guard lock(mutex_);
  return level_;
}

Logger::Sink Logger::set_sink(Sink sink) {
  std::lock_guard lock(mutex_);
  return std::exchange(sink_, std::move(sink));
}

}  // namespace grove::web
