// The process-wide warning sink.
#include <grove/aio/errors.hpp>

#include <cstdio>
#include <mutex>
#include <string>

namespace grove::aio {

namespace {
std::mutex g_warning_mutex;
WarningHandler g_warning_handler;  // empty: the default, stderr
}  // namespace

WarningHandler set_warning_handler(WarningHandler handler) {
  std::lock_guard lock(g_warning_mutex);
  std::swap(g_warning_handler, handler);
  return handler;
}

void warn(std::string_view message) {
  WarningHandler handler;
  {
    std::lock_guard lock(g_warning_mutex);
    handler = g_warning_handler;  // a copy: the handler may replace itself
  }
  if (handler) {
    handler(message);
    return;
  }
  std::fprintf(stderr, "grove: warning: %.*s\n", int(message.size()), message.data());
}

}  // namespace grove::aio
