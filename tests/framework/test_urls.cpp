// url_for, BuildError and redirect: Flask's test_helpers/test_blueprints url_for cases and
// werkzeug's build tests, as behaviours.
#include "web_support.hpp"

using namespace grove::web;
using namespace grove::web::test;

namespace {
// The text a view returns for url_for(endpoint, values) built inside a request.
std::string built_in_request(App& app, const std::string& at, std::function<std::string()> build) {
  app.route(
      "/__build" + at, {"GET"}, [build] { return build(); }, "__build" + at);
  return app.test_client().get("/__build" + at).text();
}
}  // namespace

TEST_CASE("web: url_for: fills parameters through converters and routes back to the view",
          "[urls]") {
  App app;
  app.route(
      "/user/<int:id>", {"GET"}, [](std::int64_t id) { return "user " + std::to_string(id); },
      "user");
  app.route(
      "/hello/<name>", {"GET"}, [](std::string n) { return "hi " + n; }, "hello");
  app.route(
      "/files/<path:rest>", {"GET"}, [](std::string r) { return "file " + r; }, "files");
  app.route(
      "/price/<float:p>", {"GET"}, [](double p) { return "price " + std::to_string(p); }, "price");
  app.route(
      "/id/<uuid:u>", {"GET"}, [](std::string u) { return "uuid " + u; }, "uuid");

  CHECK(url_for(app, "user", {{"id", 7}}) == "/user/7");
  CHECK(url_for(app, "user", {{"id", "42"}}) == "/user/42");  // digits as text, as werkzeug's int()
  CHECK(url_for(app, "hello", {{"name", "test x"}}) == "/hello/test%20x");
  CHECK(url_for(app, "hello", {{"name", "a/b?c#d"}}) == "/hello/a%2Fb%3Fc%23d");
  CHECK(url_for(app, "files", {{"rest", "a/b c.txt"}}) == "/files/a/b%20c.txt");
  CHECK(url_for(app, "price", {{"p", 2.5}}) == "/price/2.5");
  CHECK(url_for(app, "price", {{"p", 3}}) == "/price/3.0");  // a <float> rule needs the '.'
  CHECK(url_for(app, "hello", {{"name", "é"}}) == "/hello/%C3%A9");
  std::string u = "12345678-1234-1234-1234-123456789abc";
  CHECK(url_for(app, "uuid", {{"u", u}}) == "/id/" + u);

  // What url_for builds, the router takes back to the same view with the same values.
  auto c = app.test_client();
  CHECK(c.get(url_for(app, "user", {{"id", 7}})).text() == "user 7");
  CHECK(c.get(url_for(app, "hello", {{"name", "test x"}})).text() == "hi test x");
  CHECK(c.get(url_for(app, "files", {{"rest", "a/b c.txt"}})).text() == "file a/b c.txt");
  CHECK(c.get(url_for(app, "price", {{"p", 3}})).text() == "price 3.000000");
  CHECK(c.get(url_for(app, "hello", {{"name", "é"}})).text() == "hi é");
}

TEST_CASE("web: url_for: other values become the query string, options are not", "[urls]") {
  App app;
  app.route(
      "/search", {"GET"}, [] { return ""; }, "search");
  CHECK(url_for(app, "search", {{"q", "a b&c"}, {"page", 2}}) == "/search?q=a%20b%26c&page=2");
  CHECK(url_for(app, "search", {{"tag", Json::array({"x", "y"})}}) == "/search?tag=x&tag=y");
  CHECK(url_for(app, "search", {{"q", nullptr}}) == "/search");  // None is left out
  CHECK(url_for(app, "search", {{"_anchor", "x y"}}) == "/search#x%20y");
  CHECK(url_for(app, "search", {{"q", 1}, {"_anchor", "top"}}) == "/search?q=1#top");
  CHECK_THROWS_WITH(url_for(app, "search", {{"q", Json{{"nested", 1}}}}),
                    Catch::Contains("query value 'q'"));

  // The query string the view receives is what was given.
  app.route(
      "/echo", {"GET"},
      [](Request& r) { return r.args().get("q", "") + "|" + r.args().get("n", ""); }, "echo");
  CHECK(app.test_client().get(url_for(app, "echo", {{"q", "a b&c=d"}, {"n", 5}})).text() ==
        "a b&c=d|5");
}

TEST_CASE("web: url_for: unknown endpoints and missing parameters are BuildErrors naming them",
          "[urls]") {
  App app;
  app.route(
      "/user/<int:id>/<name>", {"GET"}, [](std::int64_t, std::string) { return ""; }, "user");

  try {
    url_for(app, "nope");
    FAIL("no BuildError");
  } catch (const BuildError& e) {
    CHECK(e.endpoint() == "nope");
    CHECK(std::string(e.what()).find("'nope'") != std::string::npos);
    CHECK(std::string(e.what()).find("no such endpoint") != std::string::npos);
  }
  try {
    url_for(app, "user", {{"id", 1}});
    FAIL("no BuildError");
  } catch (const BuildError& e) {
    CHECK(e.missing() == std::vector<std::string>{"name"});
    CHECK(std::string(e.what()).find("['name']") != std::string::npos);
  }
  try {
    url_for(app, "user");
    FAIL("no BuildError");
  } catch (const BuildError& e) {
    CHECK(e.missing() == std::vector<std::string>{"id", "name"});
  }
  // A value its converter cannot take names the parameter and the rule.
  CHECK_THROWS_WITH(url_for(app, "user", {{"id", -1}, {"name", "x"}}),
                    Catch::Contains("parameter 'id'") && Catch::Contains("<int:id>"));
  CHECK_THROWS_WITH(url_for(app, "user", {{"id", "abc"}, {"name", "x"}}),
                    Catch::Contains("\"abc\""));
  CHECK_THROWS_WITH(url_for(app, "user", {{"id", 1}, {"name", ""}}),
                    Catch::Contains("parameter 'name'"));
  CHECK_THROWS_AS(url_for(app, "user", Json::array({1})), std::invalid_argument);

  // Raised in a view and not handled: a 500, as any exception.
  app.route(
      "/broken", {"GET"}, [] { return url_for("nope"); }, "broken");
  CHECK(app.test_client().get("/broken").status == 500);
}

TEST_CASE("web: url_for: an endpoint with several rules builds the fullest one it can fill",
          "[urls]") {
  App app;
  auto page = [](Request& r) { return r.path(); };
  app.route("/", {"GET"}, page, "index");
  app.route(
      "/page/<int:n>", {"GET"}, [](std::int64_t n) { return std::to_string(n); }, "index");
  app.route("/thing", {"GET"}, page, "thing");
  app.route("/thing", {"POST"}, page, "thing_post");
  app.route("/both", {"GET"}, page, "both");
  app.route("/both-post", {"POST"}, page, "both");
  CHECK(url_for(app, "index") == "/");
  CHECK(url_for(app, "index", {{"n", 3}}) == "/page/3");
  // _method picks a rule accepting that method (werkzeug's build(method=...)).
  CHECK(url_for(app, "both", {{"_method", "POST"}}) == "/both-post");
  CHECK(url_for(app, "both", {{"_method", "GET"}}) == "/both");
  CHECK_THROWS_WITH(url_for(app, "thing", {{"_method", "DELETE"}}), Catch::Contains("DELETE"));
}

TEST_CASE("web: url_for: blueprint endpoints are prefixed, '.name' is the current blueprint's",
          "[urls]") {
  App app;
  Blueprint auth("auth", "/auth");
  auth.route(
      "/login", {"GET"},
      [] { return url_for(".login") + " " + url_for("auth.logout") + " " + url_for(".index"); },
      "login");
  auth.route(
      "/logout", {"GET"}, [] { return ""; }, "logout");
  auth.route(
      "/", {"GET"}, [] { return ""; }, "index");
  Blueprint admin("admin", "/admin");
  Blueprint users("users", "/users");
  users.route(
      "/<int:id>", {"GET"},
      [](std::int64_t) {
        return url_for(".show", {{"id", 9}}) + " " + url_for("index");
      },
      "show");
  admin.register_blueprint(users);
  app.route(
      "/", {"GET"}, [] { return url_for(".index") + " " + url_for("auth.login"); }, "index");
  app.register_blueprint(auth);
  app.register_blueprint(admin);

  auto c = app.test_client();
  CHECK(c.get("/auth/login").text() == "/auth/login /auth/logout /auth/");
  CHECK(c.get("/admin/users/1").text() == "/admin/users/9 /");
  CHECK(c.get("/").text() == "/ /auth/login");  // '.index' outside a blueprint is the app's
  CHECK(url_for(app, "admin.users.show", {{"id", 3}}) == "/admin/users/3");
  CHECK_THROWS_AS(url_for(app, ".login"), BuildError);  // no request, no current blueprint
  CHECK_THROWS_WITH(url_for(app, "login"), Catch::Contains("'login'"));
}

TEST_CASE("web: url_for: _external uses the request's scheme and host, else SERVER_NAME",
          "[urls]") {
  App app;
  app.route(
      "/", {"GET"}, [] { return ""; }, "index");
  CHECK(built_in_request(app, "a", [] {
          return url_for("index", {{"_external", true}});
        }) == "http://localhost/");
  CHECK(built_in_request(app, "b", [] {
          return url_for("index", {{"_external", true}, {"_scheme", "https"}});
        }) == "https://localhost/");
  CHECK(built_in_request(app, "c", [] { return url_for("index", {{"_external", false}}); }) == "/");

  CHECK_THROWS_WITH(url_for(app, "index", {{"_external", true}}), Catch::Contains("SERVER_NAME"));
  CHECK_THROWS_WITH(url_for(app, "index", {{"_scheme", "https"}}), Catch::Contains("_external"));
  app.config["SERVER_NAME"] = "example.com:8080";
  CHECK(url_for(app, "index", {{"_external", true}}) == "http://example.com:8080/");
  app.config["PREFERRED_URL_SCHEME"] = "https";
  CHECK(url_for(app, "index", {{"_external", true}, {"_anchor", "a"}}) ==
        "https://example.com:8080/#a");
  // The free function needs a request.
  CHECK_THROWS_AS(url_for("index"), std::logic_error);
}

TEST_CASE("web: redirect: 3xx with Location and a link, and abort(redirect(...)) answers with it",
          "[urls]") {
  App app;
  app.route("/old", [] { return redirect(url_for("new")); });
  app.route(
      "/new", {"GET"}, [] { return "new"; }, "new");
  app.route("/moved", [] { return redirect("/new", 301); });
  app.route("/guarded", []() -> std::string { abort(redirect("/login", 303)); });
  auto c = app.test_client();

  auto r = c.get("/old");
  CHECK(r.status == 302);
  CHECK(r.headers.get("Location", "") == "/new");
  CHECK(r.mimetype() == "text/html");
  CHECK(r.text().find("<a href=\"/new\">/new</a>") != std::string::npos);
  CHECK(c.get("/moved").status == 301);
  auto g = c.get("/guarded");
  CHECK(g.status == 303);
  CHECK(g.headers.get("Location", "") == "/login");

  // Bytes a header cannot carry are encoded; the HTML body cannot be broken out of.
  Response odd = redirect("/a b/é?x=<y>&z='1'");
  CHECK(odd.headers.get("Location", "") == "/a%20b/%C3%A9?x=%3Cy%3E&z='1'");
  CHECK(odd.data().find("<y>") == std::string::npos);
  CHECK(odd.data().find("&amp;z=&#39;1&#39;") != std::string::npos);
  CHECK_THROWS_WITH(redirect("/x", 200), Catch::Contains("3xx"));
  CHECK_THROWS_AS(redirect("/x", 404), std::invalid_argument);
}
