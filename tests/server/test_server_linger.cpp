// Every close that may leave client bytes unread is a lingering close: the server shuts
// its sending side, then reads and drops what the client still sends, so the kernel never
// answers those bytes with a reset that could destroy the response (RFC 9112 §9.6). Each
// test leaves bytes unread in the server's socket when the server decides to close, then
// checks that the client reads the whole response and an orderly end (EOF), not
// ECONNRESET; where the server is not stopping, the client also sends more after that end
// and must still read EOF, not a reset.
#include "server_support.hpp"

#include <grove/http/detail/http1.hpp>

using namespace grove::http;
using namespace grove::http::test;

namespace {

std::atomic<bool> g_in_slow{false};

Response app(Request& req) {
  if (req.path() == "/read")
    return Response::text("read " + std::to_string(req.read_body().size()));
  if (req.path() == "/slow") {
    g_in_slow = true;
    grove::green::sleep(300ms);
    return Response::text("slow");
  }
  return Response::text("ignored");
}

struct Ending {
  std::string bytes;
  bool eof = false;
  bool reset = false;
};

// Reads until the server ends the connection (or 5 s pass).
Ending read_to_end(const Socket& s) {
  Ending e;
  auto until = SteadyClock::now() + 5s;
  while (SteadyClock::now() < until) {
    pollfd p{s.fd(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[65536];
    ssize_t n = ::recv(s.fd(), buf, sizeof buf, 0);
    if (n > 0) {
      e.bytes.append(buf, std::size_t(n));
    } else if (n == 0) {
      e.eof = true;
      break;
    } else if (errno != EINTR) {
      e.reset = errno == ECONNRESET;
      break;
    }
  }
  return e;
}

// Sends `bytes` from another thread (the server may stop reading them for a while).
class Sender {
 public:
  Sender(const Socket& s, std::string bytes)
      : thread_([fd = s.fd(), bytes = std::move(bytes)] {
          std::string_view rest = bytes;
          while (!rest.empty()) {
            ssize_t n = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return;  // reset: the test sees it on the reading side
            rest.remove_prefix(std::size_t(n));
          }
        }) {}
  ~Sender() { thread_.join(); }

 private:
  std::thread thread_;
};

// The response arrived whole and the connection ended in order; then bytes sent after
// the end are dropped by the lingering server, not answered with a reset.
void expect_orderly_close(const Socket& s, int status, std::string_view body,
                          bool send_after = true) {
  Ending e = read_to_end(s);
  auto r = detail::parse_response(e.bytes);
  REQUIRE(r);
  CHECK(r->status == status);
  CHECK(r->body == body);
  CHECK(r->field("connection") == "close");
  CHECK(r->size == e.bytes.size());  // nothing after the response
  CHECK(!e.reset);
  CHECK(e.eof);
  if (!send_after) return;
  CHECK(s.try_send(std::string(4096, 'x')));
  std::this_thread::sleep_for(100ms);  // for a reset, if one comes, to arrive
  char b;
  errno = 0;
  ssize_t n = ::recv(s.fd(), &b, 1, MSG_DONTWAIT);
  INFO("recv after the end: " << n << " " << std::strerror(errno));
  CHECK(n == 0);
}

const std::string kUnread(256 * 1024, 'u');  // far more than the server reads at once

}  // namespace

TEST_CASE("a body error found by the application: the 400 arrives whole, no reset") {
  ServerThread st(app);
  Socket s = Socket::tcp(st.port());
  Sender send(
      s, "POST /read HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + kUnread);
  expect_orderly_close(s, 400, "400 Bad Request: invalid chunk size\n");
}

TEST_CASE("an ignored body over the drain limit: the response arrives whole, no reset") {
  ServerThread st(app);
  Socket s = Socket::tcp(st.port());
  Sender send(s, "POST /ignore HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                     std::to_string(kUnread.size()) + "\r\n\r\n" + kUnread);
  expect_orderly_close(s, 200, "ignored");
}

TEST_CASE("a request pipelined after Connection: close is dropped, no reset") {
  ServerThread st(app);
  Socket s = Socket::tcp(st.port());
  Sender send(s,
              "GET /first HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
              "POST /second HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                  std::to_string(kUnread.size()) + "\r\n\r\n" + kUnread);
  expect_orderly_close(s, 200, "ignored");
}

TEST_CASE("a stop with a request arriving behind the one in flight: no reset") {
  ServerThread st(app);
  g_in_slow = false;
  Socket s = Socket::tcp(st.port());
  s.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
  auto until = SteadyClock::now() + 5s;
  while (!g_in_slow && SteadyClock::now() < until) std::this_thread::sleep_for(1ms);
  REQUIRE(g_in_slow);
  // The next request reaches the server's socket while the application runs; then the
  // stop begins, so the response closes the connection with that request unread.
  s.send("GET /next HTTP/1.1\r\nHost: t\r\n\r\n");
  st.server().stop_threadsafe(5s);
  expect_orderly_close(s, 200, "slow", /*send_after=*/false);
}
