// The TLS transport (server/src/tls_transport.hpp) over real loopback TCP sockets, against
// a real OpenSSL client doing blocking I/O on its own thread: the handshake, a request in
// and a response larger than the socket buffers out, pending input, close_notify, the
// peer's end, a plain HTTP request and a ClientHello that never completes.
#include "test_certs.hpp"

#include "tls_transport.hpp"

#include <catch2/catch.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <future>
#include <thread>
#include <vector>

using namespace grove::http;
using namespace grove::http::detail;
using Status = IoResult::Status;

namespace {

// A connected loopback TCP pair: the server end non-blocking, the client end blocking.
std::pair<int, int> tcp_pair() {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(listener, 1) == 0);
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  // Small buffers, so that a few hundred KiB fill them and the server's writes block.
  int small = 64 * 1024;
  ::setsockopt(client, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  int server = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  ::close(listener);
  REQUIRE(server >= 0);
  ::setsockopt(server, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  return {server, client};
}

// Waits (up to 10 s) for what the transport wants.
bool wait_for(const TlsTransport& t) {
  pollfd p{t.fd(), short(t.want() == TlsTransport::Want::read ? POLLIN : POLLOUT), 0};
  return ::poll(&p, 1, 10000) == 1;
}

// Runs op until it is not would_block.
IoResult drive(TlsTransport& t, const std::function<IoResult()>& op) {
  for (;;) {
    IoResult r = op();
    if (r.status != Status::would_block) return r;
    if (!wait_for(t)) return {Status::error, 0, ETIMEDOUT};
  }
}

// A blocking OpenSSL client on its own thread.
struct Client {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = nullptr;
  int fd;
  Client(int socket, const std::string& ca) : fd(socket) {
    SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set1_host(ssl, "localhost");
  }
  ~Client() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ::close(fd);
  }
  bool connect() { return SSL_connect(ssl) == 1; }
  std::string read_exactly(std::size_t n) {
    std::string out;
    char buf[8192];
    while (out.size() < n) {
      std::size_t got = 0;
      if (SSL_read_ex(ssl, buf, std::min(sizeof buf, n - out.size()), &got) != 1) break;
      out.append(buf, got);
    }
    return out;
  }
};

struct Fixture {
  grove::test::TestCertificates certs;
  TlsContext context{TlsConfig{.certificate = {certs.server.cert, certs.server.key}}};
};

}  // namespace

TEST_CASE("TLS transport: handshake then a request in and a large response out") {
  Fixture f;
  auto [server_fd, client_fd] = tcp_pair();
  TlsTransport t(server_fd, f.context);
  const std::string request = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
  const std::string response(4 << 20, 'r');  // far more than the socket buffers hold

  auto client = std::async(std::launch::async, [&, fd = client_fd] {
    Client c(fd, f.certs.ca.cert);
    if (!c.connect()) return std::string("connect failed");
    SSL_write(c.ssl, request.data(), int(request.size()));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the server's writes block
    return c.read_exactly(response.size());
  });

  REQUIRE(drive(t, [&] { return t.handshake(); }).status == Status::done);
  CHECK(t.facts().version == "TLSv1.3");
  CHECK(t.facts().server_name == "localhost");

  char buf[4096];
  IoResult r = drive(t, [&] { return t.read(buf, sizeof buf); });
  REQUIRE(r.status == Status::done);
  CHECK(std::string(buf, r.bytes) == request);

  std::size_t at = 0;
  bool blocked = false;
  while (at < response.size()) {
    iovec iov{const_cast<char*>(response.data() + at),
              std::min<std::size_t>(response.size() - at, 256 * 1024)};
    IoResult w = t.write(&iov, 1);
    if (w.status == Status::would_block) {
      blocked = true;
      REQUIRE(wait_for(t));
      continue;
    }
    REQUIRE(w.status == Status::done);
    at += w.bytes;
  }
  while (t.has_unsent_output()) REQUIRE(drive(t, [&] { return t.flush(); }).status == Status::done);
  CHECK(blocked);  // the would_block path was taken
  CHECK(client.get() == response);
}

TEST_CASE("TLS transport: small pieces of one write leave in one record") {
  Fixture f;
  auto [server_fd, client_fd] = tcp_pair();
  TlsTransport t(server_fd, f.context);
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", body = "hello";
  const std::string big(40000, 'b');  // more than a record: whole records, then the rest
  std::promise<void> small_written;
  auto client = std::async(std::launch::async, [&, fd = client_fd] {
    std::vector<std::string> records;
    Client c(fd, f.certs.ca.cert);
    if (!c.connect()) return records;
    small_written.get_future().wait();
    // One SSL_read returns at most one record's bytes.
    char buf[64 * 1024];
    std::size_t total = 0, got = 0;
    while (total < head.size() + body.size() + head.size() + big.size() + body.size() &&
           SSL_read_ex(c.ssl, buf, sizeof buf, &got) == 1) {
      records.emplace_back(buf, got);
      total += got;
    }
    return records;
  });
  REQUIRE(drive(t, [&] { return t.handshake(); }).status == Status::done);
  iovec small[2] = {{const_cast<char*>(head.data()), head.size()},
                    {const_cast<char*>(body.data()), body.size()}};
  REQUIRE(drive(t, [&] { return t.write(small, 2); }).bytes == head.size() + body.size());
  while (t.has_unsent_output()) REQUIRE(drive(t, [&] { return t.flush(); }).status == Status::done);
  small_written.set_value();
  iovec mixed[3] = {{const_cast<char*>(head.data()), head.size()},
                    {const_cast<char*>(big.data()), big.size()},
                    {const_cast<char*>(body.data()), body.size()}};
  REQUIRE(drive(t, [&] { return t.write(mixed, 3); }).bytes ==
          head.size() + big.size() + body.size());
  while (t.has_unsent_output()) REQUIRE(drive(t, [&] { return t.flush(); }).status == Status::done);
  auto records = client.get();
  REQUIRE(records.size() >= 2);
  CHECK(records[0] == head + body);  // not the head and then the body
  std::string rest;
  for (std::size_t i = 1; i < records.size(); ++i) rest += records[i];
  CHECK(rest == head + big + body);
  CHECK(records.size() == 1 + 3);  // 16 KiB, 16 KiB, the rest with the head and the body
}

TEST_CASE("TLS transport: pending input and the ends of the session") {
  Fixture f;
  auto [server_fd, client_fd] = tcp_pair();
  TlsTransport t(server_fd, f.context);
  std::promise<void> server_read;
  auto client = std::async(std::launch::async, [&, fd = client_fd] {
    Client c(fd, f.certs.ca.cert);
    if (!c.connect()) return -1;
    SSL_write(c.ssl, "one", 3);
    SSL_write(c.ssl, "two", 3);
    server_read.get_future().wait();
    // The server's close_notify, then ours.
    char b[8];
    int n = SSL_read(c.ssl, b, sizeof b);
    int err = SSL_get_error(c.ssl, n);
    SSL_shutdown(c.ssl);
    ::shutdown(fd, SHUT_WR);
    return err;
  });
  REQUIRE(drive(t, [&] { return t.handshake(); }).status == Status::done);
  char buf[2];
  IoResult r = drive(t, [&] { return t.read(buf, sizeof buf); });
  REQUIRE(r.status == Status::done);
  CHECK(std::string(buf, r.bytes) == "on");
  CHECK(t.has_pending_input());  // the rest of the record, decrypted
  CHECK_FALSE(t.drained());      // so the connection must not idle on the poller
  std::string rest;
  while (rest.size() < 4) {
    r = drive(t, [&] { return t.read(buf, sizeof buf); });
    REQUIRE(r.status == Status::done);
    REQUIRE(r.bytes > 0);
    rest.append(buf, r.bytes);
  }
  CHECK(rest == "etwo");
  CHECK_FALSE(t.has_pending_input());
  CHECK(t.drained());  // all the socket had, read: the poller reports what comes next
  server_read.set_value();
  t.shutdown_write();
  CHECK(client.get() == SSL_ERROR_ZERO_RETURN);  // the client saw a clean close_notify
  r = drive(t, [&] { return t.read(buf, sizeof buf); });
  CHECK(r.status == Status::done);
  CHECK(r.bytes == 0);  // the client's close_notify: the end
}

TEST_CASE("TLS transport: a plain HTTP request fails the handshake and is recognised") {
  Fixture f;
  auto [server_fd, client_fd] = tcp_pair();
  TlsTransport t(server_fd, f.context);
  const std::string request = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
  REQUIRE(::send(client_fd, request.data(), request.size(), 0) == ssize_t(request.size()));
  IoResult r = drive(t, [&] { return t.handshake(); });
  CHECK(r.status == Status::error);
  CHECK(t.plain_http());
  CHECK(t.failure().find("http request") != std::string::npos);
  CHECK(ERR_peek_error() == 0);
  ::close(client_fd);
}

TEST_CASE("TLS transport: a client that stops mid-handshake leaves it waiting for input") {
  Fixture f;
  auto [server_fd, client_fd] = tcp_pair();
  TlsTransport t(server_fd, f.context);
  // Half a ClientHello: the server wants more and says so, it does not block.
  const std::string partial("\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03", 11);
  REQUIRE(::send(client_fd, partial.data(), partial.size(), 0) == ssize_t(partial.size()));
  pollfd p{server_fd, POLLIN, 0};
  REQUIRE(::poll(&p, 1, 5000) == 1);
  IoResult r = t.handshake();
  CHECK(r.status == Status::would_block);
  CHECK(t.want() == TlsTransport::Want::read);
  // Then the peer goes: a failure with a reason, not a hang.
  ::close(client_fd);
  r = drive(t, [&] { return t.handshake(); });
  CHECK(r.status == Status::error);
  CHECK(t.failure() == "the peer closed the connection during the handshake");
}
