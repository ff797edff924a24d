// app.websocket(): a route whose view accepts a WebSocket upgrade (grove/web/scaffold.hpp).
// The view checks the handshake on the framework's request and answers 101 with the
// handler as the response's upgrade; App::handle_context() binds the request's context
// around it, and the gateway adapter hands it to the server. A coroutine handler gets an
// AsyncWebSocket (grove/web/websocket.hpp) whose operations run in green threads.
#include <grove/aio/sync.hpp>
#include <grove/web/app.hpp>
#include <grove/web/scaffold.hpp>
#include <grove/web/websocket.hpp>

#include <memory>
#include <stdexcept>
#include <type_traits>

namespace grove::web {

namespace {

namespace ws = grove::http::ws;

grove::http::Version version_of(const Request& req) {
  return req.http_version() == "HTTP/1.0" ? grove::http::Version{1, 0} : grove::http::Version{1, 1};
}

Response websocket_response(Request& req, const std::function<void(ws::WebSocket&)>& handler,
                            const ws::Options& options) {
  ws::Handshake hs = ws::check_handshake(req.method(), version_of(req), req.headers(), options);
  if (!hs.ok()) {
    grove::http::Response refused = ws::refusal(hs);
    Response r(refused.body, refused.status);
    for (auto f : refused.headers) r.headers.set(f.name, f.value);
    return r;
  }
  Response r{Response::Blank{}};
  r.status = 101;
  r.headers = ws::accept_headers(hs);
  // web::Response is copyable, the gateway's upgrade is not: shared.
  auto run = std::make_shared<grove::Function<void(grove::http::UpgradedStream&)>>(
      ws::run_handler(std::move(hs), options, ws::Handler(handler), req.path()));
  r.upgrade() = [run](grove::http::UpgradedStream& s) { (*run)(s); };
  return r;
}

aio::Task<void> ready(Response* out, Response r) {
  *out = std::move(r);
  co_return;
}

}  // namespace

Scaffold& Scaffold::websocket(std::string rule, std::function<void(ws::WebSocket&)> handler,
                              ws::Options options, std::string endpoint) {
  if (!handler) throw std::invalid_argument("websocket(\"" + rule + "\"): the handler is empty");
  ViewFunc v;
  v.endpoint = endpoint.empty() ? rule : std::move(endpoint);
  v.methods = {"GET"};
  v.check = [](const Rule&) {};  // the handler reads the parameters from request().view_args()
  v.fn = [handler = std::move(handler), options = std::move(options)](Response* out, Request& req) {
    return ready(out, websocket_response(req, handler, options));
  };
  return add_url_rule(std::move(rule), std::move(v));
}

Scaffold& Scaffold::websocket(std::string rule,
                              std::function<aio::Task<void>(AsyncWebSocket&)> handler,
                              ws::Options options, std::string endpoint) {
  if (!handler) throw std::invalid_argument("websocket(\"" + rule + "\"): the handler is empty");
  // Always the green bridge: the thread bridge would hold the connection's hub (and every
  // other connection on it) for as long as the WebSocket lives.
  auto run = [handler = std::move(handler)](ws::WebSocket& w) {
    AsyncWebSocket async_ws(w);
    green_bridge(handler(async_ws));
  };
  return websocket(std::move(rule), std::function<void(ws::WebSocket&)>(std::move(run)),
                   std::move(options), std::move(endpoint));
}

// --- AsyncWebSocket ----------------------------------------------------------------------------

namespace {

// Awaits an operation's green thread. A coroutine that goes away early (cancelled, or its
// frame destroyed) kills the operation if `stop_if_abandoned`: a receive is safe to stop at
// its read, and nothing else may read meanwhile; a send runs on, so no frame is cut short.
// (Not green::operator co_await: the bridge's coroutine runs on the request's context loop,
// which wraps the green loop that GreenletWait insists on.) The green thread's link runs as
// it dies and sets the event, which only schedules the coroutine's resumption.
template <class R>
aio::Task<R> await_op(green::Handle<R> g, bool stop_if_abandoned) {
  struct Guard {
    green::Greenlet g;
    bool armed;
    ~Guard() {
      if (armed && !g.dead()) g.kill(nullptr, /*block=*/false);
    }
  } guard{g, stop_if_abandoned};
  if (!g.dead()) {
    auto done = std::make_shared<aio::Event>();  // the link may outlive this frame
    g.link([done] { done->set(); });
    co_await done->wait();
  }
  guard.armed = false;
  if (std::exception_ptr e = g.exception()) std::rethrow_exception(e);
  co_return green::Handle<R>::take(*g.core());
}

}  // namespace

AsyncWebSocket::~AsyncWebSocket() {
  // The handler is done with the connection: what it left running must not outlive it.
  for (auto& g : running_)
    if (!g.dead()) g.kill();
}

template <class R>
green::Handle<R> AsyncWebSocket::start(Function<R()> op) {
  std::erase_if(running_, [](const green::Greenlet& g) { return g.dead(); });
  auto g = green::spawn([op = std::move(op)]() mutable { return op(); });
  running_.push_back(g);
  return g;
}

// Each operation spawns its green thread in a statement of its own, not inside the co_await
// expression: g++ 12 mishandles a lambda with init-captures in a co_await's full-expression
// (the captured string pointed into the coroutine frame after it was freed; found by ASan).
aio::Task<std::optional<AsyncWebSocket::Message>> AsyncWebSocket::receive_until(
    std::optional<std::chrono::milliseconds> timeout) {
  if (receiver_ && !receiver_.dead())
    throw std::logic_error(
        "web::AsyncWebSocket::receive: another receive is still pending on this WebSocket; "
        "await one at a time (one task receives, others may send)");
  auto* w = ws_;
  auto g = start<std::optional<Message>>(
      [w, timeout] { return timeout ? w->receive(*timeout) : w->receive(); });
  receiver_ = g;
  co_return co_await await_op(std::move(g), true);
}

aio::Task<std::optional<AsyncWebSocket::Message>> AsyncWebSocket::receive() {
  return receive_until(std::nullopt);
}

aio::Task<std::optional<AsyncWebSocket::Message>> AsyncWebSocket::receive(
    std::chrono::milliseconds timeout) {
  return receive_until(timeout);
}

aio::Task<void> AsyncWebSocket::send(std::string text) {
  auto* w = ws_;
  auto g = start<void>([w, text = std::move(text)] { w->send(text); });
  co_await await_op(std::move(g), false);
}

aio::Task<void> AsyncWebSocket::send_binary(std::string data) {
  auto* w = ws_;
  auto g = start<void>([w, data = std::move(data)] { w->send_binary(data); });
  co_await await_op(std::move(g), false);
}

aio::Task<void> AsyncWebSocket::send(Message msg) {
  auto* w = ws_;
  auto g = start<void>([w, msg = std::move(msg)] { w->send(msg); });
  co_await await_op(std::move(g), false);
}

aio::Task<void> AsyncWebSocket::ping(std::string payload) {
  auto* w = ws_;
  auto g = start<void>([w, payload = std::move(payload)] { w->ping(payload); });
  co_await await_op(std::move(g), false);
}

aio::Task<void> AsyncWebSocket::close(std::uint16_t code, std::string reason) {
  if (receiver_ && !receiver_.dead())
    throw std::logic_error(
        "web::AsyncWebSocket::close: a receive is pending, and closing reads the client's "
        "Close; cancel the receiving task first (or let it see the close)");
  auto* w = ws_;
  auto g = start<void>([w, code, reason = std::move(reason)] { w->close(code, reason); });
  co_await await_op(std::move(g), false);
}

}  // namespace grove::web
