// docs/gateway.md's and docs/server.md's examples, with only <grove/http.hpp>.
#include <grove/http.hpp>

namespace {
grove::http::Response hello(grove::http::Request& req) {
  if (req.path() == "/echo") return grove::http::Response::text(req.read_body());
  return grove::http::Response::text("Hello, World!");
}
}  // namespace

int gateway_example(int argc, char** argv) { return grove::http::serve(hello, argc, argv); }

void server_example() {
  grove::http::ServerConfig config;
  config.binds = {"127.0.0.1:8000", "[::1]:8000", "unix:/run/app.sock"};
  grove::http::Server server(hello, config);
  server.listen();         // std::system_error naming the address on failure
  server.serve_forever();  // until stop(), SIGTERM or SIGINT
}
