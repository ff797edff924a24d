// fd readiness, worker threads, name resolution, TCP sockets against a local echo server.
#include "aio_support.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

using namespace grove;
using namespace grove::aio::test;
namespace aio = grove::aio;

namespace {

struct Pair {
  int a = -1, b = -1;
  Pair() { REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, &a) == 0); }
  ~Pair() {
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
  }
};

// An echo server on 127.0.0.1 (ephemeral port), built from the aio sockets themselves.
// stop() cancels the accept loop and every connection, and waits for them.
class EchoServer {
 public:
  EchoServer() : listener_(aio::listen("127.0.0.1", 0)) {
    accept_loop_ = aio::create_task(accept_loop(), "echo-accept");
  }
  std::uint16_t port() const { return listener_.port(); }
  int connections() const { return connections_; }

  aio::Task<void> stop() {
    accept_loop_.cancel();
    for (auto& c : handlers_) c.cancel();
    co_await aio::gather(aio::return_exceptions, std::move(handlers_));
    try {
      co_await accept_loop_;
    } catch (const aio::CancelledError&) {
    }
  }

 private:
  aio::Task<void> accept_loop() {
    for (;;) {
      aio::Socket conn = co_await listener_.accept();
      ++connections_;
      handlers_.push_back(aio::create_task(echo(std::move(conn))));
    }
  }
  static aio::Task<void> echo(aio::Socket conn) {
    for (;;) {
      std::string data = co_await conn.recv_some(65536);
      if (data.empty()) co_return;  // the client closed its side
      co_await conn.send(data);
    }
  }

  aio::Listener listener_;
  aio::TaskHandle<void> accept_loop_;
  std::vector<aio::TaskHandle<void>> handlers_;
  int connections_ = 0;
};

aio::Task<std::string> recv_exactly(aio::Socket& s, std::size_t n) {
  std::string out;
  while (out.size() < n) {
    std::string part = co_await s.recv_some(n - out.size(), 5s);
    if (part.empty()) throw std::runtime_error("unexpected end of stream");
    out += part;
  }
  co_return out;
}

std::uint16_t unused_port() {
  aio::Listener l = aio::listen("127.0.0.1", 0);
  return l.port();  // closed on return: nothing listens there now
}

}  // namespace

TEST_CASE("wait_readable and wait_writable report readiness", "[io]") {
  aio::run([]() -> aio::Task<void> {
    Pair p;
    Events w = co_await aio::wait_writable(p.a, 1s);
    CHECK(w == Events::write);
    auto writer = aio::create_task(aio::co_invoke([&]() -> aio::Task<void> {
      co_await aio::sleep(2ms);
      REQUIRE(::write(p.b, "x", 1) == 1);
    }));
    Events r = co_await aio::wait_readable(p.a, 1s);
    CHECK(r == Events::read);
    co_await writer;
  }());
}

TEST_CASE("wait_readable times out with TimeoutError", "[io]") {
  aio::run([]() -> aio::Task<void> {
    Pair p;
    std::string what;
    try {
      co_await aio::wait_readable(p.a, 10ms);
    } catch (const aio::TimeoutError& e) {
      what = e.what();
    }
    CHECK_THAT(what, Catch::Contains("wait_readable timed out after 10 ms"));
  }());
}

TEST_CASE("a wait on an fd that the loop is told is closing returns Events::closed", "[io]") {
  aio::run([]() -> aio::Task<void> {
    Pair p;
    auto waiter = aio::create_task(aio::co_invoke(
        [&]() -> aio::Task<Events> { co_return co_await aio::wait_readable(p.a, 5s); }));
    co_await aio::sleep(1ms);
    aio::get_running_loop().close_fd(std::exchange(p.a, -1));
    const Events e = co_await waiter;
    CHECK(e == Events::closed);
  }());
}

TEST_CASE("waiting on a bad fd throws at the await point", "[io]") {
  aio::run([]() -> aio::Task<void> {
    bool threw = false;
    try {
      co_await aio::wait_readable(-1);
    } catch (const std::system_error& e) {
      threw = e.code().value() == EBADF;
    }
    CHECK(threw);
  }());
}

TEST_CASE("to_thread runs on another thread and returns value or exception", "[io][tsan]") {
  aio::run([]() -> aio::Task<void> {
    const auto loop_thread = std::this_thread::get_id();
    std::thread::id job_thread;
    const int v = co_await aio::to_thread([&] {
      job_thread = std::this_thread::get_id();
      return 41 + 1;
    });
    CHECK(v == 42);
    CHECK(job_thread != loop_thread);
    bool threw = false;
    try {
      co_await aio::to_thread([]() -> int { throw std::domain_error("in thread"); });
    } catch (const std::domain_error& e) {
      threw = std::string(e.what()) == "in thread";
    }
    CHECK(threw);
    co_await aio::to_thread([] {});  // void
  }());
}

TEST_CASE("name resolution goes through the pool and wakes the loop at once", "[io][tsan]") {
  aio::run([]() -> aio::Task<void> {
    // A referenced timer far away: if the result waited for "the next loop event", it
    // would arrive after 5 s.
    Timer far = aio::get_running_loop().call_later(5s, [] {});
    const auto start = clock_now();
    std::vector<aio::Address> addrs = co_await aio::resolve("localhost", 8080);
    CHECK(ms_since(start) < 2000);
    far.cancel();
    REQUIRE_FALSE(addrs.empty());
    for (const auto& a : addrs) {
      CHECK(a.port() == 8080);
      const std::string s = a.to_string();
      CHECK((s == "127.0.0.1:8080" || s == "[::1]:8080"));
    }
    std::vector<aio::Address> numeric = co_await aio::resolve("127.0.0.1", 1);
    REQUIRE(numeric.size() == 1);
    CHECK(numeric[0].to_string() == "127.0.0.1:1");
    bool failed = false;
    try {
      co_await aio::resolve("no-such-host.invalid", 80);
    } catch (const std::runtime_error& e) {
      failed = std::string(e.what()).find("no-such-host.invalid") != std::string::npos;
    }
    CHECK(failed);
  }());
}

TEST_CASE("TCP echo: connect, send, recv, close against a local server", "[io][net]") {
  aio::run([]() -> aio::Task<void> {
    EchoServer server;
    aio::Socket s = co_await aio::connect("127.0.0.1", server.port(), 2s);
    CHECK(s.is_open());
    CHECK(s.peer_address().port() == server.port());
    co_await s.send("hello, echo");
    std::string got = co_await recv_exactly(s, 11);
    CHECK(got == "hello, echo");
    s.shutdown_write();
    std::string end = co_await s.recv_some(16, 2s);
    CHECK(end.empty());  // the server closed after our end of stream
    s.close();
    CHECK_FALSE(s.is_open());
    co_await server.stop();
  }());
}

TEST_CASE("TCP echo: several clients at once and a payload larger than the buffers",
          "[io][net][tsan]") {
  aio::run([]() -> aio::Task<void> {
    EchoServer server;
    auto client = [](std::uint16_t port, int id) -> aio::Task<bool> {
      aio::Socket s = co_await aio::connect("localhost", port, 2s);  // through the resolver
      std::string payload(2 * 1024 * 1024 + id, char('a' + id));
      // Send and receive concurrently: the echo comes back while we are still sending.
      auto sender = aio::create_task(s.send(payload, 5s));
      std::string echoed = co_await recv_exactly(s, payload.size());
      co_await sender;
      co_return echoed == payload;
    };
    auto [a, b, c] = co_await aio::gather(client(server.port(), 0), client(server.port(), 1),
                                          client(server.port(), 2));
    CHECK(a);
    CHECK(b);
    CHECK(c);
    CHECK(server.connections() == 3);
    co_await server.stop();
  }());
}

TEST_CASE("connecting to a closed port says refused and names the address", "[io][net]") {
  aio::run([]() -> aio::Task<void> {
    const std::uint16_t port = unused_port();
    std::string what;
    int code = 0;
    try {
      co_await aio::connect("127.0.0.1", port, 2s);
    } catch (const std::system_error& e) {
      what = e.what();
      code = e.code().value();
    }
    CHECK(code == ECONNREFUSED);
    CHECK_THAT(what, Catch::Contains("127.0.0.1:" + std::to_string(port)));
  }());
}

TEST_CASE("recv and accept time out with TimeoutError naming the operation", "[io][net]") {
  aio::run([]() -> aio::Task<void> {
    aio::Listener listener = aio::listen("127.0.0.1", 0);
    std::string accept_error;
    try {
      co_await listener.accept(10ms);
    } catch (const aio::TimeoutError& e) {
      accept_error = e.what();
    }
    CHECK_THAT(accept_error, Catch::Contains("accept") && Catch::Contains("timed out"));

    auto accepted = aio::create_task(listener.accept(2s));
    aio::Socket client = co_await aio::connect("127.0.0.1", listener.port(), 2s);
    aio::Socket server_side = co_await accepted;
    std::string recv_error;
    try {
      co_await client.recv_some(10, 15ms);
    } catch (const aio::TimeoutError& e) {
      recv_error = e.what();
    }
    CHECK_THAT(recv_error,
               Catch::Contains("recv from 127.0.0.1:" + std::to_string(listener.port())) &&
                   Catch::Contains("timed out after 15 ms"));
  }());
}

TEST_CASE("closing a socket fails the operation waiting on it", "[io][net]") {
  aio::run([]() -> aio::Task<void> {
    Pair p;
    aio::Socket s(std::exchange(p.a, -1));
    auto reader = aio::create_task(s.recv_some(10));
    co_await aio::sleep(1ms);
    s.close();
    int code = 0;
    try {
      co_await reader;
    } catch (const std::system_error& e) {
      code = e.code().value();
    }
    CHECK(code == ECANCELED);
    bool closed_error = false;
    try {
      co_await s.recv_some(10);
    } catch (const std::system_error& e) {
      closed_error = e.code().value() == EBADF;
    }
    CHECK(closed_error);
  }());
}

TEST_CASE("two tasks receiving on one socket at once is refused", "[io][net]") {
  aio::run([]() -> aio::Task<void> {
    Pair p;
    aio::Socket s(std::exchange(p.a, -1));
    auto first = aio::create_task(s.recv_some(10));
    co_await aio::sleep(1ms);
    bool refused = false;
    try {
      co_await s.recv_some(10, 1s);
    } catch (const aio::InvalidStateError&) {
      refused = true;
    }
    CHECK(refused);
    REQUIRE(::write(p.b, "ok", 2) == 2);
    std::string got = co_await first;
    CHECK(got == "ok");
  }());
}
