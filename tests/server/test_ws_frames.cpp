// WebSocket frames (RFC 6455 §5): the writer, and the reader fed whole, byte by byte and
// split anywhere, with the close code each fault must give. And incremental UTF-8.
#include <grove/http/detail/utf8.hpp>
#include <grove/http/detail/websocket_frames.hpp>
#include <grove/http/websocket.hpp>

#include <catch2/catch.hpp>

#include <vector>

using namespace grove::http;
using ws::detail::Opcode;
using ws::detail::WsReader;
using Kind = WsReader::Kind;

namespace {

constexpr std::uint32_t kMask = 0x37fa213d;

// A client's frame (masked).
std::string cframe(Opcode op, std::string_view payload, bool fin = true, bool rsv1 = false) {
  std::string out;
  ws::detail::write_frame(out, op, payload, fin, rsv1, kMask);
  return out;
}

struct Seen {
  Kind kind;
  std::string data;
  std::uint16_t code;
};

// Feeds `wire` to a reader in pieces of `step` bytes (0: all at once), keeping unconsumed
// bytes as a server's buffer would, and collects the events up to the first close/error.
std::vector<Seen> read_all(std::string_view wire, std::size_t step = 0, WsReader::Config cfg = {}) {
  WsReader r(cfg);
  std::vector<Seen> seen;
  std::string buf;
  std::size_t fed = 0;
  for (;;) {
    std::size_t n = step ? std::min(step, wire.size() - fed) : wire.size() - fed;
    buf.append(wire.substr(fed, n));
    fed += n;
    for (;;) {
      auto ev = r.next(buf);
      buf.erase(0, ev.consumed);
      if (ev.kind == Kind::need_more) break;
      seen.push_back({ev.kind, std::string(ev.data), ev.code});
      if (ev.kind == Kind::close || ev.kind == Kind::error) return seen;
    }
    if (fed == wire.size()) return seen;
  }
}

// The close code a reader answers `wire` with (0: no error), the same whether the bytes
// come at once, one at a time or three at a time.
std::uint16_t error_code(std::string_view wire, WsReader::Config cfg = {}) {
  std::vector<std::uint16_t> codes;
  for (std::size_t step : {0, 1, 3}) {
    auto seen = read_all(wire, step, cfg);
    codes.push_back(!seen.empty() && seen.back().kind == Kind::error ? seen.back().code : 0);
  }
  CHECK(codes[1] == codes[0]);
  CHECK(codes[2] == codes[0]);
  return codes[0];
}

std::string operator""_b(const char* s, std::size_t n) { return std::string(s, n); }

}  // namespace

TEST_CASE("ws frames: RFC 6455's examples are written and read") {
  std::string out;
  ws::detail::write_frame(out, Opcode::text, "Hello");
  CHECK(out == "\x81\x05Hello"_b);
  std::string masked = cframe(Opcode::text, "Hello");
  CHECK(masked == "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"_b);
  auto seen = read_all(masked);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].kind == Kind::text);
  CHECK(seen[0].data == "Hello");
  // A client reads the unmasked one.
  WsReader::Config client;
  client.expect_masked = false;
  auto c = read_all(out, 0, client);
  REQUIRE(c.size() == 1);
  CHECK(c[0].data == "Hello");
}

TEST_CASE("ws frames: 7-, 16- and 64-bit lengths, split anywhere") {
  for (std::size_t n : {0, 125, 126, 65535, 65536, 200000}) {
    std::string payload(n, '\0');
    for (std::size_t i = 0; i < n; ++i) payload[i] = char(i * 7);
    std::string wire = cframe(Opcode::binary, payload);
    CHECK(wire.size() == n + 2 + 4 + (n < 126 ? 0 : n <= 65535 ? 2 : 8));
    for (std::size_t step : {0, 1, 7, 4096}) {
      if (step == 1 && n > 70000) continue;
      auto seen = read_all(wire, step);
      REQUIRE(seen.size() == 1);
      CHECK(seen[0].kind == Kind::binary);
      CHECK(seen[0].data == payload);
    }
  }
}

TEST_CASE("ws frames: fragments join, with control frames between them") {
  std::string wire = cframe(Opcode::text, "Hel", false) + cframe(Opcode::ping, "p1") +
                     cframe(Opcode::continuation, "lo, ", false) + cframe(Opcode::pong, "") +
                     cframe(Opcode::continuation, "world") + cframe(Opcode::binary, "\x00\xff"_b) +
                     cframe(Opcode::close, ws::detail::close_payload(1000, "bye"));
  for (std::size_t step : {0, 1, 2, 5}) {
    auto seen = read_all(wire, step);
    REQUIRE(seen.size() == 5);
    CHECK(seen[0].kind == Kind::ping);
    CHECK(seen[0].data == "p1");
    CHECK(seen[1].kind == Kind::pong);
    CHECK(seen[2].kind == Kind::text);
    CHECK(seen[2].data == "Hello, world");
    CHECK(seen[3].kind == Kind::binary);
    CHECK(seen[3].data == "\x00\xff"_b);
    CHECK(seen[4].kind == Kind::close);
    CHECK(seen[4].code == 1000);
    CHECK(seen[4].data == "bye");
  }
}

TEST_CASE("ws frames: protocol faults close with 1002") {
  CHECK(error_code("\x81\x05Hello"_b) == 1002);                 // unmasked from a client
  CHECK(error_code(cframe(Opcode(0x3), "x")) == 1002);          // reserved data opcode
  CHECK(error_code(cframe(Opcode(0xB), "x")) == 1002);          // reserved control opcode
  CHECK(error_code(cframe(Opcode::ping, "x", false)) == 1002);  // fragmented control
  CHECK(error_code(cframe(Opcode::ping, std::string(126, 'x'))) == 1002);
  CHECK(error_code(cframe(Opcode::continuation, "x")) == 1002);  // no message to continue
  CHECK(error_code(cframe(Opcode::text, "a", false) + cframe(Opcode::text, "b")) == 1002);
  CHECK(error_code(cframe(Opcode::text, "x", true, true)) == 1002);  // RSV1 without deflate
  std::string rsv2 = cframe(Opcode::text, "x");
  rsv2[0] = char(rsv2[0] | 0x20);
  CHECK(error_code(rsv2) == 1002);
  std::string rsv3 = cframe(Opcode::text, "x");
  rsv3[0] = char(rsv3[0] | 0x10);
  CHECK(error_code(rsv3) == 1002);
  // 2^63: the top bit of a 64-bit length.
  CHECK(error_code("\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00\x01\x02\x03\x04"_b) == 1002);
  // The server's side: masked frames from a server are a fault for a client.
  WsReader::Config client;
  client.expect_masked = false;
  CHECK(error_code(cframe(Opcode::text, "x"), client) == 1002);
}

TEST_CASE("ws frames: a fault is found at the header, before the payload arrives") {
  WsReader r({});
  auto ev = r.next("\x82\xff\x80"_b);  // the 64-bit length is not complete yet
  CHECK(ev.kind == Kind::need_more);
  ev = r.next("\x81\x05"_b);  // unmasked: known from two bytes
  REQUIRE(ev.kind == Kind::error);
  CHECK(ev.code == 1002);
  CHECK(ev.data == "client frame not masked");
  auto again = r.next(cframe(Opcode::text, "x"));  // nothing is read after a fault
  CHECK(again.kind == Kind::error);
  CHECK(again.consumed == 0);
}

TEST_CASE("ws frames: the frame and message limits close with 1009") {
  WsReader::Config cfg;
  cfg.max_frame = 100;
  cfg.max_message = 250;
  CHECK(error_code(cframe(Opcode::binary, std::string(100, 'x')), cfg) == 0);
  CHECK(error_code(cframe(Opcode::binary, std::string(101, 'x')), cfg) == 1009);
  std::string three = cframe(Opcode::binary, std::string(100, 'x'), false) +
                      cframe(Opcode::continuation, std::string(100, 'x'), false);
  CHECK(error_code(three + cframe(Opcode::continuation, std::string(50, 'x')), cfg) == 0);
  CHECK(error_code(three + cframe(Opcode::continuation, std::string(51, 'x')), cfg) == 1009);
  // Known from the header: a huge declared length fails without its payload.
  WsReader r(cfg);
  auto ev = r.next("\x82\xff\x00\x00\x00\x01\x00\x00\x00\x00\x01\x02\x03\x04"_b);
  REQUIRE(ev.kind == Kind::error);
  CHECK(ev.code == 1009);
}

TEST_CASE("ws frames: text must be UTF-8, checked across fragments") {
  // U+20AC split between fragments is fine.
  CHECK(error_code(cframe(Opcode::text, "\xe2\x82", false) +
                   cframe(Opcode::continuation, "\xac")) == 0);
  // An invalid byte in the first fragment fails before the message ends.
  WsReader r({});
  auto ev = r.next(cframe(Opcode::text, "ok\xc0\xaf", false));
  REQUIRE(ev.kind == Kind::error);
  CHECK(ev.code == 1007);
  // Invalid only once joined: a lead byte, then an ASCII byte in the next fragment.
  CHECK(error_code(cframe(Opcode::text, "a\xe2", false) + cframe(Opcode::continuation, "b")) ==
        1007);
  // Truncated at the end of the message.
  CHECK(error_code(cframe(Opcode::text, "a\xe2\x82")) == 1007);
  // Surrogates and code points past U+10FFFF.
  CHECK(error_code(cframe(Opcode::text, "\xed\xa0\x80")) == 1007);
  CHECK(error_code(cframe(Opcode::text, "\xf4\x90\x80\x80")) == 1007);
  // Binary messages are not checked.
  CHECK(error_code(cframe(Opcode::binary, "\xff")) == 0);
}

TEST_CASE("ws frames: the close handshake's payload") {
  auto close_of = [](std::string payload) { return read_all(cframe(Opcode::close, payload)); };
  auto none = close_of("");
  REQUIRE(none.size() == 1);
  CHECK(none[0].kind == Kind::close);
  CHECK(none[0].code == 1005);
  auto ok = close_of(ws::detail::close_payload(4000, "app \xc3\xa9"));
  REQUIRE(ok.size() == 1);
  CHECK(ok[0].code == 4000);
  CHECK(ok[0].data == "app \xc3\xa9");
  CHECK(error_code(cframe(Opcode::close, "\x03"_b)) == 1002);          // one byte
  CHECK(error_code(cframe(Opcode::close, "\x03\xed"_b)) == 1002);      // 1005
  CHECK(error_code(cframe(Opcode::close, "\x00\x00"_b)) == 1002);      // 0
  CHECK(error_code(cframe(Opcode::close, "\x0b\xb8"_b)) == 0);         // 3000
  CHECK(error_code(cframe(Opcode::close, "\x03\xe8\xff"_b)) == 1007);  // bad reason
  // Nothing is read after a close.
  WsReader r({});
  std::string wire = cframe(Opcode::close, "") + cframe(Opcode::text, "late");
  auto ev = r.next(wire);
  CHECK(ev.kind == Kind::close);
  CHECK(r.next(std::string_view(wire).substr(ev.consumed)).consumed == 0);
}

TEST_CASE("ws frames: close_payload keeps the reason within 125 bytes and UTF-8") {
  CHECK(ws::detail::close_payload(1005, "ignored").empty());
  CHECK(ws::detail::close_payload(1000, "") == "\x03\xe8"_b);
  std::string long_reason;
  for (int i = 0; i < 100; ++i) long_reason += "\xc3\xa9";  // 200 bytes of 2-byte characters
  auto p = ws::detail::close_payload(1001, long_reason);
  CHECK(p.size() <= 125);
  CHECK(p.size() == 124);  // 2 + 122: 123 would cut a character
  CHECK(detail::valid_utf8(std::string_view(p).substr(2)));
}

TEST_CASE("utf8: the validator against RFC 3629's boundaries, fed whole and byte by byte") {
  struct Case {
    std::string bytes;
    bool valid;
  };
  std::vector<Case> cases = {
      {"", true},
      {"plain ascii, long enough for the word-at-a-time path", true},
      {"\x7f", true},
      {"\xc2\x80", true},
      {"\xdf\xbf", true},
      {"\xe0\xa0\x80", true},
      {"\xed\x9f\xbf", true},
      {"\xee\x80\x80", true},
      {"\xf0\x90\x80\x80", true},
      {"\xf4\x8f\xbf\xbf", true},
      {"\x80", false},
      {"\xc0\x80", false},
      {"\xc1\xbf", false},
      {"\xe0\x9f\xbf", false},
      {"\xed\xa0\x80", false},
      {"\xf0\x8f\xbf\xbf", false},
      {"\xf4\x90\x80\x80", false},
      {"\xf5\x80\x80\x80", false},
      {"\xff", false},
      {"\xc2", false},
      {"abcdefgh\xe2\x82", false},
  };
  for (const auto& c : cases) {
    INFO(c.bytes);
    CHECK(detail::valid_utf8(c.bytes) == c.valid);
    detail::Utf8Validator v;
    bool ok = true;
    for (char ch : c.bytes) ok = ok && v.feed(std::string_view(&ch, 1));
    CHECK((ok && v.complete()) == c.valid);
  }
}
