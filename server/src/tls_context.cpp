// Building OpenSSL contexts from a TlsConfig, with start-up errors that name the file and
// the problem, and swapping them on reload.
#include "tls_detail.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace grove::http {
namespace detail {

std::string take_openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(e);
    char buf[256];
    if (!reason) {
      ERR_error_string_n(e, buf, sizeof buf);
      reason = buf;
    }
    if (!out.empty()) out += "; ";
    out += reason;
  }
  return out.empty() ? "no reason given by OpenSSL" : out;
}

SSL_CTX* TlsGeneration::for_name(std::string_view server_name) const {
  std::string name(server_name);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  for (const auto& [known, ctx] : names)
    if (known == name) return ctx;
  // One wildcard label: "*.example.org" serves "www.example.org", not "example.org".
  if (std::size_t dot = name.find('.'); dot != std::string::npos && dot > 0) {
    std::string wildcard = "*" + name.substr(dot);
    for (const auto& [known, ctx] : names)
      if (known == wildcard) return ctx;
  }
  return nullptr;
}

}  // namespace detail

namespace {

using detail::SslCtxPtr;
using detail::take_openssl_errors;
using detail::TlsGeneration;

// Fails unless `path` names a regular file this process can open for reading.
void check_readable(const std::string& what, const std::string& path) {
  if (path.empty()) throw TlsError("TLS: no " + what + " given");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw TlsError("TLS: " + what + " " + path + ": " +
                   (errno == ENOENT ? std::string("no such file") : std::strerror(errno)));
  if (S_ISDIR(st.st_mode)) throw TlsError("TLS: " + what + " " + path + ": is a directory");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw TlsError("TLS: " + what + " " + path + ": cannot read it: " + std::strerror(errno));
  ::close(fd);
}

int no_passphrase(char*, int, int, void*) { return 0; }  // never prompt on a terminal

int min_version(const std::string& text) {
  if (text == "1.2" || text == "TLSv1.2") return TLS1_2_VERSION;
  if (text == "1.3" || text == "TLSv1.3") return TLS1_3_VERSION;
  throw TlsError("TLS: minimum version '" + text + "' is not one of 1.2, 1.3");
}

// ALPN: http/1.1 or nothing; a client offering only other protocols gets
// no_application_protocol rather than a protocol grove does not speak.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  static const unsigned char ours[] = "\x08http/1.1";
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, ours, sizeof ours - 1, in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

int select_certificate(SSL* ssl, int*, void* arg) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name) return SSL_TLSEXT_ERR_OK;
  if (SSL_CTX* ctx = static_cast<const TlsGeneration*>(arg)->for_name(name))
    SSL_set_SSL_CTX(ssl, ctx);
  return SSL_TLSEXT_ERR_OK;  // an unknown name gets the default pair
}

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

KeyPtr read_key(const std::string& path) {
  BIO* file = BIO_new_file(path.c_str(), "r");
  KeyPtr key(file ? PEM_read_bio_PrivateKey(file, nullptr, no_passphrase, nullptr) : nullptr,
             EVP_PKEY_free);
  BIO_free(file);
  if (!key)
    throw TlsError("TLS: key file " + path +
                   ": not an unencrypted PEM private key: " + take_openssl_errors());
  return key;
}

void load_pair(SSL_CTX* ctx, const TlsCertificate& pair) {
  check_readable("certificate file", pair.cert_file);
  check_readable("key file", pair.key_file);
  if (SSL_CTX_use_certificate_chain_file(ctx, pair.cert_file.c_str()) != 1)
    throw TlsError("TLS: certificate file " + pair.cert_file +
                   ": not a PEM certificate: " + take_openssl_errors());
  KeyPtr key = read_key(pair.key_file);
  if (X509_check_private_key(SSL_CTX_get0_certificate(ctx), key.get()) != 1) {
    ERR_clear_error();
    throw TlsError("TLS: key file " + pair.key_file + " does not match certificate file " +
                   pair.cert_file);
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1)
    throw TlsError("TLS: key file " + pair.key_file + ": " + take_openssl_errors());
}

void verify_clients(SSL_CTX* ctx, const TlsConfig& config) {
  if (config.client_certs == ClientCerts::none) return;
  if (config.ca_file.empty())
    throw TlsError("TLS: client certificates optional/required need a CA file (--ca-certs)");
  check_readable("CA file", config.ca_file);
  if (SSL_CTX_load_verify_locations(ctx, config.ca_file.c_str(), nullptr) != 1)
    throw TlsError("TLS: CA file " + config.ca_file + ": " + take_openssl_errors());
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.ca_file.c_str());
  if (!names) throw TlsError("TLS: CA file " + config.ca_file + ": no certificate in it");
  SSL_CTX_set_client_CA_list(ctx, names);
  int mode = SSL_VERIFY_PEER;
  if (config.client_certs == ClientCerts::required) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  SSL_CTX_set_verify(ctx, mode, nullptr);
}

SslCtxPtr make_context(const TlsConfig& config, const TlsCertificate& pair,
                       detail::TicketKeys& tickets) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) throw TlsError("TLS: cannot create a context: " + take_openssl_errors());
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_default_passwd_cb(c, no_passphrase);
  SSL_CTX_set_min_proto_version(c, min_version(config.min_version));
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                             SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION);
  // Idle keep-alive connections give their read and write buffers back.
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  if (!config.ciphers.empty() && SSL_CTX_set_cipher_list(c, config.ciphers.c_str()) != 1)
    throw TlsError("TLS: ciphers '" + config.ciphers + "': " + take_openssl_errors());
  if (!config.ciphersuites.empty() && SSL_CTX_set_ciphersuites(c, config.ciphersuites.c_str()) != 1)
    throw TlsError("TLS: TLS 1.3 suites '" + config.ciphersuites + "': " + take_openssl_errors());
  SSL_CTX_set_alpn_select_cb(c, select_alpn, nullptr);
  static const unsigned char session_context[] = "grove";
  SSL_CTX_set_session_id_context(c, session_context, sizeof session_context - 1);
  // Resumption by tickets only: no per-session server cache to grow. (SSL_SESS_CACHE_OFF
  // would turn off resumption altogether.)
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
  if (config.session_tickets) {
    tickets.install(c);
    SSL_CTX_set_timeout(c, long(2 * config.ticket_key_lifetime.count()));
  } else {
    SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(c, 0);
  }
  verify_clients(c, config);
  load_pair(c, pair);
  return ctx;
}

// The DNS names a certificate is for: its subjectAltName DNS entries, else its CN.
std::vector<std::string> dns_names(SSL_CTX* ctx) {
  std::vector<std::string> out;
  X509* cert = SSL_CTX_get0_certificate(ctx);
  auto* alt =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; alt && i < sk_GENERAL_NAME_num(alt); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(alt, i);
    if (n->type != GEN_DNS) continue;
    const ASN1_STRING* s = n->d.dNSName;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     std::size_t(ASN1_STRING_length(s)));
  }
  GENERAL_NAMES_free(alt);
  if (out.empty()) {
    char cn[256];
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0)
      out.emplace_back(cn);
  }
  for (auto& name : out)
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
  return out;
}

std::shared_ptr<TlsGeneration> load(TlsConfig config, std::shared_ptr<detail::TicketKeys> keys) {
  ERR_clear_error();
  auto gen = std::make_shared<TlsGeneration>();
  gen->tickets = std::move(keys);
  gen->main = make_context(config, config.certificate, *gen->tickets);
  for (const TlsCertificate& pair : config.sni) {
    gen->extra.push_back(make_context(config, pair, *gen->tickets));
    SSL_CTX* ctx = gen->extra.back().get();
    for (std::string& name : dns_names(ctx)) gen->names.emplace_back(std::move(name), ctx);
  }
  // The generation outlives every session made from it (each holds it), so the callback's
  // pointer stays valid.
  SSL_CTX_set_tlsext_servername_callback(gen->main.get(), select_certificate);
  SSL_CTX_set_tlsext_servername_arg(gen->main.get(), gen.get());
  gen->config = std::move(config);
  return gen;
}

}  // namespace

ClientCerts parse_client_certs(const std::string& text) {
  if (text == "none") return ClientCerts::none;
  if (text == "optional") return ClientCerts::optional;
  if (text == "required") return ClientCerts::required;
  throw TlsError("TLS: client certificates '" + text + "' is not one of none, optional, required");
}

struct TlsContext::State {
  mutable std::mutex mutex;
  std::shared_ptr<const TlsGeneration> current;
};

TlsContext::TlsContext(TlsConfig config)
    : tickets_(std::make_shared<detail::TicketKeys>(config.ticket_key_lifetime)),
      state_(std::make_unique<State>()) {
  state_->current = load(std::move(config), tickets_);
}

TlsContext::~TlsContext() = default;

void TlsContext::reload() { reload(config()); }

void TlsContext::reload(TlsConfig config) {
  auto fresh = load(std::move(config), tickets_);  // throws before anything changes
  {
    std::lock_guard lock(tickets_->mutex);
    tickets_->lifetime = fresh->config.ticket_key_lifetime;
  }
  std::lock_guard lock(state_->mutex);
  state_->current = std::move(fresh);
}

TlsConfig TlsContext::config() const { return current()->config; }

void TlsContext::rotate_ticket_keys() { tickets_->rotate(); }

std::shared_ptr<const detail::TlsGeneration> TlsContext::current() const {
  std::lock_guard lock(state_->mutex);
  return state_->current;
}

}  // namespace grove::http
