// Header section rules (RFC 9112 §5, RFC 9110 §5): field syntax, limits, Host.
#include "parser_support.hpp"

using namespace grove::http;
using namespace grove::http::test;

TEST_CASE("header fields keep their order, names and trimmed values") {
  auto r =
      one("GET / HTTP/1.1\r\nHost: x\r\nX-A:  one \t\r\nx-a:two\r\nEmpty:\r\nSpaced: a  b\r\n\r\n");
  REQUIRE(r.fields.size() == 5);
  CHECK(r.fields[1] == std::pair<std::string, std::string>("X-A", "one"));
  CHECK(r.fields[2] == std::pair<std::string, std::string>("x-a", "two"));
  CHECK(r.fields[3] == std::pair<std::string, std::string>("Empty", ""));
  CHECK(r.fields[4] == std::pair<std::string, std::string>("Spaced", "a  b"));
}

TEST_CASE("obs-text in a value is kept, as RFC 9110 allows") {
  auto r = one("GET / HTTP/1.1\r\nHost: x\r\nX-Name: caf\xc3\xa9\r\n\r\n");
  CHECK(r.fields[1].second == "caf\xc3\xa9");
}

TEST_CASE("malformed header fields get 400") {
  struct Case {
    const char* name;
    std::string bytes;
  };
  Case cases[] = {
      {"whitespace before the colon", get("X-A : 1\r\n")},
      {"tab before the colon", get("X-A\t: 1\r\n")},
      {"obs-fold", get("X-A: 1\r\n  continued\r\n")},
      {"obs-fold with tab", get("X-A: 1\r\n\tcontinued\r\n")},
      {"whitespace before the first field", "GET / HTTP/1.1\r\n Host: x\r\n\r\n"},
      {"no colon", get("X-A 1\r\n")},
      {"empty name", get(": 1\r\n")},
      {"non-token name", get("X(A): 1\r\n")},
      {"NUL in value", get(std::string("X-A: a\0b\r\n", 10))},
      {"NUL in name", get(std::string("X\0A: 1\r\n", 8))},
      {"bare CR in value", get("X-A: a\rb\r\n")},
      {"bare CR at end of value", get("X-A: a\r\r\n")},
      {"bare LF ending a field", "GET / HTTP/1.1\r\nHost: x\nX: 1\r\n\r\n"},
      {"bare LF ending the section", "GET / HTTP/1.1\r\nHost: x\r\n\n"},
      {"bare CR ending the section", "GET / HTTP/1.1\r\nHost: x\r\n\r\r\n"},
      {"control character in value", get("X-A: a\x01z\r\n")},
      {"DEL in value", get("X-A: a\x7fz\r\n")},
      {"ESC in value", get("X-A: \x1b[31m\r\n")},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    CHECK(error_status(c.bytes) == 400);
  }
}

TEST_CASE("Host rules") {
  CHECK(error_status("GET / HTTP/1.1\r\n\r\n") == 400);                        // missing
  CHECK(error_status("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n") == 400);  // twice
  CHECK(error_status("GET / HTTP/1.1\r\nHost: a b\r\n\r\n") == 400);           // invalid
  CHECK(error_status("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n") == 400);
  CHECK(error_status("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n") == 400);
  CHECK(one("GET / HTTP/1.1\r\nHost:\r\n\r\n").host.empty());  // empty is allowed
  CHECK(one("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n").host == "[::1]:8080");
  CHECK(one("GET / HTTP/1.1\r\nhOsT: a.b\r\n\r\n").host == "a.b");
  // Absolute form needs a Host on 1.1 too, but the target's authority wins.
  CHECK(error_status("GET http://a/ HTTP/1.1\r\n\r\n") == 400);
}

TEST_CASE("more than 100 header fields get 431") {
  std::string extra;
  for (int i = 0; i < 99; ++i) extra += "X-" + std::to_string(i) + ": v\r\n";
  CHECK(error_status(get(extra)) == 0);  // 100 with Host
  extra += "X-last: v\r\n";
  CHECK(error_status(get(extra)) == 431);
}

TEST_CASE("a header section over 64 KiB gets 431, complete or not") {
  std::string big(70 * 1024, 'a');
  CHECK(error_status(get("X-Big: " + big + "\r\n")) == 431);
  // Incomplete: refused as soon as the buffered section passes the limit.
  CHECK(error_status("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + big) == 431);
  // Many fields adding up.
  std::string extra;
  for (int i = 0; i < 60; ++i)
    extra += "X-" + std::to_string(i) + ": " + std::string(1200, 'v') + "\r\n";
  CHECK(error_status(get(extra)) == 431);
  // Just under is fine.
  CHECK(error_status(get("X-Big: " + std::string(60 * 1024, 'a') + "\r\n")) == 0);
}

TEST_CASE("header limits are configurable") {
  Limits limits;
  limits.max_header_count = 2;
  CHECK(error_status(get("A: 1\r\n"), limits) == 0);
  CHECK(error_status(get("A: 1\r\nB: 2\r\n"), limits) == 431);
  limits = {};
  limits.max_header_bytes = 32;
  CHECK(error_status(get("A: 1\r\n"), limits) == 0);
  CHECK(error_status(get("A: 12345678901234567890\r\n"), limits) == 431);
}

TEST_CASE("Expect: 100-continue is recognised and other expectations get 417") {
  auto r =
      one("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\nabc");
  CHECK(r.expect_continue);
  CHECK(r.body == "abc");
  auto no_body = one("GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n");
  CHECK_FALSE(no_body.expect_continue);  // nothing to wait for
  CHECK(error_status("GET / HTTP/1.1\r\nHost: x\r\nExpect: something\r\n\r\n") == 417);
  // HTTP/1.0 expectations are ignored (RFC 9110 §10.1.1).
  auto old = one("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nz");
  CHECK_FALSE(old.expect_continue);
}

TEST_CASE("Connection tokens decide persistence") {
  CHECK_FALSE(one(get("Connection: close\r\n")).keep_alive);
  CHECK_FALSE(one(get("Connection: Upgrade, CLOSE\r\n")).keep_alive);
  CHECK(one(get("Connection: keep-alive\r\n")).keep_alive);
  CHECK_FALSE(one("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").keep_alive);
}

TEST_CASE("the parser is incremental and linear for a byte-by-byte client") {
  std::string req = "GET /path?q=1 HTTP/1.1\r\nHost: example\r\nX-A: 1\r\nX-B: 2\r\n\r\n";
  RequestParser parser;
  RequestHead head;
  for (std::size_t i = 1; i < req.size(); ++i) {
    INFO(i);
    REQUIRE(parser.parse(std::string_view(req).substr(0, i), head) == Status::incomplete);
  }
  REQUIRE(parser.parse(req, head) == Status::done);
  CHECK(head.size == req.size());
  CHECK(head.path == "/path");
  REQUIRE(head.fields.size() == 3);
  CHECK(head.fields[2].value == "2");
}

TEST_CASE("the parser accepts its bytes moved between calls") {
  std::string req = "GET / HTTP/1.1\r\nHost: example\r\nX-A: 1\r\n\r\n";
  RequestParser parser;
  RequestHead head;
  std::string first = req.substr(0, 25);
  REQUIRE(parser.parse(first, head) == Status::incomplete);
  std::string moved = req;  // a different buffer holding the same bytes and more
  REQUIRE(parser.parse(moved, head) == Status::done);
  CHECK(head.host == "example");
  CHECK(head.fields[1].name == "X-A");
}

TEST_CASE("an error is sticky until reset") {
  RequestParser parser;
  RequestHead head;
  REQUIRE(parser.parse("GET  / HTTP/1.1\r\n", head) == Status::error);
  CHECK(parser.parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n", head) == Status::error);
  parser.reset();
  CHECK(parser.parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n", head) == Status::done);
}
