// libFuzzer target: permessage-deflate (server/src/websocket_deflate.cpp) and the reader's
// decompression path.
//
//   byte 0: bits 0-2 the window bits (9 + n, at most 15); bit 3 no context takeover;
//           bits 4-7 the message limit (1 << (6 + n) bytes)
//   the rest: split at each 0xFF byte into messages.
// Each message is (1) inflated as if a peer had sent it compressed: the output never
// exceeds the limit, and the reader, given it as a compressed frame, ends with the message,
// 1002 (corrupt), 1007 (text that is not UTF-8) or 1009 (too big), never more bytes than
// the limit; and (2) compressed by the Deflater and read back through a reader with the
// same settings: the same bytes come out, message after message (context takeover kept).
#include <grove/http/detail/websocket_deflate.hpp>
#include <grove/http/detail/websocket_frames.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace grove::http::ws;
using detail::Deflater;
using detail::Inflater;
using detail::Opcode;
using detail::WsReader;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_ws_deflate: invariant broken: %s\n", what);
  std::abort();
}
#define CHECK(cond)           \
  do {                        \
    if (!(cond)) fail(#cond); \
  } while (0)

std::string frame(Opcode op, std::string_view payload, bool rsv1) {
  std::string out;
  detail::write_frame(out, op, payload, true, rsv1, 0x5a5a5a5au);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::uint8_t ctl = data[0];
  int bits = std::min(15, 9 + (ctl & 7));
  bool no_takeover = ctl & 8;
  std::size_t limit = std::size_t(1) << (6 + (ctl >> 4));
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<std::string_view> messages;
  for (std::size_t start = 0;;) {
    auto end = rest.find('\xff', start);
    messages.push_back(rest.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }

  WsReader::Config cfg;
  cfg.deflate = true;
  cfg.peer_window_bits = bits;
  cfg.peer_no_context_takeover = no_takeover;
  cfg.max_message = cfg.max_frame = limit;

  // (1) arbitrary bytes as compressed payloads
  Inflater inflater(bits, no_takeover);
  WsReader hostile(cfg);
  bool hostile_ended = false;
  for (auto m : messages) {
    std::string out;
    auto r = inflater.inflate(m, out, limit);
    CHECK(out.size() <= limit + 1);
    if (r == Inflater::Result::ok) r = inflater.finish(out, limit);
    CHECK(out.size() <= limit + 1);
    if (r == Inflater::Result::ok) CHECK(out.size() <= limit);
    if (r != Inflater::Result::ok) inflater = Inflater(bits, no_takeover);
    if (hostile_ended || m.size() > limit) continue;
    auto ev = hostile.next(frame(Opcode::binary, m, true));
    CHECK(hostile.buffered() <= 2 * limit + 2 * m.size() + 64 * 1024);
    if (ev.kind == WsReader::Kind::binary) {
      CHECK(ev.data.size() <= limit);
    } else {
      CHECK(ev.kind == WsReader::Kind::error);
      CHECK(ev.code == 1002 || ev.code == 1009);
      hostile_ended = true;
    }
  }

  // (2) the Deflater's output reads back to the input
  Deflater deflater(bits, no_takeover);
  WsReader::Config roomy = cfg;
  roomy.max_message = roomy.max_frame = std::size_t(1) << 24;
  WsReader reader(roomy);
  for (auto m : messages) {
    std::string payload;
    deflater.compress(m, payload);
    auto ev = reader.next(frame(Opcode::binary, payload, true));
    CHECK(ev.kind == WsReader::Kind::binary);
    CHECK(ev.data == m);
  }
  return 0;
}
