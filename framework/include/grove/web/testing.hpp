// grove::web::TestClient: requests to an app without a socket (Flask's testing.py).
//
// Promises: a request made with the test client goes through the server's own steps
// (grove::http::exchange: the gateway call, the framing and serialization of the response)
// and is read back from the bytes, so the status, the header fields (Server, Date,
// Content-Length or Transfer-Encoding, Connection: close) and the body (none for HEAD) are
// what the server sends. A streamed body is collected into TestResponse::body. Exceptions
// escape only with PROPAGATE_EXCEPTIONS (or TESTING) set, where a server would answer 500.
//
//   auto client = app.test_client();
//   web::TestResponse r = client.post("/echo", {.data = "hi", .content_type = "text/plain"});
//   REQUIRE(r.status == 200);
//   REQUIRE(client.get("/api/items/7").json()["id"].as_int() == 7);
//
// client.websocket() opens a WebSocket the same way (grove::http::exchange_upgrade: the
// handshake through the app, then the app.websocket handler in a green thread over an
// in-memory connection), and speaks RFC 6455 to it as a client does (masked frames, the
// close handshake, pongs to the server's pings):
//
//   web::TestWebSocket ws = client.websocket("/ws/echo");
//   ws.send("hi");
//   REQUIRE(ws.receive()->data == "hi");
//   ws.close();
//   REQUIRE(ws.close_code() == 1000);
#pragma once

#include <grove/http/tls.hpp>
#include <grove/http/websocket.hpp>
#include <grove/web/datastructures.hpp>
#include <grove/web/json.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grove::web {

class App;

// What a request made with the test client carries. Designated initializers read well:
//   client.post("/echo", {.data = "hi"});  client.post("/api", {.json = Json{{"a", 1}}});
struct RequestOptions {
  Headers headers;
  std::string data;          // the body
  std::optional<Json> json;  // a JSON body (sets Content-Type: application/json)
  MultiDict form;            // an urlencoded body
  MultiDict query;           // appended to the target's query string
  std::string content_type;  // for `data`
  std::string remote_addr = "127.0.0.1";
  // As if over TLS with these facts (werkzeug's base_url="https://..."): request.scheme()
  // is "https", request.is_secure() and request.tls() say so.
  //   RequestOptions o;  o.tls.emplace();  o.tls->client_subject = "CN=ann";
  //   client.get("/me", std::move(o));
  std::optional<grove::http::TlsFacts> tls;
};

// A finished response: the body of a streamed response has been collected.
class TestResponse {
 public:
  int status = 0;
  Headers headers;
  std::string body;
  bool streamed = false;

  int status_code() const noexcept { return status; }
  const std::string& data() const noexcept { return body; }
  const std::string& text() const noexcept { return body; }
  std::string mimetype() const { return media_type(headers.get("Content-Type", "")); }
  // The body parsed as JSON (JsonError if it is not).
  Json json() const { return Json::parse(body); }
};

// What a WebSocket opened with the test client carries.
struct WebSocketOptions {
  Headers headers;                        // more fields of the upgrade request (or its own
                                          // Upgrade, Sec-WebSocket-Version, ... instead)
  MultiDict query;                        // appended to the target's query string
  std::vector<std::string> subprotocols;  // offered in Sec-WebSocket-Protocol, in this order
  std::string origin;                     // the Origin field ("" for none)
  std::string remote_addr = "127.0.0.1";
  std::optional<grove::http::TlsFacts> tls;  // as RequestOptions::tls (wss://)
  grove::http::WebSocketSettings server;     // the server's settings (`serve --ws-*`)
  // Offer permessage-deflate ("permessage-deflate; client_max_window_bits"); whether the
  // app took it is TestWebSocket::compressed().
  bool deflate = false;
  // How long receive() and close() wait for the handler before failing the test.
  std::chrono::milliseconds timeout{5000};
};

// The app answered the upgrade request with something other than 101 (a before_request
// hook refusing, a 404, the 426 of a wrong version, ...): what it sent instead.
class WebSocketRefused : public std::runtime_error {
 public:
  explicit WebSocketRefused(TestResponse response);
  int status() const noexcept { return response_.status; }
  const TestResponse& response() const noexcept { return response_; }

 private:
  TestResponse response_;
};

// The client's end of a WebSocket opened with TestClient::websocket(). Use it from the
// OS thread that opened it (the main context or a green thread): its waits let the hub run
// the handler. Destroying it closes the connection (the handler's receive() returns
// nothing) and waits for the handler, killing it after WebSocketOptions::server's
// close_timeout.
class TestWebSocket {
 public:
  using Message = grove::http::ws::Message;

  TestWebSocket(TestWebSocket&&) noexcept;
  TestWebSocket& operator=(TestWebSocket&&) noexcept;
  ~TestWebSocket();

  // The next message from the handler; nothing once the connection closed (closed(),
  // close_code()). Pings are answered on the way. No message within the options' timeout
  // throws std::runtime_error (a handler that never sends fails the test, not hangs it).
  std::optional<Message> receive();
  // The same, waiting at most `timeout`: nothing also when it passes (closed() stays false).
  std::optional<Message> receive(std::chrono::milliseconds timeout);
  // Sends a message (text is sent as given: a test may send bad UTF-8 on purpose). Throws
  // grove::http::ws::ConnectionClosed once the connection is closed.
  void send(std::string_view text);
  void send_binary(std::string_view data);
  void send(const Message& msg);
  // Sends a Close, waits for the handler's Close and for the handler to return. A handler
  // that does not answer within the timeout leaves close_code() 1006. `code` must be one a
  // peer may send (std::invalid_argument otherwise).
  void close(std::uint16_t code = grove::http::ws::close_code::normal,
             std::string_view reason = {});

  bool closed() const noexcept;
  // The handler's code (or ours if we closed first); 1006 if the connection ended without
  // a Close.
  std::uint16_t close_code() const noexcept;
  const std::string& close_reason() const noexcept;
  const std::string& protocol() const noexcept;  // the subprotocol the app chose, or ""
  bool compressed() const noexcept;              // permessage-deflate agreed
  // The 101 response (its Server, Date and Sec-WebSocket-* fields).
  const TestResponse& response() const noexcept;

 private:
  friend class TestClient;
  struct State;
  explicit TestWebSocket(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

class TestClient {
 public:
  explicit TestClient(App& app) : app_(&app) {}

  // Runs the whole request cycle (routing, every hook, error handlers, bridges) through the
  // server's framing, without a socket. A streamed body is collected. Exceptions escape only
  // with PROPAGATE_EXCEPTIONS (or TESTING) set.
  TestResponse open(std::string method, std::string target, RequestOptions options = {});
  TestResponse get(std::string target, RequestOptions options = {}) {
    return open("GET", std::move(target), std::move(options));
  }
  TestResponse head(std::string target, RequestOptions options = {}) {
    return open("HEAD", std::move(target), std::move(options));
  }
  TestResponse options(std::string target, RequestOptions options = {}) {
    return open("OPTIONS", std::move(target), std::move(options));
  }
  TestResponse post(std::string target, RequestOptions options = {}) {
    return open("POST", std::move(target), std::move(options));
  }
  TestResponse post(std::string target, std::string body,
                    std::string content_type = "text/plain; charset=utf-8");
  TestResponse post_json(std::string target, Json body);
  TestResponse put(std::string target, RequestOptions options = {}) {
    return open("PUT", std::move(target), std::move(options));
  }
  TestResponse patch(std::string target, RequestOptions options = {}) {
    return open("PATCH", std::move(target), std::move(options));
  }
  TestResponse delete_(std::string target, RequestOptions options = {}) {
    return open("DELETE", std::move(target), std::move(options));
  }

  // Opens a WebSocket to `target` through the app (routing, before_request hooks, the
  // handshake of app.websocket) without a socket. Throws WebSocketRefused when the app
  // answers with anything but 101; exceptions escape as with open().
  TestWebSocket websocket(std::string target, WebSocketOptions options = {});

 private:
  App* app_;
};

}  // namespace grove::web
