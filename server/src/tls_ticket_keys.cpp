// Session tickets with grove's own keys, so that they can rotate: each ticket names the
// key that encrypted it (AES-256-CBC, HMAC-SHA256, as OpenSSL's own tickets); a ticket
// under the previous key is still accepted and renewed under the current one; older
// tickets fall back to a full handshake.
#include "tls_detail.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>

namespace grove::http::detail {
namespace {

int ex_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

TicketKeys::Key random_key() {
  TicketKeys::Key k;
  if (RAND_bytes(k.name.data(), int(k.name.size())) != 1 ||
      RAND_bytes(k.aes.data(), int(k.aes.size())) != 1 ||
      RAND_bytes(k.hmac.data(), int(k.hmac.size())) != 1)
    throw TlsError("TLS session tickets: no random bytes for a key: " + take_openssl_errors());
  k.made = std::chrono::steady_clock::now();
  return k;
}

bool set_hmac_key(EVP_MAC_CTX* hctx, TicketKeys::Key& key) {
  char digest[] = "sha256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac.data(), key.hmac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  return EVP_MAC_CTX_set_params(hctx, params) == 1;
}

// OpenSSL's contract: 1 ticket (en|de)crypted, 2 decrypted and to be renewed, 0 no such
// key (full handshake), -1 failure.
int ticket_callback(SSL* ssl, unsigned char key_name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher,
                    EVP_MAC_CTX* hmac, int encrypt) {
  auto* keys = static_cast<TicketKeys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ex_index()));
  if (!keys) return -1;
  TicketKeys::Key key;
  if (encrypt) {
    key = keys->for_encryption();
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) return -1;
    std::memcpy(key_name, key.name.data(), key.name.size());
    if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv) != 1) return -1;
    return set_hmac_key(hmac, key) ? 1 : -1;
  }
  bool current = false;
  if (!keys->for_decryption(key_name, key, current)) return 0;
  if (!set_hmac_key(hmac, key)) return -1;
  if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv) != 1) return -1;
  // TLS 1.3: a new ticket after every resumption, as nginx (OpenSSL's own ticket keys) sends:
  // a client should use a ticket once (RFC 8446, C.4), and the ticket answers the client's
  // Finished at once. Without it, a client with Nagle's algorithm on (Python's) held its
  // request until the server's delayed ACK, 40 ms later, on every resumed connection.
  if (SSL_version(ssl) == TLS1_3_VERSION) return 2;
  return current ? 1 : 2;
}

}  // namespace

TicketKeys::TicketKeys(std::chrono::seconds life) : lifetime(life), current(random_key()) {}

void TicketKeys::rotate() {
  Key fresh = random_key();
  std::lock_guard lock(mutex);
  previous = current;
  has_previous = true;
  current = fresh;
}

TicketKeys::Key TicketKeys::for_encryption() {
  {
    std::lock_guard lock(mutex);
    if (std::chrono::steady_clock::now() - current.made < lifetime) return current;
  }
  rotate();
  std::lock_guard lock(mutex);
  return current;
}

bool TicketKeys::for_decryption(const unsigned char* name, Key& key, bool& is_current) {
  std::lock_guard lock(mutex);
  if (std::memcmp(name, current.name.data(), current.name.size()) == 0) {
    key = current;
    is_current = true;
    return true;
  }
  // The previous key decrypts for one more lifetime after it was replaced.
  if (has_previous && std::memcmp(name, previous.name.data(), previous.name.size()) == 0 &&
      std::chrono::steady_clock::now() - current.made < lifetime) {
    key = previous;
    is_current = false;
    return true;
  }
  return false;
}

void TicketKeys::install(SSL_CTX* ctx) {
  SSL_CTX_set_ex_data(ctx, ex_index(), this);
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_callback);
}

}  // namespace grove::http::detail
