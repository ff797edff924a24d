// Uses an installed grove the way a user's project would, one layer at a time: every built
// engine runs a timer, a green thread runs on the hub, compat resolves its interposers in
// this executable, a coroutine view of a grove::web app answers through the test client, and
// grove::pg reaches libpq (a connect to a closed loopback port is refused).
#include <grove/aio.hpp>
#include <grove/compat.hpp>
#include <grove/green.hpp>
#include <grove/loop.hpp>
#include <grove/pg.hpp>
#include <grove/web.hpp>

#include <chrono>
#include <cstdio>
#include <string>

namespace {

int fail(const char* what) {
  std::fprintf(stderr, "consumer: %s\n", what);
  return 1;
}

}  // namespace

int main() {
  for (const auto& name : grove::built_engines()) {
    auto loop = grove::make_loop(name);
    bool fired = false;
    loop->call_later(std::chrono::milliseconds(1), [&] { fired = true; });
    loop->run();
    if (!fired) return fail("a timer did not fire");
    std::printf("loop %s: ok\n", name.c_str());
  }

  auto g = grove::green::spawn([] {
    grove::green::sleep(std::chrono::milliseconds(1));
    return 42;
  });
  if (g.join() != 42) return fail("a green thread did not return its value");
  std::printf("green: ok\n");

  // Linked as documented (the CMake target or the grove-compat pkg-config module), every
  // interposed libc name resolves to grove's definition.
  grove::compat::SelfCheck check = grove::compat::self_check();
  if (!check.ok) {
    std::fprintf(stderr, "%s\n", check.fix.c_str());
    return fail("compat's interposers are not in this executable");
  }
  std::printf("compat: ok\n");

  grove::web::App app("consumer");
  app.route("/hello", []() -> grove::aio::Task<std::string> {
    co_await grove::aio::sleep(std::chrono::milliseconds(1));
    co_return "Hello from an installed grove";
  });
  auto r = app.test_client().get("/hello");
  if (r.status != 200 || r.body != "Hello from an installed grove")
    return fail("the coroutine view did not answer");
  std::printf("web: ok\n");

  // Port 1 on loopback: nothing listens there, so libpq's connect is refused at once.
  std::string refused = grove::aio::run([]() -> grove::aio::Task<std::string> {
    try {
      co_await grove::pg::Connection::connect("host=127.0.0.1 port=1 dbname=x connect_timeout=5");
    } catch (const grove::pg::ConnectionError& e) {
      co_return e.what();
    }
    co_return "";
  }());
  if (refused.find("refused") == std::string::npos)
    return fail("grove::pg's connect was not refused");
  std::printf("pg: ok\n");
  return 0;
}
