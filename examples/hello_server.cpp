// grove-hello: the green-thread HTTP server with a plain function as the application.
// The benchmarks drive `/`; the tests use the other routes.
//
//   grove-hello --bind 127.0.0.1:8080 --workers 2
//   curl http://127.0.0.1:8080/             -> Hello, World!
#include <grove/green.hpp>
#include <grove/http.hpp>
#include <grove/http/websocket.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>

using grove::http::Request;
using grove::http::Response;

namespace {

std::size_t query_number(const Request& req, std::string_view name, std::size_t fallback) {
  for (auto& [k, v] : grove::http::parse_query(req.query()))
    if (k == name) {
      try {
        return std::stoul(v);
      } catch (...) {
        return fallback;
      }
    }
  return fallback;
}

Response hello(Request& req) {
  std::string_view path = req.path();
  if (path == "/") return Response::text("Hello, World!");
  if (path == "/echo") {  // the body back, read whole (chunked or not)
    auto r = Response::text(req.read_body());
    if (auto ct = req.header("content-type")) r.headers.set("Content-Type", *ct);
    return r;
  }
  if (path == "/sleep") {  // a green sleep: only this connection waits
    grove::green::sleep(std::chrono::milliseconds(query_number(req, "ms", 100)));
    return Response::text("ok");
  }
  if (path == "/stream") {  // n chunks, sent as they are produced
    std::size_t n = query_number(req, "n", 3);
    std::size_t delay = query_number(req, "ms", 0);
    return Response::streamed(
        [n, delay](grove::http::BodyWriter& w) {
          for (std::size_t i = 0; i < n; ++i) {
            if (delay) grove::green::sleep(std::chrono::milliseconds(delay));
            w.write("chunk " + std::to_string(i) + "\n");
          }
        },
        200, "text/plain");
  }
  if (path == "/big") return Response::text(std::string(query_number(req, "n", 1 << 20), 'x'));
  if (path == "/headers") {  // the request's header fields, one per line
    std::string out;
    for (auto f : req.headers()) {
      out += f.name;
      out += ": ";
      out += f.value;
      out += '\n';
    }
    return Response::text(out);
  }
  if (path == "/info")
    return Response::text(std::string(req.method()) + " " + std::string(req.path()) + " " +
                          std::string(req.query()) + " " + std::string(req.version_string()) + " " +
                          req.remote_addr() + "\n");
  if (path == "/tls") {  // what the gateway says of the connection's TLS, one fact a line
    std::string out = "scheme=" + std::string(req.scheme()) + "\n";
    if (const grove::http::TlsFacts* t = req.tls()) {
      out += "version=" + t->version + "\ncipher=" + t->cipher + "\nsni=" + t->server_name +
             "\nalpn=" + t->alpn + "\nclient=" + t->client_subject +
             "\nissuer=" + t->client_issuer + "\nverified=" + (t->client_verified ? "yes" : "no") +
             "\n";
    }
    return Response::text(out);
  }
  if (path == "/pid") return Response::text(std::to_string(::getpid()));
  if (path == "/crash") std::abort();  // kills this worker; the master starts another
  if (path == "/error") throw std::runtime_error("the /error route always fails");
  if (path == "/status") {
    auto code = int(query_number(req, "code", 200));
    return Response::text("status " + std::to_string(code) + "\n", code);
  }
  if (path == "/ws/echo")  // a WebSocket that sends every message back (docs/websocket.md)
    return grove::http::ws::accept(req, [](grove::http::ws::WebSocket& ws) {
      while (auto msg = ws.receive()) ws.send(*msg);
    });
  if (path == "/close") {
    auto r = Response::text("closing");
    r.headers.set("Connection", "close");
    return r;
  }
  return Response::text("not found\n", 404);
}

}  // namespace

int main(int argc, char** argv) {
  grove::http::ServeOptions options;
  options.program = "grove-hello";
  options.description = "grove-hello: a trivial application on the grove HTTP/1.1 server";
  return grove::http::serve(hello, argc, argv, options);
}
