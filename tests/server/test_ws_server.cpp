// WebSocket in the server (issue 15): ws::accept() from an application, against Python's
// `websockets` client (with and without permessage-deflate) and raw sockets sending what a
// broken or hostile client sends. Each fault must get its close code, and another
// connection must go on working. On every engine.
#include "server_support.hpp"
#include "test_certs.hpp"
#include "ws_support.hpp"

#include <grove/http/detail/websocket_frames.hpp>
#include <grove/http/websocket.hpp>

using namespace grove::http;
using namespace grove::http::test;
using ws::detail::Opcode;

namespace {

std::string operator""_b(const char* s, std::size_t n) { return std::string(s, n); }

// What the handlers saw, for the tests to check (the server runs on another thread).
struct Seen {
  std::atomic<int> flood_code{0};        // the ConnectionClosed code the flooding handler got
  std::atomic<int> send_after_close{0};  // the code of send() after the client's Close
};

Application ws_app(Seen& seen) {
  return [&seen](Request& req) -> Response {
    std::string path(req.path());
    if (path == "/echo")
      return ws::accept(req, [](ws::WebSocket& w) {
        while (auto m = w.receive()) w.send(*m);
      });
    if (path == "/proto") {
      ws::Options opts;
      opts.subprotocols = {"v2", "v1"};
      return ws::accept(
          req, [](ws::WebSocket& w) { w.send("protocol=" + w.protocol()); }, opts);
    }
    if (path == "/flood")
      return ws::accept(req, [&seen](ws::WebSocket& w) {
        std::string chunk(64 * 1024, 'f');
        try {
          for (;;) w.send_binary(chunk);
        } catch (const ws::ConnectionClosed& e) {
          seen.flood_code = e.code();
        }
      });
    if (path == "/after-close")
      return ws::accept(req, [&seen](ws::WebSocket& w) {
        while (w.receive()) {
        }
        try {
          w.send("too late");
        } catch (const ws::ConnectionClosed& e) {
          seen.send_after_close = e.code();
        }
      });
    if (path == "/throws")
      return ws::accept(req, [](ws::WebSocket& w) {
        w.receive();
        throw std::runtime_error("handler bug");
      });
    return Response::text("plain " + path);
  };
}

ServerConfig ws_config() {
  ServerConfig cfg;
  cfg.websocket.max_message = 64 * 1024;
  cfg.websocket.max_frame = 32 * 1024;
  cfg.write_timeout = 500ms;
  return cfg;
}

std::string handshake_request(std::string_view path, std::string_view extra = {}) {
  return "GET " + std::string(path) +
         " HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
         std::string(extra) + "\r\n";
}

// A raw client after a successful handshake; `rest` holds bytes read past the 101.
struct RawWs {
  Socket s;
  std::string rest;
  std::string head;

  static RawWs open(int port, std::string_view path = "/echo", std::string_view extra = {}) {
    RawWs w{Socket::tcp(port), {}, {}};
    w.s.send(handshake_request(path, extra));
    std::string got;
    while (got.find("\r\n\r\n") == std::string::npos) {
      auto piece = w.s.recv_some(5000ms);
      REQUIRE(piece);
      REQUIRE(!piece->empty());
      got += *piece;
    }
    auto end = got.find("\r\n\r\n") + 4;
    w.head = got.substr(0, end);
    w.rest = got.substr(end);
    REQUIRE(w.head.rfind("HTTP/1.1 101 ", 0) == 0);
    REQUIRE(w.head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != std::string::npos);
    return w;
  }

  void send_frame(Opcode op, std::string_view payload, bool fin = true, bool rsv1 = false) {
    std::string f;
    ws::detail::write_frame(f, op, payload, fin, rsv1, 0x11223344u);
    s.send(f);
  }

  // The next frame from the server: (opcode, payload); nullopt at the end or after 5 s.
  std::optional<std::pair<int, std::string>> next_frame() {
    auto until = SteadyClock::now() + 5s;
    for (;;) {
      if (rest.size() >= 2) {
        std::size_t len = std::uint8_t(rest[1]) & 0x7F, at = 2;
        if (len == 126 && rest.size() >= 4) {
          len = (std::size_t(std::uint8_t(rest[2])) << 8) | std::uint8_t(rest[3]);
          at = 4;
        } else if (len == 127 && rest.size() >= 10) {
          len = 0;
          for (int i = 2; i < 10; ++i) len = (len << 8) | std::uint8_t(rest[i]);
          at = 10;
        }
        if ((len < 126 || at > 2) && rest.size() >= at + len) {
          std::pair<int, std::string> f{std::uint8_t(rest[0]) & 0x0F, rest.substr(at, len)};
          rest.erase(0, at + len);
          return f;
        }
      }
      if (SteadyClock::now() > until) return std::nullopt;
      auto piece = s.recv_some(5000ms);
      if (!piece || piece->empty()) return std::nullopt;
      rest += *piece;
    }
  }

  // Reads frames up to the server's Close; its code (0 if none came).
  int close_code() {
    while (auto f = next_frame())
      if (f->first == 0x8)
        return f->second.size() >= 2
                   ? (std::uint8_t(f->second[0]) << 8) | std::uint8_t(f->second[1])
                   : 1005;
    return 0;
  }
};

// An echo on a fresh connection works: the server lost nothing to the previous fault.
void check_echo_still_works(int port) {
  auto w = RawWs::open(port);
  w.send_frame(Opcode::text, "still here");
  auto f = w.next_frame();
  REQUIRE(f);
  CHECK(f->first == 0x1);
  CHECK(f->second == "still here");
}

bool have_python_websockets() {
  if (run_command(python3() + " -c 'import websockets'") == 0) return true;
  WARN("python3-websockets is not installed (scripts/install-deps.sh test)");
  return false;
}

}  // namespace

TEST_CASE("websocket: Python websockets echoes text, binary, large and fragmented messages") {
  if (!have_python_websockets()) return;
  Seen seen;
  ServerThread st(ws_app(seen));  // the default limits: 1 MiB messages and frames
  TempDir dir;
  std::string script = dir.path + "/client.py";
  std::ofstream(script) << R"py(
import asyncio, sys, websockets
async def main(port, compression):
    out = []
    async with websockets.connect("ws://127.0.0.1:%d/echo" % port, compression=compression,
                                  max_size=None) as ws:
        await ws.send("h\u00e9llo")
        out.append("text=" + await ws.recv())
        await ws.send(b"\x00\x01\xff")
        out.append("binary=" + repr(await ws.recv()))
        await ws.send("x" * 300000)
        out.append("large=%d" % len(await ws.recv()))
        await ws.send(["frag", "men", "ted"])
        out.append("fragmented=" + await ws.recv())
        pong = await ws.ping(b"p")
        await asyncio.wait_for(pong, 5)
        out.append("pong")
        out.append("extensions=%s" % ws.response_headers.get("Sec-WebSocket-Extensions"))
        await ws.close()
        out.append("close=%s" % ws.close_code)
    print("\n".join(out))
asyncio.run(main(int(sys.argv[1]), None if sys.argv[2] == "none" else "deflate"))
)py";
  for (std::string mode : {"none", "deflate"}) {
    std::string out;
    int rc =
        run_command(python3() + " " + script + " " + std::to_string(st.port()) + " " + mode, &out);
    INFO(mode << ":\n" << out);
    CHECK(rc == 0);
    CHECK(out.find("text=h\xc3\xa9llo") != std::string::npos);
    CHECK(out.find("binary=b'\\x00\\x01\\xff'") != std::string::npos);
    CHECK(out.find("large=300000") != std::string::npos);
    CHECK(out.find("fragmented=fragmented") != std::string::npos);
    CHECK(out.find("pong") != std::string::npos);
    CHECK(out.find("close=1000") != std::string::npos);
    if (mode == "none") CHECK(out.find("extensions=None") != std::string::npos);
    else CHECK(out.find("extensions=permessage-deflate") != std::string::npos);
  }
  // Plain HTTP on the same server is untouched.
  CHECK(get(st.port(), "/x").body == "plain /x");
}

TEST_CASE("websocket: over TLS (wss://) with Python websockets") {
  if (!have_python_websockets()) return;
  grove::test::TestCertificates certs;
  Seen seen;
  ServerConfig cfg;
  cfg.binds = {"https://127.0.0.1:0"};
  TlsConfig tls;
  tls.certificate = {certs.server.cert, certs.server.key};
  cfg.tls = std::make_shared<TlsContext>(tls);
  ServerThread st(ws_app(seen), cfg);
  TempDir dir;
  std::string script = dir.path + "/wss.py";
  std::ofstream(script) << R"py(
import asyncio, ssl, sys, websockets
async def main(port, ca):
    ctx = ssl.create_default_context(cafile=ca)
    async with websockets.connect("wss://localhost:%d/echo" % port, ssl=ctx) as ws:
        await ws.send("over tls")
        print("echo=" + await ws.recv())
        await ws.send(b"z" * 100000)
        print("large=%d" % len(await ws.recv()))
    print("close=%s" % ws.close_code)
asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
)py";
  std::string out;
  int rc = run_command(
      python3() + " " + script + " " + std::to_string(st.port()) + " " + certs.ca.cert, &out);
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find("echo=over tls") != std::string::npos);
  CHECK(out.find("large=100000") != std::string::npos);
  CHECK(out.find("close=1000") != std::string::npos);
}

TEST_CASE("websocket: handshake refusals and subprotocols over a socket") {
  Seen seen;
  ServerThread st(ws_app(seen), ws_config());
  auto r = request(st.port(),
                   "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 8\r\n\r\n");
  CHECK(r.status == 426);
  CHECK(r.header("Sec-WebSocket-Version") == "13");
  auto bad = request(st.port(),
                     "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n");
  CHECK(bad.status == 400);
  auto w = RawWs::open(st.port(), "/proto", "Sec-WebSocket-Protocol: v1, v2\r\n");
  CHECK(w.head.find("Sec-WebSocket-Protocol: v2") != std::string::npos);
  auto f = w.next_frame();
  REQUIRE(f);
  CHECK(f->second == "protocol=v2");
  CHECK(w.close_code() == 1000);  // the handler returned: a normal close
}

TEST_CASE("websocket: malformed client frames get their close codes") {
  Seen seen;
  ServerThread st(ws_app(seen), ws_config());
  int port = st.port();
  auto expect = [&](int code, auto send) {
    auto w = RawWs::open(port);
    send(w);
    CHECK(w.close_code() == code);
    CHECK(w.s.closed_by_peer());
    check_echo_still_works(port);
  };
  SECTION("unmasked") {
    expect(1002, [](RawWs& w) { w.s.send("\x81\x05Hello"_b); });
  }
  SECTION("bad opcode") {
    expect(1002, [](RawWs& w) { w.send_frame(Opcode(0x3), "x"); });
  }
  SECTION("fragmented control frame") {
    expect(1002, [](RawWs& w) { w.send_frame(Opcode::ping, "x", false); });
  }
  SECTION("continuation with no start") {
    expect(1002, [](RawWs& w) { w.send_frame(Opcode::continuation, "x"); });
  }
  SECTION("invalid UTF-8 split across fragments") {
    expect(1007, [](RawWs& w) {
      w.send_frame(Opcode::text, "ok \xe2"_b, false);
      w.send_frame(Opcode::continuation, "A");
    });
  }
  SECTION("a 2^63 length") {
    expect(1002, [](RawWs& w) {
      w.s.send("\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00\x01\x02\x03\x04"_b);
    });
  }
  SECTION("a frame over --ws-max-frame") {
    expect(1009, [](RawWs& w) { w.send_frame(Opcode::binary, std::string(40 * 1024, 'b')); });
  }
  SECTION("a message over --ws-max-message") {
    expect(1009, [](RawWs& w) {
      for (int i = 0; i < 3; ++i)
        w.send_frame(i ? Opcode::continuation : Opcode::binary, std::string(30 * 1024, 'b'), false);
    });
  }
  SECTION("a close with an invalid code") {
    expect(1002, [](RawWs& w) { w.send_frame(Opcode::close, "\x03\xed"_b); });
  }
  SECTION("a zip bomb") {
    auto w = RawWs::open(port, "/echo", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    REQUIRE(w.head.find("Sec-WebSocket-Extensions: permessage-deflate") != std::string::npos);
    std::string bomb = raw_deflate(std::string(8 << 20, '\0'));
    REQUIRE(bomb.size() < 32 * 1024);  // under the frame limit: only inflating finds it
    w.send_frame(Opcode::binary, bomb, true, true);
    CHECK(w.close_code() == 1009);
    check_echo_still_works(port);
  }
}

TEST_CASE("websocket: the close handshake, ConnectionClosed, and a failing handler") {
  Seen seen;
  ServerThread st(ws_app(seen), ws_config());
  {
    auto w = RawWs::open(st.port(), "/after-close");
    w.send_frame(Opcode::close, ws::detail::close_payload(4001, "bye"));
    CHECK(w.close_code() == 4001);  // echoed
  }
  auto until = SteadyClock::now() + 5s;
  while (seen.send_after_close == 0 && SteadyClock::now() < until)
    std::this_thread::sleep_for(10ms);
  CHECK(seen.send_after_close == 4001);

  auto t = RawWs::open(st.port(), "/throws");
  t.send_frame(Opcode::text, "boom");
  CHECK(t.close_code() == 1011);
  check_echo_still_works(st.port());
}

TEST_CASE("websocket: a client that never reads blocks only its handler, until the write timeout") {
  Seen seen;
  ServerThread st(ws_app(seen), ws_config());
  auto flood = RawWs::open(st.port(), "/flood");
  int small = 4096;
  ::setsockopt(flood.s.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  // While the flood handler waits for this client, another connection is served.
  check_echo_still_works(st.port());
  auto until = SteadyClock::now() + 10s;
  while (seen.flood_code == 0 && SteadyClock::now() < until) std::this_thread::sleep_for(20ms);
  CHECK(seen.flood_code == 1006);  // the connection was given up: no Close could be sent
  check_echo_still_works(st.port());
}

TEST_CASE("websocket: server pings, the pong timeout and the idle timeout") {
  Seen seen;
  ServerConfig cfg = ws_config();
  SECTION("a ping the client does not answer closes with 1011") {
    cfg.websocket.ping_interval = 100ms;
    cfg.websocket.ping_timeout = 200ms;
    ServerThread st(ws_app(seen), cfg);
    auto w = RawWs::open(st.port());
    auto f = w.next_frame();
    REQUIRE(f);
    CHECK(f->first == 0x9);
    CHECK(w.close_code() == 1011);
  }
  SECTION("answered pings keep the connection") {
    cfg.websocket.ping_interval = 100ms;
    cfg.websocket.ping_timeout = 300ms;
    ServerThread st(ws_app(seen), cfg);
    auto w = RawWs::open(st.port());
    for (int i = 0; i < 3; ++i) {
      auto f = w.next_frame();
      REQUIRE(f);
      REQUIRE(f->first == 0x9);
      w.send_frame(Opcode::pong, f->second);
    }
    w.send_frame(Opcode::text, "alive");
    std::optional<std::pair<int, std::string>> f;
    do f = w.next_frame();
    while (f && f->first == 0x9);
    REQUIRE(f);
    CHECK(f->second == "alive");
  }
  SECTION("no message for the idle timeout closes with 1001") {
    cfg.websocket.ping_interval = 0ms;
    cfg.websocket.idle_timeout = 200ms;
    ServerThread st(ws_app(seen), cfg);
    auto w = RawWs::open(st.port());
    CHECK(w.close_code() == 1001);
  }
}

TEST_CASE("websocket: a graceful stop says 1001 and waits for the client's Close") {
  Seen seen;
  ServerThread st(ws_app(seen), ws_config());
  auto w = RawWs::open(st.port());
  w.send_frame(Opcode::text, "before");
  auto echoed = w.next_frame();
  REQUIRE(echoed);
  CHECK(echoed->second == "before");
  std::thread stopper([&] { st.stop(10s); });
  CHECK(w.close_code() == 1001);
  w.send_frame(Opcode::close, ws::detail::close_payload(1001, ""));
  CHECK(w.s.closed_by_peer());
  stopper.join();
  CHECK(st.finished());
  CHECK(st.final_stats().closed_at_timeout == 0);  // it closed by the handshake, not the timeout
}
