// The test client: each request goes through the server's own steps (grove::http::exchange:
// the gateway call, the response framing and serialization), then is read back from the
// bytes, so a test sees what the server sends: HEAD without a body, Content-Length or
// chunked framing, the server's own error responses (Flask's client goes through wsgi_app).
#include <grove/http/detail/http1.hpp>
#include <grove/http/exchange.hpp>
#include <grove/web/app.hpp>

#include "testing_internal.hpp"

#include <cctype>
#include <exception>
#include <stdexcept>

namespace grove::web {

namespace detail {

grove::http::Request make_test_request(std::string method, std::string target,
                                       RequestOptions& options) {
  for (char& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (!options.query.empty()) {
    target += target.find('?') == std::string::npos ? '?' : '&';
    target += encode_query(options.query);
  }
  Headers headers = std::move(options.headers);
  std::string body = std::move(options.data);
  if (options.json) {
    body = options.json->dump();
    headers.setdefault("Content-Type", "application/json");
  } else if (!options.form.empty()) {
    body = encode_query(options.form);
    headers.setdefault("Content-Type", "application/x-www-form-urlencoded");
  } else if (!options.content_type.empty()) {
    headers.setdefault("Content-Type", options.content_type);
  }
  headers.setdefault("Host", "localhost");
  grove::http::Request req(method, target, std::move(headers), std::move(body));
  req.set_remote(options.remote_addr, 0);
  if (options.tls) req.set_tls(&*options.tls);  // options outlive the exchange
  return req;
}

// What the app lets escape (PROPAGATE_EXCEPTIONS or TESTING, or an exception that is not an
// error) is kept for the caller, where a server would answer 500.
grove::http::Application guarded_application(App& app, std::exception_ptr& escaped,
                                             bool* streamed) {
  return [&app, &escaped, streamed](grove::http::Request& r) -> grove::http::Response {
    try {
      grove::http::Response resp = app(r);
      if (streamed) *streamed = resp.streaming();
      return resp;
    } catch (...) {
      escaped = std::current_exception();
      return grove::http::Response(500);
    }
  };
}

TestResponse read_test_response(std::string_view wire, bool head_request) {
  auto parsed = grove::http::detail::parse_response(wire, head_request);
  if (!parsed)
    throw std::logic_error("grove::web::TestClient: the server's response does not read back: " +
                           std::string(wire.substr(0, 256)));
  TestResponse out;
  out.status = parsed->status;
  for (const auto& [name, value] : parsed->fields) out.headers.add(name, value);
  out.body = std::move(parsed->body);
  return out;
}

}  // namespace detail

TestResponse TestClient::open(std::string method, std::string target, RequestOptions options) {
  grove::http::Request req =
      detail::make_test_request(std::move(method), std::move(target), options);
  std::exception_ptr escaped;
  bool streamed = false;
  std::string wire =
      grove::http::exchange(detail::guarded_application(*app_, escaped, &streamed), req);
  if (escaped) std::rethrow_exception(escaped);
  TestResponse out = detail::read_test_response(wire, req.method() == "HEAD");
  out.streamed = streamed;
  return out;
}

TestResponse TestClient::post(std::string target, std::string body, std::string content_type) {
  RequestOptions o;
  o.data = std::move(body);
  o.content_type = std::move(content_type);
  return open("POST", std::move(target), std::move(o));
}

TestResponse TestClient::post_json(std::string target, Json body) {
  RequestOptions o;
  o.json = std::move(body);
  return open("POST", std::move(target), std::move(o));
}

}  // namespace grove::web
