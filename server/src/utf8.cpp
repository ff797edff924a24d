// Incremental UTF-8 validation (grove/http/detail/utf8.hpp): the table of RFC 3629 §4,
// one lead byte at a time, with the bounds of the byte after it kept across calls.
#include <grove/http/detail/utf8.hpp>

#include <cstring>

namespace grove::http::detail {

namespace {

// Whether the 8 bytes at p are all ASCII (the common case, skipped a word at a time).
inline bool ascii8(const unsigned char* p) noexcept {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return (w & 0x8080808080808080ull) == 0;
}

}  // namespace

bool Utf8Validator::feed(std::string_view bytes) noexcept {
  if (failed_) return false;
  auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  auto* end = p + bytes.size();
  while (p < end) {
    if (need_ == 0) {
      while (end - p >= 8 && ascii8(p)) p += 8;
      if (p == end) break;
      unsigned char c = *p++;
      if (c < 0x80) continue;
      // The lead byte says how many continuation bytes follow and which second bytes
      // are allowed (excluding overlongs, surrogates and code points past U+10FFFF).
      lo_ = 0x80;
      hi_ = 0xBF;
      if (c >= 0xC2 && c <= 0xDF) {
        need_ = 1;
      } else if (c >= 0xE0 && c <= 0xEF) {
        need_ = 2;
        if (c == 0xE0) lo_ = 0xA0;
        if (c == 0xED) hi_ = 0x9F;
      } else if (c >= 0xF0 && c <= 0xF4) {
        need_ = 3;
        if (c == 0xF0) lo_ = 0x90;
        if (c == 0xF4) hi_ = 0x8F;
      } else {
        failed_ = true;
        return false;
      }
      continue;
    }
    unsigned char c = *p++;
    if (c < lo_ || c > hi_) {
      failed_ = true;
      return false;
    }
    lo_ = 0x80;
    hi_ = 0xBF;
    --need_;
  }
  return true;
}

bool valid_utf8(std::string_view bytes) noexcept {
  Utf8Validator v;
  return v.feed(bytes) && v.complete();
}

}  // namespace grove::http::detail
