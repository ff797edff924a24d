// Every layer reports through grove's one diagnostic sink: aio warnings, green thread
// deaths, compat warnings, the server's error log and the framework's loggers all reach a
// handler installed with grove::set_diagnostic_handler (the loop's own report is tested in
// tests/backends/test_diagnostics.cpp).
#include "captured_diagnostics.hpp"

#include <grove/aio/errors.hpp>
#include <grove/compat.hpp>
#include <grove/green/greenlet.hpp>
#include <grove/http/server.hpp>
#include <grove/web/logging.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>

using namespace grove;
using namespace grove::test;

TEST_CASE("aio warnings reach the diagnostic sink", "[diagnostics]") {
  CapturedReports captured;
  aio::warn("a coroutine was never awaited");
  Record r;
  REQUIRE(captured.has("aio", "a coroutine was never awaited", &r));
  REQUIRE(r.level == Severity::warning);
}

TEST_CASE("a green thread's death reaches the diagnostic sink, demangled", "[diagnostics]") {
  CapturedReports captured;
  auto g =
      green::spawn(green::SpawnOptions{"doomed"}, [] { throw std::invalid_argument("bad input"); });
  REQUIRE_THROWS_AS(g.join(), std::invalid_argument);
  Record r;
  REQUIRE(captured.has("green", "green thread 'doomed' died", &r));
  REQUIRE(r.level == Severity::error);
  REQUIRE(r.message.find("std::invalid_argument: bad input") != std::string::npos);
  REQUIRE_FALSE(r.message.starts_with("grove: "));  // the standard line adds the prefix
}

TEST_CASE("compat warnings reach the diagnostic sink", "[diagnostics]") {
  CapturedReports captured;
  REQUIRE(compat::warn("test.diagnostics-sink", "a combination that is not supported"));
  Record r;
  REQUIRE(captured.has("compat", "a combination that is not supported", &r));
  REQUIRE(r.level == Severity::warning);
}

TEST_CASE("the server's error log reaches the diagnostic sink", "[diagnostics]") {
  CapturedReports captured;
  const auto old = http::Log::level();
  http::Log::set_level(http::LogLevel::info);
  http::Log::write(http::LogLevel::debug, "below the server's level");  // filtered by the server
  http::Log::write(http::LogLevel::error, "exception in the application");
  http::Log::set_level(old);
  Record r;
  REQUIRE(captured.has("http", "exception in the application", &r));
  REQUIRE(r.level == Severity::error);
  REQUIRE_FALSE(captured.has("http", "below the server's level"));
}

TEST_CASE("web::Logger reaches the diagnostic sink with its name", "[diagnostics]") {
  CapturedReports captured;
  web::Logger logger("my.app");
  logger.warning("disk almost full");
  logger.exception("request failed", std::make_exception_ptr(std::out_of_range("index 9")));
  Record r;
  REQUIRE(captured.has("web", "disk almost full", &r));
  REQUIRE(r.level == Severity::warning);
  REQUIRE(r.logger == "my.app");
  REQUIRE(captured.has("web", "std::out_of_range: index 9", &r));
  REQUIRE(r.level == Severity::error);
}

TEST_CASE("a layer's own hook still takes its layer's reports first", "[diagnostics]") {
  CapturedReports captured;
  std::string seen;
  auto previous = aio::set_warning_handler([&](std::string_view m) { seen = m; });
  aio::warn("for the aio handler");
  aio::set_warning_handler(std::move(previous));
  REQUIRE(seen == "for the aio handler");
  REQUIRE_FALSE(captured.has("aio", "for the aio handler"));
}
