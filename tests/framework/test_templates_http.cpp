// Templates over real sockets, on every engine: pages rendered in the connections' green
// threads (64 KiB stacks) with url_for, the session and flashed messages carried by the
// cookie between libcurl requests, partials nested ten deep, a self-including partial
// answered with 500 while the server keeps serving, and a template edited under a DEBUG
// server.
#include "http_support.hpp"
#include "template_support.hpp"

using namespace grove::web;
using namespace grove::web::test;

namespace {

struct Served {
  TemplateTree tree;
  App app;
  LogCapture log{app};
  std::unique_ptr<ServedApp> served;
  explicit Served(bool debug = false) {
    app.config["DEBUG"] = debug;  // set before serving: the app is read-only from then on
    app.template_folder(tree.app());
    app.config["SECRET_KEY"] = "template http tests";
    tree.write("app/layout.html",
               "<link href=\"{{#url_for}}static filename=app.css{{/url_for}}\">"
               "{{#get_flashed_messages}}<p "
               "class=\"{{category}}\">{{message}}</p>{{/get_flashed_messages}}"
               "<h1>{{title}}</h1>{{#session.user}}<a href=\"{{#url_for}}logout{{/url_for}}\">"
               "log out {{session.user}}</a>{{/session.user}}");
    tree.write("app/app.css", "h1 { color: green }");
    for (int i = 0; i < 10; ++i)
      tree.write("app/level" + std::to_string(i) + ".html",
                 "<div>{{name}}" +
                     (i < 9 ? "{{> level" + std::to_string(i + 1) + ".html}}" : std::string()) +
                     "</div>");
    tree.write("app/loop.html", "{{> loop.html}}");
    app.serve_static(tree.app());
    app.route(
        "/", {"GET"},
        [] {
          return render_template("layout.html", {{"title", "<Home>"}});
        },
        "index");
    app.route(
        "/login", {"POST"},
        [](Request& r) {
          session()["user"] = r.form()["name"];
          flash("Welcome, " + r.form()["name"], "info");
          return redirect(url_for("index"));
        },
        "login");
    app.route(
        "/logout", {"GET"}, [] { return ""; }, "logout");
    app.route("/nested", [] { return render_template("level0.html", {{"name", "n"}}); });
    app.route("/loop", [] { return render_template("loop.html"); });
    served = std::make_unique<ServedApp>(app);
  }
};

}  // namespace

TEST_CASE(
    "web: http: a templated page with url_for, the session and a flashed message across requests",
    "[http][templates]") {
  Served s;
  auto home = http_get(s.served->url("/"));
  REQUIRE(home.error.empty());
  CHECK(home.status == 200);
  CHECK(home.header("Content-Type") == "text/html; charset=utf-8");
  CHECK(home.body == "<link href=\"/static/app.css\"><h1>&lt;Home&gt;</h1>");
  CHECK(http_get(s.served->url("/static/app.css")).body == "h1 { color: green }");

  auto login = http({"POST",
                     s.served->url("/login"),
                     {"Content-Type: application/x-www-form-urlencoded"},
                     std::string("name=Ann%20%3C3")});
  CHECK(login.status == 302);
  CHECK(login.header("Location") == "/");
  const std::string cookie = "Cookie: " + cookie_pair(login.header("Set-Cookie"));

  auto after = http({"GET", s.served->url("/"), {cookie}});
  CHECK(
      after.body ==
      "<link href=\"/static/app.css\"><p class=\"info\">Welcome, Ann &lt;3</p><h1>&lt;Home&gt;</h1>"
      "<a href=\"/logout\">log out Ann &lt;3</a>");
  // The flash was consumed: the session cookie that came back no longer holds it.
  const std::string next = "Cookie: " + cookie_pair(after.header("Set-Cookie"));
  CHECK(http({"GET", s.served->url("/"), {next}}).body ==
        "<link href=\"/static/app.css\"><h1>&lt;Home&gt;</h1><a href=\"/logout\">log out Ann "
        "&lt;3</a>");
}

TEST_CASE(
    "web: http: partials nested ten deep render in a connection's green thread, and a "
    "self-including one is a 500",
    "[http][templates]") {
  Served s;
  auto nested = http_get(s.served->url("/nested"));
  CHECK(nested.status == 200);
  std::string expected;
  for (int i = 0; i < 10; ++i) expected += "<div>n";
  for (int i = 0; i < 10; ++i) expected += "</div>";
  CHECK(nested.body == expected);

  auto loop = http_get(s.served->url("/loop"));
  CHECK(loop.status == 500);
  CHECK(s.log.contains("nest too deep"));
  CHECK(http_get(s.served->url("/nested")).status == 200);  // the server carries on
}

TEST_CASE("web: http: a template edited under a DEBUG server is served as edited",
          "[http][templates]") {
  Served s(/*debug=*/true);
  CHECK(http_get(s.served->url("/nested")).body.starts_with("<div>n<div>n"));
  s.tree.write("app/level0.html", "edited {{name}}");
  CHECK(http_get(s.served->url("/nested")).body == "edited n");
}
