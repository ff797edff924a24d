// TLS over memory BIOs: the socket side is two byte queues.
#include <grove/http/detail/tls_session.hpp>

#include "tls_detail.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <cctype>

namespace grove::http::detail {

TlsSession::TlsSession(const TlsContext& context) : TlsSession(context.current()) {}

TlsSession::TlsSession(std::shared_ptr<const TlsGeneration> generation)
    : generation_(std::move(generation)) {
  clear_openssl_errors();
  ssl_ = SSL_new(generation_->main.get());
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  if (!ssl_ || !in_ || !out_) {
    BIO_free(in_);
    BIO_free(out_);
    SSL_free(ssl_);
    throw std::bad_alloc();
  }
  BIO_set_mem_eof_return(in_, -1);  // empty: "retry", not the end, until receive_end()
  SSL_set_bio(ssl_, in_, out_);
  SSL_set_accept_state(ssl_);
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

void TlsSession::receive(const char* data, std::size_t n) {
  if (n == 0) return;
  if (!first_bytes_seen_) {
    first_bytes_seen_ = true;
    // A TLS record starts with its type (22, a handshake); a request line with a method.
    plain_http_ = std::isupper(static_cast<unsigned char>(data[0])) != 0;
  }
  BIO_write(in_, data, int(n));
}

void TlsSession::receive_end() { BIO_set_mem_eof_return(in_, 0); }

TlsSession::Step TlsSession::fail_or_wait(int result) {
  int error = SSL_get_error(ssl_, result);
  switch (error) {
    case SSL_ERROR_WANT_READ: clear_openssl_errors(); return Step::want_input;
    case SSL_ERROR_ZERO_RETURN: clear_openssl_errors(); return Step::closed;
    case SSL_ERROR_SYSCALL:
      // With memory BIOs only the end of the peer's input gets here.
      failure_ = ERR_peek_error() ? take_openssl_errors() : "the peer closed the connection";
      clear_openssl_errors();
      return handshake_done() ? Step::closed : Step::failed;
    default: failure_ = take_openssl_errors(); return Step::failed;
  }
}

TlsSession::Step TlsSession::handshake() {
  clear_openssl_errors();
  int r = SSL_do_handshake(ssl_);
  if (r == 1) return Step::done;
  Step step = fail_or_wait(r);
  if (step != Step::closed) return step;
  failure_ = "the peer closed the connection during the handshake";
  return Step::failed;
}

bool TlsSession::handshake_done() const { return SSL_is_init_finished(ssl_) == 1; }

TlsSession::Read TlsSession::read(char* buf, std::size_t n) {
  clear_openssl_errors();
  std::size_t got = 0;
  int r = SSL_read_ex(ssl_, buf, n, &got);
  if (r == 1) return {Step::done, got};
  return {fail_or_wait(r), 0};
}

bool TlsSession::has_buffered_plaintext() const { return SSL_pending(ssl_) > 0; }

bool TlsSession::has_unread_input() const {
  return SSL_has_pending(ssl_) == 1 || BIO_ctrl_pending(in_) > 0;
}

bool TlsSession::write(std::string_view data) {
  if (data.empty()) return true;
  clear_openssl_errors();
  std::size_t written = 0;
  // A memory BIO takes everything: one call encrypts all of it (as several records).
  if (SSL_write_ex(ssl_, data.data(), data.size(), &written) == 1) return true;
  fail_or_wait(0);
  if (failure_.empty()) failure_ = "the session cannot write";
  return false;
}

void TlsSession::close() {
  clear_openssl_errors();
  SSL_shutdown(ssl_);
  clear_openssl_errors();
}

std::size_t TlsSession::output_size() const { return BIO_ctrl_pending(out_); }

std::size_t TlsSession::take_output(char* buf, std::size_t n) {
  std::size_t got = 0;
  if (BIO_read_ex(out_, buf, n, &got) != 1) got = 0;
  clear_openssl_errors();
  return got;
}

std::string TlsSession::take_output() {
  std::string out(output_size(), '\0');
  out.resize(take_output(out.data(), out.size()));
  return out;
}

namespace {
std::string rfc2253(const X509_NAME* name) {
  BIO* mem = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(mem, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(mem, &data);
  std::string out(data, std::size_t(len));
  BIO_free(mem);
  return out;
}
}  // namespace

TlsFacts TlsSession::facts() const {
  TlsFacts f;
  f.version = SSL_get_version(ssl_);
  if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl_)) f.cipher = SSL_CIPHER_get_name(c);
  if (const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name)) f.server_name = name;
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl_, &alpn, &alpn_len);
  if (alpn) f.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
  if (X509* peer = SSL_get0_peer_certificate(ssl_)) {
    f.client_subject = rfc2253(X509_get_subject_name(peer));
    f.client_issuer = rfc2253(X509_get_issuer_name(peer));
    f.client_verified = SSL_get_verify_result(ssl_) == X509_V_OK;
  }
  f.resumed = SSL_session_reused(ssl_) == 1;
  clear_openssl_errors();
  return f;
}

}  // namespace grove::http::detail
