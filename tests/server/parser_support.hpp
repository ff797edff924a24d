// Helpers for the parser tests: run the framer over bytes and look at the outcome.
#pragma once

#include <grove/http/parser.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <string_view>

namespace grove::http::test {

using Status = RequestParser::Status;

inline StreamResult frame(std::string_view bytes, const Limits& limits = {}) {
  return parse_stream(bytes, limits);
}

// The status the server would answer with: 0 when every request parsed.
inline int error_status(std::string_view bytes, const Limits& limits = {}) {
  auto r = parse_stream(bytes, limits);
  return r.end == Status::error ? r.error.status : 0;
}

// Parses exactly one complete request, failing the test otherwise.
inline ParsedRequest one(std::string_view bytes, const Limits& limits = {}) {
  auto r = parse_stream(bytes, limits);
  INFO("reason: " << r.error.reason);
  REQUIRE(r.end == Status::done);
  REQUIRE(r.requests.size() == 1);
  return r.requests[0];
}

// A GET with the given extra header lines (each ending in CRLF).
inline std::string get(std::string_view extra = "", std::string_view target = "/") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: x\r\n" + std::string(extra) + "\r\n";
}

}  // namespace grove::http::test
