// grove::report() and describe_exception(): the one diagnostics path of every grove layer.
//
// Every layer reports what it cannot return to a caller through one process-wide sink: the
// loop (exceptions escaping callbacks, when the loop has no exception handler of its own),
// aio (warnings such as "Task exception was never retrieved"), greenlet (green threads that
// died, the hub's own failures), compat (unsupported combinations), the server's error log
// and the framework's loggers. A record has a level, the layer it came from and one message;
// exceptions in messages are described by describe_exception(), demangled, with the chain
// of nested exceptions. Records below the sink's level are dropped. The handler is
// replaceable; the default writes each record as its layer always has (compat and aio:
// "grove: warning: <message>" on stderr; the server: its error log; the framework:
// "[time] LEVEL in <logger>: <message>").
//
//   grove::set_diagnostic_handler([](const grove::Diagnostic& d) {
//     my_log(d.level, d.source, d.message);   // "loop", "aio", "green", "compat", "http", "web"
//   });
//   grove::set_diagnostic_level(grove::Severity::warning);  // drop debug and info
//
// The layers' older hooks still work and see only their own layer's records, before the
// sink: EventLoop::set_exception_handler (per loop), aio::set_warning_handler,
// green::set_diagnostic_sink, compat::set_warning_sink, web::Logger::set_sink. Prefer the
// sink: it sees every layer.
#pragma once

#include <exception>
#include <functional>
#include <string>
#include <string_view>

namespace grove {

enum class Severity { debug = 10, info = 20, warning = 30, error = 40, critical = 50 };
// "debug", "info", "warning", "error", "critical".
const char* to_string(Severity level) noexcept;

struct Diagnostic {
  Severity level;
  std::string_view source;   // the reporting layer: "loop", "aio", "green", "compat", "http",
                             // or "web" (a web::Logger; `logger` names it)
  std::string_view message;  // one message, without a trailing newline
  std::string_view logger;   // the web::Logger's name, else empty
};

using DiagnosticHandler = std::function<void(const Diagnostic&)>;

// Replaces the handler (an empty one restores the default) and returns the previous one.
// Thread-safe. The handler is called without grove's locks held, from whatever thread
// reported, possibly concurrently; an exception it throws is swallowed (the record is lost,
// never the process).
DiagnosticHandler set_diagnostic_handler(DiagnosticHandler handler);
// Records below `level` are dropped before the handler (default: Severity::debug, i.e. none:
// each layer filters by its own settings too, e.g. the server's --log-level).
void set_diagnostic_level(Severity level) noexcept;
Severity diagnostic_level() noexcept;

// How the default handler writes one record when no handler is installed: the layer's own
// format and destination. Empty: "grove: <level>: <message>" on stderr.
using DefaultWriter = void (*)(const Diagnostic&);
// Hands the record to the handler, or to `fallback` (else the standard line) if none is
// installed. Thread-safe; never throws.
void report(const Diagnostic& record, DefaultWriter fallback = nullptr) noexcept;
void report(Severity level, std::string_view source, std::string_view message) noexcept;

// "std::runtime_error: boom": the demangled dynamic type and what() (for types that are not
// std::exception, the type alone). An exception thrown with std::throw_with_nested adds a
// line "  caused by: <its nested exception, described the same way>" per level.
std::string describe_exception(std::exception_ptr error);
// The same for the exception being handled (call inside a catch block).
std::string describe_current_exception();
// A type name from typeid(...).name() in source form ("std::runtime_error").
std::string demangle(const char* mangled);

}  // namespace grove
