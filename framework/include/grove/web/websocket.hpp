// grove::web::AsyncWebSocket: a WebSocket for coroutine handlers of app.websocket().
//
// Promises: the same connection as grove::http::ws::WebSocket (pings, timeouts, limits,
// backpressure, the close handshake and a graceful stop's 1001 all work the same), with
// every operation awaitable so a coroutine never blocks the hub:
//
//   app.websocket("/ws/echo", [](web::AsyncWebSocket& ws) -> aio::Task<void> {
//     while (auto msg = co_await ws.receive()) co_await ws.send(*msg);
//   });
//
// A coroutine handler runs on the green bridge whatever app.async_to_sync says: the
// connection's I/O belongs to its hub, which the thread bridge would hold for the
// connection's whole life. Each operation runs the blocking one in a green thread of that
// hub and resumes the coroutine when it is done; an operation still running when the
// handler ends (a cancelled coroutine's) is killed then.
#pragma once

#include <grove/aio/task.hpp>
#include <grove/green/greenlet.hpp>
#include <grove/http/websocket.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace grove::web {

class AsyncWebSocket {
 public:
  using Message = grove::http::ws::Message;

  explicit AsyncWebSocket(grove::http::ws::WebSocket& ws) : ws_(&ws) {}
  ~AsyncWebSocket();
  AsyncWebSocket(const AsyncWebSocket&) = delete;
  AsyncWebSocket& operator=(const AsyncWebSocket&) = delete;

  // The next message; nothing once the connection is closed. One receive at a time (a
  // second one while the first is pending is std::logic_error). Cancelling the awaiting
  // task stops the receive at its read: no message is lost.
  aio::Task<std::optional<Message>> receive();
  // The same, waiting at most `timeout`: nothing when it passes (closed() stays false).
  aio::Task<std::optional<Message>> receive(std::chrono::milliseconds timeout);
  // As ws::WebSocket's: ConnectionClosed once the connection is closed.
  aio::Task<void> send(std::string text);
  aio::Task<void> send_binary(std::string data);
  aio::Task<void> send(Message msg);
  aio::Task<void> ping(std::string payload = {});
  // Sends a Close and waits for the client's. It reads, so no receive may be pending
  // (std::logic_error: cancel the receiving task first).
  aio::Task<void> close(std::uint16_t code = grove::http::ws::close_code::normal,
                        std::string reason = {});

  bool closed() const noexcept { return ws_->closed(); }
  std::uint16_t close_code() const noexcept { return ws_->close_code(); }
  const std::string& close_reason() const noexcept { return ws_->close_reason(); }
  const std::string& protocol() const noexcept { return ws_->protocol(); }
  bool compressed() const noexcept { return ws_->compressed(); }
  // The blocking WebSocket underneath, for green threads the handler spawns.
  grove::http::ws::WebSocket& sync() noexcept { return *ws_; }

 private:
  // Spawns the blocking operation in a green thread of this hub, tracked until it ends.
  template <class R>
  green::Handle<R> start(Function<R()> op);
  aio::Task<std::optional<Message>> receive_until(std::optional<std::chrono::milliseconds> timeout);

  grove::http::ws::WebSocket* ws_;
  std::vector<green::Greenlet> running_;  // operations' green threads, pruned as they end
  green::Greenlet receiver_;              // the pending receive's
};

}  // namespace grove::web
