// WebSocket frames without I/O (machinery; the server's WebSocket, the test client and
// the fuzz targets share it). The caller owns the bytes and the transport; the Reader says
// what received bytes mean, write_frame() what bytes to send.
//
// Reader, per connection and direction: next(buffered) consumes bytes from the front of
// `buffered` and returns the next event: a whole message (fragments joined, inflated if
// permessage-deflate compressed it, text checked as UTF-8 as it arrives), a ping, a pong,
// a close, or an error carrying the close code to answer with (1002 protocol, 1007 bad
// UTF-8, 1009 too big). Payload bytes are consumed as they arrive, so a frame need not fit
// in the caller's buffer and a fault in it is found before its end.
//
//   detail::WsReader r(cfg);
//   for (;;) {
//     auto ev = r.next(in);  in.remove_prefix(ev.consumed);
//     if (ev.kind == WsReader::Kind::need_more) break;   // read more, call again
//     ...
//   }
#pragma once

#include <grove/http/detail/utf8.hpp>
#include <grove/http/detail/websocket_deflate.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace grove::http::ws::detail {

enum class Opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};
inline bool is_control(Opcode op) noexcept { return (std::uint8_t(op) & 0x8) != 0; }

// The largest payload of a control frame (ping, pong, close).
inline constexpr std::size_t kMaxControlPayload = 125;

// Appends one frame. `mask`: the client's masking key (clients must mask, servers must
// not). `rsv1`: the payload is permessage-deflate compressed (first frame of a message).
void write_frame(std::string& out, Opcode op, std::string_view payload, bool fin = true,
                 bool rsv1 = false, std::optional<std::uint32_t> mask = std::nullopt);

// The payload of a Close frame: the code, big-endian, then the reason, cut to fit 125
// bytes at a UTF-8 character boundary. Code 1005 (no status) gives an empty payload.
std::string close_payload(std::uint16_t code, std::string_view reason);

class WsReader {
 public:
  struct Config {
    std::size_t max_message = 1024 * 1024;
    std::size_t max_frame = 1024 * 1024;
    // A server reads masked frames (a client's); a client reads unmasked ones. The other
    // kind is a protocol error.
    bool expect_masked = true;
    // permessage-deflate as negotiated, from the peer's side: its compressor's window and
    // whether it resets between messages. Without it, RSV1 is a protocol error.
    bool deflate = false;
    int peer_window_bits = 15;
    bool peer_no_context_takeover = false;
  };
  enum class Kind : std::uint8_t { need_more, text, binary, ping, pong, close, error };
  struct Event {
    Kind kind = Kind::need_more;
    std::size_t consumed = 0;  // bytes of the input used, whatever the kind
    // text/binary: the message; ping/pong: the payload; close, error: the reason.
    // A view into the reader, valid until the next call.
    std::string_view data;
    // close: the peer's code (1005 if it sent none); error: the code to close with.
    std::uint16_t code = 0;
  };

  explicit WsReader(const Config& cfg);
  // Parses from the start of `in`: returns at the first complete event, or need_more once
  // `in` is used up. After an error or a close, returns the same event again (consuming
  // nothing): nothing may follow a Close, and nothing is read after a fault.
  Event next(std::string_view in);

  // Bytes held for the message being assembled (the per-connection memory it costs).
  std::size_t buffered() const noexcept { return message_.capacity() + control_.capacity(); }
  // Drops the buffers of the last message (a connection idle after a large one).
  void shrink() noexcept;

 private:
  enum class HeaderStep : std::uint8_t { need_more, ready, fault };
  HeaderStep read_header(std::string_view in, std::size_t& pos);
  bool take_payload(std::string_view chunk);
  Event inflated(Inflater::Result r, std::size_t old, std::size_t pos);
  Event frame_done(std::size_t pos);
  Event finish_message(std::size_t pos);
  Event close_event(std::size_t pos);
  Event fail(std::uint16_t code, const char* reason, std::size_t pos);

  Config cfg_;
  // the frame being read
  bool in_payload_ = false;
  Opcode op_ = Opcode::continuation;
  bool fin_ = false;
  bool masked_ = false;
  std::uint8_t mask_[4] = {};
  std::size_t mask_pos_ = 0;
  std::uint64_t remaining_ = 0;
  // the message being assembled
  bool in_message_ = false;
  bool text_ = false;
  bool compressed_ = false;
  std::string message_;
  std::string control_;
  std::string scratch_;  // unmasked compressed bytes on their way into the inflater
  http::detail::Utf8Validator utf8_;
  std::optional<Inflater> inflater_;
  // the last event, once it ends the stream (close or error)
  bool ended_ = false;
  Event end_;
  std::string end_reason_;
};

}  // namespace grove::http::ws::detail
