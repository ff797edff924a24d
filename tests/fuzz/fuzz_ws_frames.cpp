// libFuzzer target: the WebSocket frame reader (server/src/websocket_frames.cpp), and the
// opening handshake's header parsing on the same bytes.
//
//   byte 0: bit 0 the server's side (expects masked frames) else the client's; bit 1
//           permessage-deflate negotiated; bit 2 small limits (max_frame 64, max_message
//           200, so the fuzzer reaches every 1009 with short inputs); bits 3-7 the size of
//           the pieces the bytes arrive in (0: all at once)
//   the rest: the bytes from the peer
// The stream is read twice, whole and in pieces (the unconsumed rest copied to a new buffer
// before each call, as a server's buffer moves); both must give the same events. Every
// event keeps the documented invariants, and every message, written out again by
// write_frame(), reads back to itself.
#include <grove/http/detail/utf8.hpp>
#include <grove/http/detail/websocket_frames.hpp>
#include <grove/http/websocket.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace grove::http;
using ws::detail::Opcode;
using ws::detail::WsReader;
using Kind = WsReader::Kind;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_ws_frames: invariant broken: %s\n", what);
  std::abort();
}
#define CHECK(cond)           \
  do {                        \
    if (!(cond)) fail(#cond); \
  } while (0)

struct Seen {
  Kind kind;
  std::string data;
  std::uint16_t code;
  bool operator==(const Seen&) const = default;
};

std::vector<Seen> read(std::string_view wire, std::size_t step, const WsReader::Config& cfg) {
  WsReader r(cfg);
  std::vector<Seen> seen;
  std::string buf;
  std::size_t fed = 0;
  for (;;) {
    std::size_t n = step ? std::min(step, wire.size() - fed) : wire.size() - fed;
    std::string moved = buf;  // the unconsumed bytes "may have moved"
    moved.append(wire.substr(fed, n));
    buf.swap(moved);
    fed += n;
    for (;;) {
      auto ev = r.next(buf);
      CHECK(ev.consumed <= buf.size());
      buf.erase(0, ev.consumed);
      if (ev.kind == Kind::need_more) {
        CHECK(buf.size() < 14);  // only an incomplete header is left unconsumed
        break;
      }
      seen.push_back({ev.kind, std::string(ev.data), ev.code});
      if (ev.kind == Kind::close || ev.kind == Kind::error) {
        auto again = r.next(buf);
        CHECK(again.kind == ev.kind && again.consumed == 0 && again.code == ev.code);
        return seen;
      }
    }
    if (fed == wire.size()) return seen;
  }
}

void check_event(const Seen& s, const WsReader::Config& cfg) {
  switch (s.kind) {
    case Kind::text: CHECK(detail::valid_utf8(s.data)); [[fallthrough]];
    case Kind::binary: CHECK(s.data.size() <= cfg.max_message); break;
    case Kind::ping:
    case Kind::pong: CHECK(s.data.size() <= ws::detail::kMaxControlPayload); break;
    case Kind::close:
      CHECK(s.code == ws::close_code::no_status || ws::valid_close_code(s.code));
      CHECK(s.data.size() <= ws::detail::kMaxControlPayload - 2);
      CHECK(detail::valid_utf8(s.data));
      break;
    case Kind::error:
      CHECK(s.code == ws::close_code::protocol_error || s.code == ws::close_code::invalid_data ||
            s.code == ws::close_code::too_big);
      CHECK(!s.data.empty());
      break;
    case Kind::need_more: fail("need_more reported as an event");
  }
}

// A message written out again (uncompressed, masked as its sender would) reads back.
void check_round_trip(const Seen& s, const WsReader::Config& cfg) {
  if (s.kind != Kind::text && s.kind != Kind::binary) return;
  std::string wire;
  std::optional<std::uint32_t> mask;
  if (cfg.expect_masked) mask = 0xa1b2c3d4u;
  auto op = s.kind == Kind::text ? Opcode::text : Opcode::binary;
  std::size_t half = s.data.size() / 2;
  ws::detail::write_frame(wire, op, std::string_view(s.data).substr(0, half), false, false, mask);
  ws::detail::write_frame(wire, Opcode::continuation, std::string_view(s.data).substr(half), true,
                          false, mask);
  WsReader::Config big = cfg;
  big.max_frame = big.max_message = std::size_t(1) << 30;
  auto back = read(wire, 0, big);
  CHECK(back.size() == 1 && back[0] == s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::uint8_t ctl = data[0];
  std::string_view wire(reinterpret_cast<const char*>(data + 1), size - 1);
  WsReader::Config cfg;
  cfg.expect_masked = ctl & 1;
  cfg.deflate = ctl & 2;
  if (ctl & 4) {
    cfg.max_frame = 64;
    cfg.max_message = 200;
  }
  std::size_t step = ctl >> 3;

  auto whole = read(wire, 0, cfg);
  auto pieces = read(wire, step, cfg);
  CHECK(whole == pieces);
  for (const auto& s : whole) {
    check_event(s, cfg);
    check_round_trip(s, cfg);
  }
  return 0;
}
