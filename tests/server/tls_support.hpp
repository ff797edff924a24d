// A real OpenSSL client session in memory, wired to a server TlsSession: what one writes
// the other receives, with no socket. For the TLS unit tests and the TLS fuzz target.
//
//   MemoryClient client(certs.ca.cert);          // verifies the server against the test CA
//   client.sni = "localhost"; client.alpn = {"http/1.1"};
//   TlsSession server(context);
//   REQUIRE(handshake(client, server) == "");     // "" or the reason it failed
#pragma once

#include <grove/http/detail/tls_session.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace grove::http::test {

class MemoryClient {
 public:
  // ca_file empty: no verification of the server.
  explicit MemoryClient(const std::string& ca_file = "", const std::string& host = "localhost",
                        int max_version = 0, int min_version = 0)
      : ctx_(SSL_CTX_new(TLS_client_method())) {
    if (!ca_file.empty()) {
      SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    }
    if (max_version) SSL_CTX_set_max_proto_version(ctx_, max_version);
    // Below 1.2 OpenSSL's default security level refuses even to offer the version.
    if (min_version) {
      SSL_CTX_set_min_proto_version(ctx_, min_version);
      SSL_CTX_set_security_level(ctx_, 0);
    }
    host_ = host;
  }
  ~MemoryClient() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    SSL_SESSION_free(saved_);
  }
  MemoryClient(const MemoryClient&) = delete;
  MemoryClient& operator=(const MemoryClient&) = delete;

  SSL_CTX* ctx() { return ctx_; }
  SSL* ssl() { return ssl_; }

  // What the next start() sends.
  std::string sni = "localhost";    // empty: no SNI
  std::vector<std::string> alpn;    // empty: no ALPN
  std::string cert_file, key_file;  // a client certificate
  SSL_SESSION* resume = nullptr;    // a session to resume (not owned)

  void start() {
    if (!cert_file.empty()) {
      SSL_CTX_use_certificate_chain_file(ctx_, cert_file.c_str());
      SSL_CTX_use_PrivateKey_file(ctx_, key_file.c_str(), SSL_FILETYPE_PEM);
    }
    // A session ended without close_notify is not resumable (OpenSSL marks it so on free).
    if (ssl_) SSL_shutdown(ssl_);
    ERR_clear_error();
    SSL_free(ssl_);
    ssl_ = SSL_new(ctx_);
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(in_, -1);
    SSL_set_bio(ssl_, in_, out_);
    SSL_set_connect_state(ssl_);
    if (!sni.empty()) SSL_set_tlsext_host_name(ssl_, sni.c_str());
    if (!host_.empty() && SSL_CTX_get_verify_mode(ctx_) != SSL_VERIFY_NONE)
      SSL_set1_host(ssl_, host_.c_str());
    if (!alpn.empty()) {
      std::string wire;
      for (const auto& p : alpn) wire += char(p.size()) + p;
      SSL_set_alpn_protos(ssl_, reinterpret_cast<const unsigned char*>(wire.data()),
                          unsigned(wire.size()));
    }
    if (resume) SSL_set_session(ssl_, resume);
  }

  // 1 done, 0 wants input, -1 failed (reason in error).
  int step() {
    ERR_clear_error();
    int r = SSL_do_handshake(ssl_);
    if (r == 1) return 1;
    int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ) return 0;
    error = "client: " + reasons();
    return -1;
  }

  void receive(const std::string& bytes) {
    if (!bytes.empty()) BIO_write(in_, bytes.data(), int(bytes.size()));
  }
  std::string take_output() {
    std::string out(BIO_ctrl_pending(out_), '\0');
    if (!out.empty()) BIO_read(out_, out.data(), int(out.size()));
    return out;
  }

  void write(const std::string& text) {
    std::size_t n = 0;
    if (SSL_write_ex(ssl_, text.data(), text.size(), &n) != 1)
      throw std::runtime_error("client write: " + reasons());
  }
  // Everything decrypted so far.
  std::string read_all() {
    std::string out;
    char buf[4096];
    std::size_t n = 0;
    while (SSL_read_ex(ssl_, buf, sizeof buf, &n) == 1) out.append(buf, n);
    ERR_clear_error();
    return out;
  }

  // The session to resume with later (after the server's tickets have been read).
  SSL_SESSION* session() {
    read_all();  // TLS 1.3 tickets arrive after the handshake
    SSL_SESSION_free(saved_);
    saved_ = SSL_get1_session(ssl_);
    return saved_;
  }

  std::string error;

  static std::string reasons() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
      const char* r = ERR_reason_error_string(e);
      out += (out.empty() ? "" : "; ") + std::string(r ? r : "?");
    }
    return out;
  }

 private:
  SSL_CTX* ctx_;
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;
  BIO* out_ = nullptr;
  SSL_SESSION* saved_ = nullptr;
  std::string host_;
};

// Runs the handshake to its end by passing bytes both ways: "" when both sides finished,
// else the first failure ("server: ..." or "client: ...").
inline std::string handshake(MemoryClient& client, detail::TlsSession& server) {
  using Step = detail::TlsSession::Step;
  client.start();
  for (int round = 0; round < 20; ++round) {
    int c = client.step();
    server.receive(client.take_output());
    if (c < 0) return client.error;
    Step s = server.handshake();
    client.receive(server.take_output());
    if (s == Step::failed) {
      // Let the client see the alert too, then report the server's reason.
      client.step();
      return "server: " + server.failure();
    }
    if (s == Step::done && client.step() == 1) {
      server.receive(client.take_output());
      return "";
    }
  }
  return "no progress after 20 rounds";
}

}  // namespace grove::http::test
