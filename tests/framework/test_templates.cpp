// Templates through the test client: Flask's test_templating.py and the template cases of
// test_blueprints.py as behaviours (autoescaping by name, the standard context, context
// processors and who wins, rendering without a request, blueprint template folders and
// their order, auto-reload following DEBUG), plus grove's own: url_for, session and
// flashed messages in templates, partials, and the errors that name what is wrong.
#include "template_support.hpp"
#include "web_support.hpp"

using namespace grove::web;
using namespace grove::web::test;

namespace {

// An app whose template folder is the tree's.
struct TemplatedApp {
  TemplateTree tree;
  App app;
  TemplatedApp() {
    app.template_folder(tree.app());
    app.config["SECRET_KEY"] = "template tests";
  }
};

}  // namespace

TEST_CASE(
    "web: templates: {{x}} is escaped in .html templates and strings, {{{x}}} and {{&x}} never",
    "[templates]") {
  TemplatedApp t;
  t.tree.write("app/escaping.html", "{{text}}|{{{text}}}|{{&text}}\n");
  t.tree.write("app/escaping.txt", "{{text}}|{{{text}}}\n");
  t.tree.write("app/escaping.svg", "{{text}}\n");
  const Json ctx{{"text", "<p>Hello & 'bye' \"x\"</p>"}};
  const std::string escaped = "&lt;p&gt;Hello &amp; &apos;bye&apos; &quot;x&quot;&lt;/p&gt;";
  const std::string raw = "<p>Hello & 'bye' \"x\"</p>";
  CHECK(render_template(t.app, "escaping.html", ctx) == escaped + "|" + raw + "|" + raw + "\n");
  CHECK(render_template(t.app, "escaping.txt", ctx) == raw + "|" + raw + "\n");
  CHECK(render_template(t.app, "escaping.svg", ctx) == escaped + "\n");
  CHECK(render_template_string(t.app, "{{text}}", ctx) == escaped);
  CHECK(render_template_string(t.app, "{{{text}}}", ctx) == raw);
}

TEST_CASE("web: templates: a view returns a rendered page as text/html", "[templates]") {
  TemplatedApp t;
  t.tree.write(
      "app/hello.html",
      "<h1>Hello {{name}}!</h1>{{#items}}<li>{{.}}</li>{{/items}}{{^items}}none{{/items}}");
  t.app.route("/hello/<name>", [](std::string name) {
    return render_template("hello.html", {{"name", name}, {"items", Json::array({"a", 2, 2.5})}});
  });
  auto r = t.app.test_client().get("/hello/Ann");
  CHECK(r.status == 200);
  CHECK(r.mimetype() == "text/html");
  CHECK(r.body == "<h1>Hello Ann!</h1><li>a</li><li>2</li><li>2.5</li>");
  CHECK(render_template(t.app, "hello.html", {{"name", "x"}}) == "<h1>Hello x!</h1>none");
}

TEST_CASE(
    "web: templates: JSON values in the context: nested objects, dotted names, null and false are "
    "false",
    "[templates]") {
  TemplatedApp t;
  Json ctx{{"user", {{"name", "Ann"}, {"admin", false}, {"tags", Json::array({"x", "y"})}}},
           {"nothing", nullptr},
           {"empty", ""},
           {"count", 3}};
  CHECK(render_template_string(t.app, "{{user.name}} {{#user}}{{name}}{{/user}} {{count}}", ctx) ==
        "Ann Ann 3");
  CHECK(render_template_string(
            t.app, "{{#user.admin}}admin{{/user.admin}}{{^user.admin}}user{{/user.admin}}", ctx) ==
        "user");
  CHECK(render_template_string(t.app,
                               "{{#nothing}}x{{/nothing}}{{^nothing}}null is false{{/nothing}}",
                               ctx) == "null is false");
  CHECK(render_template_string(t.app, "{{#user.tags}}[{{.}}]{{/user.tags}}", ctx) == "[x][y]");
  CHECK(render_template_string(t.app,
                               "[{{empty}}]{{#empty}}x{{/empty}}{{^empty}}empty is false{{/empty}}",
                               ctx) == "[]empty is false");
  CHECK(render_template_string(t.app, "[{{missing}}][{{user.missing}}]", ctx) == "[][]");
}

TEST_CASE("web: templates: request, session, config and url_for are in every template's context",
          "[templates]") {
  TemplatedApp t;
  t.app.config["SITE_NAME"] = "Notes & more";
  t.tree.write("app/standard.html",
               "{{request.method}} {{request.path}} {{request.args.q}} {{request.endpoint}}|"
               "{{session.user}}|{{config.SITE_NAME}}|{{#url_for}}show id=7 tab=a&b{{/url_for}}");
  t.app.route("/login/<name>", [](std::string name) {
    session()["user"] = name;
    return "ok";
  });
  t.app.route(
      "/page", {"GET"}, [] { return render_template("standard.html"); }, "page");
  t.app.route(
      "/show/<int:id>", {"GET"}, [](int) { return ""; }, "show");
  Browser b(t.app);
  b.get("/login/%3CAnn%3E");
  auto r = b.get("/page?q=hi");
  CHECK(r.body == "GET /page hi page|&lt;Ann&gt;|Notes &amp; more|/show/7?tab=a%26b");
  CHECK(r.headers.get("Vary", "") == "Cookie");  // the template read the session
}

TEST_CASE(
    "web: templates: url_for in a template: static files, blueprints, '.name', quoting and options",
    "[templates]") {
  TemplatedApp t;
  t.app.serve_static(t.tree.app());
  Blueprint admin("admin", "/admin");
  admin.route(
      "/users/<name>", {"GET"}, [](std::string) { return ""; }, "user");
  admin.route(
      "/", {"GET"},
      [] {
        return render_template_string(
            "{{#url_for}}.user name={{who}}{{/url_for}} "
            "{{#url_for}}admin.user name=\"a b\" _anchor=top{{/url_for}} "
            "{{#url_for}}static filename=css/app.css{{/url_for}} "
            "{{#url_for}}.user name=x _external=true{{/url_for}}",
            {{"who", "a&b"}});
      },
      "index");
  t.app.register_blueprint(admin);
  auto r = t.app.test_client().get("/admin/");
  CHECK(r.status == 200);
  // '&' may stand in a path segment; the URL is then HTML-escaped like any value.
  CHECK(r.body ==
        "/admin/users/a&amp;b /admin/users/a%20b#top /static/css/app.css "
        "http://localhost/admin/users/x");

  // Outside a request: url_for(app, ...).
  CHECK(render_template_string(t.app, "{{#url_for}}admin.index{{/url_for}}") == "/admin/");
}

TEST_CASE("web: templates: url_for errors in a template say what is wrong", "[templates]") {
  TemplatedApp t;
  t.app.route(
      "/show/<int:id>", {"GET"}, [](int) { return ""; }, "show");
  CHECK_THROWS_AS(render_template_string(t.app, "{{#url_for}}show{{/url_for}}"), BuildError);
  CHECK_THROWS_WITH(render_template_string(t.app, "{{#url_for}}show{{/url_for}}"),
                    Catch::Contains("show") && Catch::Contains("id"));
  CHECK_THROWS_WITH(render_template_string(t.app, "{{#url_for}} {{/url_for}}"),
                    Catch::Contains("needs an endpoint"));
  CHECK_THROWS_WITH(render_template_string(t.app, "{{#url_for}}show 7{{/url_for}}"),
                    Catch::Contains("\"7\" is not key=value"));
  CHECK_THROWS_WITH(render_template_string(t.app, "{{#url_for}}show id=\"7{{/url_for}}"),
                    Catch::Contains("quote is not closed"));
  CHECK_THROWS_WITH(render_template_string(t.app, "{{url_for}}"), Catch::Contains("Lambda"));
}

TEST_CASE(
    "web: templates: flashed messages are taken out of the session only by a template that shows "
    "them",
    "[templates]") {
  TemplatedApp t;
  t.tree.write(
      "app/flashes.html",
      "{{#get_flashed_messages}}<p class=\"{{category}}\">{{message}}</p>{{/get_flashed_messages}}"
      "{{^get_flashed_messages}}no messages{{/get_flashed_messages}}");
  t.tree.write("app/plain.html", "plain");
  t.app.route("/flash", [] {
    flash("Saved <b>", "info");
    flash("Careful", "warning");
    return "flashed";
  });
  t.app.route("/plain", [] { return render_template("plain.html"); });
  t.app.route("/show", [] { return render_template("flashes.html"); });
  Browser b(t.app);
  b.get("/flash");
  CHECK(b.get("/plain").body == "plain");  // the messages stay
  CHECK(b.get("/show").body ==
        "<p class=\"info\">Saved &lt;b&gt;</p><p class=\"warning\">Careful</p>");
  CHECK(b.get("/show").body == "no messages");
}

TEST_CASE("web: templates: context processors add to the context, and the view's context wins",
          "[templates]") {
  TemplatedApp t;
  t.app.context_processor([] { return Json{{"site", "grove"}, {"shared", "app"}}; });
  t.app.context_processor([] { return Json{{"shared", "second app processor"}}; });
  Blueprint shop("shop", "/shop");
  shop.context_processor([] { return Json{{"shared", "shop"}, {"in_shop", true}}; });
  shop.route("/", [] {
    return render_template_string("{{site}} {{shared}} {{#in_shop}}in shop{{/in_shop}}");
  });
  shop.route("/own", [] { return render_template_string("{{shared}}", {{"shared", "view"}}); });
  t.app.register_blueprint(shop);
  t.app.route("/", [] {
    return render_template_string("{{site}} {{shared}} {{#in_shop}}in shop{{/in_shop}}");
  });

  auto client = t.app.test_client();
  CHECK(client.get("/").body == "grove second app processor ");
  CHECK(client.get("/shop/").body == "grove shop in shop");
  CHECK(client.get("/shop/own").body == "view");
  // Without a request: the app's processors (Flask's test_request_less_rendering).
  CHECK(render_template_string(t.app, "{{site}}") == "grove");

  t.app.context_processor([] { return Json::array({1}); });
  CHECK_THROWS_WITH(render_template_string(t.app, "x"),
                    Catch::Contains("context_processor") && Catch::Contains("JSON object"));
  CHECK_THROWS_AS(t.app.context_processor({}), std::invalid_argument);
}

TEST_CASE(
    "web: templates: the app's folder is searched first, then each blueprint's in registration "
    "order",
    "[templates]") {
  TemplatedApp t;
  t.tree.write("app/page.html", "app page");
  t.tree.write("admin/page.html", "admin page");
  t.tree.write("admin/admin/only.html", "admin only");
  t.tree.write("shop/only.html", "shop only");
  t.tree.write("shop/admin/only.html", "shop's admin/only");
  Blueprint admin("admin", "/admin");
  admin.template_folder(t.tree.admin());
  admin.route("/", [] { return render_template("page.html"); });
  Blueprint shop("shop", "/shop");
  shop.template_folder(t.tree.shop());
  shop.route("/", [] { return render_template("only.html"); });
  t.app.register_blueprint(admin);
  t.app.register_blueprint(shop);

  auto client = t.app.test_client();
  CHECK(client.get("/admin/").body == "app page");                   // the app's folder wins
  CHECK(client.get("/shop/").body == "shop only");                   // only in a blueprint's folder
  CHECK(render_template(t.app, "admin/only.html") == "admin only");  // the first registered wins
  CHECK(admin.template_folder() == t.tree.admin());
}

TEST_CASE(
    "web: templates: a missing template is TemplateNotFound naming it and every folder searched",
    "[templates]") {
  TemplatedApp t;
  Blueprint admin("admin", "/admin");
  admin.template_folder(t.tree.admin());
  t.app.register_blueprint(admin);
  try {
    render_template(t.app, "nope.html");
    FAIL("no exception");
  } catch (const TemplateNotFound& e) {
    CHECK(e.name() == "nope.html");
    CHECK(e.searched() == std::vector<std::string>{t.tree.app(), t.tree.admin()});
    CHECK_THAT(e.what(), Catch::Contains("\"nope.html\" not found") &&
                             Catch::Contains(t.tree.app()) && Catch::Contains(t.tree.admin()));
  }
  // Names that leave the folders are never looked up.
  t.tree.write("secret.html", "secret");
  CHECK_THROWS_AS(render_template(t.app, "../secret.html"), TemplateNotFound);
  CHECK_THROWS_AS(render_template(t.app, "admin/../../secret.html"), TemplateNotFound);
  CHECK_THROWS_AS(render_template(t.app, t.tree.app() + "/../secret.html"), TemplateNotFound);
  CHECK_THROWS_AS(render_template(t.app, "."), TemplateNotFound);  // a directory is no template
  CHECK_THROWS_AS(render_template(t.app, ""), TemplateNotFound);

  // In a view: a 500, logged.
  LogCapture log(t.app);
  t.app.route("/", [] { return render_template("nope.html"); });
  CHECK(t.app.test_client().get("/").status == 500);
  CHECK(log.contains("nope.html"));
}

TEST_CASE("web: templates: a syntax error names the file, line, column and what is wrong",
          "[templates]") {
  TemplatedApp t;
  auto error_of = [&](const std::string& name) -> std::string {
    try {
      render_template(t.app, name);
    } catch (const TemplateSyntaxError& e) {
      return std::string(e.file()) + ":" + std::to_string(e.line()) + ":" +
             std::to_string(e.column()) + " " + e.what();
    }
    return "no TemplateSyntaxError";
  };
  t.tree.write("app/unclosed_tag.html", "line 1\n  <p>{{name</p>\n");
  t.tree.write("app/unclosed_section.html", "{{#items}}\n<li>{{.}}</li>\n");
  t.tree.write("app/unopened.html", "ok\nok {{/items}}");
  t.tree.write("app/delimiters.html", "{{=<% =}}");
  t.tree.write("app/includes_bad.html", "fine\n{{> unclosed_tag.html}}");
  CHECK_THAT(error_of("unclosed_tag.html"),
             Catch::StartsWith(t.tree.app() + "/unclosed_tag.html:2:6 ") &&
                 Catch::Contains("Unclosed tag") && Catch::Contains("line 2, column 6"));
  CHECK_THAT(error_of("unclosed_section.html"),
             Catch::StartsWith(t.tree.app() + "/unclosed_section.html:1:1 ") &&
                 Catch::Contains("Unclosed section \"items\""));
  CHECK_THAT(error_of("unopened.html"), Catch::StartsWith(t.tree.app() + "/unopened.html:2:4 ") &&
                                            Catch::Contains("Unopened section \"items\""));
  CHECK_THAT(error_of("delimiters.html"), Catch::Contains("Invalid set delimiter tag"));
  // A partial's error names the partial's file.
  CHECK_THAT(error_of("includes_bad.html"),
             Catch::StartsWith(t.tree.app() + "/unclosed_tag.html:2:6 "));
  CHECK_THROWS_WITH(
      render_template_string(t.app, "x\n{{#a}}"),
      Catch::Contains("<template string> at line 2, column 1: Unclosed section \"a\""));
}

TEST_CASE(
    "web: templates: partials are templates from the folders, escaped as the template that "
    "includes them",
    "[templates]") {
  TemplatedApp t;
  Blueprint admin("admin", "/admin");
  admin.template_folder(t.tree.admin());
  t.app.register_blueprint(admin);
  t.tree.write("app/layout.html",
               "<title>{{title}}</title>{{> admin/nav.html}}{{#items}}{{> item.html}}{{/items}}");
  t.tree.write("admin/admin/nav.html", "<nav>{{user}}</nav>");
  t.tree.write("app/item.html", "<li>{{name}}</li>");
  t.tree.write("app/plain.txt", "{{title}} {{> item.html}}");
  Json ctx{{"title", "A & B"},
           {"user", "<ann>"},
           {"items", Json::array({Json{{"name", "x<"}}, Json{{"name", "y"}}})},
           {"name", "<top>"}};
  CHECK(render_template(t.app, "layout.html", ctx) ==
        "<title>A &amp; B</title><nav>&lt;ann&gt;</nav><li>x&lt;</li><li>y</li>");
  CHECK(render_template(t.app, "plain.txt", ctx) == "A & B <li><top></li>");
  CHECK_THROWS_AS(render_template_string(t.app, "{{> missing.html}}"), TemplateNotFound);
}

TEST_CASE("web: templates: a partial that includes itself is an error, not a stack overflow",
          "[templates]") {
  TemplatedApp t;
  t.tree.write("app/loop.html", "x{{> loop.html}}");
  t.tree.write("app/ping.html", "{{> pong.html}}");
  t.tree.write("app/pong.html", "{{> ping.html}}");
  CHECK_THROWS_WITH(render_template(t.app, "loop.html"),
                    Catch::Contains("nest too deep") && Catch::Contains("{{> loop.html}}"));
  CHECK_THROWS_WITH(render_template(t.app, "ping.html"), Catch::Contains("nest too deep"));
  // Ten levels of honest nesting are fine.
  for (int i = 0; i < 10; ++i)
    t.tree.write("app/level" + std::to_string(i) + ".html",
                 std::to_string(i) +
                     (i < 9 ? "{{> level" + std::to_string(i + 1) + ".html}}" : std::string()));
  CHECK(render_template(t.app, "level0.html") == "0123456789");
}

TEST_CASE(
    "web: templates: sources are cached, and TEMPLATES_AUTO_RELOAD (default: DEBUG) reloads a "
    "changed file",
    "[templates]") {
  TemplatedApp t;
  t.tree.write("app/page.html", "one");
  CHECK(render_template(t.app, "page.html") == "one");
  t.tree.write("app/page.html", "two!");
  CHECK(render_template(t.app, "page.html") == "one");  // cached, DEBUG false

  t.app.config["DEBUG"] = true;  // TEMPLATES_AUTO_RELOAD null follows DEBUG
  CHECK(render_template(t.app, "page.html") == "two!");
  t.tree.write("app/page.html", "{{#broken}}");
  CHECK_THROWS_AS(render_template(t.app, "page.html"), TemplateSyntaxError);
  t.tree.write("app/page.html", "three");
  CHECK(render_template(t.app, "page.html") == "three");

  t.app.config["TEMPLATES_AUTO_RELOAD"] = false;  // wins over DEBUG
  t.tree.write("app/page.html", "four!");
  CHECK(render_template(t.app, "page.html") == "three");

  t.app.config["DEBUG"] = false;
  t.app.config["TEMPLATES_AUTO_RELOAD"] = true;
  CHECK(render_template(t.app, "page.html") == "four!");
  REQUIRE(std::remove((t.tree.app() + "/page.html").c_str()) == 0);
  CHECK_THROWS_AS(render_template(t.app, "page.html"), TemplateNotFound);

  t.app.config["TEMPLATES_AUTO_RELOAD"] = "yes";
  CHECK_THROWS_AS(render_template(t.app, "page.html"), ConfigError);
}

TEST_CASE("web: templates: render_template(name) outside a request says to pass the app",
          "[templates]") {
  CHECK_THROWS_WITH(render_template("x.html"),
                    Catch::Contains("render_template(app, name, context)"));
  CHECK_THROWS_AS(render_template_string("x"), std::logic_error);
  App app;  // the default folder: ./templates at construction
  CHECK(app.template_folder().ends_with("/templates"));
  CHECK(app.template_folder().front() == '/');
}

TEST_CASE("web: templates: a coroutine view renders on either bridge", "[templates]") {
  TemplatedApp t;
  t.tree.write("app/async.html", "{{request.path}} {{n}}");
  t.app.route("/async", [](Request&) -> grove::aio::Task<std::string> {
    co_await grove::aio::sleep(1ms);
    co_return render_template("async.html", {{"n", 1}});
  });
  CHECK(t.app.test_client().get("/async").body == "/async 1");
  t.app.async_to_sync = green_bridge;
  CHECK(t.app.test_client().get("/async").body == "/async 1");
}
