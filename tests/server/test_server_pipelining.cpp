// Pipelining: many requests in one write are answered in order, bodies included, and the
// responses to a burst leave together.
#include "server_support.hpp"

using namespace grove::http;
using namespace grove::http::test;

namespace {
Response numbered(Request& req) {
  std::string body = std::string(req.path()) + ":" + req.read_body();
  if (req.path().find("slow") != std::string_view::npos) grove::green::sleep(20ms);
  return Response::text(body);
}
}  // namespace

TEST_CASE("100 pipelined requests in one write are answered in order") {
  ServerThread st(numbered);
  Socket s = Socket::tcp(st.port());
  std::string burst;
  for (int i = 0; i < 100; ++i) {
    std::string path = "/" + std::to_string(i) + (i % 10 == 3 ? "-slow" : "");
    if (i % 7 == 0) {
      std::string body = "b" + std::to_string(i);
      burst += "POST " + path +
               " HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\n\r\n" + body;
    } else if (i % 7 == 1) {
      burst += "POST " + path + " HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nc" +
               std::to_string(i % 10) + "\r\n0\r\n\r\n";
    } else {
      burst += "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n";
    }
  }
  s.send(burst);
  ResponseReader rr(s);
  for (int i = 0; i < 100; ++i) {
    auto r = rr.next();
    INFO(i);
    REQUIRE(r);
    std::string path = "/" + std::to_string(i) + (i % 10 == 3 ? "-slow" : "");
    std::string expect = path + ":";
    if (i % 7 == 0) expect += "b" + std::to_string(i);
    else if (i % 7 == 1) expect += "c" + std::to_string(i % 10);
    CHECK(r->body == expect);
  }
  CHECK(rr.leftover().empty());
}

TEST_CASE("pipelined requests split at every byte boundary still come back in order") {
  ServerThread st(numbered);
  std::string two =
      "GET /first HTTP/1.1\r\nHost: t\r\n\r\nPOST /second HTTP/1.1\r\nHost: t\r\nContent-Length: "
      "3\r\n\r\nxyzGET /third HTTP/1.1\r\nHost: t\r\n\r\n";
  for (std::size_t cut = 1; cut < two.size(); cut += 7) {
    Socket s = Socket::tcp(st.port());
    s.send(two.substr(0, cut));
    std::this_thread::sleep_for(2ms);
    s.send(two.substr(cut));
    ResponseReader rr(s);
    auto a = rr.next(), b = rr.next(), c = rr.next();
    INFO(cut);
    REQUIRE(a);
    REQUIRE(b);
    REQUIRE(c);
    CHECK(a->body == "/first:");
    CHECK(b->body == "/second:xyz");
    CHECK(c->body == "/third:");
  }
}

TEST_CASE("a burst of pipelined responses arrives in one read when small") {
  ServerThread st([](Request&) { return Response::text("x"); });
  Socket s = Socket::tcp(st.port());
  std::string burst;
  for (int i = 0; i < 16; ++i) burst += "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
  s.send(burst);
  // All 16 responses were written with one call: they are readable together. Wait for
  // the first bytes, give the rest a moment, and count.
  auto first = s.recv_some();
  REQUIRE(first);
  std::string all = *first;
  while (auto more = s.recv_some(200ms)) {
    if (more->empty()) break;
    all += *more;
  }
  std::size_t count = 0;
  for (std::size_t at = 0; (at = all.find("HTTP/1.1 200", at)) != std::string::npos; ++at) ++count;
  CHECK(count == 16);
  // One segment on loopback: the first read got them all.
  std::size_t in_first = 0;
  for (std::size_t at = 0; (at = first->find("HTTP/1.1 200", at)) != std::string::npos; ++at)
    ++in_first;
  CHECK(in_first == 16);
}

TEST_CASE("a pipelined request after Connection: close is not answered") {
  ServerThread st(numbered);
  Socket s = Socket::tcp(st.port());
  s.send(
      "GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\n");
  bool closed = false;
  std::string all = s.recv_all(3000ms, &closed);
  CHECK(closed);
  CHECK(all.find("/a:") != std::string::npos);
  CHECK(all.find("/b:") == std::string::npos);
}

TEST_CASE("pipelined bytes waiting behind a slow request do not make the hub spin") {
  std::atomic<bool> in_application{false};
  ServerThread st([&](Request& req) {
    in_application = true;
    return numbered(req);
  });
  Socket s = Socket::tcp(st.port());
  s.send("GET /a-slow HTTP/1.1\r\nHost: t\r\n\r\n");
  // Wait (up to a deadline) until the first request is in the application.
  auto until = SteadyClock::now() + 5s;
  while (!in_application && SteadyClock::now() < until) std::this_thread::sleep_for(1ms);
  REQUIRE(in_application);
  // More requests arrive while it sleeps: the socket stays readable for 20 ms x 10.
  std::string more;
  for (int i = 0; i < 10; ++i) more += "GET /b-slow HTTP/1.1\r\nHost: t\r\n\r\n";
  rusage before{}, after{};
  ::getrusage(RUSAGE_SELF, &before);
  auto t0 = SteadyClock::now();
  s.send(more);
  ResponseReader rr(s);
  for (int i = 0; i < 11; ++i) REQUIRE(rr.next());
  double wall = seconds_since(t0);
  ::getrusage(RUSAGE_SELF, &after);
  auto cpu = [](const rusage& r) {
    return double(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
           double(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
  };
  // About 0.2 s of sleeping: a spinning hub would burn about as much CPU as wall time.
  CHECK(wall >= 0.15);
  CHECK(cpu(after) - cpu(before) < wall / 2);
}
