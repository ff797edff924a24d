// Message body length (RFC 9112 §6): Content-Length, Transfer-Encoding, and the
// combinations that smuggle requests.
#include "parser_support.hpp"

using namespace grove::http;
using namespace grove::http::test;

namespace {
std::string post(std::string_view headers, std::string_view body = "") {
  return "POST / HTTP/1.1\r\nHost: x\r\n" + std::string(headers) + "\r\n" + std::string(body);
}
}  // namespace

TEST_CASE("Content-Length frames the body") {
  auto r = one(post("Content-Length: 5\r\n", "hello"));
  CHECK(r.body_kind == BodyKind::length);
  CHECK(r.body == "hello");
  auto zero = one(post("Content-Length: 0\r\n"));
  CHECK(zero.body_kind == BodyKind::none);
  auto none = one(post(""));
  CHECK(none.body_kind == BodyKind::none);
  CHECK(one(post("Content-Length: 005\r\n", "hello")).body == "hello");  // 1*DIGIT
}

TEST_CASE("Content-Length with a sign, spaces, or junk gets 400") {
  for (const char* v : {"+5", "-5", "5 5", "0x5", "5a", "", " ", "5,", ",5", "5,,5", "1e3",
                        "99999999999999999999"}) {
    INFO("Content-Length: [" << v << "]");
    CHECK(error_status(post(std::string("Content-Length: ") + v + "\r\n", "hello")) == 400);
  }
}

TEST_CASE("duplicate Content-Length: identical values are one value, conflicting ones are 400") {
  CHECK(one(post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello")).body == "hello");
  CHECK(one(post("Content-Length: 5, 5\r\n", "hello")).body == "hello");
  CHECK(error_status(post("Content-Length: 5\r\nContent-Length: 6\r\n", "hello!")) == 400);
  CHECK(error_status(post("Content-Length: 5, 6\r\n", "hello!")) == 400);
}

TEST_CASE("Content-Length over the body limit gets 413 before the body is read") {
  Limits limits;
  limits.max_body = 10;
  CHECK(error_status(post("Content-Length: 11\r\n"), limits) == 413);
  CHECK(error_status(post("Content-Length: 10\r\n", "0123456789"), limits) == 0);
  // The default is 1 MiB.
  CHECK(error_status(post("Content-Length: 1048577\r\n")) == 413);
  CHECK(frame(post("Content-Length: 1048576\r\n")).end == Status::incomplete);
}

TEST_CASE("Content-Length and Transfer-Encoding together get 400") {
  CHECK(error_status(post("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n")) ==
        400);
  CHECK(error_status(post("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", "0\r\n\r\n")) ==
        400);
}

TEST_CASE(
    "an unknown coding before a final chunked gets 501 and chunked not final or misused gets 400") {
  // RFC 9112 §6.1: a coding the server does not implement, chunked final: 501.
  CHECK(error_status(post("Transfer-Encoding: gzip, chunked\r\n")) == 501);
  CHECK(error_status(post("Transfer-Encoding: x-custom, chunked\r\n")) == 501);
  // RFC 9112 §6.3: chunked not the final coding of a request: the length cannot be
  // determined, 400 (a MUST), whatever the other codings are.
  CHECK(error_status(post("Transfer-Encoding: gzip\r\n")) == 400);
  CHECK(error_status(post("Transfer-Encoding: identity\r\n")) == 400);
  CHECK(error_status(post("Transfer-Encoding: chunked, identity\r\n")) == 400);
  CHECK(error_status(post("Transfer-Encoding: chunked, gzip\r\n")) == 400);
  CHECK(error_status(post("Transfer-Encoding: x-custom\r\n")) == 400);
  CHECK(error_status(post("Transfer-Encoding: chunked, chunked\r\n")) == 400);
  CHECK(error_status(post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n")) == 400);
  CHECK(error_status(post("Transfer-Encoding: chunked;q=1\r\n")) == 400);
  CHECK(error_status(post("Transfer-Encoding: \r\n")) == 400);
  CHECK(error_status(post("Transfer-Encoding: chunked,\r\n")) == 400);
  CHECK(error_status(post("Transfer-Encoding: \"chunked\"\r\n")) == 400);
  CHECK(error_status(post("Transfer-Encoding: chunked\x0b\r\n")) == 400);
}

TEST_CASE("Transfer-Encoding: chunked is case-insensitive and may carry OWS") {
  CHECK(one(post("Transfer-Encoding: Chunked\r\n", "0\r\n\r\n")).body_kind == BodyKind::chunked);
  CHECK(one(post("Transfer-Encoding:   chunked  \r\n", "0\r\n\r\n")).body_kind ==
        BodyKind::chunked);
}

TEST_CASE("Transfer-Encoding in an HTTP/1.0 request is faulty framing: 400") {
  CHECK(error_status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 400);
}

TEST_CASE("look-alike framing headers are not framing headers") {
  // "Transfer-Encoding " with a space before the colon is refused outright, never
  // treated as an unknown field that a front proxy might read differently.
  CHECK(error_status(post("Transfer-Encoding : chunked\r\nContent-Length: 3\r\n", "abc")) == 400);
  CHECK(error_status(post("Content-Length : 3\r\n", "abc")) == 400);
  // A differently spelled name is just another field.
  auto r = one(post("Transfer_Encoding: chunked\r\nContent-Length: 3\r\n", "abc"));
  CHECK(r.body == "abc");
}

TEST_CASE("a request with no framing headers has no body") {
  auto r = frame("POST / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
  REQUIRE(r.end == Status::done);
  REQUIRE(r.requests.size() == 2);
  CHECK(r.requests[1].method == "GET");
}
