// Requests and responses over real sockets: methods, HEAD, Date, keep-alive rules for
// HTTP/1.0 and 1.1, the request's view of itself, IPv4, IPv6 and Unix-domain listeners.
#include "server_support.hpp"

using namespace grove::http;
using namespace grove::http::test;

namespace {
Response echo_info(Request& req) {
  std::string body = std::string(req.method()) + "|" + std::string(req.target()) + "|" +
                     std::string(req.path()) + "|" + std::string(req.query()) + "|" +
                     std::string(req.version_string()) + "|" + std::string(req.host()) + "|" +
                     req.remote_addr() + "|" + std::string(req.headers().get_or("x-test", "")) +
                     "|" + req.read_body();
  return Response::text(body);
}
}  // namespace

TEST_CASE("GET: status line, Date, Server, Content-Length and the request as the app sees it") {
  ServerThread st(echo_info);
  auto r = request(st.port(),
                   "GET /a%20b/c?x=1&y=2 HTTP/1.1\r\nHost: example:80\r\nX-Test: yes\r\n\r\n");
  CHECK(r.version == "HTTP/1.1");
  CHECK(r.status == 200);
  CHECK(r.reason == "OK");
  CHECK(r.body == "GET|/a%20b/c?x=1&y=2|/a b/c|x=1&y=2|HTTP/1.1|example:80|127.0.0.1|yes|");
  CHECK(r.header("content-length") == std::to_string(r.body.size()));
  CHECK(r.header("server") == "grove");
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  std::string date = r.header("date");
  REQUIRE(date.size() == 29);
  CHECK(date.substr(25) == " GMT");
  CHECK(date[3] == ',');
}

TEST_CASE("HEAD gets the GET headers and no body") {
  ServerThread st([](Request&) { return Response::text("twelve bytes"); });
  Socket s = Socket::tcp(st.port());
  s.send("HEAD / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n");
  ResponseReader rr(s);
  auto head = rr.next(/*head=*/true);
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->header("content-length") == "12");
  // The next response follows immediately: no body bytes were sent for HEAD.
  auto get = rr.next();
  REQUIRE(get);
  CHECK(get->body == "twelve bytes");
}

TEST_CASE("HEAD of a streamed response runs no producer and sends no body") {
  std::atomic<int> produced{0};
  ServerThread st([&](Request&) {
    return Response::streamed([&](BodyWriter& w) {
      ++produced;
      w.write("data");
    });
  });
  Socket s = Socket::tcp(st.port());
  s.send("HEAD / HTTP/1.1\r\nHost: t\r\n\r\nGET /x HTTP/1.1\r\nHost: t\r\n\r\n");
  ResponseReader rr(s);
  auto head = rr.next(true);
  REQUIRE(head);
  CHECK(head->header("transfer-encoding") == "chunked");
  auto get = rr.next();
  REQUIRE(get);
  CHECK(get->body == "data");
  CHECK(produced == 1);
}

TEST_CASE("HTTP/1.1 keeps the connection open and Connection: close closes it") {
  ServerThread st([](Request&) { return Response::text("ok"); });
  Socket s = Socket::tcp(st.port());
  ResponseReader rr(s);
  for (int i = 0; i < 5; ++i) {
    s.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    auto r = rr.next();
    REQUIRE(r);
    CHECK_FALSE(r->has("connection"));
  }
  s.send("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  auto last = rr.next();
  REQUIRE(last);
  CHECK(last->header("connection") == "close");
  CHECK(s.closed_by_peer());
}

TEST_CASE("HTTP/1.0 closes unless keep-alive is asked for") {
  ServerThread st([](Request&) { return Response::text("ok"); });
  {
    Socket s = Socket::tcp(st.port());
    s.send("GET / HTTP/1.0\r\n\r\n");
    bool closed = false;
    std::string all = s.recv_all(3000ms, &closed);
    CHECK(closed);
    CHECK(all.find("Connection: close") != std::string::npos);
    CHECK(all.substr(all.size() - 2) == "ok");
  }
  {
    Socket s = Socket::tcp(st.port());
    ResponseReader rr(s);
    for (int i = 0; i < 3; ++i) {
      s.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
      auto r = rr.next();
      REQUIRE(r);
      CHECK(r->header("connection") == "keep-alive");
    }
  }
}

TEST_CASE("an application's Connection: close is honoured, its framing headers are not trusted") {
  ServerThread st([](Request& req) {
    Response r = Response::text("body");
    if (req.path() == "/close") r.headers.set("Connection", "close");
    r.headers.set("Content-Length", "999");
    r.headers.set("Transfer-Encoding", "gzip");
    return r;
  });
  auto r = get(st.port(), "/x");
  CHECK(r.header("content-length") == "4");
  CHECK_FALSE(r.has("transfer-encoding"));
  Socket s = Socket::tcp(st.port());
  s.send("GET /close HTTP/1.1\r\nHost: t\r\n\r\n");
  ResponseReader rr(s);
  auto c = rr.next();
  REQUIRE(c);
  CHECK(c->header("connection") == "close");
  CHECK(s.closed_by_peer());
}

TEST_CASE("statuses without a body: 204 and 304 carry no Content-Length and no body") {
  ServerThread st(
      [](Request& req) { return Response(req.path() == "/204" ? 204 : 304, "ignored"); });
  Socket s = Socket::tcp(st.port());
  s.send("GET /204 HTTP/1.1\r\nHost: t\r\n\r\nGET /304 HTTP/1.1\r\nHost: t\r\n\r\n");
  ResponseReader rr(s);
  auto a = rr.next();
  auto b = rr.next();
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->status == 204);
  CHECK_FALSE(a->has("content-length"));
  CHECK(b->status == 304);
  CHECK(rr.leftover().empty());
}

TEST_CASE("custom reason phrases and headers reach the client in order") {
  ServerThread st([](Request&) {
    Response r(299, "x");
    r.reason = "Fine Enough";
    r.headers.add("Set-Cookie", "a=1");
    r.headers.add("Set-Cookie", "b=2");
    return r;
  });
  auto r = get(st.port());
  CHECK(r.status == 299);
  CHECK(r.reason == "Fine Enough");
  std::vector<std::string> cookies;
  for (auto& [k, v] : r.headers)
    if (k == "Set-Cookie") cookies.push_back(v);
  CHECK(cookies == std::vector<std::string>{"a=1", "b=2"});
}

TEST_CASE("IPv6 and Unix-domain listeners serve beside IPv4") {
  std::string dir = temp_dir();
  std::string path = dir + "/s.sock";
  ServerConfig cfg;
  cfg.binds = {"127.0.0.1:0", "[::1]:0", "unix:" + path};
  std::optional<ServerThread> st;
  try {
    st.emplace(echo_info, cfg);
  } catch (const std::system_error& e) {
    // No IPv6 on this machine's loopback: test the others.
    WARN("IPv6 unavailable: " << e.what());
    cfg.binds = {"127.0.0.1:0", "unix:" + path};
    st.emplace(echo_info, cfg);
  }
  auto addrs = st->addresses();
  for (auto& a : addrs) {
    INFO(a);
    if (a.rfind("unix:", 0) == 0) {
      CHECK(a == "unix:" + path);
      Socket s = Socket::unix_socket(path);
      s.send("GET /u HTTP/1.1\r\nHost: t\r\n\r\n");
      ResponseReader rr(s);
      auto r = rr.next();
      REQUIRE(r);
      CHECK(r->body.find("|unix:|") != std::string::npos);
    } else if (a[0] == '[') {
      int port = std::stoi(a.substr(a.rfind(':') + 1));
      Socket s = Socket::tcp(port, /*v6=*/true);
      s.send("GET /v6 HTTP/1.1\r\nHost: t\r\n\r\n");
      ResponseReader rr(s);
      auto r = rr.next();
      REQUIRE(r);
      CHECK(r->body.find("|::1|") != std::string::npos);
    } else {
      CHECK(get(st->port(), "/v4").body.find("|127.0.0.1|") != std::string::npos);
    }
  }
  st->stop();
  // The socket file is removed at stop.
  struct stat sb;
  CHECK(::stat(path.c_str(), &sb) != 0);
  ::rmdir(dir.c_str());
}

TEST_CASE("a bad bind address or a busy port fails listen() with a message") {
  CHECK_THROWS_WITH(ServerThread([](Request&) { return Response(); },
                                 [] {
                                   ServerConfig c;
                                   c.binds = {"nohost"};
                                   return c;
                                 }()),
                    Catch::Contains("missing :port"));
  ServerThread first([](Request&) { return Response(); });
  ServerConfig busy;
  busy.binds = {"127.0.0.1:" + std::to_string(first.port())};
  CHECK_THROWS_WITH(ServerThread([](Request&) { return Response(); }, busy),
                    Catch::Contains("cannot bind 127.0.0.1:"));
}
