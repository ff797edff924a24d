// Where the hub's diagnostics go, and how exceptions are described in them.
#include "hub.hpp"

#include <grove/green/hub.hpp>

#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <typeinfo>

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

std::string demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(name, nullptr, nullptr, &status),
                                             std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(name);
}

}  // namespace

void report(std::string_view message) {
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
  std::fprintf(stderr, "%.*s\n", int(message.size()), message.data());
}

std::string describe_current_exception() {
  const std::type_info* type = abi::__cxa_current_exception_type();
  std::string name = type ? demangle(type->name()) : "unknown exception";
  try {
    throw;
  } catch (const std::exception& e) {
    return name + ": " + e.what();
  } catch (const GreenletExit& e) {
    return name;
  } catch (...) {
    return name;
  }
}

std::string describe(std::exception_ptr error) {
  if (!error) return "no exception";
  try {
    std::rethrow_exception(error);
  } catch (...) {
    return describe_current_exception();
  }
}

}  // namespace detail

void set_diagnostic_sink(DiagnosticSink s) {
  std::lock_guard lock(detail::sink_mutex());
  detail::sink() = std::move(s);
}

}  // namespace grove::green
