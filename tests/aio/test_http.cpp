// The HTTP client against a local server (127.0.0.1, ephemeral port) that delays its
// answers. The server is built from the aio sockets and runs on the same loop as the
// client, so the client must never block the loop for the tests to pass.
#include "aio_support.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <memory>
#include <string>
#include <vector>

using namespace grove;
using namespace grove::aio::test;
namespace aio = grove::aio;

namespace {

struct Request {
  std::string method, path, body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string header(std::string_view name) const {
    for (const auto& [n, v] : headers)
      if (n.size() == name.size() &&
          std::equal(n.begin(), n.end(), name.begin(),
                     [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
        return v;
    return {};
  }
};

int to_int(std::string_view s) {
  int v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// Routes: /delay/<ms> answers after <ms>; /echo answers with the request's method, body
// and X-Echo header; /status/<code> answers with that status. Every answer closes.
class HttpTestServer {
 public:
  HttpTestServer() : listener_(aio::listen("127.0.0.1", 0)) {
    accept_loop_ = aio::create_task(accept_loop(), "http-accept");
  }
  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(listener_.port()) + std::string(path);
  }
  int requests() const { return requests_; }
  int disconnected_early() const { return disconnected_early_; }
  // Set when a client gives up on a delayed answer.
  aio::Event client_left;

  aio::Task<void> stop() {
    accept_loop_.cancel();
    for (auto& c : handlers_) c.cancel();
    co_await aio::gather(aio::return_exceptions, std::move(handlers_));
    try {
      co_await accept_loop_;
    } catch (const aio::CancelledError&) {
    }
  }

 private:
  aio::Task<void> accept_loop() {
    for (;;) {
      aio::Socket conn = co_await listener_.accept();
      handlers_.push_back(aio::create_task(serve(std::move(conn))));
    }
  }

  aio::Task<void> serve(aio::Socket conn) {
    Request req = co_await read_request(conn);
    ++requests_;
    int status = 200;
    std::string body;
    std::string extra;
    if (req.path.rfind("/delay/", 0) == 0) {
      const int ms = to_int(req.path.substr(7));
      // Watch the connection while waiting, to notice a client that gives up.
      auto gone = aio::create_task(conn.recv_some(1));
      bool client_left = false;
      try {
        std::string r = co_await aio::wait_for(gone, std::chrono::milliseconds(ms));
        client_left = r.empty();
      } catch (const aio::TimeoutError&) {
      }
      if (client_left) {
        ++disconnected_early_;
        this->client_left.set();
        co_return;
      }
      body = "slept " + std::to_string(ms);
    } else if (req.path == "/echo") {
      body = req.body;
      extra = "X-Method: " + req.method + "\r\nX-Echo: " + req.header("X-Echo") + "\r\n";
    } else if (req.path.rfind("/status/", 0) == 0) {
      status = to_int(req.path.substr(8));
      body = "status " + std::to_string(status);
    } else {
      status = 404;
      body = "not found";
    }
    const std::string response = "HTTP/1.1 " + std::to_string(status) +
                                 " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
                                 extra + "Connection: close\r\n\r\n" + body;
    co_await conn.send(response, 5s);
  }

  static aio::Task<Request> read_request(aio::Socket& conn) {
    std::string data;
    std::size_t end;
    while ((end = data.find("\r\n\r\n")) == std::string::npos) {
      std::string part = co_await conn.recv_some(65536, 5s);
      if (part.empty()) throw std::runtime_error("client closed before a full request");
      data += part;
    }
    Request req;
    std::string_view head(data.data(), end);
    auto line_end = head.find("\r\n");
    std::string_view line = head.substr(0, line_end);
    auto sp1 = line.find(' ');
    auto sp2 = line.find(' ', sp1 + 1);
    req.method = std::string(line.substr(0, sp1));
    req.path = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
    std::string_view rest = line_end == std::string_view::npos ? "" : head.substr(line_end + 2);
    while (!rest.empty()) {
      auto e = rest.find("\r\n");
      std::string_view h = rest.substr(0, e);
      auto colon = h.find(':');
      if (colon != std::string_view::npos) {
        std::string_view v = h.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        req.headers.emplace_back(std::string(h.substr(0, colon)), std::string(v));
      }
      if (e == std::string_view::npos) break;
      rest = rest.substr(e + 2);
    }
    const std::size_t length = std::size_t(to_int(req.header("Content-Length")));
    req.body = data.substr(end + 4);
    while (req.body.size() < length) {
      std::string part = co_await conn.recv_some(65536, 5s);
      if (part.empty()) break;
      req.body += part;
    }
    co_return req;
  }

  aio::Listener listener_;
  aio::TaskHandle<void> accept_loop_;
  std::vector<aio::TaskHandle<void>> handlers_;
  int requests_ = 0;
  int disconnected_early_ = 0;
};

std::uint16_t unused_port() {
  aio::Listener l = aio::listen("127.0.0.1", 0);
  return l.port();
}

}  // namespace

TEST_CASE("HTTP GET returns status, headers and body", "[http]") {
  aio::run([]() -> aio::Task<void> {
    HttpTestServer server;
    aio::HttpClient http;
    // Headers named first: g++ 12 cannot build an initializer list inside a co_await.
    const aio::HttpHeaders headers{{"X-Echo", "hi there"}};
    aio::HttpResponse r = co_await http.get(server.url("/echo"), headers, 5s);
    CHECK(r.status == 200);
    CHECK(r.header("x-method") == "GET");
    CHECK(r.header("X-ECHO") == "hi there");
    CHECK(r.header("Content-Length") == "0");
    CHECK_FALSE(r.header("X-Missing"));
    CHECK(r.body.empty());
    aio::HttpResponse d = co_await http.get(server.url("/delay/1"));
    CHECK(d.body == "slept 1");
    co_await server.stop();
  }());
}

TEST_CASE("HTTP POST sends a body and headers", "[http]") {
  aio::run([]() -> aio::Task<void> {
    HttpTestServer server;
    aio::HttpClient http;
    const std::string big(300'000, 'z');  // larger than a socket buffer
    const aio::HttpHeaders headers{{"Content-Type", "application/json"}, {"X-Echo", "posted"}};
    aio::HttpResponse r = co_await http.post(server.url("/echo"), "{\"x\": 1}", headers, 5s);
    CHECK(r.status == 200);
    CHECK(r.body == "{\"x\": 1}");
    CHECK(r.header("X-Method") == "POST");
    CHECK(r.header("X-Echo") == "posted");
    aio::HttpResponse b = co_await http.post(server.url("/echo"), big);
    CHECK(b.body == big);
    aio::HttpRequest put("PUT", server.url("/echo"));
    put.body = "put body";
    aio::HttpResponse p = co_await http.request(std::move(put));
    CHECK(p.header("X-Method") == "PUT");
    CHECK(p.body == "put body");
    co_await server.stop();
  }());
}

TEST_CASE("an HTTP error status is a response, not an exception", "[http]") {
  aio::run([]() -> aio::Task<void> {
    HttpTestServer server;
    aio::HttpResponse r = co_await aio::http_get(server.url("/status/503"));
    CHECK(r.status == 503);
    CHECK(r.body == "status 503");
    aio::HttpResponse n = co_await aio::http_get(server.url("/nowhere"));
    CHECK(n.status == 404);
    co_await server.stop();
  }());
}

TEST_CASE("10 requests of 100 ms each, gathered, overlap", "[http]") {
  aio::run([]() -> aio::Task<void> {
    HttpTestServer server;
    aio::HttpClient http;
    std::vector<aio::Task<aio::HttpResponse>> requests;
    for (int i = 0; i < 10; ++i) requests.push_back(http.get(server.url("/delay/100"), {}, 5s));
    const auto start = clock_now();
    std::vector<aio::HttpResponse> responses = co_await aio::gather(std::move(requests));
    const double took = ms_since(start);
    CHECK(took >= 99);
    CHECK(took < 500);  // at most half of the 1,000 ms they take one after another
    REQUIRE(responses.size() == 10);
    for (const auto& r : responses) {
      CHECK(r.status == 200);
      CHECK(r.body == "slept 100");
    }
    CHECK(server.requests() == 10);
    co_await server.stop();
  }());
}

TEST_CASE("one-off requests overlap too", "[http]") {
  aio::run([]() -> aio::Task<void> {
    HttpTestServer server;
    const auto start = clock_now();
    auto [a, b, c, d, e] = co_await aio::gather(
        aio::http_get(server.url("/delay/150")), aio::http_get(server.url("/delay/150")),
        aio::http_get(server.url("/delay/150")), aio::http_get(server.url("/delay/150")),
        aio::http_post(server.url("/echo"), "x"));
    CHECK(ms_since(start) < 300);  // at most half of the 600 ms they take one after another
    for (const auto* r : {&a, &b, &c, &d}) CHECK(r->body == "slept 150");
    CHECK(e.body == "x");
    co_await server.stop();
  }());
}

TEST_CASE("a refused connection throws HttpError naming the URL", "[http]") {
  aio::run([]() -> aio::Task<void> {
    const std::string url = "http://127.0.0.1:" + std::to_string(unused_port()) + "/x";
    std::string what, error_url;
    try {
      co_await aio::http_get(url, {}, 5s);
    } catch (const aio::HttpError& e) {
      what = e.what();
      error_url = e.url();
    }
    CHECK_THAT(what, Catch::Contains("GET " + url) && Catch::Contains("onnect"));
    CHECK(error_url == url);
  }());
}

TEST_CASE("a request that outlives its timeout throws TimeoutError naming the URL", "[http]") {
  aio::run([]() -> aio::Task<void> {
    HttpTestServer server;
    const std::string url = server.url("/delay/3000");
    std::string what;
    const auto start = clock_now();
    try {
      co_await aio::http_get(url, {}, 200ms);
    } catch (const aio::TimeoutError& e) {
      what = e.what();
    }
    const double took = ms_since(start);
    CHECK_THAT(what, Catch::Contains("GET " + url) && Catch::Contains("timed out after 200 ms"));
    CHECK(took >= 190);
    CHECK(took < 1500);
    co_await server.stop();
  }());
}

TEST_CASE("cancelling a task aborts its HTTP request", "[http][cancel]") {
  aio::run([]() -> aio::Task<void> {
    HttpTestServer server;
    aio::HttpClient http;
    auto request = aio::create_task(http.get(server.url("/delay/3000"), {}, 10s));
    co_await aio::sleep(50ms);
    CHECK(http.active() == 1);
    const auto start = clock_now();
    request.cancel();
    bool cancelled = false;
    try {
      co_await request;
    } catch (const aio::CancelledError&) {
      cancelled = true;
    }
    CHECK(cancelled);
    CHECK(ms_since(start) < 2000);  // at once, not when the 3 s answer comes
    CHECK(http.active() == 0);
    // The server sees the connection go away.
    co_await aio::wait_for(server.client_left.wait(), 10s);
    CHECK(server.disconnected_early() == 1);
    co_await server.stop();
  }());
}

TEST_CASE("destroying the client fails the requests it still runs", "[http]") {
  aio::run([]() -> aio::Task<void> {
    HttpTestServer server;
    auto http = std::make_unique<aio::HttpClient>();
    auto request = aio::create_task(http->get(server.url("/delay/3000"), {}, 10s));
    co_await aio::sleep(20ms);
    http.reset();
    std::string what;
    try {
      co_await request;
    } catch (const aio::HttpError& e) {
      what = e.what();
    }
    CHECK_THAT(what, Catch::Contains("HttpClient was destroyed"));
    co_await server.stop();
  }());
}
