// The HTTPS proof (issue 14, under compat): libcurl's blocking easy API fetching over TLS,
// and a server written with OpenSSL's blocking API (SSL_accept, SSL_read, SSL_write on
// blocking sockets), both unmodified, running concurrently in green threads of a patched
// process. The time bound is the correctness bound (concurrent, not sequential).
#include "compat_support.hpp"
#include "curl_fetch.hpp"
#include "test_certs.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <thread>

using namespace grove::test;

namespace {

// An HTTPS endpoint on loopback answering every request after `delay`: a blocking accept
// loop and one green thread per connection, with OpenSSL's blocking calls throughout.
class TlsDelayServer {
 public:
  TlsDelayServer(const CertFiles& pair, std::chrono::milliseconds delay)
      : ctx_(SSL_CTX_new(TLS_server_method())), delay_(delay) {
    REQUIRE(SSL_CTX_use_certificate_chain_file(ctx_, pair.cert.c_str()) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey_file(ctx_, pair.key.c_str(), SSL_FILETYPE_PEM) == 1);
    acceptor_ = green::spawn(green::SpawnOptions{"tls-acceptor"}, [this] {
      for (;;) {
        int c = ::accept4(listener_.fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        green::spawn(green::SpawnOptions{"tls-conn", 256 * 1024}, [this, c] { serve(c); });
      }
    });
  }
  ~TlsDelayServer() {
    acceptor_.kill();
    SSL_CTX_free(ctx_);
  }
  int port() const { return listener_.port; }
  int served() const { return served_; }

 private:
  void serve(int c) {
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, c);
    std::string request;
    char buf[2048];
    bool ok = SSL_accept(ssl) == 1;
    while (ok && request.find("\r\n\r\n") == std::string::npos) {
      int n = SSL_read(ssl, buf, sizeof buf);
      if (n <= 0) ok = false;
      else request.append(buf, std::size_t(n));
    }
    if (ok) {
      std::this_thread::sleep_for(delay_);
      static const char response[] =
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
          "Connection: close\r\n\r\nok";
      if (SSL_write(ssl, response, sizeof response - 1) == int(sizeof response - 1)) ++served_;
      SSL_shutdown(ssl);
    }
    ERR_clear_error();
    SSL_free(ssl);
    ::close(c);
  }

  SSL_CTX* ctx_;
  std::chrono::milliseconds delay_;
  Listener listener_{512};
  green::Handle<void> acceptor_;
  int served_ = 0;
};

}  // namespace

TEST_CASE("proof: 50 libcurl HTTPS transfers to a blocking OpenSSL server run concurrently",
          "[compat][proof][tls]") {
  compat::patch_all();
  curl_global_init(CURL_GLOBAL_DEFAULT);
  TestCertificates certs;
  TlsDelayServer server(certs.server, 100ms);
  const std::string url = "https://localhost:" + std::to_string(server.port()) + "/delay";
  ConcurrentRun run = run_concurrently(
      50, [&url, &certs] { return fetch(url, certs.ca.cert); }, "200 ok");
  INFO("50 HTTPS transfers took " << run.ms << " ms");
  CHECK(run.matched == 50);
  CHECK(run.ms >= 100);
  CHECK(run.ms < 2500);  // overlapped: at most half of the 5 s they take one after another
  CHECK(server.served() == 50);
}
