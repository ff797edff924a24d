// The I/O-free TLS session against a real OpenSSL client in memory: versions, ALPN, client
// certificates, resumption with rotating ticket keys, application data both ways, the end
// of the session, plain HTTP detected, and OpenSSL's error queue left empty.
#include "test_certs.hpp"
#include "tls_support.hpp"

#include <grove/http/detail/tls_session.hpp>

#include <catch2/catch.hpp>

#include <openssl/err.h>

using namespace grove::http;
using detail::TlsSession;
using grove::test::TestCertificates;
using Step = TlsSession::Step;

namespace {

TlsConfig config_for(const TestCertificates& certs) {
  TlsConfig c;
  c.certificate = {certs.server.cert, certs.server.key};
  return c;
}

// Everything the server can decrypt now.
std::string server_reads(TlsSession& server) {
  std::string out;
  char buf[1000];
  for (;;) {
    auto r = server.read(buf, sizeof buf);
    if (r.step != Step::done) break;
    out.append(buf, r.bytes);
  }
  return out;
}

}  // namespace

TEST_CASE("TLS 1.3 handshake verified against the CA with data both ways and the facts") {
  TestCertificates certs;
  TlsContext context(config_for(certs));
  test::MemoryClient client(certs.ca.cert);
  client.alpn = {"http/1.1"};
  TlsSession server(context);
  REQUIRE(test::handshake(client, server) == "");
  CHECK(server.handshake_done());

  client.write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  server.receive(client.take_output());
  CHECK(server_reads(server) == "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");

  std::string big(100000, 'x');  // several records
  REQUIRE(server.write(big));
  client.receive(server.take_output());
  CHECK(client.read_all() == big);

  TlsFacts f = server.facts();
  CHECK(f.version == "TLSv1.3");
  CHECK(f.cipher.rfind("TLS_", 0) == 0);
  CHECK(f.server_name == "localhost");
  CHECK(f.alpn == "http/1.1");
  CHECK(f.client_subject == "");
  CHECK_FALSE(f.resumed);
  CHECK((SSL_get_mode(server.native()) & SSL_MODE_RELEASE_BUFFERS) != 0);
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("TLS 1.2 is accepted and 1.0 and 1.1 are refused and a 1.3 minimum refuses 1.2") {
  TestCertificates certs;
  TlsContext context(config_for(certs));
  {
    test::MemoryClient client(certs.ca.cert, "localhost", TLS1_2_VERSION);
    TlsSession server(context);
    REQUIRE(test::handshake(client, server) == "");
    CHECK(server.facts().version == "TLSv1.2");
  }
  for (int old : {TLS1_VERSION, TLS1_1_VERSION}) {
    test::MemoryClient client("", "", old, TLS1_VERSION);
    TlsSession server(context);
    CHECK(test::handshake(client, server) == "server: unsupported protocol");
    CHECK(ERR_peek_error() == 0);
  }
  TlsConfig strict = config_for(certs);
  strict.min_version = "1.3";
  TlsContext context13(strict);
  test::MemoryClient client(certs.ca.cert, "localhost", TLS1_2_VERSION);
  TlsSession server(context13);
  CHECK(test::handshake(client, server) == "server: unsupported protocol");
}

TEST_CASE("TLS 1.2 ciphers are the configured ones") {
  TestCertificates certs;
  TlsConfig c = config_for(certs);
  c.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";
  TlsContext context(c);
  test::MemoryClient client(certs.ca.cert, "localhost", TLS1_2_VERSION);
  TlsSession server(context);
  REQUIRE(test::handshake(client, server) == "");
  CHECK(server.facts().cipher == "ECDHE-ECDSA-AES128-GCM-SHA256");
}

TEST_CASE("ALPN selects http/1.1 and refuses a client that offers only h2") {
  TestCertificates certs;
  TlsContext context(config_for(certs));
  {
    test::MemoryClient client(certs.ca.cert);
    client.alpn = {"h2", "http/1.1"};
    TlsSession server(context);
    REQUIRE(test::handshake(client, server) == "");
    CHECK(server.facts().alpn == "http/1.1");
  }
  {
    test::MemoryClient client(certs.ca.cert);
    TlsSession server(context);
    REQUIRE(test::handshake(client, server) == "");
    CHECK(server.facts().alpn == "");
  }
  test::MemoryClient client(certs.ca.cert);
  client.alpn = {"h2"};
  TlsSession server(context);
  std::string failure = test::handshake(client, server);
  CHECK(failure.find("no application protocol") != std::string::npos);
}

TEST_CASE("client certificates: required and optional and one from an unknown CA") {
  TestCertificates certs;
  TlsConfig c = config_for(certs);
  c.ca_file = certs.ca.cert;
  c.client_certs = ClientCerts::required;
  TlsContext required(c);
  {
    test::MemoryClient client(certs.ca.cert);
    TlsSession server(required);
    CHECK(test::handshake(client, server).find("peer did not return a certificate") !=
          std::string::npos);
  }
  {
    test::MemoryClient client(certs.ca.cert);
    client.cert_file = certs.client.cert;
    client.key_file = certs.client.key;
    TlsSession server(required);
    REQUIRE(test::handshake(client, server) == "");
    TlsFacts f = server.facts();
    CHECK(f.client_subject == "CN=grove test client,O=grove tests");
    CHECK(f.client_issuer == "CN=grove test CA,O=grove tests");
    CHECK(f.client_verified);
  }
  {
    test::MemoryClient client(certs.ca.cert);
    client.cert_file = certs.untrusted.cert;
    client.key_file = certs.untrusted.key;
    TlsSession server(required);
    CHECK(test::handshake(client, server).find("certificate verify failed") != std::string::npos);
  }
  c.client_certs = ClientCerts::optional;
  TlsContext optional(c);
  test::MemoryClient client(certs.ca.cert);
  TlsSession server(optional);
  REQUIRE(test::handshake(client, server) == "");
  CHECK(server.facts().client_subject == "");
  CHECK(server.facts().client_issuer == "");
  CHECK(!server.facts().client_verified);
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("resumption by ticket survives one key rotation and a reload but not two rotations") {
  TestCertificates certs;
  TlsContext context(config_for(certs));
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    INFO("version " << version);
    test::MemoryClient client(certs.ca.cert, "localhost", version);
    auto resumes = [&] {
      TlsSession server(context);
      REQUIRE(test::handshake(client, server) == "");
      SSL_SESSION* next = client.session();  // the (renewed) ticket, for the next round
      bool resumed = server.facts().resumed;
      client.resume = next;
      return resumed;
    };
    CHECK_FALSE(resumes());
    CHECK(resumes());
    context.rotate_ticket_keys();
    CHECK(resumes());  // under the previous key, renewed under the current one
    context.reload();
    CHECK(resumes());
    context.rotate_ticket_keys();
    context.rotate_ticket_keys();
    CHECK_FALSE(resumes());
    client.resume = nullptr;
  }
}

TEST_CASE(
    "a TLS 1.3 resumption gets a new ticket and a TLS 1.2 one under the current key does not") {
  TestCertificates certs;
  TlsContext context(config_for(certs));
  auto ticket = [](SSL_SESSION* s) {
    const unsigned char* data = nullptr;
    std::size_t len = 0;
    SSL_SESSION_get0_ticket(s, &data, &len);
    return std::string(reinterpret_cast<const char*>(data), len);
  };
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    INFO("version " << version);
    test::MemoryClient client(certs.ca.cert, "localhost", version);
    {
      TlsSession first(context);
      REQUIRE(test::handshake(client, first) == "");
    }
    SSL_SESSION* offered = client.session();
    const std::string offered_ticket = ticket(offered);
    REQUIRE(!offered_ticket.empty());
    client.resume = offered;
    TlsSession second(context);
    REQUIRE(test::handshake(client, second) == "");
    REQUIRE(second.facts().resumed);
    const std::string after = ticket(client.session());
    if (version == TLS1_3_VERSION) CHECK(after != offered_ticket);
    else CHECK(after == offered_ticket);
    client.resume = nullptr;
  }
}

TEST_CASE("without tickets there is no resumption") {
  TestCertificates certs;
  TlsConfig c = config_for(certs);
  c.session_tickets = false;
  TlsContext context(c);
  test::MemoryClient client(certs.ca.cert);
  TlsSession first(context);
  REQUIRE(test::handshake(client, first) == "");
  client.resume = client.session();
  TlsSession second(context);
  REQUIRE(test::handshake(client, second) == "");
  CHECK_FALSE(second.facts().resumed);
}

TEST_CASE("the session ends by close_notify or by the end of the peer's input") {
  TestCertificates certs;
  TlsContext context(config_for(certs));
  {
    test::MemoryClient client(certs.ca.cert);
    TlsSession server(context);
    REQUIRE(test::handshake(client, server) == "");
    SSL_shutdown(client.ssl());
    server.receive(client.take_output());
    char buf[16];
    CHECK(server.read(buf, sizeof buf).step == Step::closed);
    server.close();
    client.receive(server.take_output());
    CHECK(SSL_shutdown(client.ssl()) == 1);  // the server's close_notify arrived
  }
  {
    test::MemoryClient client(certs.ca.cert);
    TlsSession server(context);
    REQUIRE(test::handshake(client, server) == "");
    char buf[16];
    CHECK(server.read(buf, sizeof buf).step == Step::want_input);
    server.receive_end();
    CHECK(server.read(buf, sizeof buf).step == Step::closed);
  }
  {
    // Mid-handshake: a failure, not a clean end.
    test::MemoryClient client(certs.ca.cert);
    client.start();
    client.step();
    std::string hello = client.take_output();
    TlsSession server(context);
    server.receive(hello.substr(0, hello.size() / 2));
    CHECK(server.handshake() == Step::want_input);
    server.receive_end();
    CHECK(server.handshake() == Step::failed);
    CHECK_FALSE(server.failure().empty());
  }
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("a plain HTTP request is recognised as such and fails the handshake") {
  TestCertificates certs;
  TlsContext context(config_for(certs));
  TlsSession server(context);
  server.receive("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  CHECK(server.handshake() == Step::failed);
  CHECK(server.plain_http());
  CHECK(server.failure().find("http request") != std::string::npos);

  TlsSession garbage(context);
  garbage.receive(std::string("\x16\x03\x01\x00\x05hello", 10));
  CHECK(garbage.handshake() == Step::failed);
  CHECK_FALSE(garbage.plain_http());
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("one session's failure leaves nothing on the error queue for the next") {
  TestCertificates certs;
  TlsContext context(config_for(certs));
  TlsSession bad(context);
  bad.receive(std::string(64, '\x16'));
  REQUIRE(bad.handshake() == Step::failed);
  // A good session on the same thread right after sees no stale error.
  test::MemoryClient client(certs.ca.cert);
  TlsSession good(context);
  CHECK(test::handshake(client, good) == "");
  char buf[8];
  CHECK(good.read(buf, sizeof buf).step == Step::want_input);
  CHECK(ERR_peek_error() == 0);
}
