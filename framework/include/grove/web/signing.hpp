// Signed tokens (itsdangerous's TimestampSigner): what the session cookie is made of.
//
//   web::Signer signer({"new key", "old key"});                 // newest first
//   std::string token = signer.sign(R"({"user":"ada"})", now);  //
//   "eyJ1c2VyIjoiYWRhIn0.1700000000.Qm9..." auto back = signer.unsign(token); // payload and
//   timestamp, or nullopt
//
// Promises: a token is base64url(payload) "." decimal seconds "." base64url(HMAC-SHA256),
// with the key derived from each secret key and the salt (so one secret can sign several
// kinds of token that cannot be swapped for each other). The first key signs; every key
// verifies (key rotation: keep old keys in the list until their tokens have expired). A
// token whose signature, timestamp or encoding does not check out is refused (nullopt),
// compared in constant time. The payload is not encrypted: anyone can read it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grove::web {

class Signer {
 public:
  // std::invalid_argument when there is no key or a key is empty.
  explicit Signer(std::vector<std::string> secret_keys, std::string_view salt = "grove.session");

  std::string sign(std::string_view payload, std::int64_t timestamp) const;

  struct Unsigned {
    std::string payload;
    std::int64_t timestamp = 0;
  };
  std::optional<Unsigned> unsign(std::string_view token) const;

 private:
  std::string signature(const std::string& key, std::string_view signed_part) const;
  std::vector<std::string> keys_;  // derived, one per secret key
};

// RFC 4648 base64url without padding; decode returns nullopt for anything else.
std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace grove::web
