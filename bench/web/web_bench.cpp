// The framework's cost per request and per bridged coroutine, without sockets.
//
//   bare handler      a grove::http application answering "Hello, World!" (grove-hello's)
//   framework /hello  the same request through web::App (gateway adapter, routing, hooks
//                     lookup, response conversion): grove-demo's /hello
//   + 3 hooks         with a before, an after and a teardown hook (sync)
//   coroutine view    a coroutine view that completes without suspending, per bridge
//
//   build-bench/bench/web/web_bench
#include <grove/aio.hpp>
#include <grove/green.hpp>
#include <grove/http.hpp>
#include <grove/web.hpp>

#include <benchmark/benchmark.h>

namespace web = grove::web;
namespace aio = grove::aio;
namespace http = grove::http;

namespace {

http::Request make_request(std::string_view target) {
  return http::Request("GET", target,
                       {{"Host", "127.0.0.1:8000"}, {"User-Agent", "wrk"}, {"Accept", "*/*"}});
}

void BM_bare_handler(benchmark::State& state) {
  http::Application app = [](http::Request&) { return http::Response::text("Hello, World!"); };
  http::Request req = make_request("/");
  for (auto _ : state) benchmark::DoNotOptimize(app(req));
}
BENCHMARK(BM_bare_handler);

void demo_routes(web::App& app) {
  app.route("/hello", [] { return web::Response::text("Hello, World!"); });
  app.route("/json", [] { return web::Json{{"message", "Hello, World!"}}; });
  app.route("/user/<int:id>",
            [](std::int64_t id) { return web::Response::text(std::to_string(id)); });
  app.route("/async", []() -> aio::Task<web::Response> { co_return web::Response::text("ok"); });
  for (int i = 0; i < 10; ++i) app.route("/other/" + std::to_string(i), [] { return "x"; });
}

void BM_framework(benchmark::State& state, const char* target) {
  web::App app;
  demo_routes(app);
  http::Request req = make_request(target);
  for (auto _ : state) benchmark::DoNotOptimize(app(req));
}
BENCHMARK_CAPTURE(BM_framework, hello, "/hello");
BENCHMARK_CAPTURE(BM_framework, json, "/json");
BENCHMARK_CAPTURE(BM_framework, int_param, "/user/42");

void BM_framework_hooks(benchmark::State& state) {
  web::App app;
  demo_routes(app);
  app.before_request([] {});
  app.after_request([](web::Response& r) { r.headers.set("X-Hook", "1"); });
  app.teardown_request([] {});
  http::Request req = make_request("/hello");
  for (auto _ : state) benchmark::DoNotOptimize(app(req));
}
BENCHMARK(BM_framework_hooks);

void BM_coroutine_view(benchmark::State& state, const char* bridge) {
  web::App app;
  demo_routes(app);
  app.async_to_sync = web::bridge_from_name(bridge);
  http::Request req = make_request("/async");
  for (auto _ : state) benchmark::DoNotOptimize(app(req));
}
BENCHMARK_CAPTURE(BM_coroutine_view, green_bridge, "green");
BENCHMARK_CAPTURE(BM_coroutine_view, thread_bridge, "thread");

}  // namespace

BENCHMARK_MAIN();
