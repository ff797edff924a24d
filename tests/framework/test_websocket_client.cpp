// The test client's WebSocket (client.websocket()): app.websocket handlers driven without a
// socket, through the app's own handshake (routing, before_request, the 101 with its
// Sec-WebSocket-Accept): echo, the request context, refusals with an HTTP status, close
// codes both ways, a subprotocol, rooms on a web::Hub, coroutine handlers, pings answered,
// permessage-deflate.
#include "web_support.hpp"

#include <grove/green.hpp>
#include <grove/web/hub.hpp>

#include <stdexcept>

using namespace grove::web;
namespace ws = grove::http::ws;
namespace aio = grove::aio;
using std::chrono::milliseconds;

namespace {

void build(App& app) {
  app.before_request([](Request& r) -> std::optional<Response> {
    if (r.path() == "/ws/private") return Response("members only", 403);
    return std::nullopt;
  });
  app.websocket("/ws/<room>", [](ws::WebSocket& w) {
    w.send("joined " + request().view_args()["room"] + " over " + request().scheme());
    while (auto m = w.receive()) {
      if (m->binary) w.send_binary("bin:" + m->data);
      else w.send(request().view_args()["room"] + ": " + m->data);
    }
  });
  app.route("/plain", [] { return "plain"; });
}

// The status of a refused upgrade (0 if it was accepted).
int refused_status(TestClient& client, std::string target) {
  try {
    client.websocket(std::move(target));
  } catch (const WebSocketRefused& e) {
    return e.status();
  }
  return 0;
}

}  // namespace

TEST_CASE("web: test client websocket: echo through the app's handshake, then the close handshake",
          "[websocket]") {
  App app;
  build(app);
  auto client = app.test_client();
  TestWebSocket w = client.websocket("/ws/lobby");
  CHECK(w.response().status == 101);
  CHECK(w.response().headers.get("Upgrade", "") == "websocket");
  CHECK(w.response().headers.get("Server", "") == "grove");
  CHECK(w.receive()->data == "joined lobby over http");
  w.send("hi");
  CHECK(w.receive()->data == "lobby: hi");
  w.send_binary(std::string("\0\xff", 2));
  auto bin = w.receive();
  REQUIRE(bin);
  CHECK(bin->binary);
  CHECK(bin->data == std::string("bin:\0\xff", 6));
  CHECK_FALSE(w.closed());
  w.close(1000, "bye");
  CHECK(w.closed());
  CHECK(w.close_code() == 1000);
  CHECK_FALSE(w.receive());
  CHECK_THROWS_AS(w.send("late"), ws::ConnectionClosed);

  WebSocketOptions secure;
  secure.tls.emplace();
  TestWebSocket s = client.websocket("/ws/vault", std::move(secure));
  CHECK(s.receive()->data == "joined vault over https");
}

TEST_CASE("web: test client websocket: refusals come back as the HTTP response the app sent",
          "[websocket]") {
  App app;
  build(app);
  auto client = app.test_client();
  try {
    client.websocket("/ws/private");
    FAIL("the before_request hook's 403 was not reported");
  } catch (const WebSocketRefused& e) {
    CHECK(e.status() == 403);
    CHECK(e.response().body == "members only");
    CHECK(std::string(e.what()).find("403") != std::string::npos);
  }
  CHECK(refused_status(client, "/nowhere") == 404);
  // A route without a WebSocket handler answers as HTTP does.
  CHECK(refused_status(client, "/plain") == 200);
  // A version other than 13: the handshake's own 426.
  WebSocketOptions old;
  old.headers.set("Sec-WebSocket-Version", "8");
  try {
    client.websocket("/ws/lobby", std::move(old));
    FAIL("version 8 was accepted");
  } catch (const WebSocketRefused& e) {
    CHECK(e.status() == 426);
    CHECK(e.response().headers.get("Sec-WebSocket-Version", "") == "13");
  }
}

TEST_CASE("web: test client websocket: close codes both ways", "[websocket]") {
  App app;
  std::uint16_t seen_by_handler = 0;
  std::string seen_reason;
  app.websocket("/closes", [](ws::WebSocket& w) {
    w.receive();
    w.close(4000, "done");
  });
  app.websocket("/listens", [&](ws::WebSocket& w) {
    while (w.receive()) {
    }
    seen_by_handler = w.close_code();
    seen_reason = w.close_reason();
  });
  app.websocket("/throws", [](ws::WebSocket& w) {
    w.receive();
    throw std::runtime_error("handler bug");
  });
  app.websocket("/returns", [](ws::WebSocket&) {});
  auto client = app.test_client();

  SECTION("the handler closes with its code and reason") {
    TestWebSocket w = client.websocket("/closes");
    w.send("go");
    CHECK_FALSE(w.receive());
    CHECK(w.closed());
    CHECK(w.close_code() == 4000);
    CHECK(w.close_reason() == "done");
  }
  SECTION("the client closes and the handler sees its code") {
    TestWebSocket w = client.websocket("/listens");
    w.close(4001, "leaving");
    CHECK(w.close_code() == 4001);
    CHECK(seen_by_handler == 4001);
    CHECK(seen_reason == "leaving");
  }
  SECTION("a throwing handler closes with 1011, a returning one with 1000") {
    TestWebSocket w = client.websocket("/throws");
    w.send("go");
    CHECK_FALSE(w.receive());
    CHECK(w.close_code() == 1011);
    TestWebSocket r = client.websocket("/returns");
    CHECK_FALSE(r.receive());
    CHECK(r.close_code() == 1000);
  }
  SECTION("a protocol fault of the client's gets its close code: text that is not UTF-8") {
    TestWebSocket w = client.websocket("/listens");
    w.send("\xc3\x28");
    CHECK_FALSE(w.receive());
    CHECK(w.close_code() == 1007);
    CHECK(seen_by_handler == 1007);
  }
  SECTION("the client's misuse: a code a peer may not send") {
    TestWebSocket w = client.websocket("/listens");
    CHECK_THROWS_AS(w.close(1005), std::invalid_argument);
    CHECK_FALSE(w.closed());
  }
  SECTION("a client that goes away without a Close: the handler sees 1006") {
    { TestWebSocket w = client.websocket("/listens"); }
    CHECK(seen_by_handler == 1006);
  }
}

TEST_CASE("web: test client websocket: subprotocol negotiation and the Origin", "[websocket]") {
  App app;
  ws::Options opts;
  opts.subprotocols = {"chat.v2", "chat"};
  app.websocket(
      "/chat",
      [](ws::WebSocket& w) {
        w.send("protocol " + w.protocol() + " from " +
               request().headers().get("Origin", "nowhere"));
      },
      opts);
  auto client = app.test_client();
  WebSocketOptions both;
  both.subprotocols = {"chat", "chat.v2"};  // the server's order decides
  both.origin = "https://example.com";
  TestWebSocket w = client.websocket("/chat", std::move(both));
  CHECK(w.protocol() == "chat.v2");
  CHECK(w.receive()->data == "protocol chat.v2 from https://example.com");

  WebSocketOptions other;
  other.subprotocols = {"mqtt"};
  TestWebSocket n = client.websocket("/chat", std::move(other));
  CHECK(n.protocol().empty());
  CHECK_FALSE(n.response().headers.contains("Sec-WebSocket-Protocol"));
  CHECK(n.receive()->data == "protocol  from nowhere");
}

TEST_CASE("web: test client websocket: rooms on a web::Hub", "[websocket]") {
  App app;
  Hub hub;
  app.websocket("/rooms/<room>", [&hub](ws::WebSocket& w) {
    std::string room = request().view_args()["room"];
    auto member = hub.join(room, w);
    w.send("in " + room);
    while (auto m = w.receive()) hub.publish(room, m->data);
  });
  auto client = app.test_client();
  TestWebSocket ann = client.websocket("/rooms/a");
  TestWebSocket bob = client.websocket("/rooms/a");
  TestWebSocket cid = client.websocket("/rooms/b");
  for (auto* w : {&ann, &bob, &cid}) REQUIRE(w->receive());  // each has joined
  CHECK(hub.size("a") == 2);
  CHECK(hub.size("b") == 1);
  ann.send("hello a");
  CHECK(ann.receive()->data == "hello a");
  CHECK(bob.receive()->data == "hello a");
  CHECK_FALSE(cid.receive(milliseconds(50)));  // not in room a
  CHECK_FALSE(cid.closed());
  cid.send("hello b");
  CHECK(cid.receive()->data == "hello b");
  bob.close();
  CHECK(hub.size("a") == 1);  // the handler returned, the membership left
}

TEST_CASE("web: test client websocket: a coroutine handler", "[websocket]") {
  App app;
  app.websocket("/async", [](AsyncWebSocket& w) -> aio::Task<void> {
    while (auto m = co_await w.receive()) co_await w.send("async " + m->data);
  });
  auto client = app.test_client();
  TestWebSocket w = client.websocket("/async");
  w.send("one");
  CHECK(w.receive()->data == "async one");
  w.send("two");
  CHECK(w.receive()->data == "async two");
  w.close();
  CHECK(w.close_code() == 1000);
}

TEST_CASE(
    "web: test client websocket: the server's pings are answered, and a silent handler fails the "
    "receive",
    "[websocket]") {
  App app;
  app.websocket("/quiet", [](ws::WebSocket& w) {
    while (auto m = w.receive()) {
    }
  });
  auto client = app.test_client();
  WebSocketOptions o;
  o.server.ping_interval = milliseconds(10);
  o.server.ping_timeout = milliseconds(100);
  o.timeout = milliseconds(300);
  TestWebSocket w = client.websocket("/quiet", std::move(o));
  // 300 ms of pings every 10 ms: each answered, or the handler would close with 1011.
  CHECK_THROWS_WITH(w.receive(), Catch::Contains("no message from the handler of /quiet"));
  CHECK_FALSE(w.closed());
  w.close();
  CHECK(w.close_code() == 1000);
}

TEST_CASE("web: test client websocket: permessage-deflate both ways when offered", "[websocket]") {
  App app;
  app.websocket("/echo", [](ws::WebSocket& w) {
    w.send(w.compressed() ? "compressed" : "plain");
    while (auto m = w.receive()) w.send(*m);
  });
  auto client = app.test_client();
  WebSocketOptions o;
  o.deflate = true;
  TestWebSocket z = client.websocket("/echo", std::move(o));
  CHECK(z.compressed());
  CHECK(z.response().headers.get("Sec-WebSocket-Extensions", "").find("permessage-deflate") == 0);
  CHECK(z.receive()->data == "compressed");
  const std::string big(200 * 1024, 'a');  // context kept across messages: sent twice
  for (int i = 0; i < 2; ++i) {
    z.send(big);
    auto back = z.receive();
    REQUIRE(back);
    CHECK(back->data == big);
  }
  z.close();
  CHECK(z.close_code() == 1000);

  TestWebSocket p = client.websocket("/echo");  // not offered: none
  CHECK_FALSE(p.compressed());
  CHECK(p.receive()->data == "plain");
}
