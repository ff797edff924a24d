// The framer over pipelined streams: requests in order, bodies separated exactly, and no
// bytes read after an error or after a request that closes the connection.
#include "parser_support.hpp"

using namespace grove::http;
using namespace grove::http::test;

TEST_CASE("pipelined requests are framed in order from one buffer") {
  std::string bytes;
  for (int i = 0; i < 16; ++i)
    bytes += "GET /" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  bytes += "POST /cl HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody";
  bytes += "POST /ch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n";
  bytes += "GET /last HTTP/1.1\r\nHost: x\r\n\r\n";
  auto r = frame(bytes);
  REQUIRE(r.end == Status::done);
  REQUIRE(r.requests.size() == 19);
  for (int i = 0; i < 16; ++i) CHECK(r.requests[std::size_t(i)].path == "/" + std::to_string(i));
  CHECK(r.requests[16].body == "body");
  CHECK(r.requests[17].body == "ab");
  CHECK(r.requests[18].path == "/last");
  CHECK(r.consumed == bytes.size());
}

TEST_CASE("an incomplete request at the end of the buffer waits for more") {
  auto r = frame("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHo");
  CHECK(r.end == Status::incomplete);
  CHECK(r.requests.size() == 1);
  auto body = frame("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
  CHECK(body.end == Status::incomplete);
  CHECK(body.requests.empty());
}

TEST_CASE("nothing after an error is parsed: no second request from the remains") {
  // The classic CL.TE smuggle: a front end that honours Content-Length would forward
  // the rest as a second request; we refuse the whole thing.
  std::string smuggle =
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n";
  auto r = frame(smuggle);
  CHECK(r.end == Status::error);
  CHECK(r.error.status == 400);
  CHECK(r.requests.empty());
  CHECK(r.consumed == 0);

  auto after_good = frame(
      "GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET  /bad HTTP/1.1\r\n\r\nGET /never HTTP/1.1\r\nHost: "
      "x\r\n\r\n");
  CHECK(after_good.end == Status::error);
  REQUIRE(after_good.requests.size() == 1);
  CHECK(after_good.requests[0].path == "/ok");
}

TEST_CASE("a request that closes the connection ends the stream") {
  auto r = frame(
      "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(r.end == Status::done);
  REQUIRE(r.requests.size() == 1);
  CHECK(r.consumed < 60);
  auto old = frame("GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n");
  CHECK(old.requests.size() == 1);
}

TEST_CASE("a CRLF after a body, as old clients send, is skipped") {
  auto r = frame(
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na\r\nGET /b HTTP/1.1\r\nHost: "
      "x\r\n\r\n");
  REQUIRE(r.end == Status::done);
  REQUIRE(r.requests.size() == 2);
  CHECK(r.requests[1].path == "/b");
}

TEST_CASE("every prefix of a valid stream is incomplete or done, never an error") {
  std::string bytes =
      "GET /a?b=c HTTP/1.1\r\nHost: x\r\nX: y\r\n\r\n"
      "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
      "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n0\r\nT: "
      "1\r\n\r\n";
  for (std::size_t i = 0; i <= bytes.size(); ++i) {
    auto r = frame(std::string_view(bytes).substr(0, i));
    INFO(i << ": " << r.error.reason);
    CHECK(r.end != Status::error);
  }
  CHECK(frame(bytes).requests.size() == 3);
}
