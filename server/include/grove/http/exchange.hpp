// Requests served in memory, through the server's own steps: HTTP/1 framing, the
// application (the same call and error mapping as the server's), and the response
// serialization. No socket, no green thread needed. Test clients use it so that what
// they see is byte for byte what the server sends: HEAD without a body, Content-Length
// or chunked framing, `Connection`, the 500 for a throwing application, the 400 for a
// malformed chunked body.
//
//   grove::http::Request req("GET", "/hello");
//   std::string wire = grove::http::exchange(app, req);   // "HTTP/1.1 200 OK\r\n..."
//   auto resp = grove::http::detail::parse_response(wire, req.method() == "HEAD");
//
//   // Raw bytes as a client sends them (pipelined requests, then the end of input):
//   std::string all = grove::http::exchange(app, "GET /a HTTP/1.1\r\nHost: t\r\n\r\n");
#pragma once

#include <grove/http/gateway.hpp>
#include <grove/http/parser.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace grove::http {

struct ExchangeOptions {
  std::string server_header = "grove";    // as ServerConfig::server_header
  Limits limits;                          // as ServerConfig::limits (for raw bytes)
  std::string remote_addr = "127.0.0.1";  // what Request::remote_addr() reports
  WebSocketSettings websocket;            // as ServerConfig::websocket (for upgrades)
};

// One request, made by hand (its body served from memory): the response as the server
// writes it. A hand-made request does not keep the connection alive, so the response
// says `Connection: close`, as the server's last response on a connection does.
std::string exchange(const Application& app, Request& req, const ExchangeOptions& options = {});

// The bytes a client sends, then the end of its input: every response the server would
// write, in order, up to the close (after an error, a `Connection: close`, or an
// incomplete request, which gets no response, as on a socket).
std::string exchange(const Application& app, std::string_view request_bytes,
                     const ExchangeOptions& options = {});

// An upgrade served in memory: the client's end of a connection whose request the
// application answered. The request goes through the application as in exchange(); a
// `101` with Response::upgrade then runs the upgrade (a WebSocket handler) in a green
// thread of this OS thread's hub over an in-memory stream, as the server runs it on the
// connection's green thread. Writes never block (no socket buffer fills up) and no
// graceful stop reaches the handler; everything else is the server's path. Used from the
// OS thread that made it (the main context or any green thread); waits let the hub run.
//
//   auto up = grove::http::exchange_upgrade(app, std::move(req));
//   if (!up->upgraded()) ...;              // up->response(): the whole refusal
//   up->write(masked_frame);               // the client's bytes
//   std::string got = up->read(deadline);  // the handler's bytes
class UpgradeExchange {
 public:
  virtual ~UpgradeExchange() = default;
  // The response as the server writes it: the 101 head when upgraded(), else the whole
  // response (the connection then is closed).
  virtual const std::string& response() const noexcept = 0;
  virtual bool upgraded() const noexcept = 0;
  // Sends bytes to the handler (nothing once the client closed its side).
  virtual void write(std::string_view bytes) = 0;
  // The client closes its side: the handler's reads see the end of the input.
  virtual void close_write() = 0;
  // What the handler wrote since the last read, waiting until `deadline` for something;
  // empty when the deadline passes or once finished() and everything was read.
  virtual std::string read(std::chrono::steady_clock::time_point deadline) = 0;
  // The handler returned (or was never run): the server side closed the connection.
  virtual bool finished() const noexcept = 0;
  // Waits until finished(), at most until `deadline`; returns finished().
  virtual bool wait_finished(std::chrono::steady_clock::time_point deadline) = 0;
};

// Serves `req` (kept until the upgrade ends: the application may hold views into it). The
// destructor closes the client's side, gives the handler the server's close timeout to
// return, then kills it.
std::unique_ptr<UpgradeExchange> exchange_upgrade(const Application& app, Request req,
                                                  const ExchangeOptions& options = {});

}  // namespace grove::http
