// Selecting an engine at build time — and seeing which one runs your coroutines.
//
// The engines are chosen when grove is configured:
//
//   cmake -S . -B build -DGROVE_ENGINES="asio;libev" -DGROVE_DEFAULT_ENGINE=libev
//   cmake --build build --target grove-web-engine && build/examples/grove-web-engine
//
// GROVE_LOOP=<engine> overrides the default at run time (an unknown name is an error that
// lists the built ones). A coroutine view reports the engine its loop runs on: with the
// thread bridge that is a fresh loop of the default engine; with the green bridge it is the
// hub's, whose engine is the same selection underneath.
//
// Exits 0 when the engine every bridge used is the one grove::selected_engine() names, so
// CI can run it after configuring any engine as the default.
#include <grove/aio.hpp>
#include <grove/web.hpp>

#include <cstdio>

namespace web = grove::web;
namespace aio = grove::aio;

int main() {
  std::string built;
  for (auto& e : grove::built_engines()) built += (built.empty() ? "" : ", ") + e;
  std::printf(
      "built engines: %s\ndefault engine (GROVE_DEFAULT_ENGINE): %s\nselected (GROVE_LOOP or "
      "default): %s\n",
      built.c_str(), grove::default_engine().c_str(), grove::selected_engine().c_str());

  web::App app("engines");
  app.route("/engine", []() -> aio::Task<web::Json> {
    co_await aio::sleep(std::chrono::milliseconds(1));
    const grove::Capabilities& caps = aio::get_running_loop().capabilities();
    co_return web::Json{{"engine", caps.engine}, {"poller", caps.poller}};
  });

  int failures = 0;
  for (const char* bridge : {"thread", "green"}) {
    app.async_to_sync = web::bridge_from_name(bridge);
    web::Json j = app.test_client().get("/engine").json();
    std::string engine = j["engine"].as_string();
    std::string poller = j["poller"].as_string();
    std::printf("%s bridge: coroutine ran on engine '%s' (%s)\n", bridge, engine.c_str(),
                poller.c_str());
    // The green engine is a facade over the hub; the hub's engine appears in its poller.
    bool ok = std::string(bridge) == "thread"
                  ? engine == grove::selected_engine()
                  : poller.find(grove::selected_engine()) != std::string::npos;
    if (!ok) {
      std::printf("  expected the selected engine '%s'\n", grove::selected_engine().c_str());
      ++failures;
    }
  }
  return failures == 0 ? 0 : 1;
}
