// Request (args, form, JSON, headers, cookies, body) and Response (constructors, JSON,
// streaming, cookies); app.logger and app.config; the test client itself.
#include "web_support.hpp"

#include <cstdlib>

using namespace grove::web;
using namespace grove::web::test;

TEST_CASE("web: request: args, headers, cookies, remote address", "[request]") {
  App app;
  app.route("/q", [](Request& r) {
    Json j;
    j["a"] = r.args().get("a", "");
    j["all_b"] = Json::array_of(r.args().get_all("b"));
    j["n"] = r.args().get_as<int>("n", -1);
    j["missing"] = r.args().get_as<int>("nope", 5);
    j["agent"] = r.headers().get("user-agent", "");
    j["session"] = r.cookies().get("session", "");
    j["remote"] = r.remote_addr();
    j["full"] = r.full_path();
    return j;
  });
  RequestOptions o;
  o.headers.add("User-Agent", "test/1");
  o.headers.add("Cookie", "session=abc%20d; theme=\"dark\"");
  o.query.add("b", "2");
  auto j = app.test_client().get("/q?a=x+y&b=1&n=42", o).json();
  CHECK(j["a"].as_string() == "x y");
  CHECK(j["all_b"].dump() == R"(["1","2"])");
  CHECK(j["n"].as_int() == 42);
  CHECK(j["missing"].as_int() == 5);
  CHECK(j["agent"].as_string() == "test/1");
  CHECK(j["session"].as_string() == "abc d");
  CHECK(j["remote"].as_string() == "127.0.0.1");
  CHECK(j["full"].as_string() == "/q?a=x+y&b=1&n=42&b=2");
}

TEST_CASE("web: request: a missing args key read with [] is a 400", "[request]") {
  App app;
  app.route("/need", [](Request& r) { return r.args()["key"]; });
  auto c = app.test_client();
  CHECK(c.get("/need?key=v").text() == "v");
  CHECK(c.get("/need").status == 400);
}

TEST_CASE("web: request: form, JSON and raw bodies", "[request]") {
  App app;
  app.route("/form", {"POST"},
            [](Request& r) { return r.form().get("name", "?") + "|" + r.form().get("x", "?"); });
  app.route("/json", {"POST"}, [](Request& r) {
    const Json& j = r.json();
    return Json{{"got", j.at("n").as_int() + 1}, {"is_json", r.is_json()}};
  });
  app.route("/raw", {"POST", "PUT"}, [](Request& r) {
    return r.data() + " (" + std::to_string(r.content_length().value_or(0)) + ")";
  });
  auto c = app.test_client();
  RequestOptions f;
  f.form.add("name", "a b&c");
  f.form.add("x", "1");
  CHECK(c.post("/form", f).text() == "a b&c|1");
  auto j = c.post_json("/json", Json{{"n", 41}}).json();
  CHECK(j["got"].as_int() == 42);
  CHECK(j["is_json"].as_bool());
  CHECK(c.post("/json", "{not json", "application/json").status == 400);
  CHECK(c.post("/json", "{\"n\":1}", "text/plain").status == 415);
  CHECK(c.post("/raw", "hello").text() == "hello (5)");
  RequestOptions vendor;
  vendor.data = R"({"n":1})";
  vendor.content_type = "application/vnd.api+json";
  CHECK(c.post("/json", vendor).json()["got"].as_int() == 2);
}

TEST_CASE("web: request: MAX_CONTENT_LENGTH gives 413", "[request]") {
  App app;
  app.config["MAX_CONTENT_LENGTH"] = 4;
  app.route("/raw", {"POST"}, [](Request& r) { return r.data(); });
  auto c = app.test_client();
  CHECK(c.post("/raw", "1234").text() == "1234");
  CHECK(c.post("/raw", "12345").status == 413);
}

TEST_CASE("web: response: made from strings, tuples, JSON", "[response]") {
  App app;
  app.route("/s", [] { return "plain"; });
  app.route("/std", [] { return std::string("std"); });
  app.route("/pair", [] { return std::make_pair(std::string("created"), 201); });
  app.route("/tuple", [] {
    return std::make_tuple(std::string("teapot"), 418, Headers{{"X-T", "1"}});
  });
  app.route("/hdrs", [] {
    return std::make_tuple(std::string("h"), Headers{{"Content-Type", "text/plain"}});
  });
  app.route("/json", [] { return Json{{"message", "Hello, World!"}}; });
  app.route("/resp", [] { return Response("r", 202, {{"X-R", "2"}}); });
  app.route("/text", [] { return Response::text("Hello, World!"); });
  auto c = app.test_client();
  auto s = c.get("/s");
  CHECK(s.text() == "plain");
  CHECK(s.headers.get("Content-Type", "") == "text/html; charset=utf-8");
  CHECK(c.get("/std").text() == "std");
  CHECK(c.get("/pair").status == 201);
  auto t = c.get("/tuple");
  CHECK(t.status == 418);
  CHECK(t.headers.get("X-T", "") == "1");
  CHECK(c.get("/hdrs").mimetype() == "text/plain");
  auto j = c.get("/json");
  CHECK(j.text() == R"({"message":"Hello, World!"})");
  CHECK(j.mimetype() == "application/json");
  auto r = c.get("/resp");
  CHECK(r.status == 202);
  CHECK(r.headers.get("X-R", "") == "2");
  auto tx = c.get("/text");
  CHECK(tx.text() == "Hello, World!");
  CHECK(tx.headers.get("Content-Type", "") == "text/plain; charset=utf-8");
}

TEST_CASE("web: response: streamed bodies keep the request context", "[response]") {
  App app;
  app.route("/stream", [](Request& r) {
    int n = r.args().get_as<int>("n", 3);
    return Response::stream([i = 0, n]() mutable -> std::optional<std::string> {
      if (i == n) return std::nullopt;
      // The request is still readable while the body is produced.
      return request().path() + ":" + std::to_string(i++) + "\n";
    });
  });
  auto r = app.test_client().get("/stream?n=3");
  CHECK(r.streamed);
  CHECK(r.text() == "/stream:0\n/stream:1\n/stream:2\n");
}

TEST_CASE("web: response: cookies", "[response]") {
  App app;
  app.route("/c", [] {
    Response r("c");
    CookieOptions o;
    o.max_age = 60;
    o.httponly = true;
    o.samesite = "Lax";
    r.set_cookie("session", "a b", o);
    r.delete_cookie("old");
    return r;
  });
  auto r = app.test_client().get("/c");
  auto cookies = r.headers.get_all("Set-Cookie");
  REQUIRE(cookies.size() == 2);
  CHECK(cookies[0] == "session=a%20b; Max-Age=60; Path=/; HttpOnly; SameSite=Lax");
  CHECK(cookies[1].starts_with("old=; Expires=Thu, 01 Jan 1970"));
}

TEST_CASE("web: request: g, and web::request() in sync code", "[request]") {
  App app;
  app.before_request([] { request().g()["user"] = std::string("ann"); });
  app.route("/", [] {
    return std::any_cast<std::string>(request().g().at("user")) + " " + request().method();
  });
  CHECK(app.test_client().get("/").text() == "ann GET");
  CHECK_FALSE(has_request_context());
  CHECK_THROWS_AS(request(), std::logic_error);
}

TEST_CASE("web: app: logger levels and sink, config from the environment", "[app]") {
  App app("myapp");
  LogCapture log(app);
  app.logger.info("hello");
  app.logger.debug("hidden");
  app.logger.set_level(Logger::Level::debug);
  app.logger.debug("shown");
  CHECK(log.contains("INFO: hello"));
  CHECK_FALSE(log.contains("hidden"));
  CHECK(log.contains("DEBUG: shown"));
  CHECK(app.logger.name() == "myapp");

  ::setenv("GROVE_WEB_TEST_NUMBER", "12", 1);
  ::setenv("GROVE_WEB_TEST_WORD", "plain words", 1);
  CHECK(app.config.from_env() >= 2);
  CHECK(app.config.get<int>("TEST_NUMBER", 0) == 12);
  CHECK(app.config.get<std::string>("TEST_WORD", "") == "plain words");
  CHECK(app.config.get<bool>("DEBUG", true) == false);
  app.config["SECRET"] = "s";
  CHECK(app.config.get<std::string>("SECRET", "") == "s");
}

// Seen while measuring fuzz_query_form: each cookie name was looked up in the ones before
// it, so a 64 KiB Cookie header of distinct names cost 0.3 s of the hub's time.
TEST_CASE("web: request: cookies from several fields and from a header of thousands", "[request]") {
  Request r("GET", "/", {{"Cookie", "a=1; b=2"}, {"X", "y"}, {"cookie", "a=3; c=4"}});
  CHECK(r.cookies().size() == 3);
  CHECK(r.cookies().get("a", "") == "1");  // the first of a name wins, across fields too
  CHECK(r.cookies().get("c", "") == "4");
  std::string many;
  for (int i = 0; many.size() < 60000; ++i) many += "c" + std::to_string(i) + "=v; ";
  MultiDict parsed = parse_cookies(many + "c0=dup");
  CHECK(parsed.size() > 5000);
  CHECK(parsed.get("c0", "") == "v");
  CHECK(parsed.get_all("c0").size() == 1);
}
