// permessage-deflate (RFC 7692): its examples, context takeover, window sizes, messages
// split across frames, and the decompression limit that stops a zip bomb.
#include <grove/http/detail/websocket_deflate.hpp>
#include <grove/http/detail/websocket_frames.hpp>

#include "ws_support.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <vector>

using namespace grove::http::ws;
using detail::Deflater;
using detail::Inflater;
using detail::Opcode;
using detail::WsReader;
using grove::http::test::raw_deflate;

namespace {

std::string operator""_b(const char* s, std::size_t n) { return std::string(s, n); }

WsReader::Config deflating(int bits = 15, bool no_takeover = false, std::size_t max = 1 << 20) {
  WsReader::Config cfg;
  cfg.deflate = true;
  cfg.peer_window_bits = bits;
  cfg.peer_no_context_takeover = no_takeover;
  cfg.max_message = max;
  cfg.max_frame = max;
  return cfg;
}

std::string cframe(Opcode op, std::string_view payload, bool fin = true, bool rsv1 = false) {
  std::string out;
  detail::write_frame(out, op, payload, fin, rsv1, 0x01020304u);
  return out;
}

}  // namespace

TEST_CASE("deflate: RFC 7692's examples") {
  Deflater d(15, false);
  std::string first, second;
  d.compress("Hello", first);
  d.compress("Hello", second);
  CHECK(first == "\xf2\x48\xcd\xc9\xc9\x07\x00"_b);  // §7.2.3.1
  CHECK(second == "\xf2\x00\x11\x00\x00"_b);         // §7.2.3.2: the window is kept

  Deflater fresh(15, true);
  std::string a, b;
  fresh.compress("Hello", a);
  fresh.compress("Hello", b);
  CHECK(a == b);  // no context takeover

  std::string empty;
  Deflater(15, false).compress("", empty);
  CHECK(empty == "\x00"_b);  // §7.2.3.6

  // A compressed message split in two frames, RSV1 on the first only (§7.2.3.1).
  WsReader r(deflating());
  std::string wire = cframe(Opcode::text, "\xf2\x48\xcd"_b, false, true) +
                     cframe(Opcode::continuation, "\xc9\xc9\x07\x00"_b);
  auto ev = r.next(wire);
  REQUIRE(ev.kind == WsReader::Kind::text);
  CHECK(ev.data == "Hello");
  CHECK(ev.consumed == wire.size());
}

TEST_CASE("deflate: messages round-trip for every window and takeover setting") {
  std::mt19937 rng(42);
  for (int bits : {9, 12, 15})
    for (bool no_takeover : {false, true}) {
      Deflater d(bits, no_takeover);
      WsReader r(deflating(bits, no_takeover));
      for (int i = 0; i < 20; ++i) {
        std::string msg;
        std::size_t n = rng() % (i % 5 == 0 ? 100000 : 300);
        for (std::size_t k = 0; k < n; ++k) msg.push_back(char('a' + rng() % (i % 2 ? 4 : 26)));
        std::string payload;
        d.compress(msg, payload);
        // Split into frames of up to 1000 bytes.
        std::string wire;
        for (std::size_t off = 0; off == 0 || off < payload.size(); off += 1000) {
          auto piece = std::string_view(payload).substr(off, 1000);
          bool last = off + 1000 >= payload.size();
          wire += cframe(off == 0 ? Opcode::text : Opcode::continuation, piece, last, off == 0);
        }
        std::string_view in = wire;
        auto ev = r.next(in);
        INFO("bits " << bits << " no_takeover " << no_takeover << " message " << i);
        REQUIRE(ev.kind == WsReader::Kind::text);
        CHECK(ev.data == msg);
        CHECK(ev.consumed == wire.size());
      }
    }
}

TEST_CASE("deflate: uncompressed messages mix with compressed ones") {
  WsReader r(deflating());
  std::string wire =
      cframe(Opcode::binary, raw_deflate("zipped"), true, true) + cframe(Opcode::binary, "plain");
  auto ev = r.next(wire);
  REQUIRE(ev.kind == WsReader::Kind::binary);
  CHECK(ev.data == "zipped");
  auto ev2 = r.next(std::string_view(wire).substr(ev.consumed));
  REQUIRE(ev2.kind == WsReader::Kind::binary);
  CHECK(ev2.data == "plain");
}

TEST_CASE("deflate: a zip bomb stops at the message limit with 1009") {
  std::string zeros(16 << 20, '\0');
  std::string bomb = raw_deflate(zeros);
  CHECK(bomb.size() < 64 * 1024);
  WsReader r(deflating(15, false, 1 << 20));
  std::string wire = cframe(Opcode::binary, bomb, true, true);
  auto ev = r.next(wire);
  REQUIRE(ev.kind == WsReader::Kind::error);
  CHECK(ev.code == 1009);
  // It stopped at the limit instead of inflating all 16 MiB first (a string's capacity
  // grows by doubling, so twice the limit at most).
  CHECK(r.buffered() <= 2 * (1 << 20) + 2 * bomb.size());

  // The Inflater itself: exactly at the limit is fine, one byte more is not.
  std::string payload = raw_deflate(std::string(1000, 'x'));
  std::string out;
  Inflater at(15, false);
  CHECK(at.inflate(payload, out, 1000) == Inflater::Result::ok);
  CHECK(at.finish(out, 1000) == Inflater::Result::ok);
  CHECK(out == std::string(1000, 'x'));
  out.clear();
  Inflater over(15, false);
  auto first = over.inflate(payload, out, 999);
  auto result = first == Inflater::Result::ok ? over.finish(out, 999) : first;
  CHECK(result == Inflater::Result::too_big);
}

TEST_CASE("deflate: corrupt data closes with 1002, bad UTF-8 inside with 1007") {
  WsReader r(deflating());
  auto ev = r.next(cframe(Opcode::text, "\xff\xff\xff\xff"_b, true, true));
  REQUIRE(ev.kind == WsReader::Kind::error);
  CHECK(ev.code == 1002);

  WsReader r2(deflating());
  auto ev2 = r2.next(cframe(Opcode::text, raw_deflate("ok \xc0\xaf"_b), true, true));
  REQUIRE(ev2.kind == WsReader::Kind::error);
  CHECK(ev2.code == 1007);

  // RSV1 on a continuation or a control frame is a protocol error.
  WsReader r3(deflating());
  auto ev3 = r3.next(cframe(Opcode::text, "\xf2\x48"_b, false, true) +
                     cframe(Opcode::continuation, "\xcd"_b, true, true));
  REQUIRE(ev3.kind == WsReader::Kind::error);
  CHECK(ev3.code == 1002);
  WsReader r4(deflating());
  auto ev4 = r4.next(cframe(Opcode::ping, "", true, true));
  REQUIRE(ev4.kind == WsReader::Kind::error);
  CHECK(ev4.code == 1002);
}
