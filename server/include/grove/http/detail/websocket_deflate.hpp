// permessage-deflate (RFC 7692) over zlib (machinery): raw DEFLATE per message, the
// trailing 00 00 FF FF of a sync flush removed by the sender and put back by the receiver,
// and the window either kept between messages (context takeover) or reset after each.
//
// The inflater writes at most `limit` bytes per message, so a small compressed message
// cannot expand into gigabytes (a zip bomb stops at the limit with too_big, and the
// connection closes with 1009). Both keep their zlib state, created on first use:
// a deflater with a 15-bit window holds about 256 KiB, an inflater about 40 KiB.
//
//   Deflater d(15, false);  std::string wire; d.compress("Hello", wire);
//   Inflater i(15, false);  std::string msg;
//   i.inflate(wire, msg, 1 << 20); i.finish(msg, 1 << 20);   // msg == "Hello"
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace grove::http::ws::detail {

class Inflater {
 public:
  enum class Result { ok, too_big, corrupt };
  // window_bits: the peer's negotiated window (8-15; a larger window always decodes).
  Inflater(int window_bits, bool no_context_takeover);
  ~Inflater();
  Inflater(Inflater&&) noexcept;
  Inflater& operator=(Inflater&&) noexcept;

  // Appends what `in` (a piece of one compressed message) inflates to onto `out`, which
  // must not grow past `limit` bytes.
  Result inflate(std::string_view in, std::string& out, std::size_t limit);
  // Ends the message: inflates the removed sync-flush tail, then forgets the window if
  // there is no context takeover.
  Result finish(std::string& out, std::size_t limit);

 private:
  struct State;
  std::unique_ptr<State> state_;
  int window_bits_;
  bool no_context_takeover_;
};

class Deflater {
 public:
  // window_bits: 9-15 (zlib cannot write raw DEFLATE with an 8-bit window).
  Deflater(int window_bits, bool no_context_takeover);
  ~Deflater();
  Deflater(Deflater&&) noexcept;
  Deflater& operator=(Deflater&&) noexcept;

  // Appends one whole message, compressed, onto `out` (the payload of its frame).
  void compress(std::string_view message, std::string& out);

 private:
  struct State;
  std::unique_ptr<State> state_;
  int window_bits_;
  bool no_context_takeover_;
};

}  // namespace grove::http::ws::detail
