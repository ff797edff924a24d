// The transport seam (server/src/transport.hpp) over real sockets: a plain transport reads
// and writes a TCP and a Unix socket, reports pending input, sends a file with sendfile,
// ends its sending side in order, and gives its socket up for a handover.
#include "server_support.hpp"

#include "transport.hpp"

#include <cstdio>

using namespace grove::http;
using namespace grove::http::detail;
using namespace grove::http::test;

namespace {

// A connected pair: the server side as a transport (non-blocking), the client as a Socket.
struct Pair {
  Transport server;
  Socket client;
};

Pair unix_pair() {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
  int flags = ::fcntl(sv[1], F_GETFL);
  ::fcntl(sv[1], F_SETFL, flags & ~O_NONBLOCK);
  return {PlainTransport(sv[0]), Socket(sv[1])};
}

Pair tcp_pair() {
  int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  REQUIRE(::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(l, 1) == 0);
  REQUIRE(::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  Socket client = Socket::tcp(ntohs(a.sin_port));
  int fd = ::accept4(l, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  ::close(l);
  REQUIRE(fd >= 0);
  return {PlainTransport(fd), std::move(client)};
}

IoResult read_some(Transport& t, std::string& into) {
  char buf[4096];
  auto r = with_transport(t, [&](auto& x) { return x.read(buf, sizeof buf); });
  if (r.status == IoResult::Status::done) into.append(buf, r.bytes);
  return r;
}

}  // namespace

TEST_CASE("a plain transport moves bytes both ways on TCP and Unix sockets") {
  for (bool tcp : {true, false}) {
    INFO((tcp ? "tcp" : "unix"));
    Pair p = tcp ? tcp_pair() : unix_pair();
    std::string got;
    CHECK(read_some(p.server, got).status == IoResult::Status::would_block);
    CHECK(!with_transport(p.server, [](auto& t) { return t.has_pending_input(); }));
    p.client.send("ping");
    auto until = SteadyClock::now() + 5s;
    while (!with_transport(p.server, [](auto& t) { return t.has_pending_input(); }) &&
           SteadyClock::now() < until)
      std::this_thread::sleep_for(1ms);
    CHECK(read_some(p.server, got).bytes == 4);
    CHECK(got == "ping");
    iovec iov[2] = {{const_cast<char*>("po"), 2}, {const_cast<char*>("ng"), 2}};
    auto w = with_transport(p.server, [&](auto& t) { return t.write(iov, 2); });
    CHECK(w.status == IoResult::Status::done);
    CHECK(w.bytes == 4);
    CHECK(p.client.recv_some() == "pong");
    // An orderly end of the sending side: the client reads EOF, and can still send.
    with_transport(p.server, [](auto& t) { t.shutdown_write(); });
    CHECK(p.client.recv_some() == "");
    p.client.send("after");
    got.clear();
    until = SteadyClock::now() + 5s;
    while (got.size() < 5 && SteadyClock::now() < until) read_some(p.server, got);
    CHECK(got == "after");
  }
}

TEST_CASE("a plain transport sends a file with sendfile, from an offset") {
  Pair p = tcp_pair();
  std::FILE* f = std::tmpfile();
  REQUIRE(f);
  std::string content;
  for (int i = 0; i < 10000; ++i) content += std::to_string(i) + ",";
  std::fwrite(content.data(), 1, content.size(), f);
  std::fflush(f);
  off_t offset = 10;
  std::size_t left = content.size() - 10;
  std::string got;
  std::thread reader([&] { got = p.client.recv_all(5000ms); });
  while (left > 0) {
    auto r =
        with_transport(p.server, [&](auto& t) { return t.send_file(::fileno(f), offset, left); });
    REQUIRE(r.status != IoResult::Status::error);
    if (r.status == IoResult::Status::done) left -= r.bytes;
    else std::this_thread::sleep_for(1ms);
  }
  CHECK(offset == off_t(content.size()));
  p.server = PlainTransport();  // closes: the reader sees the end
  reader.join();
  std::fclose(f);
  CHECK(got == content.substr(10));
}

TEST_CASE("a transport hands its socket over without closing it") {
  Pair p = unix_pair();
  Transport moved = std::move(p.server);  // what Handover carries
  int fd = with_transport(moved, [](auto& t) { return t.fd(); });
  CHECK(with_transport(p.server, [](auto& t) { return t.fd(); }) == -1);
  int released = with_transport(moved, [](auto& t) { return t.release(); });
  CHECK(released == fd);
  moved = PlainTransport();  // destroying the released transport closes nothing
  CHECK(::write(released, "x", 1) == 1);
  CHECK(p.client.recv_some() == "x");
  ::close(released);
}
