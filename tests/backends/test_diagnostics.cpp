// grove's one diagnostics path: the sink (levels, a replaceable handler) and
// describe_exception (demangled names, nested exceptions); the loop reports through it.
#include "captured_diagnostics.hpp"
#include "loop_support.hpp"

#include <grove/diagnostics.hpp>

#include <atomic>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

using namespace grove;
using namespace grove::test;

namespace {
struct ParseFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct NotAnException {};
}  // namespace

TEST_CASE("describe_exception names the demangled type and what()", "[diagnostics]") {
  REQUIRE(describe_exception(std::make_exception_ptr(std::runtime_error("boom"))) ==
          "std::runtime_error: boom");
  REQUIRE(describe_exception(std::make_exception_ptr(ParseFailure("bad digit"))) ==
          "(anonymous namespace)::ParseFailure: bad digit");
  REQUIRE(describe_exception(std::make_exception_ptr(NotAnException{})) ==
          "(anonymous namespace)::NotAnException");
  REQUIRE(describe_exception(std::make_exception_ptr(42)) == "int");
  REQUIRE(describe_exception(nullptr) == "no exception");
  REQUIRE(demangle(typeid(std::logic_error).name()) == "std::logic_error");
}

TEST_CASE("describe_exception follows nested exceptions", "[diagnostics]") {
  std::exception_ptr error;
  try {
    try {
      try {
        throw std::system_error(std::make_error_code(std::errc::connection_refused), "connect");
      } catch (...) {
        std::throw_with_nested(ParseFailure("reading the config"));
      }
    } catch (...) {
      std::throw_with_nested(std::runtime_error("starting the server"));
    }
  } catch (...) {
    error = std::current_exception();
  }
  const std::string d = describe_exception(error);
  INFO(d);
  REQUIRE(
      d.starts_with("std::runtime_error: starting the server\n"
                    "  caused by: (anonymous namespace)::ParseFailure: reading the config\n"
                    "  caused by: std::system_error: connect: "));
  REQUIRE(d.find("_Nested_exception") == std::string::npos);
  REQUIRE(d.find("St13runtime_error") == std::string::npos);
}

TEST_CASE("the diagnostic sink hands records to the installed handler", "[diagnostics]") {
  CapturedReports captured;
  report(Severity::warning, "test", "first");
  report(Diagnostic{Severity::error, "test", "second", "a.logger"});
  const auto records = captured.records();
  REQUIRE(records.size() == 2);
  REQUIRE(records[0].level == Severity::warning);
  REQUIRE(records[0].source == "test");
  REQUIRE(records[0].message == "first");
  REQUIRE(records[1].level == Severity::error);
  REQUIRE(records[1].logger == "a.logger");
}

TEST_CASE("the diagnostic handler is replaceable and returns the previous one", "[diagnostics]") {
  int a = 0, b = 0;
  DiagnosticHandler before = set_diagnostic_handler([&](const Diagnostic&) { ++a; });
  report(Severity::info, "test", "to a");
  DiagnosticHandler was_a = set_diagnostic_handler([&](const Diagnostic&) { ++b; });
  report(Severity::info, "test", "to b");
  REQUIRE(a == 1);
  REQUIRE(b == 1);
  REQUIRE(was_a);
  set_diagnostic_handler([](const Diagnostic&) { throw std::runtime_error("broken handler"); });
  report(Severity::error, "test", "lost, not fatal");  // a throwing handler loses its record
  set_diagnostic_handler(std::move(before));
}

TEST_CASE("records below the sink's level are dropped", "[diagnostics]") {
  CapturedReports captured;
  const Severity old = diagnostic_level();
  set_diagnostic_level(Severity::warning);
  report(Severity::debug, "test", "dropped");
  report(Severity::info, "test", "dropped too");
  report(Severity::warning, "test", "kept");
  report(Severity::critical, "test", "kept too");
  set_diagnostic_level(old);
  const auto records = captured.records();
  REQUIRE(records.size() == 2);
  REQUIRE(records[0].message == "kept");
  REQUIRE(records[1].message == "kept too");
  REQUIRE(std::string(to_string(Severity::critical)) == "critical");
}

TEST_CASE("the loop's default exception report reaches the sink, demangled",
          "[diagnostics][callbacks]") {
  CapturedReports captured;
  auto loop = make_test_loop();
  loop->call_soon([] { throw ParseFailure("in a callback"); });
  REQUIRE_FALSE(run_bounded(*loop));
  Record r;
  REQUIRE(captured.has("loop", "call_soon callback", &r));
  REQUIRE(r.level == Severity::error);
  REQUIRE(r.message.find("(anonymous namespace)::ParseFailure: in a callback") !=
          std::string::npos);
  REQUIRE(r.message.find("12ParseFailure") == std::string::npos);  // no mangled name
}

TEST_CASE("reports from several threads reach the sink while its handler is replaced",
          "[diagnostics][tsan]") {
  std::atomic<int> first{0}, second{0};
  DiagnosticHandler before = set_diagnostic_handler([&](const Diagnostic&) { ++first; });
  constexpr int kThreads = 4, kEach = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([] {
      for (int i = 0; i < kEach; ++i) report(Severity::info, "test", "from a thread");
    });
  set_diagnostic_handler([&](const Diagnostic&) { ++second; });
  for (auto& t : threads) t.join();
  set_diagnostic_handler(std::move(before));
  REQUIRE(first + second == kThreads * kEach);  // each record reached exactly one handler
}
