// Request line rules (RFC 9112 §3): method SP request-target SP HTTP-version CRLF.
#include "parser_support.hpp"

using namespace grove::http;
using namespace grove::http::test;

TEST_CASE("a simple request line parses into method, target, path, query and version") {
  auto r = one("GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\n\r\n");
  CHECK(r.method == "GET");
  CHECK(r.target == "/a/b?x=1&y=2");
  CHECK(r.path == "/a/b");
  CHECK(r.query == "x=1&y=2");
  CHECK(r.minor == 1);
  CHECK(r.host == "example.com");
  CHECK(r.keep_alive);
}

TEST_CASE("HTTP/1.0 needs no Host and closes by default") {
  auto r = one("GET / HTTP/1.0\r\n\r\n");
  CHECK(r.minor == 0);
  CHECK_FALSE(r.keep_alive);
  auto k = one("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  CHECK(k.keep_alive);
}

TEST_CASE("HTTP/1.x above 1.1 is answered as 1.1") {
  auto r = one("GET / HTTP/1.5\r\nHost: x\r\n\r\n");
  CHECK(r.minor == 1);
}

TEST_CASE("a request line over 8 KiB gets 414, complete or not") {
  std::string target = "/" + std::string(8200, 'a');
  CHECK(error_status("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n") == 414);
  // Without a line end yet: refused as soon as the limit is passed.
  CHECK(error_status("GET " + target) == 414);
  // Just under the limit is fine.
  std::string ok = "/" + std::string(8192 - 4 - 9 - 1, 'a');
  std::string line = "GET " + ok + " HTTP/1.1";
  REQUIRE(line.size() == 8192);
  CHECK(error_status(line + "\r\nHost: x\r\n\r\n") == 0);
}

TEST_CASE("the request line limit is configurable") {
  Limits limits;
  limits.max_request_line = 20;
  CHECK(error_status("GET /aaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: x\r\n\r\n", limits) == 414);
  CHECK(error_status("GET /a HTTP/1.1\r\nHost: x\r\n\r\n", limits) == 0);
}

TEST_CASE("malformed request lines get 400") {
  const char* cases[] = {
      "GET  / HTTP/1.1\r\nHost: x\r\n\r\n",    // two spaces
      "GET /  HTTP/1.1\r\nHost: x\r\n\r\n",    // two spaces
      "GET / HTTP/1.1 \r\nHost: x\r\n\r\n",    // trailing space
      " GET / HTTP/1.1\r\nHost: x\r\n\r\n",    // leading space
      "GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n",    // tab as separator
      "GET /\tx HTTP/1.1\r\nHost: x\r\n\r\n",  // tab in target
      "GET / http/1.1\r\nHost: x\r\n\r\n",     // version is case-sensitive
      "GET / HTTP/1\r\nHost: x\r\n\r\n",       // short version
      "GET / HTTP/1.10\r\nHost: x\r\n\r\n",    // two-digit minor
      "GET / HTTP/1.1x\r\nHost: x\r\n\r\n",
      "GET /\r\n\r\n",  // HTTP/0.9
      "GET\r\n\r\n",
      "G(T / HTTP/1.1\r\nHost: x\r\n\r\n",               // not a token
      "GET /a#frag HTTP/1.1\r\nHost: x\r\n\r\n",         // fragment
      "GET /a\x7f HTTP/1.1\r\nHost: x\r\n\r\n",          // DEL
      "GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",       // raw UTF-8 must be percent-encoded
      "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n",            // bad escape
      "GET /%4 HTTP/1.1\r\nHost: x\r\n\r\n",             // short escape
      "GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n",          // encoded NUL in the path
      "GET a HTTP/1.1\r\nHost: x\r\n\r\n",               // not origin-form, not a URI
      "GET ftp://h/ HTTP/1.1\r\nHost: x\r\n\r\n",        // not http(s)
      "GET * HTTP/1.1\r\nHost: x\r\n\r\n",               // asterisk only for OPTIONS
      "GET http://user@h/ HTTP/1.1\r\nHost: x\r\n\r\n",  // userinfo
      "GET http:/// HTTP/1.1\r\nHost: x\r\n\r\n",        // empty authority
      "CONNECT nohostport HTTP/1.1\r\nHost: x\r\n\r\n",
  };
  for (const char* c : cases) {
    INFO(c);
    CHECK(error_status(c) == 400);
  }
}

TEST_CASE("a bare LF or bare CR ends no request line") {
  CHECK(error_status("GET / HTTP/1.1\nHost: x\r\n\r\n") == 400);
  CHECK(error_status("GET / HTTP/1.1\rHost: x\r\n\r\n") == 400);
  CHECK(error_status("GET /\r HTTP/1.1\r\nHost: x\r\n\r\n") == 400);
}

TEST_CASE("empty lines before the request line are skipped, within a bound") {
  auto r = one("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(r.method == "GET");
  CHECK(error_status("\nGET / HTTP/1.1\r\nHost: x\r\n\r\n") == 400);
  CHECK(error_status("\r\rGET / HTTP/1.1\r\nHost: x\r\n\r\n") == 400);
  std::string many;
  for (int i = 0; i < 20; ++i) many += "\r\n";
  CHECK(error_status(many + "GET / HTTP/1.1\r\nHost: x\r\n\r\n") == 400);
}

TEST_CASE("binary noise is refused before a line end arrives") {
  // A TLS ClientHello starts with 0x16 0x03.
  CHECK(error_status(std::string("\x16\x03\x01\x02\x00", 5)) == 400);
  CHECK(error_status("GET") == 0);  // still incomplete, not an error
  CHECK(frame("GET").end == Status::incomplete);
}

TEST_CASE("the HTTP/2 preface gets 505 with a message") {
  std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  auto r = frame(preface);
  REQUIRE(r.end == Status::error);
  CHECK(r.error.status == 505);
  CHECK(std::string(r.error.reason).find("HTTP/2") != std::string::npos);
  CHECK(error_status("GET / HTTP/2.0\r\nHost: x\r\n\r\n") == 505);
  CHECK(error_status("GET / HTTP/3.0\r\nHost: x\r\n\r\n") == 505);
  CHECK(error_status("GET / HTTP/0.9\r\nHost: x\r\n\r\n") == 505);
}

TEST_CASE("request target forms") {
  SECTION("absolute form: the authority is the host, the path is split off") {
    auto r = one("GET http://example.com:8080/p/q?z=1 HTTP/1.1\r\nHost: other\r\n\r\n");
    CHECK(r.host == "example.com:8080");
    CHECK(r.path == "/p/q");
    CHECK(r.query == "z=1");
    auto bare = one("GET HTTPS://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
    CHECK(bare.path == "/");
    auto q = one("GET http://h?x HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK(q.path == "/");
    CHECK(q.query == "x");
  }
  SECTION("asterisk form for OPTIONS") {
    auto r = one("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(r.path == "*");
  }
  SECTION("authority form for CONNECT") {
    auto r = one("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    CHECK(r.host == "example.com:443");
  }
  SECTION("percent-encoded paths stay encoded in the parser") {
    auto r = one("GET /a%20b HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(r.path == "/a%20b");
  }
  SECTION("an encoded NUL in the query is the application's business") {
    auto r = one("GET /a?x=%00 HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(r.query == "x=%00");
  }
}

TEST_CASE("any token is a method") {
  auto r = one("M-SEARCH / HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(r.method == "M-SEARCH");
  CHECK(one("get / HTTP/1.1\r\nHost: x\r\n\r\n").method == "get");  // case-sensitive, kept
}

// Found by fuzz_http_parser (tests/fuzz): the answer to a broken request line depended on
// how its bytes arrived, because noise in the method was refused early only while the
// line was incomplete, and a complete line checked CRLF before its length.
TEST_CASE("a broken request line gets the same answer in one read or byte by byte") {
  using namespace std::string_literals;
  auto byte_by_byte = [](std::string_view bytes, const Limits& limits) {
    RequestParser parser(limits);
    RequestHead head;
    for (std::size_t n = 1; n <= bytes.size(); ++n) {
      auto status = parser.parse(bytes.substr(0, n), head);
      if (status == Status::error) return parser.error().status;
      if (status == Status::done) return 0;
    }
    return -1;
  };
  Limits small;
  small.max_request_line = 64;
  const std::string cases[] = {
      " /\0GET /\r\n\r\n"s,                                         // empty method
      "\x01" + std::string(9000, 'a') + "\r\n\r\n",                 // noise longer than the limit
      "GET / HTT" + std::string(80, '\xff') + "\nHost: x\r\n\r\n",  // long, and a bare LF
  };
  for (const auto& bytes : cases) {
    for (const Limits& limits : {Limits{}, small}) {
      INFO("request: " << bytes.substr(0, 20));
      int once = error_status(bytes, limits);
      CHECK(once >= 400);
      CHECK(byte_by_byte(bytes, limits) == once);
    }
  }
  CHECK(error_status("\x01" + std::string(9000, 'a') + "\r\n\r\n") == 400);
  CHECK(error_status("GET / HTT" + std::string(80, '\xff') + "\nHost: x\r\n\r\n", small) == 414);
}
