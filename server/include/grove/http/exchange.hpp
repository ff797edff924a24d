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

#include <string>
#include <string_view>

namespace grove::http {

struct ExchangeOptions {
  std::string server_header = "grove";  // as ServerConfig::server_header
  Limits limits;                        // as ServerConfig::limits (for raw bytes)
  std::string remote_addr = "127.0.0.1";  // what Request::remote_addr() reports
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

}  // namespace grove::http
