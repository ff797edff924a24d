// View and MethodView.
#include "web_support.hpp"

using namespace grove::web;
using namespace grove::web::test;

namespace {
struct Greeting : View {
  static inline std::vector<std::string> methods = {"GET", "POST"};
  explicit Greeting(std::string word) : word_(std::move(word)) {}
  std::string dispatch_request(Request& req, std::string name) {
    return word_ + " " + name + " via " + req.method();
  }
  std::string word_;
};

struct Items : MethodView {
  Response get(int id) { return Response("get " + std::to_string(id)); }
  Response post(Request& req, int id) {
    return Response("post " + std::to_string(id) + " " + req.data(), 201);
  }
  std::string delete_(int id) { return "deleted " + std::to_string(id); }
};

struct Counter : View {
  static inline int instances = 0;
  Counter() { ++instances; }
  std::string dispatch_request() { return std::to_string(instances); }
};

struct BadParams : MethodView {
  std::string get(int id) { return std::to_string(id); }
};
}  // namespace

TEST_CASE("web: views: View with constructor arguments and declared methods", "[views]") {
  App app;
  app.add_url_rule("/greet/<name>", as_view<Greeting>("greet", std::string("hello")));
  auto c = app.test_client();
  CHECK(c.get("/greet/bob").text() == "hello bob via GET");
  CHECK(c.post("/greet/bob").text() == "hello bob via POST");
  auto r = c.put("/greet/bob");
  CHECK(r.status == 405);
  CHECK(r.headers.get("Allow", "") == "GET, HEAD, OPTIONS, POST");
  CHECK(joined(app.url_map()) == "GET,POST,HEAD,OPTIONS /greet/<name> -> greet");
}

TEST_CASE("web: views: a View instance per request", "[views]") {
  App app;
  app.add_url_rule("/count", as_view<Counter>("count"));
  auto c = app.test_client();
  CHECK(c.get("/count").text() == "1");
  CHECK(c.get("/count").text() == "2");
}

TEST_CASE("web: views: MethodView's allowed methods are the ones it defines", "[views]") {
  App app;
  app.add_url_rule("/items/<int:id>", as_view<Items>("items"));
  auto c = app.test_client();
  CHECK(c.get("/items/3").text() == "get 3");
  auto p = c.post("/items/4", "body");
  CHECK(p.status == 201);
  CHECK(p.text() == "post 4 body");
  CHECK(c.delete_("/items/5").text() == "deleted 5");
  CHECK(c.head("/items/6").status == 200);
  auto r = c.patch("/items/7");
  CHECK(r.status == 405);
  CHECK(r.headers.get("Allow", "") == "DELETE, GET, HEAD, OPTIONS, POST");
}

TEST_CASE("web: views: a MethodView's parameters are checked against the rule", "[views]") {
  App app;
  CHECK_THROWS_WITH(app.add_url_rule("/b/<name>", as_view<BadParams>("b")),
                    Catch::Contains("MethodView::GET"));
  CHECK_NOTHROW(app.add_url_rule("/b/<int:id>", as_view<BadParams>("b")));
}

TEST_CASE("web: views: blueprints take class-based views too", "[views]") {
  App app;
  Blueprint bp("api", "/api");
  bp.add_url_rule("/items/<int:id>", as_view<Items>("items"));
  app.register_blueprint(bp);
  auto c = app.test_client();
  CHECK(c.get("/api/items/1").text() == "get 1");
  CHECK(joined(app.url_map()).find("-> api.items") != std::string::npos);
}
