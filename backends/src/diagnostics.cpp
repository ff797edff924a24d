// The process-wide diagnostic sink and the one exception describer.
#include <grove/diagnostics.hpp>

#include <cxxabi.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <typeinfo>

namespace grove {

namespace {

struct Sink {
  std::mutex mutex;
  DiagnosticHandler handler;
  std::atomic<Severity> level{Severity::debug};
};

Sink& sink() {
  // Leaked on purpose: reports come from static destructors and from threads at exit.
  static Sink* s = new Sink;
  return *s;
}

// The raw system call: a report must not switch green threads or re-enter grove::compat
// (which interposes write()), whatever thread or state it comes from.
void write_stderr(std::string_view text) {
  const int saved = errno;
  while (!text.empty()) {
    const long n = ::syscall(SYS_write, 2, text.data(), text.size());
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      break;
    }
    text.remove_prefix(std::size_t(n));
  }
  errno = saved;
}

void standard_line(const Diagnostic& d) {
  std::string line = "grove: ";
  line += to_string(d.level);
  line += ": ";
  line += d.message;
  line += '\n';
  write_stderr(line);
}

// std::throw_with_nested(E) throws a library type derived from E: name it E.
std::string thrown_type_name(const std::type_info* type) {
  if (!type) return "unknown exception";
  std::string name = demangle(type->name());
  constexpr std::string_view kNested = "std::_Nested_exception<";
  if (name.starts_with(kNested) && name.ends_with('>'))
    name = name.substr(kNested.size(), name.size() - kNested.size() - 1);
  return name;
}

void describe_nested(std::string& out);

// Appends the description of the exception being handled, and its nested chain.
void describe_handled(std::string& out) {
  out += thrown_type_name(abi::__cxa_current_exception_type());
  try {
    throw;
  } catch (const std::exception& e) {
    out += ": ";
    out += e.what();
  } catch (...) {
  }
  describe_nested(out);
}

// The "caused by" chain of std::throw_with_nested.
void describe_nested(std::string& out) {
  try {
    throw;
  } catch (const std::nested_exception& n) {
    if (std::exception_ptr inner = n.nested_ptr()) {
      out += "\n  caused by: ";
      try {
        std::rethrow_exception(inner);
      } catch (...) {
        describe_handled(out);
      }
    }
  } catch (...) {
  }
}

}  // namespace

const char* to_string(Severity level) noexcept {
  switch (level) {
    case Severity::debug: return "debug";
    case Severity::info: return "info";
    case Severity::warning: return "warning";
    case Severity::error: return "error";
    case Severity::critical: return "critical";
  }
  return "?";
}

DiagnosticHandler set_diagnostic_handler(DiagnosticHandler handler) {
  Sink& s = sink();
  std::lock_guard lock(s.mutex);
  std::swap(s.handler, handler);
  return handler;
}

void set_diagnostic_level(Severity level) noexcept {
  sink().level.store(level, std::memory_order_relaxed);
}

Severity diagnostic_level() noexcept { return sink().level.load(std::memory_order_relaxed); }

void report(const Diagnostic& record, DefaultWriter fallback) noexcept {
  Sink& s = sink();
  if (record.level < s.level.load(std::memory_order_relaxed)) return;
  try {
    DiagnosticHandler handler;
    {
      std::lock_guard lock(s.mutex);
      handler = s.handler;  // a copy: the handler may replace itself
    }
    if (handler) {
      handler(record);
      return;
    }
    (fallback ? fallback : standard_line)(record);
  } catch (...) {
    // A handler (or writer) that throws loses its own record, never the process.
  }
}

void report(Severity level, std::string_view source, std::string_view message) noexcept {
  report(Diagnostic{level, source, message, {}});
}

std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(mangled);
}

std::string describe_current_exception() {
  std::string out;
  describe_handled(out);
  return out;
}

std::string describe_exception(std::exception_ptr error) {
  if (!error) return "no exception";
  try {
    std::rethrow_exception(error);
  } catch (...) {
    return describe_current_exception();
  }
}

}  // namespace grove
