// OpenSSL's error queue and errno stay each green thread's own under compat (issue 14).
// The queue is per OS thread and shared by its green threads: here one green thread's
// SSL_read waits in a patched read() while a sibling's handshake fails (its peer answers in
// plain HTTP) and leaves its errors queued; the reader must still get SSL_get_error()'s
// true answer (not SSL_ERROR_SSL), and the sibling must find its own errors when it looks
// after a wait of its own, although the reader cleared "its" queue meanwhile. Blocking
// OpenSSL calls on blocking sockets throughout, as unmodified code makes them. Without the
// bracketing of compat's waits (compat/src/openssl_errors.hpp) all three checks fail.
#include "compat_support.hpp"
#include "test_certs.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <netinet/in.h>
#include <sys/socket.h>

using namespace grove::test;

namespace {

int connect_to(const Listener& l) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a = l.address();
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

// How the server ends the reader's connection once the sibling has failed.
enum class Ending { close_notify, reset };

struct Outcome {
  int read_ret = 99;
  int ssl_error = -1;
  int errno_after = -1;
  unsigned long queued_after = 0;   // the reader's queue after its SSL_read
  unsigned long sibling_first = 0;  // the sibling's first error, read after its wait
  int sibling_handshake_error = -1;
};

Outcome interleave(const TestCertificates& certs, Ending ending) {
  SSL_CTX* server_ctx = SSL_CTX_new(TLS_server_method());
  REQUIRE(SSL_CTX_use_certificate_chain_file(server_ctx, certs.server.cert.c_str()) == 1);
  REQUIRE(SSL_CTX_use_PrivateKey_file(server_ctx, certs.server.key.c_str(), SSL_FILETYPE_PEM) == 1);
  SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method());
  REQUIRE(SSL_CTX_load_verify_locations(client_ctx, certs.ca.cert.c_str(), nullptr) == 1);
  SSL_CTX_set_verify(client_ctx, SSL_VERIFY_PEER, nullptr);

  SSL_CTX_set_num_tickets(server_ctx, 0);  // nothing after the handshake but the ending
  Listener listener;                       // the reader's TLS server
  Listener garbage;                        // the sibling's: not TLS at all
  green::Event sibling_failed;
  Pipe sibling_wakes;  // the sibling waits in a patched read() until the reader is done
  Outcome out;

  // The reader's connection, ended (close_notify or a reset) once the sibling has failed.
  auto server = green::spawn([&] {
    int c = ::accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC);
    SSL* ssl = SSL_new(server_ctx);
    SSL_set_fd(ssl, c);
    REQUIRE(SSL_accept(ssl) == 1);
    sibling_failed.wait();
    if (ending == Ending::close_notify) {
      SSL_shutdown(ssl);
    } else {
      linger l{1, 0};
      ::setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);  // close sends a reset
    }
    SSL_free(ssl);
    ::close(c);
  });
  // The sibling's peer answers its ClientHello in plain HTTP.
  auto plain = green::spawn([&] {
    int c = ::accept4(garbage.fd, nullptr, nullptr, SOCK_CLOEXEC);
    const char answer[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    REQUIRE(::write(c, answer, sizeof answer - 1) == ssize_t(sizeof answer - 1));
    sibling_failed.wait();
    ::close(c);
  });

  green::Event reading;
  auto reader = green::spawn([&] {
    int fd = connect_to(listener);
    SSL* ssl = SSL_new(client_ctx);
    SSL_set_fd(ssl, fd);
    SSL_set1_host(ssl, "localhost");
    REQUIRE(SSL_connect(ssl) == 1);
    char buf[256];
    reading.set();
    errno = 0;
    out.read_ret = SSL_read(ssl, buf, sizeof buf);  // waits in read() while the sibling fails
    out.errno_after = errno;
    out.ssl_error = SSL_get_error(ssl, out.read_ret);
    out.queued_after = ERR_peek_error();
    ERR_clear_error();  // tidy code clears its own queue when done
    REQUIRE(::write(sibling_wakes.w, "x", 1) == 1);
    SSL_free(ssl);
    ::close(fd);
  });
  reading.wait();

  auto sibling = green::spawn([&] {
    int fd = connect_to(garbage);
    SSL* ssl = SSL_new(client_ctx);
    SSL_set_fd(ssl, fd);
    int r = SSL_connect(ssl);  // fails: the answer is not TLS
    out.sibling_handshake_error = SSL_get_error(ssl, r);
    // Its errors stay queued (read later, as code that logs after cleanup does); meanwhile
    // errno is set by a failing call of its own.
    ::close(-1);
    sibling_failed.set();
    char c;
    REQUIRE(::read(sibling_wakes.r, &c, 1) == 1);  // a patched wait
    out.sibling_first = ERR_get_error();
    ERR_clear_error();
    SSL_free(ssl);
    ::close(fd);
  });
  green::joinall({reader, sibling, server, plain});
  SSL_CTX_free(client_ctx);
  SSL_CTX_free(server_ctx);
  return out;
}

}  // namespace

TEST_CASE("compat: OpenSSL's error queue and errno stay with the green thread they belong to",
          "[compat][tls]") {
  compat::patch_all();
  TestCertificates certs;

  SECTION("a clean close read while a sibling's handshake fails") {
    Outcome o = interleave(certs, Ending::close_notify);
    CHECK(o.sibling_handshake_error == SSL_ERROR_SSL);
    CHECK(o.read_ret == 0);
    CHECK(o.ssl_error == SSL_ERROR_ZERO_RETURN);  // SSL_ERROR_SSL with the sibling's errors
    CHECK(o.queued_after == 0);
    CHECK(o.errno_after == 0);  // not the sibling's EBADF
    INFO("the sibling's first error: " << ERR_reason_error_string(o.sibling_first));
    CHECK(ERR_GET_LIB(o.sibling_first) == ERR_LIB_SSL);
    CHECK(ERR_GET_REASON(o.sibling_first) == SSL_R_WRONG_VERSION_NUMBER);
  }
  SECTION("a reset read while a sibling's handshake fails: the reader's errno") {
    Outcome o = interleave(certs, Ending::reset);
    CHECK(o.read_ret < 0);
    CHECK(o.ssl_error == SSL_ERROR_SYSCALL);
    CHECK(o.errno_after == ECONNRESET);
    CHECK(ERR_GET_REASON(o.sibling_first) == SSL_R_WRONG_VERSION_NUMBER);
  }
}

TEST_CASE(
    "compat: a wait keeps the green thread's own OpenSSL errors, data and system errors included",
    "[compat][tls]") {
  compat::patch_all();
  green::spawn([] {
    ERR_clear_error();
    ERR_raise_data(ERR_LIB_SSL, SSL_R_CERTIFICATE_VERIFY_FAILED, "peer %s", "ann");
    ERR_raise(ERR_LIB_SYS, ECONNRESET);
    green::spawn([] { ERR_raise(ERR_LIB_X509, X509_R_CERT_ALREADY_IN_HASH_TABLE); });
    ::usleep(1000);  // a patched wait, during which the sibling leaves an error behind
    const char* data = nullptr;
    int flags = 0;
    unsigned long first = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags);
    CHECK(ERR_GET_LIB(first) == ERR_LIB_SSL);
    CHECK(ERR_GET_REASON(first) == SSL_R_CERTIFICATE_VERIFY_FAILED);
    REQUIRE(data);
    CHECK(std::string(data) == "peer ann");
    unsigned long second = ERR_get_error();
    CHECK(ERR_SYSTEM_ERROR(second));
    CHECK(ERR_GET_REASON(second) == ECONNRESET);
    CHECK(ERR_get_error() == 0);  // nothing of the sibling's
  }).join();
  ERR_clear_error();
}
