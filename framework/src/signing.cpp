// HMAC-SHA256 signed tokens through OpenSSL's libcrypto.
#include <grove/web/signing.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>
#include <stdexcept>

namespace grove::web {

namespace {

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len))
    throw std::runtime_error("grove::web::Signer: OpenSSL's HMAC-SHA256 failed");
  return std::string(reinterpret_cast<const char*>(out), len);
}

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 3 <= bytes.size(); i += 3) {
    unsigned v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (std::size_t rest = bytes.size() - i) {
    unsigned v = at(i) << 16;
    if (rest == 2) v |= at(i + 1) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    if (rest == 2) out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned v = 0;
  int bits = 0;
  for (char c : text) {
    int s = sextet(c);
    if (s < 0) return std::nullopt;
    v = (v << 6) | unsigned(s);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((v >> bits) & 0xff));
    }
  }
  // The leftover bits must be zero, so that each byte string has exactly one encoding.
  if (bits > 0 && (v & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

Signer::Signer(std::vector<std::string> secret_keys, std::string_view salt) {
  if (secret_keys.empty())
    throw std::invalid_argument(
        "grove::web::Signer: no secret key; give at least one (config SECRET_KEY)");
  for (const auto& k : secret_keys) {
    if (k.empty()) throw std::invalid_argument("grove::web::Signer: a secret key is empty");
    keys_.push_back(hmac_sha256(k, salt));  // itsdangerous's "hmac" key derivation
  }
}

std::string Signer::signature(const std::string& key, std::string_view signed_part) const {
  return base64url_encode(hmac_sha256(key, signed_part));
}

std::string Signer::sign(std::string_view payload, std::int64_t timestamp) const {
  std::string token = base64url_encode(payload);
  token += '.';
  token += std::to_string(timestamp);
  std::string sig = signature(keys_.front(), token);
  token += '.';
  token += sig;
  return token;
}

std::optional<Signer::Unsigned> Signer::unsign(std::string_view token) const {
  auto last = token.rfind('.');
  if (last == std::string_view::npos || last == 0) return std::nullopt;
  std::string_view signed_part = token.substr(0, last), sig = token.substr(last + 1);
  bool valid = false;
  for (const auto& key : keys_) {
    std::string expected = signature(key, signed_part);
    valid |= expected.size() == sig.size() &&
             CRYPTO_memcmp(expected.data(), sig.data(), sig.size()) == 0;
  }
  if (!valid) return std::nullopt;
  auto dot = signed_part.rfind('.');
  if (dot == std::string_view::npos) return std::nullopt;
  std::string_view ts = signed_part.substr(dot + 1);
  Unsigned out;
  auto r = std::from_chars(ts.data(), ts.data() + ts.size(), out.timestamp);
  if (ts.empty() || r.ec != std::errc() || r.ptr != ts.data() + ts.size()) return std::nullopt;
  auto payload = base64url_decode(signed_part.substr(0, dot));
  if (!payload) return std::nullopt;
  out.payload = std::move(*payload);
  return out;
}

}  // namespace grove::web
