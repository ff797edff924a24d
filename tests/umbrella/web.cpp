// docs/web.md's first example, with the three umbrellas it includes.
#include <grove/aio.hpp>
#include <grove/http.hpp>
#include <grove/web.hpp>
namespace web = grove::web;
namespace aio = grove::aio;

int web_example(int argc, char** argv) {
  web::App app;
  app.route("/hello", [] { return web::Response::text("Hello, World!"); });
  app.route("/user/<int:id>", [](std::int64_t id) { return web::Json{{"id", id}}; });
  app.route("/slow", [](web::Request& req) -> aio::Task<std::string> {
    co_await aio::sleep(std::chrono::milliseconds(10));
    co_return req.method();  // or web::request().method()
  });
  app.async_to_sync = web::green_bridge;  // see "Coroutines" below
  return grove::http::serve(app.application(), argc, argv);
}
