// Character classes of RFC 9110/9112, as tables.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace grove::http::chars {

enum : std::uint8_t {
  kTchar = 1,       // token characters
  kFieldVchar = 2,  // field-vchar: VCHAR / obs-text
  kTargetChar = 4,  // what a request-target may contain (visible ASCII, no '#')
  kHex = 8,
  kHostChar = 16,  // reg-name, IP-literal and port: unreserved / sub-delims / % : [ ]
  kQdtext = 32,    // quoted-string text (without '"' and '\\')
};

constexpr std::array<std::uint8_t, 256> make_table() {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    std::uint8_t v = 0;
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    bool digit = c >= '0' && c <= '9';
    if (alpha || digit ||
        std::string_view("!#$%&'*+-.^_`|~").find(char(c)) != std::string_view::npos)
      v |= kTchar;
    if ((c >= 0x21 && c <= 0x7e) || c >= 0x80) v |= kFieldVchar;
    if (c >= 0x21 && c <= 0x7e && c != '#') v |= kTargetChar;
    if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) v |= kHex;
    if (alpha || digit ||
        std::string_view("-._~!$&'()*+,;=%:[]").find(char(c)) != std::string_view::npos)
      v |= kHostChar;
    if (c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
        (c >= 0x5d && c <= 0x7e) || c >= 0x80)
      v |= kQdtext;
    t[c] = v;
  }
  return t;
}

inline constexpr std::array<std::uint8_t, 256> table = make_table();

inline bool is(char c, std::uint8_t cls) { return table[static_cast<unsigned char>(c)] & cls; }
inline bool tchar(char c) { return is(c, kTchar); }
inline bool hex(char c) { return is(c, kHex); }
inline bool ows(char c) { return c == ' ' || c == '\t'; }
inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

inline std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && ows(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace grove::http::chars
