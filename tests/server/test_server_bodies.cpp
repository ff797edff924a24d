// Request bodies (Content-Length, chunked, 100-continue, limits) and response bodies
// (buffered, large, streamed chunked, streamed with a length, streamed to HTTP/1.0, small
// files sent with their head).
#include "server_support.hpp"

using namespace grove::http;
using namespace grove::http::test;

namespace {
Response echo(Request& req) {
  auto r = Response::text(req.read_body());
  r.headers.set("X-Chunked", req.chunked() ? "yes" : "no");
  return r;
}
}  // namespace

TEST_CASE("Content-Length and chunked request bodies reach the application decoded") {
  ServerThread st(echo);
  auto a =
      request(st.port(), "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world");
  CHECK(a.body == "hello world");
  CHECK(a.header("x-chunked") == "no");
  auto b = request(st.port(),
                   "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n");
  CHECK(b.body == "hello world");
  CHECK(b.header("x-chunked") == "yes");
}

TEST_CASE("a body sent slowly in pieces is read as it arrives") {
  ServerThread st(echo);
  Socket s = Socket::tcp(st.port());
  s.send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(10ms);
    s.send("3\r\nab" + std::to_string(i) + "\r\n");
  }
  s.send("0\r\n\r\n");
  ResponseReader rr(s);
  auto r = rr.next();
  REQUIRE(r);
  CHECK(r->body == "ab0ab1ab2ab3ab4");
}

TEST_CASE("a 1 MiB body is accepted and one byte more gets 413 and the connection closes") {
  ServerThread st(echo);
  std::string mib(1 << 20, 'z');
  auto ok =
      request(st.port(), "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\n\r\n" + mib);
  CHECK(ok.status == 200);
  CHECK(ok.body.size() == mib.size());
  // Declared too large: refused before the body is read.
  Socket s = Socket::tcp(st.port());
  s.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1048577\r\n\r\n");
  ResponseReader rr(s);
  auto r = rr.next();
  REQUIRE(r);
  CHECK(r->status == 413);
  CHECK(r->header("connection") == "close");
  CHECK(s.closed_by_peer());
  // Chunked, too large only once the chunks add up.
  Socket c = Socket::tcp(st.port());
  c.send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
  std::string chunk(64 * 1024, 'c');
  std::string hdr = "10000\r\n";
  bool sent_all = true;
  for (int i = 0; i < 17 && sent_all; ++i) sent_all = c.try_send(hdr + chunk + "\r\n");
  ResponseReader cr(c);
  auto cresp = cr.next();
  REQUIRE(cresp);
  CHECK(cresp->status == 413);
}

TEST_CASE("the body limit is configurable") {
  ServerConfig cfg;
  cfg.limits.max_body = 10;
  ServerThread st(echo, cfg);
  CHECK(request(st.port(), "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789")
            .status == 200);
  CHECK(request(st.port(), "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n01234567890")
            .status == 413);
}

TEST_CASE("Expect: 100-continue is answered on the first body read, not before") {
  std::atomic<bool> reading{false};
  ServerThread st([&](Request& req) {
    if (req.path() == "/refuse") return Response::text("no thanks", 403);
    grove::green::sleep(50ms);  // the client must not have seen 100 yet
    reading = true;
    return Response::text(req.read_body());
  });
  Socket s = Socket::tcp(st.port());
  s.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  auto interim = s.recv_some(3000ms);
  REQUIRE(interim);
  CHECK(reading.load());
  CHECK(interim->rfind("HTTP/1.1 100 Continue\r\n\r\n", 0) == 0);
  s.send("hello");
  ResponseReader rr(s);
  auto r = rr.next();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "hello");

  // Answered without reading: no 100, and the connection closes (the body may never come).
  Socket t = Socket::tcp(st.port());
  t.send("POST /refuse HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  ResponseReader tr(t);
  auto refused = tr.next();
  REQUIRE(refused);
  CHECK(refused->status == 403);
  CHECK(refused->header("connection") == "close");
}

TEST_CASE("an unread small body is drained and the connection kept and a large one closes it") {
  ServerThread st([](Request& req) { return Response::text(std::string(req.path())); });
  Socket s = Socket::tcp(st.port());
  s.send(
      "POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: "
      "t\r\n\r\n");
  ResponseReader rr(s);
  auto a = rr.next(), b = rr.next();
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->body == "/a");
  CHECK(b->body == "/b");
  Socket big = Socket::tcp(st.port());
  big.send("POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n");
  ResponseReader br(big);
  auto r = br.next();
  REQUIRE(r);
  CHECK(r->header("connection") == "close");
}

TEST_CASE("large response bodies arrive whole") {
  ServerThread st([](Request& req) { return Response::text(std::string(5 << 20, 'L')); });
  auto r = get(st.port());
  CHECK(r.body.size() == std::size_t(5 << 20));
}

TEST_CASE(
    "streamed responses: chunked to HTTP/1.1, with a declared length, close-delimited to 1.0") {
  ServerThread st([](Request& req) {
    if (req.path() == "/sized") {
      auto r = Response::streamed([](BodyWriter& w) {
        w.write("abc");
        w.write("def");
      });
      r.headers.set("Content-Length", "6");
      return r;
    }
    if (req.path() == "/big") {
      return Response::streamed([](BodyWriter& w) {
        for (int i = 0; i < 4; ++i) w.write(std::string(100000, char('a' + i)));
      });
    }
    return Response::streamed([](BodyWriter& w) {
      for (int i = 0; i < 3; ++i) {
        w.write("piece" + std::to_string(i) + ";");
        grove::green::sleep(5ms);
      }
    });
  });
  auto chunked = get(st.port());
  CHECK(chunked.chunked);
  CHECK(chunked.body == "piece0;piece1;piece2;");
  auto sized = get(st.port(), "/sized");
  CHECK_FALSE(sized.chunked);
  CHECK(sized.header("content-length") == "6");
  CHECK(sized.body == "abcdef");
  auto big = get(st.port(), "/big");
  CHECK(big.body.size() == 400000);
  CHECK(big.body.substr(399999) == "d");
  Socket s = Socket::tcp(st.port());
  s.send("GET / HTTP/1.0\r\n\r\n");
  bool closed = false;
  std::string all = s.recv_all(3000ms, &closed);
  CHECK(closed);
  CHECK(all.find("Transfer-Encoding") == std::string::npos);
  CHECK(all.substr(all.find("\r\n\r\n") + 4) == "piece0;piece1;piece2;");
  // Even when the 1.0 client asked for keep-alive: the close is the only framing.
  Socket k = Socket::tcp(st.port());
  k.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  closed = false;
  all = k.recv_all(3000ms, &closed);
  CHECK(closed);
  CHECK(all.find("Connection: close") != std::string::npos);
  CHECK(all.substr(all.find("\r\n\r\n") + 4) == "piece0;piece1;piece2;");
}

TEST_CASE("each streamed piece is sent as it is written") {
  std::atomic<int> step{0};
  ServerThread st([&](Request&) {
    return Response::streamed([&](BodyWriter& w) {
      w.write("first");
      while (step.load() == 0) grove::green::sleep(2ms);
      w.write("second");
    });
  });
  Socket s = Socket::tcp(st.port());
  s.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
  std::string got;
  auto until = SteadyClock::now() + 3s;
  while (got.find("first") == std::string::npos && SteadyClock::now() < until)
    if (auto more = s.recv_some(100ms)) got += *more;
  CHECK(got.find("first") != std::string::npos);
  CHECK(got.find("second") == std::string::npos);
  step = 1;
  ResponseReader rr(s);
  while (got.find("second") == std::string::npos && SteadyClock::now() < until)
    if (auto more = s.recv_some(100ms)) got += *more;
  CHECK(got.find("second") != std::string::npos);
}

TEST_CASE("a stream that fails midway cuts the response short and closes") {
  ServerThread st([](Request&) {
    return Response::streamed([](BodyWriter& w) {
      w.write("partial");
      throw std::runtime_error("the producer failed");
    });
  });
  Socket s = Socket::tcp(st.port());
  s.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
  bool closed = false;
  std::string all = s.recv_all(3000ms, &closed);
  CHECK(closed);
  CHECK(all.find("partial") != std::string::npos);
  CHECK(all.find("0\r\n\r\n") == std::string::npos);  // no terminating chunk: visibly truncated
}

namespace {
// A file of `bytes` and a response with `length` bytes of it (more than it has: it "shrank").
Response file_response(const std::string& bytes, std::uint64_t length) {
  char path[] = "/tmp/grove-file-body-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  ::unlink(path);
  if (::write(fd, bytes.data(), bytes.size()) != ssize_t(bytes.size()))
    throw std::runtime_error("write failed");
  Response r;
  r.file = FileBody(std::make_shared<OpenFile>(fd), 0, length);
  return r;
}
}  // namespace

TEST_CASE("a small file body leaves with its head, and one that ends early cuts the response") {
  ServerThread st([](Request& req) {
    if (req.target() == "/short") return file_response("0123456789", 100);
    return file_response("0123456789", 10);
  });
  Socket s = Socket::tcp(st.port());
  // Pipelined: the whole file, then one that ends before its Content-Length.
  s.send("GET /whole HTTP/1.1\r\nHost: t\r\n\r\nGET /short HTTP/1.1\r\nHost: t\r\n\r\n");
  bool closed = false;
  std::string all = s.recv_all(3000ms, &closed);
  CHECK(closed);
  std::size_t second = all.find("HTTP/1.1 200", 1);
  REQUIRE(second != std::string::npos);
  CHECK(all.substr(0, second).ends_with("\r\n\r\n0123456789"));
  CHECK(all.find("Content-Length: 10\r\n") < second);
  CHECK(all.find("Content-Length: 100\r\n", second) != std::string::npos);
  CHECK(all.substr(second).ends_with("\r\n\r\n0123456789"));  // 10 of the 100, then the close
}
