// The test client's WebSocket (grove/web/testing.hpp): the upgrade request goes through the
// app like any test request, then grove::http::exchange_upgrade runs the app.websocket
// handler over an in-memory connection, and this side speaks RFC 6455 as a client: masked
// frames from ws::detail's writer, the server's frames read by ws::detail::WsReader, the
// close handshake, pongs to the server's pings.
#include <grove/http/detail/websocket_frames.hpp>
#include <grove/http/exchange.hpp>
#include <grove/web/app.hpp>

#include "testing_internal.hpp"

#include <openssl/evp.h>

#include <cstdlib>
#include <random>

namespace grove::web {

namespace ws = grove::http::ws;
using ws::detail::Opcode;
using SteadyClock = std::chrono::steady_clock;

WebSocketRefused::WebSocketRefused(TestResponse response)
    : std::runtime_error(
          "the WebSocket handshake was refused with " + std::to_string(response.status) +
          (response.body.empty() ? std::string() : ": " + response.body.substr(0, 200))),
      response_(std::move(response)) {}

struct TestWebSocket::State {
  std::optional<grove::http::TlsFacts> tls;  // the request points at them
  std::string target;
  std::chrono::milliseconds timeout;
  std::unique_ptr<grove::http::UpgradeExchange> up;
  TestResponse response;
  std::string protocol;
  grove::http::WebSocketSettings server;
  std::optional<ws::detail::WsReader> reader;    // made once the 101 says what was agreed
  std::optional<ws::detail::Deflater> deflater;  // permessage-deflate, if agreed
  std::string in;                                // received bytes the reader has not consumed
  std::string out;                               // the frame being sent
  std::string squeezed;                          // a message compressed for sending
  std::minstd_rand masks{std::random_device{}()};
  bool close_sent = false;
  bool closed = false;
  std::uint16_t code = ws::close_code::abnormal;
  std::string reason;

  explicit State(const WebSocketOptions& o) : tls(o.tls), timeout(o.timeout), server(o.server) {}

  // The reader and the compressor for what the 101 agreed on.
  void agreed(const std::optional<ws::DeflateParams>& deflate) {
    ws::detail::WsReader::Config cfg;
    cfg.expect_masked = false;  // a server's frames
    cfg.max_message = server.max_message;
    cfg.max_frame = server.max_frame;
    if (deflate) {
      cfg.deflate = true;
      cfg.peer_window_bits = deflate->server_max_window_bits;
      cfg.peer_no_context_takeover = deflate->server_no_context_takeover;
      deflater.emplace(deflate->client_max_window_bits, deflate->client_no_context_takeover);
    }
    reader.emplace(cfg);
  }

  void write(Opcode op, std::string_view payload, bool compress = false) {
    out.clear();
    if (compress) {
      squeezed.clear();
      deflater->compress(payload, squeezed);
      ws::detail::write_frame(out, op, squeezed, true, true, std::uint32_t(masks()));
    } else {
      ws::detail::write_frame(out, op, payload, true, false, std::uint32_t(masks()));
    }
    up->write(out);
  }

  void send_data(Opcode op, std::string_view payload) {
    if (closed || close_sent) throw ws::ConnectionClosed(code, reason);
    write(op, payload, deflater.has_value());
  }

  void ended_without_close() {
    if (!close_sent) {
      code = ws::close_code::abnormal;
      reason = "the connection closed without a Close";
    }
    closed = true;
  }

  // The next message; nothing once closed, or at the deadline (`timed_out`).
  std::optional<Message> next(SteadyClock::time_point deadline, bool& timed_out) {
    timed_out = false;
    for (;;) {
      if (closed) return std::nullopt;
      auto ev = reader->next(in);
      in.erase(0, ev.consumed);
      switch (ev.kind) {
        case ws::detail::WsReader::Kind::text:
        case ws::detail::WsReader::Kind::binary:
          if (close_sent) continue;  // after our Close, data is dropped
          return Message{std::string(ev.data), ev.kind == ws::detail::WsReader::Kind::binary};
        case ws::detail::WsReader::Kind::ping:
          if (!close_sent) write(Opcode::pong, ev.data);
          continue;
        case ws::detail::WsReader::Kind::pong: continue;
        case ws::detail::WsReader::Kind::close:
          if (!close_sent) {
            code = ev.code;
            reason.assign(ev.data);
            write(Opcode::close, ws::detail::close_payload(ev.code, ""));  // echoed
            close_sent = true;
          }
          closed = true;
          return std::nullopt;
        case ws::detail::WsReader::Kind::error:
          throw std::runtime_error("web::TestWebSocket: the handler of " + target +
                                   " sent what RFC 6455 forbids a server to send (" +
                                   std::to_string(ev.code) + " " + std::string(ev.data) + ")");
        case ws::detail::WsReader::Kind::need_more: break;
      }
      std::string got = up->read(deadline);
      if (!got.empty()) {
        in += got;
        continue;
      }
      if (up->finished()) {
        ended_without_close();
        continue;
      }
      timed_out = true;
      return std::nullopt;
    }
  }
};

TestWebSocket::TestWebSocket(std::unique_ptr<State> s) : s_(std::move(s)) {}
TestWebSocket::TestWebSocket(TestWebSocket&&) noexcept = default;
TestWebSocket& TestWebSocket::operator=(TestWebSocket&&) noexcept = default;
// The exchange's destructor ends the client's side and waits for the handler.
TestWebSocket::~TestWebSocket() = default;

std::optional<TestWebSocket::Message> TestWebSocket::receive() {
  bool timed_out = false;
  auto m = s_->next(SteadyClock::now() + s_->timeout, timed_out);
  if (timed_out)
    throw std::runtime_error("web::TestWebSocket::receive: no message from the handler of " +
                             s_->target + " within " + std::to_string(s_->timeout.count()) +
                             " ms (receive(timeout) waits without failing)");
  return m;
}

std::optional<TestWebSocket::Message> TestWebSocket::receive(std::chrono::milliseconds timeout) {
  bool timed_out = false;
  return s_->next(SteadyClock::now() + timeout, timed_out);
}

void TestWebSocket::send(std::string_view text) { s_->send_data(Opcode::text, text); }
void TestWebSocket::send_binary(std::string_view data) { s_->send_data(Opcode::binary, data); }
void TestWebSocket::send(const Message& msg) {
  s_->send_data(msg.binary ? Opcode::binary : Opcode::text, msg.data);
}

void TestWebSocket::close(std::uint16_t code, std::string_view reason) {
  if (!ws::valid_close_code(code))
    throw std::invalid_argument("web::TestWebSocket::close: code " + std::to_string(code) +
                                " cannot be sent; use 1000-1003, 1007-1014 or 3000-4999");
  if (s_->closed) return;
  auto deadline = SteadyClock::now() + s_->timeout;
  if (!s_->close_sent) {
    s_->code = code;
    s_->reason.assign(reason);
    s_->close_sent = true;
    s_->write(Opcode::close, ws::detail::close_payload(code, reason));
  }
  bool timed_out = false;
  while (!s_->closed && !timed_out) s_->next(deadline, timed_out);
  if (timed_out) {
    s_->code = ws::close_code::abnormal;
    s_->reason = "the handler did not answer the Close in time";
    s_->closed = true;
  }
  s_->up->close_write();  // the client closes its side of the connection
  s_->up->wait_finished(deadline);
}

bool TestWebSocket::closed() const noexcept { return s_->closed; }
std::uint16_t TestWebSocket::close_code() const noexcept { return s_->code; }
const std::string& TestWebSocket::close_reason() const noexcept { return s_->reason; }
const std::string& TestWebSocket::protocol() const noexcept { return s_->protocol; }
bool TestWebSocket::compressed() const noexcept { return s_->deflater.has_value(); }
const TestResponse& TestWebSocket::response() const noexcept { return s_->response; }

namespace {

// A Sec-WebSocket-Key: 16 random bytes in base64.
std::string new_key(std::minstd_rand& rng) {
  unsigned char raw[16];
  for (auto& b : raw) b = static_cast<unsigned char>(rng());
  char out[32];
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out), raw, sizeof raw);
  return std::string(out, std::size_t(n));
}

// The permessage-deflate parameters of a 101's Sec-WebSocket-Extensions, if it has them.
std::optional<ws::DeflateParams> deflate_in(std::string_view extensions) {
  auto trim = [](std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
  };
  std::optional<ws::DeflateParams> p;
  while (!extensions.empty()) {
    std::size_t semi = extensions.find(';');
    std::string_view part = trim(extensions.substr(0, semi));
    extensions.remove_prefix(semi == std::string_view::npos ? extensions.size() : semi + 1);
    std::size_t eq = part.find('=');
    std::string_view name = trim(part.substr(0, eq));
    int bits = eq == std::string_view::npos
                   ? 15
                   : std::atoi(std::string(trim(part.substr(eq + 1))).c_str());
    if (name == "permessage-deflate") p.emplace();
    else if (!p) continue;
    else if (name == "server_no_context_takeover") p->server_no_context_takeover = true;
    else if (name == "client_no_context_takeover") p->client_no_context_takeover = true;
    else if (name == "server_max_window_bits") p->server_max_window_bits = bits;
    else if (name == "client_max_window_bits") p->client_max_window_bits = bits;
  }
  return p;
}

std::string join(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& i : items) s += (s.empty() ? "" : ", ") + i;
  return s;
}

}  // namespace

TestWebSocket TestClient::websocket(std::string target, WebSocketOptions options) {
  auto s = std::make_unique<TestWebSocket::State>(options);
  RequestOptions ro;
  ro.headers = std::move(options.headers);
  ro.query = std::move(options.query);
  ro.remote_addr = options.remote_addr;
  // The handshake's fields, unless the test set its own (a wrong version, say).
  ro.headers.setdefault("Upgrade", "websocket");
  ro.headers.setdefault("Connection", "Upgrade");
  ro.headers.setdefault("Sec-WebSocket-Key", new_key(s->masks));
  ro.headers.setdefault("Sec-WebSocket-Version", "13");
  if (!options.subprotocols.empty())
    ro.headers.set("Sec-WebSocket-Protocol", join(options.subprotocols));
  if (!options.origin.empty()) ro.headers.set("Origin", options.origin);
  if (options.deflate)
    ro.headers.set("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits");
  const std::string key = ro.headers.get("Sec-WebSocket-Key", "");
  grove::http::Request req = detail::make_test_request("GET", target, ro);
  if (s->tls) req.set_tls(&*s->tls);
  s->target = std::move(target);

  grove::http::ExchangeOptions xo;
  xo.remote_addr = options.remote_addr;
  xo.websocket = options.server;
  std::exception_ptr escaped;
  s->up = grove::http::exchange_upgrade(detail::guarded_application(*app_, escaped, nullptr),
                                        std::move(req), xo);
  if (escaped) std::rethrow_exception(escaped);
  s->response = detail::read_test_response(s->up->response(), false);
  if (!s->up->upgraded()) throw WebSocketRefused(std::move(s->response));
  if (s->response.headers.get("Sec-WebSocket-Accept", "") != ws::accept_key(key))
    throw std::logic_error("web::TestClient::websocket: the 101 for " + s->target +
                           " carries a wrong Sec-WebSocket-Accept");
  s->protocol = s->response.headers.get("Sec-WebSocket-Protocol", "");
  s->agreed(deflate_in(s->response.headers.get("Sec-WebSocket-Extensions", "")));
  return TestWebSocket(std::move(s));
}

}  // namespace grove::web
