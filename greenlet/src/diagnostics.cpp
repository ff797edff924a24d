// Where the hub's diagnostics go: a green sink if set, else grove's diagnostic sink.
#include "hub.hpp"

#include <grove/green/hub.hpp>

#include <grove/diagnostics.hpp>

#include <mutex>

namespace grove::green {

namespace detail {

namespace {

std::mutex& sink_mutex() {
  static std::mutex m;
  return m;
}
DiagnosticSink& sink() {
  static DiagnosticSink* s = new DiagnosticSink;  // never destroyed: used at thread exit
  return *s;
}

}  // namespace

void report(std::string_view message, Severity level) {
  DiagnosticSink s;
  {
    std::lock_guard lock(sink_mutex());
    s = sink();
  }
  if (s) {
    try {
      s(message);
      return;
    } catch (...) {
    }
  }
  if (message.starts_with("grove: ")) message.remove_prefix(7);
  grove::report(level, "green", message);
}

std::string describe_current_exception() { return grove::describe_current_exception(); }

std::string describe(std::exception_ptr error) { return grove::describe_exception(error); }

}  // namespace detail

void set_diagnostic_sink(DiagnosticSink s) {
  std::lock_guard lock(detail::sink_mutex());
  detail::sink() = std::move(s);
}

}  // namespace grove::green
