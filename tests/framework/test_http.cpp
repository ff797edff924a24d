// The framework through real HTTP: App served by grove::http::Server (the gateway interface),
// requests from libcurl. Every behaviour family of the test-client suites, once more on the
// wire, with both bridges.
#include "http_support.hpp"

#include <grove/aio.hpp>
#include <grove/green.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace grove::web;
using namespace grove::web::test;
namespace aio = grove::aio;

namespace {

struct Failure : std::runtime_error {
  Failure() : std::runtime_error("failure") {}
};

struct Things : MethodView {
  aio::Task<std::string> get(int id) {
    co_await aio::sleep(1ms);
    co_return "thing " + std::to_string(id) + " " + request().method();
  }
  std::string put(Request& r, int id) { return "put " + std::to_string(id) + " " + r.data(); }
};

// One app exercising routing, hooks, handlers, views, request parsing and responses.
void build(App& app, std::vector<std::string>* trace, std::mutex* mu) {
  auto log = [trace, mu](std::string s) {
    std::lock_guard lock(*mu);
    trace->push_back(std::move(s));
  };
  app.before_request([log](Request& r) -> std::optional<Response> {
    log("before " + r.path());
    if (r.headers().get("X-Deny")) return Response("denied", 403);
    return std::nullopt;
  });
  app.after_request([](Response& r) { r.headers.set("X-After", "1"); });
  app.teardown_request(
      [log](std::exception_ptr e) { log(std::string("teardown ") + (e ? "error" : "ok")); });
  app.route("/user/<int:id>", [](std::int64_t id) { return Json{{"id", id}}; });
  app.route("/files/<path:rest>", [](std::string rest) { return rest; });
  app.route("/only-post", {"POST"}, [] { return "posted"; });
  app.route("/form", {"POST"},
            [](Request& r) { return r.form().get("a", "") + "+" + r.form().get("b", ""); });
  app.route("/json", {"POST"}, [](Request& r) {
    return Json{{"double", r.json().at("n").as_int() * 2}};
  });
  app.route("/cookies", [](Request& r) {
    Response resp(r.cookies().get("k", "none"));
    resp.set_cookie("seen", "yes");
    return resp;
  });
  app.route("/args", [](Request& r) {
    return r.args().get("q", "") + "|" + r.headers().get("X-Custom", "");
  });
  app.route("/async/<name>", [](std::string name) -> aio::Task<std::string> {
    co_await aio::sleep(2ms);
    co_return name + " " + request().method() + " " + request().path();
  });
  app.route("/abort", []() -> std::string { abort(418); });
  app.route("/fail", []() -> aio::Task<std::string> {
    co_await aio::sleep(0ms);
    throw Failure();
  });
  app.route("/crash", []() -> std::string { throw std::runtime_error("crash"); });
  app.errorhandler<Failure>(
      [](const Failure&) -> aio::Task<Response> { co_return Response("failure handled", 412); });
  app.errorhandler(404, [] { return Response(Json{{"error", "not here"}}, 404); });
  app.add_url_rule("/things/<int:id>", as_view<Things>("things"));
  app.route("/stream", [](Request& r) -> aio::Task<Response> {
    int n = r.args().get_as<int>("n", 3);
    co_return Response::stream([i = 0, n]() mutable -> std::optional<std::string> {
      if (i == n) return std::nullopt;
      return request().path() + std::to_string(i++) + "\n";
    });
  });
  app.route("/echo", {"POST"}, [](Request& r) { return r.data(); });
  Blueprint bp("bp", "/bp");
  bp.before_request([log] { log("bp before"); });
  bp.route("/x", []() -> aio::Task<std::string> {
    co_await aio::sleep(1ms);
    co_return request().blueprint();
  });
  app.register_blueprint(bp);
}

}  // namespace

TEST_CASE("web: http: the framework's behaviours over a real connection", "[http][tsan]") {
  const char* bridge = GENERATE("thread", "green");
  INFO("bridge " << bridge);
  App app;
  app.async_to_sync = bridge_from_name(bridge);
  std::vector<std::string> trace;
  std::mutex mu;
  build(app, &trace, &mu);
  ServedApp served(app);

  auto r = http_get(served.url("/user/7"));
  CHECK(r.status == 200);
  CHECK(r.body == R"({"id":7})");
  CHECK(r.header("Content-Type") == "application/json");
  CHECK(r.header("X-After") == "1");

  CHECK(http_get(served.url("/files/a/b%20c.txt")).body == "a/b c.txt");
  auto nf = http_get(served.url("/user/x"));
  CHECK(nf.status == 404);
  CHECK(nf.body == R"({"error":"not here"})");
  auto na = http_get(served.url("/only-post"));
  CHECK(na.status == 405);
  CHECK(na.header("Allow") == "OPTIONS, POST");
  CHECK(http({"POST", served.url("/only-post"), {}, ""}).body == "posted");
  auto head = http({"HEAD", served.url("/files/abc")});
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  auto opts = http({"OPTIONS", served.url("/only-post")});
  CHECK(opts.header("Allow") == "OPTIONS, POST");

  CHECK(http({"POST",
              served.url("/form"),
              {"Content-Type: application/x-www-form-urlencoded"},
              "a=1+2&b=%26"})
            .body == "1 2+&");
  CHECK(
      http({"POST", served.url("/json"), {"Content-Type: application/json"}, R"({"n":21})"}).body ==
      R"({"double":42})");
  CHECK(http({"POST", served.url("/json"), {"Content-Type: application/json"}, "{oops"}).status ==
        400);
  auto ck = http({"GET", served.url("/cookies"), {"Cookie: k=v"}});
  CHECK(ck.body == "v");
  CHECK(ck.header("Set-Cookie") == "seen=yes; Path=/");
  CHECK(http({"GET", served.url("/args?q=a%20b"), {"X-Custom: hi"}}).body == "a b|hi");

  CHECK(http_get(served.url("/async/bob")).body == "bob GET /async/bob");
  CHECK(http({"POST", served.url("/async/bob")}).status == 405);
  CHECK(http_get(served.url("/abort")).status == 418);
  auto f = http_get(served.url("/fail"));
  CHECK(f.status == 412);
  CHECK(f.body == "failure handled");
  auto crash = http_get(served.url("/crash"));
  CHECK(crash.status == 500);
  CHECK(crash.header("X-After") == "1");

  CHECK(http_get(served.url("/things/3")).body == "thing 3 GET");
  CHECK(http({"PUT", served.url("/things/4"), {}, "data"}).body == "put 4 data");
  CHECK(http({"DELETE", served.url("/things/4")}).header("Allow") == "GET, HEAD, OPTIONS, PUT");

  auto st = http_get(served.url("/stream?n=3"));
  CHECK(st.body == "/stream0\n/stream1\n/stream2\n");
  CHECK(st.header("Transfer-Encoding") == "chunked");

  std::string big(100000, 'x');
  for (std::size_t i = 0; i < big.size(); i += 7) big[i] = char('a' + i % 26);
  CHECK(http({"POST", served.url("/echo"), {}, big}).body == big);
  CHECK(
      http({"POST", served.url("/echo"), {}, std::string("chunked body, in several pieces"), true})
          .body == "chunked body, in several pieces");

  CHECK(http_get(served.url("/bp/x")).body == "bp");
  auto denied = http({"GET", served.url("/user/1"), {"X-Deny: 1"}});
  CHECK(denied.status == 403);
  CHECK(denied.header("X-After") == "1");

  std::lock_guard lock(mu);
  CHECK(std::find(trace.begin(), trace.end(), "teardown error") != trace.end());  // /crash
  CHECK(std::find(trace.begin(), trace.end(), "bp before") != trace.end());
}

TEST_CASE(
    "web: http: coroutine views on the green bridge overlap, sync siblings see no running loop",
    "[http][tsan]") {
  App app;
  app.async_to_sync = green_bridge;
  app.route("/nap", [](Request& r) -> aio::Task<std::string> {
    co_await aio::sleep(std::chrono::milliseconds(r.args().get_as<int>("ms", 100)));
    co_return request().args().get("i", "?");
  });
  app.route("/probe", [] {
    // A sync view in its own green thread while coroutines of other requests are suspended.
    return std::string(aio::is_loop_running() || grove::current_context().running_loop ? "leak"
                                                                                       : "clean");
  });
  ServedApp served(app);
  std::vector<CurlRequest> reqs;
  for (int i = 0; i < 20; ++i)
    reqs.push_back({"GET", served.url("/nap?ms=300&i=" + std::to_string(i))});
  for (int i = 0; i < 10; ++i) reqs.push_back({"GET", served.url("/probe")});
  auto start = std::chrono::steady_clock::now();
  auto results = http_parallel(reqs);
  auto elapsed = std::chrono::steady_clock::now() - start;
  for (int i = 0; i < 20; ++i) {
    CHECK(results[i].status == 200);
    CHECK(results[i].body == std::to_string(i));
  }
  for (int i = 20; i < 30; ++i) CHECK(results[i].body == "clean");
  CHECK(elapsed < 1500ms);  // 20 x 300 ms overlapped (6 s if one at a time)
}

TEST_CASE("web: http: the gateway passes body limits and server errors through", "[http][tsan]") {
  App app;
  app.route("/echo", {"POST"}, [](Request& r) { return r.data(); });
  app.errorhandler(413, [] { return Response("too big, said the app", 413); });
  ServedApp served(app, [](grove::http::ServerConfig& c) { c.limits.max_body = 1000; });
  CHECK(http({"POST", served.url("/echo"), {}, std::string(500, 'a')}).body ==
        std::string(500, 'a'));
  auto big = http({"POST", served.url("/echo"), {}, std::string(5000, 'a')});
  CHECK(big.status == 413);
  auto chunked = http({"POST", served.url("/echo"), {}, std::string(5000, 'b'), true});
  CHECK(chunked.status == 413);
}

TEST_CASE("web: http: the metrics label requests with the route's rule", "[http][metrics]") {
  App app;
  app.route("/user/<int:id>", [](std::int64_t id) { return "user " + std::to_string(id); });
  // A loopback port free now, for the metrics listener (the server opens it when it starts).
  int probe = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  REQUIRE(::bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::getsockname(probe, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  const std::string metrics = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  ::close(probe);
  ServedApp served(app, [&](grove::http::ServerConfig& c) { c.metrics_bind = metrics; });
  CHECK(http_get(served.url("/user/7")).body == "user 7");
  CHECK(http_get(served.url("/user/8")).body == "user 8");
  CHECK(http_get(served.url("/nowhere")).status == 404);
  std::string text = http_get("http://" + metrics + "/metrics").body;
  INFO(text);
  CHECK(text.find("grove_http_requests_total{route=\"/user/<int:id>\",status=\"200\"} 2\n") !=
        std::string::npos);
  CHECK(text.find("grove_http_requests_total{route=\"\",status=\"404\"} 1\n") != std::string::npos);
}
