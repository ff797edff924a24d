// Sessions, flashed messages, url_for and redirect over a real connection: a login flow
// driven by libcurl, carrying the cookie the way a browser does.
#include "http_support.hpp"

using namespace grove::web;
using namespace grove::web::test;

TEST_CASE("web: http: a login flow keeps its session in a signed cookie",
          "[http][sessions][tsan]") {
  App app;
  app.config["SECRET_KEY"] = "http test key";
  Blueprint auth("auth", "/auth");
  auth.route(
      "/login", {"POST"},
      [](Request& r) {
        session()["user"] = r.form()["name"];
        flash("Welcome, " + r.form()["name"]);
        return redirect(url_for("index"));
      },
      "login");
  auth.route(
      "/logout", {"GET"},
      [] {
        session().clear();
        return redirect(url_for("index"), 303);
      },
      "logout");
  app.route(
      "/", {"GET"},
      [] {
        std::string out = session().get<std::string>("user", "anonymous");
        for (auto& m : get_flashed_messages()) out += " [" + m + "]";
        return out + " " + url_for("auth.login", {{"_external", true}});
      },
      "index");
  app.register_blueprint(auth);
  ServedApp served(app);
  const std::string host = served.base().substr(std::string("http://").size());

  auto anon = http_get(served.url("/"));
  CHECK(anon.body == "anonymous http://" + host + "/auth/login");
  CHECK_FALSE(anon.has_header("Set-Cookie"));

  auto login = http({"POST",
                     served.url("/auth/login"),
                     {"Content-Type: application/x-www-form-urlencoded"},
                     std::string("name=ada")});
  CHECK(login.status == 302);
  CHECK(login.header("Location") == "/");
  std::string cookie = cookie_pair(login.header("Set-Cookie"));
  REQUIRE(cookie.starts_with("session="));
  CHECK(login.header("Set-Cookie").find("HttpOnly") != std::string::npos);

  auto home = http({"GET", served.url("/"), {"Cookie: " + cookie}});
  CHECK(home.body.starts_with("ada [Welcome, ada] "));
  // Showing the flash changed the session: the new cookie no longer carries it.
  std::string after = cookie_pair(home.header("Set-Cookie"));
  REQUIRE(after.starts_with("session="));
  CHECK(http({"GET", served.url("/"), {"Cookie: " + after}}).body.starts_with("ada http://"));

  // A forged cookie is an anonymous visit, not an error.
  std::string forged =
      "session=" + base64url_encode(R"({"user":"root"})") + after.substr(after.find('.'));
  auto f = http({"GET", served.url("/"), {"Cookie: " + forged}});
  CHECK(f.status == 200);
  CHECK(f.body.starts_with("anonymous "));

  auto out = http({"GET", served.url("/auth/logout"), {"Cookie: " + after}});
  CHECK(out.status == 303);
  CHECK(out.header("Set-Cookie").find("Max-Age=0") != std::string::npos);
}
