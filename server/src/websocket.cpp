// The server's WebSocket connection (grove/http/websocket.hpp): the frame reader and
// writer over the upgraded connection's stream, with pings, the idle timeout, the close
// handshake and a graceful stop's 1001.
#include <grove/green.hpp>
#include <grove/http/detail/websocket_frames.hpp>
#include <grove/http/server.hpp>
#include <grove/http/websocket.hpp>

#include <algorithm>
#include <memory>
#include <mutex>

namespace grove::http::ws {

using detail::Opcode;
using detail::WsReader;
using SteadyClock = std::chrono::steady_clock;
using SteadyTime = SteadyClock::time_point;

ConnectionClosed::ConnectionClosed(std::uint16_t code, std::string reason)
    : std::runtime_error("the WebSocket is closed (" + std::to_string(code) +
                         (reason.empty() ? std::string() : " " + reason) + ")"),
      code_(code), reason_(std::move(reason)) {}

namespace {

WsReader::Config reader_config(const WebSocketSettings& s, const Handshake& hs) {
  WsReader::Config cfg;
  cfg.max_message = s.max_message;
  cfg.max_frame = s.max_frame;
  cfg.expect_masked = true;
  if (hs.deflate) {
    cfg.deflate = true;
    cfg.peer_window_bits = hs.deflate->client_max_window_bits;
    cfg.peer_no_context_takeover = hs.deflate->client_no_context_takeover;
  }
  return cfg;
}

WebSocketSettings merged(const WebSocketSettings& server, const Options& opts) {
  WebSocketSettings s = server;
  if (opts.max_message) s.max_message = opts.max_message;
  if (opts.max_frame) s.max_frame = opts.max_frame;
  return s;
}

}  // namespace

struct WebSocket::State {
  enum class Phase : std::uint8_t { open, closing, closed };
  enum class Got : std::uint8_t { message, closed, timeout };

  UpgradedStream& io;
  WebSocketSettings settings;
  WsReader reader;
  std::optional<detail::Deflater> deflater;
  std::string protocol;
  std::string in;          // received bytes the reader has not consumed
  std::string out;         // the frame being sent
  std::string squeezed;    // a message compressed for sending
  green::Lock write_lock;  // a handler may send from several green threads
  Phase phase = Phase::open;
  std::uint16_t code = close_code::abnormal;
  std::string reason;
  SteadyTime last_message, next_ping, close_deadline;
  std::optional<SteadyTime> pong_due;

  State(UpgradedStream& stream, const Handshake& hs, const Options& opts)
      : io(stream), settings(merged(stream.websocket_settings(), opts)),
        reader(reader_config(settings, hs)), protocol(hs.protocol) {
    if (hs.deflate)
      deflater.emplace(hs.deflate->server_max_window_bits, hs.deflate->server_no_context_takeover);
    last_message = SteadyClock::now();
    next_ping = last_message + settings.ping_interval;
  }

  // The connection broke: no Close can be sent or received any more.
  void broke(const char* why) {
    if (phase != Phase::closing) {
      code = close_code::abnormal;
      reason = why;
    }
    phase = Phase::closed;
  }

  // Writes one frame; a connection that breaks meanwhile is closed (false).
  bool write(Opcode op, std::string_view payload, bool compress) {
    std::lock_guard lock(write_lock);
    if (phase == Phase::closed) return false;
    out.clear();
    if (compress) {
      squeezed.clear();
      deflater->compress(payload, squeezed);
      detail::write_frame(out, op, squeezed, true, true);
    } else {
      detail::write_frame(out, op, payload);
    }
    try {
      io.write(out);
      return true;
    } catch (const green::GreenletExit&) {
      throw;
    } catch (const std::exception&) {
      broke("the connection broke while sending");
      return false;
    }
  }

  void send_data(Opcode op, std::string_view payload) {
    if (phase != Phase::open) throw ConnectionClosed(code, reason);
    if (!write(op, payload, deflater.has_value())) throw ConnectionClosed(code, reason);
  }

  // Starts the close handshake from our side.
  void send_close(std::uint16_t c, std::string_view why) {
    if (phase != Phase::open) return;
    code = c;
    reason.assign(why);
    phase = Phase::closing;
    close_deadline = SteadyClock::now() + settings.close_timeout;
    write(Opcode::close, detail::close_payload(c, why), false);
  }

  // The next message, a close, or the caller's deadline passing.
  Got next(std::optional<SteadyTime> deadline, Message& msg) {
    for (;;) {
      if (phase == Phase::closed) return Got::closed;
      auto ev = reader.next(in);
      in.erase(0, ev.consumed);
      switch (ev.kind) {
        case WsReader::Kind::text:
        case WsReader::Kind::binary:
          last_message = SteadyClock::now();
          if (phase != Phase::open) continue;  // after our Close, data is dropped
          msg.data.assign(ev.data);
          msg.binary = ev.kind == WsReader::Kind::binary;
          return Got::message;
        case WsReader::Kind::ping:
          if (phase == Phase::open) write(Opcode::pong, ev.data, false);
          continue;
        case WsReader::Kind::pong: pong_due.reset(); continue;
        case WsReader::Kind::close:
          if (phase == Phase::open) {
            code = ev.code;
            reason.assign(ev.data);
            // Echo the code (none for 1005), then the connection is done.
            write(Opcode::close, detail::close_payload(ev.code, ""), false);
          }
          phase = Phase::closed;
          return Got::closed;
        case WsReader::Kind::error: {
          std::string why(ev.data);
          send_close(ev.code, why);
          phase = Phase::closed;  // a faulty peer gets no wait for its Close
          return Got::closed;
        }
        case WsReader::Kind::need_more: break;
      }
      if (auto got = wait_for_input(deadline)) return *got;
    }
  }

  // Reads what has arrived, without waiting, into a buffer that lives only for the read.
  // An end or a timeout is left for the next read to see again; a stop is acted on here,
  // as the read tells it only once.
  void read_waiting() {
    constexpr std::size_t kBig = 16 * 1024;
    auto big = std::make_unique_for_overwrite<char[]>(kBig);
    auto r = io.read(big.get(), kBig, SteadyClock::now());
    if (r.status == UpgradedStream::ReadStatus::data) in.append(big.get(), r.bytes);
    if (r.status == UpgradedStream::ReadStatus::stopping)
      send_close(close_code::going_away, "server stopping");
  }

  // Reads more input, doing the timed duties (pings, pong and idle timeouts, the end of a
  // close handshake) on the way. A result ends next(); nullopt: parse again.
  std::optional<Got> wait_for_input(std::optional<SteadyTime> deadline) {
    auto until = deadline.value_or(SteadyClock::now() + std::chrono::hours(24));
    if (phase == Phase::open) {
      if (settings.ping_interval.count() > 0) until = std::min(until, pong_due.value_or(next_ping));
      if (settings.idle_timeout.count() > 0)
        until = std::min(until, last_message + settings.idle_timeout);
    } else {
      until = std::min(until, close_deadline);
    }
    // A small buffer on the stack while waiting: every stack page a connection's green
    // thread ever touched stays resident for its life, and a 16 KiB array would put the
    // frames below it (the read, the wait, the switch) 16 KiB deeper. A full read says more
    // is waiting: take it in big reads from a buffer that lives only for them.
    char buf[2048];
    auto r = io.read(buf, sizeof buf, until);
    switch (r.status) {
      case UpgradedStream::ReadStatus::data:
        in.append(buf, r.bytes);
        if (r.bytes == sizeof buf) read_waiting();
        return std::nullopt;
      case UpgradedStream::ReadStatus::end:
        broke("the client closed the connection without a Close");
        return Got::closed;
      case UpgradedStream::ReadStatus::stopping:
        send_close(close_code::going_away, "server stopping");
        return std::nullopt;
      case UpgradedStream::ReadStatus::timeout: break;
    }
    auto now = SteadyClock::now();
    if (phase == Phase::closing && now >= close_deadline) {
      phase = Phase::closed;  // the client never answered our Close
      return Got::closed;
    }
    if (phase == Phase::open && settings.ping_interval.count() > 0) {
      if (pong_due && now >= *pong_due) {
        send_close(close_code::internal_error, "no pong in time");
        phase = Phase::closed;
        return Got::closed;
      }
      if (!pong_due && now >= next_ping) {
        write(Opcode::ping, "", false);
        pong_due = now + settings.ping_timeout;
        next_ping = now + settings.ping_interval;
      }
    }
    if (phase == Phase::open && settings.idle_timeout.count() > 0 &&
        now >= last_message + settings.idle_timeout)
      send_close(close_code::going_away, "idle timeout");
    if (deadline && now >= *deadline) return Got::timeout;
    return std::nullopt;
  }
};

WebSocket::WebSocket(UpgradedStream& stream, const Handshake& hs, const Options& opts)
    : s_(std::make_unique<State>(stream, hs, opts)) {}
WebSocket::~WebSocket() = default;

std::optional<Message> WebSocket::receive() {
  Message m;
  if (s_->next(std::nullopt, m) == State::Got::message) return m;
  return std::nullopt;
}

std::optional<Message> WebSocket::receive(std::chrono::milliseconds timeout) {
  Message m;
  if (s_->next(SteadyClock::now() + timeout, m) == State::Got::message) return m;
  return std::nullopt;
}

void WebSocket::send(std::string_view text) { s_->send_data(Opcode::text, text); }
void WebSocket::send_binary(std::string_view data) { s_->send_data(Opcode::binary, data); }
void WebSocket::send(const Message& msg) {
  s_->send_data(msg.binary ? Opcode::binary : Opcode::text, msg.data);
}

void WebSocket::ping(std::string_view payload) {
  if (payload.size() > detail::kMaxControlPayload)
    throw std::invalid_argument("ws::WebSocket::ping: a ping payload is at most 125 bytes");
  if (s_->phase != State::Phase::open) throw ConnectionClosed(s_->code, s_->reason);
  if (!s_->write(Opcode::ping, payload, false)) throw ConnectionClosed(s_->code, s_->reason);
}

void WebSocket::close(std::uint16_t code, std::string_view reason) {
  if (!valid_close_code(code))
    throw std::invalid_argument("ws::WebSocket::close: code " + std::to_string(code) +
                                " cannot be sent; use 1000-1003, 1007-1014 or 3000-4999");
  if (s_->phase == State::Phase::closed) return;
  s_->send_close(code, reason);
  Message ignored;
  while (s_->next(std::nullopt, ignored) != State::Got::closed) {
  }
}

bool WebSocket::closed() const noexcept { return s_->phase == State::Phase::closed; }
std::uint16_t WebSocket::close_code() const noexcept { return s_->code; }
const std::string& WebSocket::close_reason() const noexcept { return s_->reason; }
const std::string& WebSocket::protocol() const noexcept { return s_->protocol; }
bool WebSocket::compressed() const noexcept { return s_->deflater.has_value(); }

Function<void(UpgradedStream&)> run_handler(Handshake hs, Options opts, Handler handler,
                                            std::string what) {
  return [hs = std::move(hs), opts = std::move(opts), handler = std::move(handler),
          what = std::move(what)](UpgradedStream& io) mutable {
    WebSocket ws(io, hs, opts);
    try {
      handler(ws);
    } catch (const green::GreenletExit&) {
      throw;
    } catch (const ConnectionClosed&) {
      return;  // sent to a closed connection and let it propagate: nothing more to say
    } catch (const std::exception& e) {
      Log::write(LogLevel::error,
                 "WebSocket handler for " + what + " from " + io.peer() + " failed: " + e.what());
      ws.close(close_code::internal_error, "internal error");
      return;
    }
    ws.close();
  };
}

Response accept(Request& req, Handler handler, Options opts) {
  Handshake hs = check_handshake(req, opts);
  if (!hs.ok()) return refusal(hs);
  Response r;
  r.status = 101;
  r.headers = accept_headers(hs);
  r.upgrade =
      run_handler(std::move(hs), std::move(opts), std::move(handler), std::string(req.target()));
  return r;
}

}  // namespace grove::http::ws
