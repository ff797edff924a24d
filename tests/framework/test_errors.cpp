// Error handlers by status and by exception type, abort(), 500 handling, propagation.
#include "web_support.hpp"

using namespace grove::web;
using namespace grove::web::test;

namespace {
struct Base : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct Derived : Base {
  using Base::Base;
};
struct MoreDerived : Derived {
  using Derived::Derived;
};
struct Unrelated {};
}  // namespace

TEST_CASE("web: errors: handlers by status, abort()", "[errors]") {
  App app;
  app.errorhandler(404, [](const HTTPException& e) { return Response("custom " + e.name(), 404); });
  app.errorhandler(418, [] { return std::make_pair(std::string("teapot"), 418); });
  app.route("/tea", []() -> std::string { abort(418); });
  app.route("/gone", []() -> std::string { abort(Response("gone for good", 410)); });
  app.route("/forbidden", []() -> std::string { abort(403, "no way"); });
  auto c = app.test_client();
  auto r = c.get("/missing");
  CHECK(r.status == 404);
  CHECK(r.text() == "custom Not Found");
  CHECK(c.get("/tea").text() == "teapot");
  CHECK(c.get("/tea").status == 418);
  CHECK(c.get("/gone").status == 410);
  CHECK(c.get("/gone").text() == "gone for good");
  auto f = c.get("/forbidden");
  CHECK(f.status == 403);
  CHECK(f.text().find("no way") != std::string::npos);
  CHECK_THROWS_AS(app.errorhandler(200, [] { return ""; }), std::invalid_argument);
}

TEST_CASE("web: errors: the most derived registered exception type wins, whatever the order",
          "[errors]") {
  for (bool base_first : {true, false}) {
    App app;
    auto on_base = [](const Base& e) { return Response(std::string("base:") + e.what(), 500); };
    auto on_derived = [](const Derived& e) {
      return Response(std::string("derived:") + e.what(), 500);
    };
    if (base_first) {
      app.errorhandler<Base>(on_base);
      app.errorhandler<Derived>(on_derived);
    } else {
      app.errorhandler<Derived>(on_derived);
      app.errorhandler<Base>(on_base);
    }
    app.errorhandler<std::exception>(
        [](const std::exception& e) { return Response(std::string("std:") + e.what(), 500); });
    app.route("/base", []() -> std::string { throw Base("b"); });
    app.route("/derived", []() -> std::string { throw Derived("d"); });
    app.route("/more", []() -> std::string { throw MoreDerived("m"); });
    app.route("/other", []() -> std::string { throw std::out_of_range("o"); });
    auto c = app.test_client();
    CHECK(c.get("/base").text() == "base:b");
    CHECK(c.get("/derived").text() == "derived:d");
    CHECK(c.get("/more").text() == "derived:m");
    CHECK(c.get("/other").text() == "std:o");
  }
}

TEST_CASE("web: errors: blueprint handlers before app handlers, status before type", "[errors]") {
  App app;
  Blueprint bp("bp", "/bp");
  app.errorhandler<Base>([] { return Response("app-base", 500); });
  bp.errorhandler<Base>([] { return Response("bp-base", 500); });
  app.errorhandler(404, [] { return Response("app-404", 404); });
  bp.errorhandler<std::exception>([] { return Response("bp-std", 500); });
  bp.route("/err", []() -> std::string { throw Base("x"); });
  bp.route("/abort", []() -> std::string { abort(404); });
  app.route("/err", []() -> std::string { throw Base("x"); });
  app.register_blueprint(bp);
  auto c = app.test_client();
  CHECK(c.get("/bp/err").text() == "bp-base");
  CHECK(c.get("/err").text() == "app-base");
  CHECK(c.get("/bp/abort").text() == "app-404");  // by status (app) before by type (blueprint)
  CHECK(c.get("/nowhere").text() == "app-404");
}

TEST_CASE(
    "web: errors: unhandled exceptions become 500, are logged, and the 500 handler sees the "
    "original",
    "[errors]") {
  App app;
  LogCapture log(app);
  app.route("/boom", []() -> std::string { throw std::runtime_error("kaboom"); });
  auto c = app.test_client();
  auto r = c.get("/boom");
  CHECK(r.status == 500);
  CHECK(r.text().find("Internal Server Error") != std::string::npos);
  CHECK(log.contains("Exception on /boom [GET]"));
  CHECK(log.contains("std::runtime_error: kaboom"));

  app.errorhandler(500, [](const HTTPException& e) {
    auto* ise = dynamic_cast<const InternalServerError*>(&e);
    std::string what = "?";
    if (ise && ise->original_exception()) {
      try {
        std::rethrow_exception(ise->original_exception());
      } catch (const std::exception& x) {
        what = x.what();
      }
    }
    return Response(Json{{"error", what}}, 500);
  });
  auto j = c.get("/boom");
  CHECK(j.status == 500);
  CHECK(j.mimetype() == "application/json");
  CHECK(j.json()["error"].as_string() == "kaboom");
}

TEST_CASE("web: errors: PROPAGATE_EXCEPTIONS / TESTING let exceptions reach the caller",
          "[errors]") {
  App app;
  int teardowns = 0;
  app.teardown_request([&] { ++teardowns; });
  app.route("/boom", []() -> std::string { throw Derived("out"); });
  app.config["TESTING"] = true;
  CHECK_THROWS_AS(app.test_client().get("/boom"), Derived);
  CHECK(teardowns == 1);
  app.config["PROPAGATE_EXCEPTIONS"] = false;
  CHECK(app.test_client().get("/boom").status == 500);
}

TEST_CASE("web: errors: non-std exceptions are not swallowed (a green thread being killed)",
          "[errors]") {
  App app;
  std::exception_ptr seen;
  app.teardown_request([&](std::exception_ptr e) { seen = e; });
  app.route("/kill", []() -> std::string { throw Unrelated{}; });
  CHECK_THROWS_AS(app.test_client().get("/kill"), Unrelated);
  CHECK(seen != nullptr);
  // ...unless a handler is registered for that very type.
  app.errorhandler<Unrelated>([] { return Response("handled", 499); });
  CHECK(app.test_client().get("/kill").status == 499);
}

TEST_CASE("web: errors: an error handler's response goes through after_request", "[errors]") {
  App app;
  app.errorhandler<Base>([] { return Response("handled", 409); });
  app.after_request([](Response& r) { r.headers.set("X-Seen", std::to_string(r.status)); });
  app.route("/e", []() -> std::string { throw Base("x"); });
  app.route("/u", []() -> std::string { throw std::runtime_error("x"); });
  auto c = app.test_client();
  CHECK(c.get("/e").headers.get("X-Seen", "") == "409");
  CHECK(c.get("/u").headers.get("X-Seen", "") == "500");
}
