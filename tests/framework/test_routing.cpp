// Routing: rules, typed parameters, strict matching, 404, 405 with Allow, HEAD, OPTIONS.
#include "web_support.hpp"

using namespace grove::web;
using namespace grove::web::test;

TEST_CASE("web: routing: typed path parameters reach the view converted", "[routing]") {
  App app;
  app.route("/user/<int:id>", [](std::int64_t id) { return "user " + std::to_string(id); });
  app.route("/small/<int:n>", [](int n) { return "small " + std::to_string(n); });
  app.route("/price/<float:p>", [](double p) { return "price " + std::to_string(p).substr(0, 4); });
  app.route("/files/<path:rest>", [](std::string rest) { return "file " + rest; });
  app.route("/hello/<name>", [](const std::string& name) { return "hi " + name; });
  app.route("/sv/<string:name>", [](std::string_view name) { return "sv " + std::string(name); });
  app.route("/id/<uuid:u>", [](std::string u) { return "uuid " + u; });
  app.route("/both/<int:a>/x/<b>", [](Request& req, long a, std::string b) {
    return req.method() + " " + std::to_string(a) + " " + b;
  });
  auto c = app.test_client();
  CHECK(c.get("/user/42").text() == "user 42");
  CHECK(c.get("/small/7").text() == "small 7");
  CHECK(c.get("/price/2.50").text() == "price 2.50");
  CHECK(c.get("/files/a/b/c.txt").text() == "file a/b/c.txt");
  CHECK(c.get("/hello/world").text() == "hi world");
  CHECK(c.get("/hello/a%20b").text() == "hi a b");  // decoded
  CHECK(c.get("/sv/x").text() == "sv x");
  CHECK(c.get("/id/12345678-1234-1234-1234-123456789abc").text() ==
        "uuid 12345678-1234-1234-1234-123456789abc");
  CHECK(c.get("/both/3/x/y").text() == "GET 3 y");

  CHECK(c.get("/user/abc").status == 404);
  CHECK(c.get("/user/-1").status == 404);
  CHECK(c.get("/user/99999999999999999999").status == 404);  // overflows int64
  CHECK(c.get("/small/99999999999").status == 404);          // does not fit int
  CHECK(c.get("/price/2").status == 404);
  CHECK(c.get("/hello/a/b").status == 404);  // string takes no '/'
  CHECK(c.get("/files/").status == 404);     // path takes one or more
  CHECK(c.get("/id/not-a-uuid").status == 404);
}

TEST_CASE("web: routing: strict slashes, 404 and 405 with Allow", "[routing]") {
  App app;
  app.route("/a", [] { return "a"; });
  app.route("/b/", [] { return "b/"; });
  app.route("/form", {"POST", "put"}, [](Request& r) { return r.method(); });
  auto c = app.test_client();
  CHECK(c.get("/a").text() == "a");
  CHECK(c.get("/a/").status == 404);
  CHECK(c.get("/b").status == 404);
  CHECK(c.get("/b/").text() == "b/");
  auto nf = c.get("/nowhere");
  CHECK(nf.status == 404);
  CHECK(nf.mimetype() == "text/html");
  CHECK(nf.text().find("Not Found") != std::string::npos);

  auto r = c.get("/form");
  CHECK(r.status == 405);
  CHECK(r.headers.get("Allow", "") == "OPTIONS, POST, PUT");
  CHECK(c.put("/form").text() == "PUT");
  CHECK(c.post("/form").text() == "POST");
}

TEST_CASE("web: routing: HEAD follows GET, OPTIONS is automatic", "[routing]") {
  App app;
  int calls = 0;
  app.route("/x", [&](Request& r) {
    ++calls;
    return "method " + r.method();
  });
  app.route("/x", {"DELETE"}, [] { return "deleted"; });
  auto c = app.test_client();
  auto h = c.head("/x");
  CHECK(h.status == 200);
  CHECK(h.body.empty());
  CHECK(h.headers.get("Content-Length", "") == "11");  // "method HEAD"
  CHECK(calls == 1);
  auto o = c.options("/x");
  CHECK(o.status == 200);
  CHECK(o.headers.get("Allow", "") == "DELETE, GET, HEAD, OPTIONS");
  CHECK(calls == 1);
  CHECK(c.delete_("/x").text() == "deleted");
}

TEST_CASE("web: routing: static rules win over parameters, lighter converters over heavier",
          "[routing]") {
  App app;
  app.route("/p/<path:rest>", [](std::string r) { return "path " + r; });
  app.route("/p/<name>", [](std::string n) { return "string " + n; });
  app.route("/p/<int:n>", [](int n) { return "int " + std::to_string(n); });
  app.route("/p/special", [] { return "static"; });
  app.route("/p/<name>.json", [](std::string n) { return "json " + n; });
  auto c = app.test_client();
  CHECK(c.get("/p/special").text() == "static");
  CHECK(c.get("/p/12").text() == "int 12");
  CHECK(c.get("/p/abc").text() == "string abc");
  CHECK(c.get("/p/a/b").text() == "path a/b");
  CHECK(c.get("/p/doc.json").text() == "json doc");
}

TEST_CASE("web: routing: mismatches between rule and view are registration errors", "[routing]") {
  App app;
  CHECK_THROWS_WITH(app.route("/u/<int:id>", [](std::int64_t, int) { return ""; }),
                    Catch::Contains("takes 2 path parameters but the rule has 1"));
  CHECK_THROWS_WITH(app.route("/u/<name>", [](int) { return ""; }),
                    Catch::Contains("parameter 'name' is <string:...>"));
  CHECK_THROWS_WITH(app.route("/u/<bogus:x>", [](std::string) { return ""; }),
                    Catch::Contains("unknown converter 'bogus'"));
  CHECK_THROWS_AS(app.route("no-slash", [] { return ""; }), std::invalid_argument);
  CHECK_THROWS_AS(app.route("/u/<x>/<x>", [](std::string, std::string) { return ""; }),
                  std::invalid_argument);
  CHECK_THROWS_AS(app.route("/u/<a><b>", [](std::string, std::string) { return ""; }),
                  std::invalid_argument);
  CHECK_THROWS_AS(app.route("/u/<oops", [] { return ""; }), std::invalid_argument);
  CHECK_THROWS_WITH(app.route("/g/<x>", [](auto&&...) { return ""; }),
                    Catch::Contains("generic callable"));
  // A view that takes only Request& reads the parameters itself... but must still declare them.
  CHECK_THROWS_AS(app.route("/g2/<x>", [](Request& r) { return r.view_args()["x"]; }),
                  std::invalid_argument);
}

TEST_CASE("web: routing: view_args, endpoint and url_map", "[routing]") {
  App app;
  app.route(
      "/v/<int:id>/<path:p>", {"GET"},
      [](Request& r, int, std::string) {
        return r.endpoint() + " " + r.url_rule() + " " + r.view_args()["p"] + " " +
               std::to_string(r.view_args().get_int("id"));
      },
      "thing");
  auto c = app.test_client();
  CHECK(c.get("/v/5/x/y").text() == "thing /v/<int:id>/<path:p> x/y 5");
  auto map = app.url_map();
  REQUIRE(map.size() == 1);
  CHECK(map[0] == "GET,HEAD,OPTIONS /v/<int:id>/<path:p> -> thing");
}

// Found by fuzz_router (tests/fuzz): backtracking retried every split of the path for
// every parameter, so a rule with a few <path:..> parameters took minutes on a path of a
// few hundred slashes. Failed (parameter, offset) pairs are now remembered.
TEST_CASE("web: routing: several path parameters against a long path finish quickly", "[routing]") {
  Rule rule("/<path:a>/<path:b>/<path:c>/<path:d>/end");
  std::string path = "/";
  for (int i = 0; i < 2000; ++i) path += "a/";
  ViewArgs args;
  CHECK_FALSE(rule.match(path + "x", args));
  CHECK(args.size() == 0);
  REQUIRE(rule.match(path + "x/end", args));
  REQUIRE(args.size() == 4);
  CHECK(args.at(0).text.size() == 3995);  // the first parameter takes the longest share
  CHECK(args.at(3).text == "x");
  // At the request line's limit (8 KiB) as well: every split point is tried at most once per
  // parameter (this took seconds before, minutes before that).
  std::string slashes(8000, '/');
  CHECK_FALSE(rule.match(slashes + "x", args));
  REQUIRE(rule.match(slashes + "x/end", args));
  CHECK(args.at(3).text == "x");
  Rule dashes("/<a>-<b>-<c>-<d>!");
  CHECK_FALSE(dashes.match("/" + std::string(8000, '-'), args));
  REQUIRE(dashes.match("/" + std::string(8000, '-') + "!", args));
  CHECK(args["d"] == "-");  // the earlier parameters take the longest share
  Rule mixed("/<a>-<b>-<int:n>");
  REQUIRE(mixed.match("/x-y-z-7", args));
  CHECK(args["a"] == "x-y");
  CHECK(args["b"] == "z");
  CHECK(args.get_int("n") == 7);
}

namespace {
// Matching steps for `rule` against `path` (a path that does not match: every split tried).
std::uint64_t steps_to_reject(const Rule& rule, const std::string& path) {
  ViewArgs args;
  const std::uint64_t before = grove::web::detail::rule_match_steps();
  CHECK_FALSE(rule.match(path, args));
  return grove::web::detail::rule_match_steps() - before;
}
}  // namespace

// The backtracking memo's promise, counted rather than timed: doubling the path doubles the
// steps (without the memo, four <path:..> parameters take about length^4 / 24 of them).
TEST_CASE("web: routing: matching steps grow linearly with the path's length", "[routing]") {
  for (const char* text : {"/<path:a>/<path:b>/<path:c>/<path:d>/end", "/<a>-<b>-<c>-<d>!"}) {
    Rule rule(text);
    const char fill = std::string_view(text).find("path") != std::string_view::npos ? '/' : '-';
    std::uint64_t previous = 0;
    for (std::size_t length : {64, 128, 256, 512}) {
      const std::uint64_t steps = steps_to_reject(rule, "/" + std::string(length, fill) + "x");
      INFO(text << ": " << length << " characters: " << steps << " steps");
      CHECK(steps <= 4 * rule.parts().size() * length);  // a few per (part, offset)
      if (previous) CHECK(steps <= 2 * previous + 2 * rule.parts().size());
      previous = steps;
    }
  }
}
