// app.logger (app.config is in grove/web/config.hpp).
#pragma once

#include <grove/web/config.hpp>
#include <grove/web/json.hpp>

#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace grove::web {

// A named logger with a level and a replaceable sink (Flask's app.logger). Thread-safe.
// Without a sink of its own a Logger reports to grove's diagnostic sink (grove/diagnostics.hpp,
// source "web", Diagnostic::logger = its name), whose default writes
// "[2024-01-31 12:00:00] ERROR in <name>: <message>" to stderr.
class Logger {
 public:
  enum class Level { debug = 10, info = 20, warning = 30, error = 40, critical = 50 };
  using Sink = std::function<void(Level level, std::string_view name, std::string_view message)>;

  explicit Logger(std::string name = "grove.web") : name_(std::move(name)) {}
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  void log(Level level, std::string_view message) const;
  void debug(std::string_view m) const { log(Level::debug, m); }
  void info(std::string_view m) const { log(Level::info, m); }
  void warning(std::string_view m) const { log(Level::warning, m); }
  void error(std::string_view m) const { log(Level::error, m); }
  void critical(std::string_view m) const { log(Level::critical, m); }
  // Logs `message` followed by the exception's type and what(), at error level.
  void exception(std::string_view message, std::exception_ptr error) const;

  void set_level(Level level);
  Level level() const;
  bool enabled_for(Level level) const { return level >= this->level(); }
  // Replaces the sink (an empty one restores the default) and returns the previous one.
  Sink set_sink(Sink sink);
  const std::string& name() const noexcept { return name_; }

 private:
  std::string name_;
  mutable std::mutex mutex_;
  Level level_ = Level::info;
  Sink sink_;
};

const char* level_name(Logger::Level level) noexcept;
// "std::runtime_error: boom" for an exception_ptr: grove::describe_exception (demangled,
// with nested exceptions).
std::string describe_exception(std::exception_ptr error);

}  // namespace grove::web
