// The WebSocket opening handshake (grove/http/websocket.hpp): RFC 6455 §4.2 and the
// permessage-deflate negotiation of RFC 7692 §7.1.
#include <grove/http/websocket.hpp>

#include "chars.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <charconv>

namespace grove::http::ws {

namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// Splits a comma-separated field value into its trimmed, non-empty elements; commas
// inside quoted strings do not split.
std::vector<std::string_view> split_list(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  bool quoted = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i < s.size() && s[i] == '"') quoted = !quoted;
    if (i < s.size() && s[i] == '\\' && quoted) {
      ++i;
      continue;
    }
    if (i == s.size() || (s[i] == sep && !quoted)) {
      auto item = chars::trim_ows(s.substr(start, i - start));
      if (!item.empty()) out.push_back(item);
      start = i + 1;
    }
  }
  return out;
}

bool has_token(const Headers& headers, std::string_view field, std::string_view token) {
  for (auto value : headers.get_all(field))
    for (auto item : split_list(value, ','))
      if (iequals(item, token)) return true;
  return false;
}

bool base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// A Sec-WebSocket-Key must decode to 16 bytes: 22 base64 characters and "==".
bool valid_key(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  for (std::size_t i = 0; i < 22; ++i)
    if (!base64_char(key[i])) return false;
  return true;
}

// A window-bits parameter value: 8-15, possibly quoted.
std::optional<int> window_bits(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  int n = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), n);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size() || v.empty() || n < 8 || n > 15)
    return std::nullopt;
  return n;
}

// One permessage-deflate offer against the server's options; nullopt declines it (an
// unknown, repeated or malformed parameter, or a window zlib cannot compress with).
std::optional<DeflateParams> negotiate(const std::vector<std::string_view>& params,
                                       const DeflateOptions& opts) {
  DeflateParams p;
  p.server_no_context_takeover = opts.server_no_context_takeover;
  p.client_no_context_takeover = opts.client_no_context_takeover;
  p.server_max_window_bits = std::clamp(opts.server_max_window_bits, 9, 15);
  p.client_max_window_bits = 15;
  bool seen[4] = {};
  for (std::size_t i = 1; i < params.size(); ++i) {
    auto eq = params[i].find('=');
    auto name = chars::trim_ows(params[i].substr(0, eq));
    std::optional<std::string_view> value;
    if (eq != std::string_view::npos) value = chars::trim_ows(params[i].substr(eq + 1));
    int which = iequals(name, "server_no_context_takeover")   ? 0
                : iequals(name, "client_no_context_takeover") ? 1
                : iequals(name, "server_max_window_bits")     ? 2
                : iequals(name, "client_max_window_bits")     ? 3
                                                              : -1;
    if (which < 0 || seen[which]) return std::nullopt;
    seen[which] = true;
    if (which <= 1) {
      if (value) return std::nullopt;
      (which == 0 ? p.server_no_context_takeover : p.client_no_context_takeover) = true;
    } else if (which == 2) {
      auto bits = value ? window_bits(*value) : std::nullopt;
      if (!bits || *bits < 9) return std::nullopt;  // zlib writes no raw 8-bit windows
      p.server_max_window_bits = std::min(p.server_max_window_bits, *bits);
    } else {
      // The client can obey a limit; without a value it lets the server choose.
      std::optional<int> bits = 15;
      if (value) bits = window_bits(*value);
      if (!bits) return std::nullopt;
      p.client_max_window_bits = std::min(*bits, std::clamp(opts.client_max_window_bits, 8, 15));
    }
  }
  return p;
}

std::optional<DeflateParams> negotiate_deflate(const Headers& headers, const DeflateOptions& opts) {
  if (!opts.enabled) return std::nullopt;
  for (auto value : headers.get_all("sec-websocket-extensions"))
    for (auto offer : split_list(value, ',')) {
      auto params = split_list(offer, ';');
      if (params.empty() || !iequals(params[0], "permessage-deflate")) continue;
      if (auto p = negotiate(params, opts)) return p;
    }
  return std::nullopt;
}

}  // namespace

bool valid_close_code(std::uint16_t code) noexcept {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

std::string DeflateParams::response() const {
  std::string s = "permessage-deflate";
  if (server_no_context_takeover) s += "; server_no_context_takeover";
  if (client_no_context_takeover) s += "; client_no_context_takeover";
  if (server_max_window_bits < 15)
    s += "; server_max_window_bits=" + std::to_string(server_max_window_bits);
  if (client_max_window_bits < 15)
    s += "; client_max_window_bits=" + std::to_string(client_max_window_bits);
  return s;
}

std::string accept_key(std::string_view key) {
  std::string input(key);
  input += kGuid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  char out[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out), digest, SHA_DIGEST_LENGTH);
  return std::string(out, std::size_t(n));
}

bool is_upgrade(const Request& req) { return is_upgrade(req.headers()); }
bool is_upgrade(const Headers& headers) { return has_token(headers, "upgrade", "websocket"); }

Handshake check_handshake(const Request& req, const Options& opts) {
  return check_handshake(req.method(), req.version(), req.headers(), opts);
}

Handshake check_handshake(std::string_view method, Version version, const Headers& headers,
                          const Options& opts) {
  Handshake hs;
  auto refuse = [&](int status, std::string why) {
    hs.status = status;
    hs.error = std::move(why);
    return hs;
  };
  if (method != "GET") return refuse(400, "a WebSocket handshake must be a GET");
  if (version.major != 1 || version.minor < 1)
    return refuse(400, "a WebSocket handshake needs HTTP/1.1");
  if (!is_upgrade(headers)) return refuse(400, "missing Upgrade: websocket");
  if (!has_token(headers, "connection", "upgrade"))
    return refuse(400, "missing Connection: upgrade");
  auto ws_version = headers.get("sec-websocket-version");
  if (!ws_version || chars::trim_ows(*ws_version) != "13")
    return refuse(426, "only WebSocket version 13 is supported");
  auto keys = headers.get_all("sec-websocket-key");
  if (keys.size() != 1 || !valid_key(chars::trim_ows(keys[0])))
    return refuse(400, "Sec-WebSocket-Key must be 16 bytes in base64");
  hs.accept = accept_key(chars::trim_ows(keys[0]));
  hs.origin = std::string(headers.get_or("origin", ""));
  for (auto value : headers.get_all("sec-websocket-protocol"))
    for (auto p : split_list(value, ',')) hs.offered_protocols.emplace_back(p);
  for (const auto& mine : opts.subprotocols)
    if (std::find(hs.offered_protocols.begin(), hs.offered_protocols.end(), mine) !=
        hs.offered_protocols.end()) {
      hs.protocol = mine;
      break;
    }
  hs.deflate = negotiate_deflate(headers, opts.deflate);
  hs.status = 101;
  return hs;
}

Headers accept_headers(const Handshake& hs) {
  Headers h;
  h.add("Upgrade", "websocket");
  h.add("Connection", "Upgrade");
  h.add("Sec-WebSocket-Accept", hs.accept);
  if (!hs.protocol.empty()) h.add("Sec-WebSocket-Protocol", hs.protocol);
  if (hs.deflate) h.add("Sec-WebSocket-Extensions", hs.deflate->response());
  return h;
}

Response refusal(const Handshake& hs) {
  Response r(hs.status, std::to_string(hs.status) + " " + std::string(reason_phrase(hs.status)) +
                            ": " + hs.error + "\n");
  r.headers.set("Connection", "close");
  if (hs.status == 426) {
    r.headers.set("Sec-WebSocket-Version", "13");
    r.headers.set("Upgrade", "websocket");
  }
  return r;
}

}  // namespace grove::http::ws
