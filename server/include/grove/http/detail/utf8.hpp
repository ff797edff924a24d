// Incremental UTF-8 validation (machinery): a WebSocket text message arrives in fragments
// and frames split anywhere, even inside a character, so the validator keeps the state of
// an unfinished sequence between calls and says "invalid" at the first byte that makes the
// input so far no prefix of valid UTF-8 (RFC 3629: no overlongs, no surrogates, nothing
// past U+10FFFF), which lets the server close with 1007 before the message ends.
//
//   Utf8Validator v;
//   v.feed("\xe2\x82") && v.feed("\xac") && v.complete();   // true: U+20AC split in two
#pragma once

#include <cstdint>
#include <string_view>

namespace grove::http::detail {

class Utf8Validator {
 public:
  // Feeds the next bytes; false once the input so far cannot be valid (and from then on).
  bool feed(std::string_view bytes) noexcept;
  // Whether the input fed so far ends on a character boundary.
  bool complete() const noexcept { return need_ == 0 && !failed_; }
  void reset() noexcept { *this = Utf8Validator(); }

 private:
  std::uint8_t need_ = 0;               // continuation bytes still expected
  std::uint8_t lo_ = 0x80, hi_ = 0xBF;  // the range the next continuation byte must be in
  bool failed_ = false;
};

// Whether `bytes` is whole, valid UTF-8.
bool valid_utf8(std::string_view bytes) noexcept;

}  // namespace grove::http::detail
