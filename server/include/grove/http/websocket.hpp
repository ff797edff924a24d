// WebSocket (RFC 6455) without I/O: the opening handshake, the close codes and the limits.
// The frame reader and writer and permessage-deflate (RFC 7692) are machinery in
// detail/websocket_frames.hpp and detail/websocket_deflate.hpp; docs/websocket.md is the
// contract in prose.
//
// The handshake is a decision on a parsed request: check_handshake() says whether the
// request is an acceptable upgrade, what to answer if it is not (400, or 426 for a version
// other than 13), and what was negotiated if it is (subprotocol, permessage-deflate):
//
//   grove::http::ws::Options opts;
//   opts.subprotocols = {"chat.v2", "chat"};
//   auto hs = grove::http::ws::check_handshake(req, opts);
//   if (!hs.ok()) return grove::http::ws::refusal(hs);       // 400 or 426
//   if (hs.origin != "https://example.com") return Response(403);
//   write "HTTP/1.1 101 Switching Protocols" + accept_headers(hs); then frames.
#pragma once

#include <grove/http/gateway.hpp>
#include <grove/http/headers.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace grove::http::ws {

// Close status codes (RFC 6455 §7.4.1) the server sends and the peer may send.
namespace close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;        // server stopping, page left
inline constexpr std::uint16_t protocol_error = 1002;    // a frame broke RFC 6455
inline constexpr std::uint16_t unsupported_data = 1003;  // e.g. binary to a text-only endpoint
inline constexpr std::uint16_t no_status = 1005;         // a Close without a code (never sent)
inline constexpr std::uint16_t abnormal = 1006;          // no Close at all (never sent)
inline constexpr std::uint16_t invalid_data = 1007;      // text that is not UTF-8
inline constexpr std::uint16_t policy_violation = 1008;
inline constexpr std::uint16_t too_big = 1009;  // over max_frame or max_message
inline constexpr std::uint16_t missing_extension = 1010;
inline constexpr std::uint16_t internal_error = 1011;  // the handler threw
}  // namespace close_code

// Whether a peer may put `code` in a Close frame: 1000-1003, 1007-1014 and 3000-4999
// (1004-1006 and 1015 are reserved for reporting, the rest are unassigned). A Close with
// any other code is a protocol error (1002).
bool valid_close_code(std::uint16_t code) noexcept;

// permessage-deflate as the server is willing to do it. A client offer asking for less
// (no context takeover, smaller windows) is honoured; one asking for something zlib cannot
// do (server_max_window_bits=8) or malformed is declined, and the next offer tried.
struct DeflateOptions {
  bool enabled = true;
  // The server's own compressor: its window (9-15) and whether it forgets between messages
  // (less memory per connection, worse compression).
  int server_max_window_bits = 15;
  bool server_no_context_takeover = false;
  // What the server asks of the client's compressor (when the client offers to obey).
  int client_max_window_bits = 15;
  bool client_no_context_takeover = false;
};

struct Options {
  // The largest message (after decompression) and the largest frame payload accepted;
  // more closes with 1009. 0: the server's (`serve --ws-max-message`, `--ws-max-frame`,
  // 1 MiB each by default).
  std::size_t max_message = 0;
  std::size_t max_frame = 0;
  // Subprotocols the server speaks, best first; the first one the client offered is chosen.
  std::vector<std::string> subprotocols;
  DeflateOptions deflate;
};

// What permessage-deflate the two sides agreed on.
struct DeflateParams {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  int server_max_window_bits = 15;  // the server's compressor
  int client_max_window_bits = 15;  // the client's compressor (the server's decompressor)
  // The Sec-WebSocket-Extensions value of the 101 response.
  std::string response() const;
};

// The outcome of check_handshake().
struct Handshake {
  int status = 400;    // 101: accept; 400 or 426: answer refusal(*this)
  std::string error;   // why not, for the refusal's body and the log
  std::string accept;  // Sec-WebSocket-Accept
  std::string origin;  // the Origin field ("" if none): check it before accepting
  std::vector<std::string> offered_protocols;  // Sec-WebSocket-Protocol, in the client's order
  std::string protocol;                        // the chosen one ("" for none)
  std::optional<DeflateParams> deflate;        // permessage-deflate, if agreed
  bool ok() const noexcept { return status == 101; }
};

// Whether the request asks for a WebSocket (an `Upgrade: websocket` field). Such a
// request that check_handshake() refuses must be answered with refusal(), not served.
bool is_upgrade(const Request& req);
bool is_upgrade(const Headers& headers);

// Checks an upgrade request (RFC 6455 §4.2.1): GET, HTTP/1.1, Upgrade: websocket,
// Connection: upgrade, a Sec-WebSocket-Key of 16 base64-encoded bytes (400 otherwise) and
// Sec-WebSocket-Version: 13 (426 otherwise); then negotiates the subprotocol and
// permessage-deflate under `opts`.
Handshake check_handshake(const Request& req, const Options& opts = {});
// The same from the parts of a request (a framework's own request type).
Handshake check_handshake(std::string_view method, Version version, const Headers& headers,
                          const Options& opts = {});

// The Sec-WebSocket-Accept value for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)).
std::string accept_key(std::string_view key);

// The fields of the 101 response (Upgrade, Connection, Sec-WebSocket-Accept, and the
// protocol and extensions if negotiated). Requires hs.ok().
Headers accept_headers(const Handshake& hs);

// The answer to a refused handshake: its status and error, `Connection: close`, and for
// 426 the `Sec-WebSocket-Version: 13` that tells the client what to speak.
Response refusal(const Handshake& hs);

// --- the connection ------------------------------------------------------------------------

// Sending on (or closing again) a WebSocket that is closed: the code and reason it closed
// with (1006 when the connection broke without a Close).
class ConnectionClosed : public std::runtime_error {
 public:
  ConnectionClosed(std::uint16_t code, std::string reason);
  std::uint16_t code() const noexcept { return code_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::uint16_t code_;
  std::string reason_;
};

struct Message {
  std::string data;
  bool binary = false;  // false: text (valid UTF-8)
};

// One WebSocket connection, used from the green thread the server runs its handler on:
//
//   Response echo(Request& req) {
//     return ws::accept(req, [](ws::WebSocket& ws) {
//       while (auto msg = ws.receive()) ws.send(*msg);
//     });
//   }
//
// receive() answers pings, sends the server's pings (WebSocketSettings::ping_interval) and
// enforces the idle timeout while it waits; a protocol fault from the client closes with
// its code (1002, 1007, 1009) and receive() returns nothing. send() blocks this green
// thread only, while the client is slow, up to the server's write timeout.
class WebSocket {
 public:
  WebSocket(UpgradedStream& stream, const Handshake& hs, const Options& opts);
  ~WebSocket();
  WebSocket(const WebSocket&) = delete;
  WebSocket& operator=(const WebSocket&) = delete;

  // The next message; nothing once the connection is closed (closed() is then true).
  std::optional<Message> receive();
  // The same, waiting at most `timeout`: nothing when it passes (closed() stays false).
  std::optional<Message> receive(std::chrono::milliseconds timeout);
  // Sends a text message (must be UTF-8), a binary one, or a received message back.
  // Throws ConnectionClosed once the connection is closed or broke.
  void send(std::string_view text);
  void send_binary(std::string_view data);
  void send(const Message& msg);
  void ping(std::string_view payload = {});
  // Sends a Close and waits (WebSocketSettings::close_timeout) for the client's. Does
  // nothing if already closed. `code` must be one a peer may send (valid_close_code).
  void close(std::uint16_t code = close_code::normal, std::string_view reason = {});

  bool closed() const noexcept;
  // How it closed: the client's code (or ours if we closed first); 1006 if it broke.
  std::uint16_t close_code() const noexcept;
  const std::string& close_reason() const noexcept;
  const std::string& protocol() const noexcept;  // the negotiated subprotocol, or ""
  bool compressed() const noexcept;              // permessage-deflate in use

 private:
  struct State;
  std::unique_ptr<State> s_;
};

using Handler = Function<void(WebSocket&)>;

// The upgrade of a checked handshake: runs `handler` over the stream as accept() does
// (1011 if it throws, 1000 when it returns). For frameworks that check the handshake
// themselves; `what` names the endpoint in the error log.
Function<void(UpgradedStream&)> run_handler(Handshake hs, Options opts, Handler handler,
                                            std::string what);

// Accepts `req` as a WebSocket: a 101 response whose upgrade runs `handler` on the
// connection's green thread (an exception from it closes with 1011; returning closes with
// 1000), or the refusal() of a request check_handshake() refuses.
Response accept(Request& req, Handler handler, Options opts = {});

}  // namespace grove::http::ws
