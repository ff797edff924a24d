// Timeouts: the header, body, keep-alive and write limits hold, a slow client holds only
// its own green thread, and slowloris-style clients are cut off in bounded time.
#include "server_support.hpp"

using namespace grove::http;
using namespace grove::http::test;

namespace {
ServerConfig short_timeouts() {
  ServerConfig cfg;
  cfg.header_timeout = 300ms;
  cfg.body_timeout = 300ms;
  cfg.keepalive_timeout = 300ms;
  cfg.write_timeout = 300ms;
  return cfg;
}
Response echo(Request& req) { return Response::text(req.read_body()); }
}  // namespace

TEST_CASE("a connection that sends nothing is closed after the header timeout") {
  ServerThread st(echo, short_timeouts());
  Socket s = Socket::tcp(st.port());
  auto t0 = SteadyClock::now();
  CHECK(s.closed_by_peer(3000ms));
  double took = seconds_since(t0);
  CHECK(took >= 0.25);
  CHECK(took < 2.0);
}

TEST_CASE("a head dribbled byte by byte gets 408 once the header timeout has passed") {
  ServerThread st(echo, short_timeouts());
  Socket s = Socket::tcp(st.port());
  std::string head = "GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + std::string(200, 'a') + "\r\n\r\n";
  auto t0 = SteadyClock::now();
  std::size_t i = 0;
  // One byte every 20 ms would take > 4 s; the server cuts it at about 0.3 s.
  for (; i < head.size() && seconds_since(t0) < 3.0; ++i) {
    if (!s.try_send(head.substr(i, 1))) break;
    std::this_thread::sleep_for(20ms);
    pollfd p{s.fd(), POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) break;
  }
  bool closed = false;
  std::string all = s.recv_all(2000ms, &closed);
  CHECK(closed);
  CHECK(all.rfind("HTTP/1.1 408", 0) == 0);
  CHECK(seconds_since(t0) < 2.0);
  CHECK(i < head.size());
}

TEST_CASE("slowloris: many dribbling clients neither exhaust the server nor slow the others") {
  ServerConfig cfg = short_timeouts();
  cfg.header_timeout = 1s;
  ServerThread st(echo, cfg);
  std::vector<Socket> slow;
  for (int i = 0; i < 200; ++i) {
    slow.push_back(Socket::tcp(st.port()));
    slow.back().send("GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ");
  }
  // Normal clients are served promptly meanwhile.
  auto t0 = SteadyClock::now();
  for (int i = 0; i < 20; ++i) CHECK(get(st.port(), "/fast").status == 200);
  CHECK(seconds_since(t0) < 2.0);
  // Keep dribbling; every slow client is cut off within the bound.
  for (int round = 0; round < 5; ++round) {
    for (auto& s : slow) s.try_send("a");
    std::this_thread::sleep_for(100ms);
  }
  auto t1 = SteadyClock::now();
  int closed = 0;
  for (auto& s : slow) closed += s.closed_by_peer(3000ms) ? 1 : 0;
  CHECK(closed == 200);
  CHECK(seconds_since(t1) < 4.0);
}

TEST_CASE("an idle keep-alive connection is closed after the keep-alive timeout") {
  ServerThread st(echo, short_timeouts());
  Socket s = Socket::tcp(st.port());
  s.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
  ResponseReader rr(s);
  REQUIRE(rr.next());
  auto t0 = SteadyClock::now();
  CHECK(s.closed_by_peer(3000ms));
  CHECK(seconds_since(t0) >= 0.2);
  CHECK(seconds_since(t0) < 2.0);
}

TEST_CASE("a stalled body gets 408 after the body timeout") {
  ServerThread st(echo, short_timeouts());
  Socket s = Socket::tcp(st.port());
  s.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly a little");
  auto t0 = SteadyClock::now();
  bool closed = false;
  std::string all = s.recv_all(3000ms, &closed);
  CHECK(all.rfind("HTTP/1.1 408", 0) == 0);
  CHECK(closed);
  CHECK(seconds_since(t0) < 2.0);
}

TEST_CASE("a client that stops reading a large response is dropped after the write timeout") {
  std::atomic<bool> finished{false};
  ServerThread st(
      [&](Request& req) {
        if (req.path() != "/huge") return Response::text("small");
        auto r = Response::streamed([&](BodyWriter& w) {
          std::string piece(256 * 1024, 'w');
          for (int i = 0; i < 400; ++i) w.write(piece);  // 100 MB: far more than socket buffers
          finished = true;
        });
        return r;
      },
      short_timeouts());
  Socket s = Socket::tcp(st.port());
  int small = 4096;
  ::setsockopt(s.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  s.send("GET /huge HTTP/1.1\r\nHost: t\r\n\r\n");
  // Never read. Meanwhile the server answers others.
  std::this_thread::sleep_for(100ms);
  CHECK(get(st.port(), "/").status == 200);
  std::this_thread::sleep_for(1000ms);
  CHECK_FALSE(finished.load());
  // The server gave up on it: reading now finds the end of a cut-short response.
  bool closed = false;
  std::string got = s.recv_all(10000ms, &closed);
  CHECK(closed);
  CHECK(got.size() < std::size_t(100) * 1024 * 1024);
  CHECK_FALSE(finished.load());
}

TEST_CASE("a slow application holds only its own connection") {
  ServerThread st([](Request& req) {
    if (req.path() == "/slow") grove::green::sleep(2s);
    return Response::text("done");
  });
  std::atomic<bool> slow_done{false};
  std::string slow_body;
  std::thread slow_client([&] {
    Socket s = Socket::tcp(st.port());
    s.send("GET /slow HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    slow_body = s.recv_all(5000ms);
    slow_done = true;
  });
  std::this_thread::sleep_for(50ms);
  // Ten requests on other connections complete while the slow one is still running.
  for (int i = 0; i < 10; ++i) CHECK(get(st.port(), "/quick").body == "done");
  CHECK_FALSE(slow_done.load());
  slow_client.join();
  CHECK(slow_body.find("done") != std::string::npos);
}
