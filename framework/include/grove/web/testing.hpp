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
#pragma once

#include <grove/web/datastructures.hpp>
#include <grove/web/json.hpp>
#include <grove/http/tls.hpp>

#include <optional>
#include <string>
#include <utility>

namespace grove::web {

class App;

// What a request made with the test client carries. Designated initializers read well:
//   client.post("/echo", {.data = "hi"});  client.post("/api", {.json = Json{{"a", 1}}});
struct RequestOptions {
  Headers headers;
  std::string data;             // the body
  std::optional<Json> json;     // a JSON body (sets Content-Type: application/json)
  MultiDict form;               // an urlencoded body
  MultiDict query;              // appended to the target's query string
  std::string content_type;     // for `data`
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

class TestClient {
 public:
  explicit TestClient(App& app) : app_(&app) {}

  // Runs the whole request cycle (routing, every hook, error handlers, bridges) through the
  // server's framing, without a socket. A streamed body is collected. Exceptions escape only
  // with PROPAGATE_EXCEPTIONS (or TESTING) set.
  TestResponse open(std::string method, std::string target, RequestOptions options = {});
  TestResponse get(std::string target, RequestOptions options = {}) { return open("GET", std::move(target), std::move(options)); }
  TestResponse head(std::string target, RequestOptions options = {}) { return open("HEAD", std::move(target), std::move(options)); }
  TestResponse options(std::string target, RequestOptions options = {}) { return open("OPTIONS", std::move(target), std::move(options)); }
  TestResponse post(std::string target, RequestOptions options = {}) { return open("POST", std::move(target), std::move(options)); }
  TestResponse post(std::string target, std::string body, std::string content_type = "text/plain; charset=utf-8");
  TestResponse post_json(std::string target, Json body);
  TestResponse put(std::string target, RequestOptions options = {}) { return open("PUT", std::move(target), std::move(options)); }
  TestResponse patch(std::string target, RequestOptions options = {}) { return open("PATCH", std::move(target), std::move(options)); }
  TestResponse delete_(std::string target, RequestOptions options = {}) { return open("DELETE", std::move(target), std::move(options)); }

 private:
  App* app_;
};

}  // namespace grove::web
