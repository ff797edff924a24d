// before_request / after_request / teardown_request: order, short-circuit, replacement,
// teardown always running, blueprint scoping.
#include "web_support.hpp"

using namespace grove::web;
using namespace grove::web::test;

TEST_CASE("web: hooks: order across app and blueprint", "[hooks]") {
  App app;
  std::vector<std::string> trace;
  app.before_request([&] { trace.push_back("app-before-1"); });
  app.before_request([&] { trace.push_back("app-before-2"); });
  app.after_request([&](Response r) {
    trace.push_back("app-after-1");
    return r;
  });
  app.after_request([&](Response r) {
    trace.push_back("app-after-2");
    return r;
  });
  app.teardown_request([&] { trace.push_back("app-teardown-1"); });
  app.teardown_request([&](std::exception_ptr) { trace.push_back("app-teardown-2"); });
  app.route("/", [&] {
    trace.push_back("view");
    return "root";
  });

  Blueprint bp("bp", "/bp");
  bp.before_request([&] { trace.push_back("bp-before"); });
  bp.after_request([&](Response& r) {
    trace.push_back("bp-after");
    r.headers.set("X-Bp", "1");
  });
  bp.teardown_request([&] { trace.push_back("bp-teardown"); });
  bp.route("/", [&] {
    trace.push_back("bp-view");
    return "bp root";
  });
  app.register_blueprint(bp);

  auto c = app.test_client();
  CHECK(c.get("/").text() == "root");
  CHECK(joined(trace) ==
        "app-before-1,app-before-2,view,app-after-2,app-after-1,app-teardown-2,app-teardown-1");
  trace.clear();
  auto r = c.get("/bp/");
  CHECK(r.text() == "bp root");
  CHECK(r.headers.get("X-Bp", "") == "1");
  CHECK(joined(trace) ==
        "app-before-1,app-before-2,bp-before,bp-view,bp-after,app-after-2,app-after-1,bp-teardown,"
        "app-teardown-2,app-teardown-1");
}

TEST_CASE("web: hooks: a before_request result short-circuits the view and later before hooks",
          "[hooks]") {
  App app;
  std::vector<std::string> trace;
  app.before_request([&](Request& r) -> std::optional<Response> {
    trace.push_back("check");
    if (r.args().contains("deny")) return Response("denied", 403);
    return std::nullopt;
  });
  app.before_request([&] { trace.push_back("second"); });
  app.after_request([&](Response r) {
    trace.push_back("after " + std::to_string(r.status));
    r.headers.set("X-After", "yes");
    return r;
  });
  app.teardown_request([&] { trace.push_back("teardown"); });
  app.route("/", [&] {
    trace.push_back("view");
    return "ok";
  });
  auto c = app.test_client();
  auto denied = c.get("/?deny=1");
  CHECK(denied.status == 403);
  CHECK(denied.text() == "denied");
  CHECK(denied.headers.get("X-After", "") == "yes");
  CHECK(joined(trace) == "check,after 403,teardown");
  trace.clear();
  CHECK(c.get("/").text() == "ok");
  CHECK(joined(trace) == "check,second,view,after 200,teardown");
}

TEST_CASE("web: hooks: after_request replaces the response", "[hooks]") {
  App app;
  app.route("/", [] { return "original"; });
  app.after_request([](Response) { return Response("replaced", 201); });
  app.after_request([](Response r) { return std::make_pair(r.data() + "!", 202); });  // runs first
  auto r = app.test_client().get("/");
  CHECK(r.status == 201);
  CHECK(r.text() == "replaced");
}

TEST_CASE("web: hooks: every teardown runs even if one throws, and errors are logged", "[hooks]") {
  App app;
  LogCapture log(app);
  std::vector<std::string> trace;
  std::exception_ptr seen;
  app.teardown_request([&](std::exception_ptr e) {
    trace.push_back("first-registered");
    seen = e;
  });
  app.teardown_request([&] {
    trace.push_back("throws");
    throw std::runtime_error("teardown failed");
  });
  app.teardown_request([&] { trace.push_back("last-registered"); });
  app.route("/", [] { return "ok"; });
  app.route("/boom", []() -> std::string { throw std::runtime_error("view failed"); });
  auto c = app.test_client();
  CHECK(c.get("/").status == 200);
  CHECK(joined(trace) == "last-registered,throws,first-registered");
  CHECK(seen == nullptr);
  CHECK(log.contains("Error in a teardown_request hook"));
  CHECK(log.contains("teardown failed"));

  trace.clear();
  CHECK(c.get("/boom").status == 500);
  CHECK(joined(trace) == "last-registered,throws,first-registered");
  REQUIRE(seen != nullptr);  // the unhandled exception reaches teardown
  CHECK_THROWS_WITH(std::rethrow_exception(seen), "view failed");
  CHECK(log.contains("Exception on /boom [GET]"));
}

TEST_CASE("web: hooks: teardown runs for 404 and when a before hook throws", "[hooks]") {
  App app;
  int teardowns = 0;
  app.teardown_request([&] { ++teardowns; });
  app.before_request([](Request& r) {
    if (r.path() == "/fail") throw std::logic_error("before failed");
  });
  app.route("/fail", [] { return "never"; });
  auto c = app.test_client();
  CHECK(c.get("/missing").status == 404);
  CHECK(c.get("/fail").status == 500);
  CHECK(teardowns == 2);
}

TEST_CASE("web: hooks: blueprint hooks apply only to the blueprint's routes", "[hooks]") {
  App app;
  Blueprint bp("admin");
  int bp_before = 0;
  bp.before_request([&] { ++bp_before; });
  bp.route("/panel", [] { return "panel"; });
  app.register_blueprint(bp, "/admin");
  app.route("/public", [] { return "public"; });
  auto c = app.test_client();
  CHECK(c.get("/public").text() == "public");
  CHECK(c.get("/nope").status == 404);
  CHECK(bp_before == 0);
  CHECK(c.get("/admin/panel").text() == "panel");
  CHECK(bp_before == 1);
  // Hooks added after registration still apply (looked up per request).
  int late = 0;
  bp.after_request([&](Response& r) {
    ++late;
    (void)r;
  });
  c.get("/admin/panel");
  CHECK(late == 1);
  // Routes added after registration are an error.
  CHECK_THROWS_AS(bp.route("/late", [] { return ""; }), std::logic_error);
}

TEST_CASE("web: hooks: nested blueprints", "[hooks]") {
  App app;
  std::vector<std::string> trace;
  Blueprint parent("parent", "/p");
  Blueprint child("child", "/c");
  parent.before_request([&] { trace.push_back("parent"); });
  child.before_request([&] { trace.push_back("child"); });
  child.route("/x", [](Request& r) { return r.endpoint() + " " + r.blueprint(); });
  parent.register_blueprint(child);
  app.register_blueprint(parent);
  auto r = app.test_client().get("/p/c/x");
  CHECK(r.text() == "parent.child./x child");
  CHECK(joined(trace) == "parent,child");
  CHECK(joined(app.blueprints()) == "parent,child");
}
