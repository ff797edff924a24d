// The in-memory exchange (grove/http/exchange.hpp) goes through the server's own framing
// and serialization: for the same request bytes it writes the same bytes as a server on a
// socket (the Date aside), including HEAD, streamed, refused and failed requests.
#include "server_support.hpp"

#include <grove/http/detail/http1.hpp>
#include <grove/http/exchange.hpp>

using namespace grove::http;
using namespace grove::http::test;

namespace {

Response app(Request& req) {
  if (req.path() == "/throw") throw std::runtime_error("boom");
  if (req.path() == "/stream")
    return Response::streamed([](BodyWriter& w) {
      w.write("one,");
      w.write("two");
    });
  if (req.path() == "/echo") return Response::text("echo:" + req.read_body());
  if (req.path() == "/ignore") return Response::text("ignored");
  return Response::text("hello " + std::string(req.path()));
}

// Replaces every Date value (it differs by the second) with a fixed one.
std::string mask_dates(std::string s) {
  for (std::size_t at = s.find("\r\nDate: "); at != s.npos; at = s.find("\r\nDate: ", at + 1)) {
    std::size_t end = s.find("\r\n", at + 2);
    s.replace(at + 8, end - at - 8, "<date>");
  }
  return s;
}

// What a server on a socket answers to `bytes` when the client then ends its side.
std::string over_socket(int port, const std::string& bytes) {
  Socket s = Socket::tcp(port);
  s.send(bytes);
  ::shutdown(s.fd(), SHUT_WR);
  return s.recv_all(5000ms);
}

}  // namespace

TEST_CASE("exchange() writes byte for byte what the server sends for the same bytes") {
  ServerThread st(app);
  const std::string cases[] = {
      "GET /a HTTP/1.1\r\nHost: t\r\n\r\n",
      "HEAD /a HTTP/1.1\r\nHost: t\r\n\r\n",
      "GET /a HTTP/1.0\r\n\r\n",
      "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
      "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n",
      "GET /stream HTTP/1.0\r\n\r\n",
      "GET /throw HTTP/1.1\r\nHost: t\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc",
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
      "POST /ignore HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: "
      "t\r\n\r\n",
      "GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\nConnection: "
      "close\r\n\r\nGET /c HTTP/1.1\r\n\r\n",
      "GET /a HTTP/1.1\r\n\r\n",  // no Host: 400
      "GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n",
      "CONNECT t:443 HTTP/1.1\r\nHost: t\r\n\r\n",
  };
  for (const auto& bytes : cases) {
    INFO(bytes);
    std::string wire = over_socket(st.port(), bytes);
    REQUIRE(!wire.empty());
    CHECK(mask_dates(exchange(app, bytes)) == mask_dates(wire));
  }
}

TEST_CASE("exchange() of a hand-made request: framing from the server's code") {
  Request get("GET", "/x");
  auto r = detail::parse_response(exchange(app, get));
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "hello /x");
  CHECK(r->field("content-length") == "8");
  CHECK(r->field("server") == "grove");
  CHECK(r->field("date"));
  CHECK(!r->keep_alive);

  Request head("HEAD", "/x");
  std::string wire = exchange(app, head);
  r = detail::parse_response(wire, true);
  REQUIRE(r);
  CHECK(r->field("content-length") == "8");
  CHECK(r->size == wire.size());  // no body bytes follow

  Request stream("GET", "/stream");
  r = detail::parse_response(exchange(app, stream));
  REQUIRE(r);
  CHECK(r->chunked);
  CHECK(r->body == "one,two");

  Request post("POST", "/echo", {}, "data");
  r = detail::parse_response(exchange(app, post));
  REQUIRE(r);
  CHECK(r->body == "echo:data");

  Request boom("GET", "/throw");
  r = detail::parse_response(exchange(app, boom, {.server_header = ""}));
  REQUIRE(r);
  CHECK(r->status == 500);
  CHECK(!r->field("server"));
}
