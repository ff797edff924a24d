// Coroutines everywhere: views, hooks, error handlers, View::dispatch_request and MethodView
// methods may return aio::Task<...>, mixed with sync ones; run with both built-in bridges.
// The first cases are Flask's tests/test_async.py, translated.
#include "web_support.hpp"

#include <grove/aio.hpp>
#include <grove/green.hpp>

#include <atomic>

using namespace grove::web;
using namespace grove::web::test;
namespace aio = grove::aio;

namespace {

struct AppError : std::runtime_error {
  AppError() : std::runtime_error("app error") {}
};
struct BlueprintError : std::runtime_error {
  BlueprintError() : std::runtime_error("blueprint error") {}
};

struct AsyncView : View {
  static inline std::vector<std::string> methods = {"GET", "POST"};
  aio::Task<std::string> dispatch_request() {
    co_await aio::sleep(0ms);
    co_return request().method();
  }
};

struct AsyncMethodView : MethodView {
  aio::Task<std::string> get() {
    co_await aio::sleep(0ms);
    co_return "GET";
  }
  aio::Task<std::string> post() {
    co_await aio::sleep(0ms);
    co_return "POST";
  }
};

aio::Task<std::string> index() {
  co_await aio::sleep(0ms);
  co_return request().method();
}

void build_async_app(App& app) {
  app.route("/", {"GET", "POST"}, &index);
  app.route("/home", {"GET", "POST"}, &index);
  app.errorhandler<AppError>(
      [](const AppError&) -> aio::Task<Response> { co_return Response("", 412); });
  app.route("/error", []() -> aio::Task<std::string> {
    co_await aio::sleep(0ms);
    throw AppError();
  });

  Blueprint bp("bp");
  bp.route("/", {"GET", "POST"}, [](Request& req) -> aio::Task<std::string> {
    co_await aio::sleep(1ms);
    co_return req.method();  // the parameter, after a suspension
  });
  bp.errorhandler<BlueprintError>(
      [](const BlueprintError&) -> aio::Task<Response> { co_return Response("", 412); });
  bp.route("/error", []() -> aio::Task<std::string> {
    co_await aio::sleep(0ms);
    throw BlueprintError();
  });
  app.register_blueprint(bp, "/bp");
  app.add_url_rule("/view", as_view<AsyncView>("view"));
  app.add_url_rule("/methodview", as_view<AsyncMethodView>("methodview"));
}

const char* bridge_param() { return GENERATE("thread", "green"); }

}  // namespace

TEST_CASE(
    "web: coroutines: the same coroutine view on routes, a blueprint, a View and a MethodView",
    "[coroutines][tsan]") {
  const char* bridge = bridge_param();
  INFO("bridge " << bridge);
  App app;
  app.async_to_sync = bridge_from_name(bridge);
  build_async_app(app);
  CHECK(app.has_coroutines());
  auto c = app.test_client();
  for (const char* path : {"/", "/home", "/bp/", "/view", "/methodview"}) {
    INFO(path);
    CHECK(c.get(path).text() == "GET");
    CHECK(c.post(path).text() == "POST");
  }
}

TEST_CASE("web: coroutines: coroutine error handlers at app and blueprint scope",
          "[coroutines][tsan]") {
  const char* bridge = bridge_param();
  INFO("bridge " << bridge);
  App app;
  app.async_to_sync = bridge_from_name(bridge);
  build_async_app(app);
  auto c = app.test_client();
  CHECK(c.get("/error").status == 412);
  CHECK(c.get("/bp/error").status == 412);
}

TEST_CASE("web: coroutines: coroutine before and after hooks at app and blueprint scope",
          "[coroutines][tsan]") {
  const char* bridge = bridge_param();
  INFO("bridge " << bridge);
  struct Flags {
    bool app_before = false, app_after = false, bp_before = false, bp_after = false;
  };
  static Flags flags;
  flags = Flags{};
  App app;
  app.async_to_sync = bridge_from_name(bridge);
  app.route("/", [] { return ""; });
  app.before_request([]() -> aio::Task<void> {
    co_await aio::sleep(0ms);
    flags.app_before = true;
  });
  app.after_request([](Response r) -> aio::Task<Response> {
    co_await aio::sleep(0ms);
    flags.app_after = true;
    co_return r;
  });
  Blueprint bp("bp");
  bp.route("/", [] { return ""; });
  bp.before_request([]() -> aio::Task<void> {
    co_await aio::sleep(0ms);
    flags.bp_before = true;
  });
  bp.after_request([](Response r) -> aio::Task<Response> {
    co_await aio::sleep(0ms);
    flags.bp_after = true;
    co_return r;
  });
  app.register_blueprint(bp, "/bp");
  auto c = app.test_client();
  c.get("/");
  CHECK(flags.app_before);
  CHECK(flags.app_after);
  CHECK_FALSE(flags.bp_before);
  c.get("/bp/");
  CHECK(flags.bp_before);
  CHECK(flags.bp_after);
}

TEST_CASE("web: coroutines: sync and async hooks mixed keep Flask's order and short-circuit",
          "[coroutines][tsan]") {
  const char* bridge = bridge_param();
  INFO("bridge " << bridge);
  static std::vector<std::string> trace;
  trace.clear();
  App app;
  app.async_to_sync = bridge_from_name(bridge);
  app.before_request([] { trace.push_back("before-sync"); });
  app.before_request([](Request& r) -> aio::Task<std::optional<Response>> {
    co_await aio::sleep(1ms);
    trace.push_back("before-async");
    if (r.args().contains("stop")) co_return Response("stopped", 429);
    co_return std::nullopt;
  });
  app.before_request([] { trace.push_back("before-last"); });
  app.after_request([](Response& r) {
    trace.push_back("after-sync");
    r.headers.set("X-Sync", "1");
  });
  app.after_request([](Response r) -> aio::Task<Response> {
    co_await aio::sleep(0ms);
    trace.push_back("after-async");
    co_return r;
  });
  app.teardown_request([]() -> aio::Task<void> {
    co_await aio::sleep(0ms);
    trace.push_back("teardown-async");
  });
  app.route("/", []() -> aio::Task<std::string> {
    co_await aio::sleep(0ms);
    trace.push_back("view");
    co_return "done";
  });
  auto c = app.test_client();
  auto r = c.get("/");
  CHECK(r.text() == "done");
  CHECK(r.headers.get("X-Sync", "") == "1");
  CHECK(joined(trace) ==
        "before-sync,before-async,before-last,view,after-async,after-sync,teardown-async");
  trace.clear();
  auto s = c.get("/?stop=1");
  CHECK(s.status == 429);
  CHECK(joined(trace) == "before-sync,before-async,after-async,after-sync,teardown-async");
}

TEST_CASE("web: coroutines: exceptions keep their type across the bridge", "[coroutines][tsan]") {
  const char* bridge = bridge_param();
  INFO("bridge " << bridge);
  struct Special : std::runtime_error {
    Special() : std::runtime_error("special") {}
  };
  App app;
  app.async_to_sync = bridge_from_name(bridge);
  app.route("/special", []() -> aio::Task<std::string> {
    co_await aio::sleep(0ms);
    throw Special();
  });
  app.route("/http", []() -> aio::Task<std::string> {
    co_await aio::sleep(0ms);
    abort(409);
  });
  app.errorhandler<Special>(
      [](const Special& e) { return Response(std::string("caught ") + e.what(), 400); });
  auto c = app.test_client();
  CHECK(c.get("/special").text() == "caught special");
  CHECK(c.get("/http").status == 409);
  app.config["TESTING"] = true;
  app.route("/raw", []() -> aio::Task<std::string> {
    co_await aio::sleep(0ms);
    throw std::out_of_range("raw");
  });
  CHECK_THROWS_AS(c.get("/raw"), std::out_of_range);
}

TEST_CASE("web: coroutines: a streamed body from a coroutine view", "[coroutines][tsan]") {
  const char* bridge = bridge_param();
  INFO("bridge " << bridge);
  App app;
  app.async_to_sync = bridge_from_name(bridge);
  // The view is a coroutine, and so is the body source: each chunk is produced by a
  // coroutine that suspends, with the request context available.
  app.route("/stream", [](Request& r) -> aio::Task<Response> {
    co_await aio::sleep(0ms);
    int n = r.args().get_as<int>("n", 3);
    auto state = std::make_shared<int>(0);
    co_return Response::stream(
        Response::AsyncSource([state, n]() -> aio::Task<std::optional<std::string>> {
          return [](std::shared_ptr<int> s, int total) -> aio::Task<std::optional<std::string>> {
            co_await aio::sleep(1ms);
            if (*s == total) co_return std::nullopt;
            co_return request().path() + "#" + std::to_string((*s)++) + ";";
          }(state, n);
        }));
  });
  app.route("/sync-source", []() -> aio::Task<Response> {
    co_await aio::sleep(0ms);
    co_return Response::stream([i = 0]() mutable -> std::optional<std::string> {
      if (i == 2) return std::nullopt;
      return std::to_string(i++);
    });
  });
  auto c = app.test_client();
  auto r = c.get("/stream?n=3");
  CHECK(r.streamed);
  CHECK(r.text() == "/stream#0;/stream#1;/stream#2;");
  CHECK(c.get("/sync-source").text() == "01");
}

TEST_CASE(
    "web: coroutines: replacing async_to_sync takes effect everywhere, without re-registering",
    "[coroutines][tsan]") {
  static std::atomic<int> bridged{0};
  App app;
  Blueprint bp("bp");
  bp.before_request([]() -> aio::Task<void> { co_return; });
  bp.route("/", []() -> aio::Task<std::string> { co_return "bp"; });
  bp.errorhandler(404, []() -> aio::Task<Response> { co_return Response("bp-404", 404); });
  app.register_blueprint(bp, "/bp");
  app.add_url_rule("/view", as_view<AsyncView>("view"));
  app.add_url_rule("/mv", as_view<AsyncMethodView>("mv"));
  app.after_request([](Response r) -> aio::Task<Response> { co_return r; });
  app.teardown_request([]() -> aio::Task<void> { co_return; });
  app.route("/sync", [] { return "sync"; });
  auto c = app.test_client();

  CHECK(c.get("/bp/").text() == "bp");  // default bridge
  // A user-written bridge: counts, then runs the coroutine on a fresh loop of this thread.
  app.async_to_sync = [](aio::Task<void> t) {
    ++bridged;
    RequestContextScope keep(capture_request_context());
    aio::run(std::move(t));
  };
  bridged = 0;
  CHECK(c.get("/bp/").text() == "bp");
  CHECK(bridged == 4);  // bp before, view, app after, app teardown
  bridged = 0;
  CHECK(c.get("/view").text() == "GET");
  CHECK(c.post("/mv").text() == "POST");
  CHECK(bridged == 2 * 3);
  bridged = 0;
  CHECK(c.get("/sync").text() == "sync");
  CHECK(bridged == 2);  // after + teardown
  CHECK(bridge_name(app.async_to_sync) == "custom");
  app.async_to_sync = grove::green::async_to_sync;  // the green bridge, by its design name
  bridged = 0;
  CHECK(c.get("/bp/").text() == "bp");
  CHECK(bridged == 0);
  CHECK(bridge_name(app.async_to_sync) == "green");
}

TEST_CASE("web: coroutines: ensure_sync wraps any callable", "[coroutines][tsan]") {
  const char* bridge = bridge_param();
  App app;
  app.async_to_sync = bridge_from_name(bridge);
  auto twice = app.ensure_sync([](int x) -> aio::Task<int> {
    co_await aio::sleep(1ms);
    co_return 2 * x;
  });
  CHECK(twice(21) == 42);
  auto plain = app.ensure_sync([](int x) { return x + 1; });
  CHECK(plain(1) == 2);
  int hits = 0;
  auto side = app.ensure_sync([&hits]() -> aio::Task<void> {
    ++hits;
    co_return;
  });
  side();
  CHECK(hits == 1);
}

TEST_CASE("web: coroutines: the request stays readable after suspensions in tasks the view creates",
          "[coroutines][tsan]") {
  const char* bridge = bridge_param();
  INFO("bridge " << bridge);
  App app;
  app.async_to_sync = bridge_from_name(bridge);
  app.route("/deep/<int:n>", [](int n) -> aio::Task<Json> {
    auto child = [](int i) -> aio::Task<std::string> {
      co_await aio::sleep(std::chrono::milliseconds(i));
      co_return request().path() + "/" + std::to_string(i);
    };
    std::vector<aio::Task<std::string>> kids;
    for (int i = 0; i < n; ++i) kids.push_back(child(i));
    auto results = co_await aio::gather(std::move(kids));
    co_await aio::sleep(1ms);
    Json out = Json::array_of(results);
    out.push_back(request().method());
    co_return out;
  });
  auto r = app.test_client().get("/deep/3");
  CHECK(r.text() == R"(["/deep/3/0","/deep/3/1","/deep/3/2","GET"])");
}
