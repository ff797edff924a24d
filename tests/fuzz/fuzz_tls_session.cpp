// libFuzzer target: the server's I/O-free TLS session (server/src/tls_session.cpp) after a
// real handshake with an OpenSSL client in memory (tests/server/tls_support.hpp).
//
//   byte 0: bit 0 TLS 1.2 (else 1.3); bits 1-2 the mode:
//     0  the rest goes to the server as raw bytes after the handshake (forged records)
//     1  the rest is plaintext the client sends, encrypted properly: the server must read
//        back exactly those bytes
//     2  the client encrypts a request, the rest XORs its record bytes (corrupted records)
//     3  the rest goes to the server instead of a ClientHello (no handshake)
//   byte 1: the size of the pieces the bytes arrive in (1-256)
// Whatever arrives, the session never crashes, ends as done/want_input/closed/failed, leaves
// OpenSSL's error queue empty, and after a failure reports a reason.
#include "test_certs.hpp"
#include "tls_support.hpp"

#include <grove/http/detail/tls_session.hpp>

#include <openssl/err.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

using namespace grove::http;
using detail::TlsSession;
using Step = TlsSession::Step;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_tls_session: invariant broken: %s\n", what);
  std::abort();
}
#define CHECK(cond)           \
  do {                        \
    if (!(cond)) fail(#cond); \
  } while (0)

struct Fixture {
  grove::test::TestCertificates certs;
  std::unique_ptr<TlsContext> context;
  Fixture() {
    TlsConfig c;
    c.certificate = {certs.server.cert, certs.server.key};
    context = std::make_unique<TlsContext>(c);
  }
};

Fixture& fixture() {
  static Fixture* f = new Fixture;  // for the whole run (never destroyed: no exit-time work)
  return *f;
}

// Feeds `bytes` in pieces of `piece` and reads after each; the plaintext that came out.
std::string feed_and_read(TlsSession& server, const std::string& bytes, std::size_t piece) {
  std::string out;
  char buf[512];
  for (std::size_t at = 0; at < bytes.size(); at += piece) {
    server.receive(bytes.data() + at, std::min(piece, bytes.size() - at));
    for (;;) {
      auto r = server.read(buf, sizeof buf);
      CHECK(ERR_peek_error() == 0);
      if (r.step == Step::failed) {
        CHECK(!server.failure().empty());
        server.take_output();  // the alert
        return out;
      }
      if (r.step != Step::done) break;
      CHECK(r.bytes > 0 && r.bytes <= sizeof buf);
      out.append(buf, r.bytes);
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  Fixture& f = fixture();
  const bool tls12 = data[0] & 1;
  const int mode = (data[0] >> 1) & 3;
  const std::size_t piece = std::size_t(data[1]) + 1;
  const std::string rest(reinterpret_cast<const char*>(data + 2), size - 2);

  TlsSession server(*f.context);
  if (mode == 3) {
    for (std::size_t at = 0; at < rest.size(); at += piece) {
      server.receive(rest.data() + at, std::min(piece, rest.size() - at));
      Step s = server.handshake();
      CHECK(ERR_peek_error() == 0);
      server.take_output();
      if (s == Step::failed) {
        CHECK(!server.failure().empty());
        break;
      }
    }
    return 0;
  }

  grove::http::test::MemoryClient client("", "", tls12 ? TLS1_2_VERSION : TLS1_3_VERSION);
  if (!grove::http::test::handshake(client, server).empty()) fail("the handshake failed");
  CHECK(ERR_peek_error() == 0);

  if (mode == 0) {
    feed_and_read(server, rest, piece);
  } else if (mode == 1) {
    if (!rest.empty()) client.write(rest);
    CHECK(feed_and_read(server, client.take_output(), piece) == rest);
    // And back: what the server writes, the client reads.
    CHECK(server.write(rest));
    client.receive(server.take_output());
    CHECK(client.read_all() == rest);
  } else {
    client.write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    std::string records = client.take_output();
    for (std::size_t i = 0; i < rest.size() && i < records.size(); ++i) records[i] ^= rest[i];
    feed_and_read(server, records, piece);
  }
  CHECK(ERR_peek_error() == 0);
  return 0;
}
