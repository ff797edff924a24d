// What the TLS context and sessions share inside the library: one generation of OpenSSL
// contexts (what reload() replaces), the session-ticket keys (which outlive reloads, so a
// reload does not void tickets) and OpenSSL's error text.
#pragma once

#include <grove/http/tls.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <array>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grove::http::detail {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const noexcept { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

// OpenSSL's reasons on this thread's error queue, "; "-separated, and the queue cleared
// (green threads share the OS thread's queue: nothing may be left for the next one).
std::string take_openssl_errors();

// Empties this thread's error queue. Almost always it is empty already, and looking costs
// a fraction of ERR_clear_error (which wipes all sixteen slots every time): this runs
// several times per record.
inline void clear_openssl_errors() noexcept {
  if (ERR_peek_error() != 0) ERR_clear_error();
}

// The keys session tickets are encrypted with: the current one, and the previous one
// that still decrypts (tickets it made are renewed under the current one).
struct TicketKeys {
  struct Key {
    std::array<unsigned char, 16> name{};
    std::array<unsigned char, 32> aes{};
    std::array<unsigned char, 32> hmac{};
    std::chrono::steady_clock::time_point made{};
  };

  explicit TicketKeys(std::chrono::seconds lifetime);
  void rotate();
  // The current key to encrypt with, rotated first if it has lived its lifetime.
  Key for_encryption();
  // The key called `name`, and whether it is the current one; nullptr-like empty when
  // neither current nor previous has that name.
  bool for_decryption(const unsigned char* name, Key& key, bool& current);

  // Installs the ticket callback on ctx, with this object as its data.
  void install(SSL_CTX* ctx);

  std::mutex mutex;
  std::chrono::seconds lifetime;
  Key current;
  Key previous;
  bool has_previous = false;
};

// One loaded configuration: the default context and one per SNI pair.
struct TlsGeneration {
  TlsConfig config;
  SslCtxPtr main;
  std::vector<std::pair<std::string, SSL_CTX*>> names;  // lower-case DNS name -> context
  std::vector<SslCtxPtr> extra;                         // owns the SNI contexts
  std::shared_ptr<TicketKeys> tickets;

  // The context serving `server_name`, or nullptr for the default.
  SSL_CTX* for_name(std::string_view server_name) const;
};

}  // namespace grove::http::detail
