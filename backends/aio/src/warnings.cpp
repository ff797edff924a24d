// aio's warnings: a view of the diagnostic sink (grove/diagnostics.hpp), source "aio".
#include <grove/aio/errors.hpp>
#include <grove/diagnostics.hpp>

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
  report(Severity::warning, "aio", message);
}

}  // namespace grove::aio
