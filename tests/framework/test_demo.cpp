// grove-demo: its routes through the test client and over HTTP, its WebSockets with Python
// clients and its /chat page in headless Chromium, and the combination cases (compat on
// with the green bridge, the same with a coroutine teardown hook, the thread bridge's
// warning).
#include "demo_app.hpp"
#include "http_support.hpp"
#include "python.hpp"

#include <grove/aio.hpp>

#include <fstream>

using namespace grove::web;
using namespace grove::web::test;

namespace {
std::size_t count(const std::string& text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("web: demo: every route through the test client", "[demo][tsan]") {
  const char* bridge = GENERATE("green", "thread");
  INFO("bridge " << bridge);
  // The fan-outs need a real upstream: the same app, served.
  App upstream_app;
  make_demo_app(upstream_app, std::make_shared<DemoOptions>());
  ServedApp upstream(upstream_app);

  App app;
  app.async_to_sync = bridge_from_name(bridge);
  auto options = std::make_shared<DemoOptions>();
  options->upstream = upstream.base();
  options->async_teardown = true;
  make_demo_app(app, options);
  auto c = app.test_client();

  auto hello = c.get("/hello");
  CHECK(hello.text() == "Hello, World!");
  CHECK(hello.mimetype() == "text/plain");
  CHECK(c.get("/json").text() == R"({"message":"Hello, World!"})");
  CHECK(c.get("/sleep?ms=5").text() == "ok");
  CHECK(c.get("/async-sleep?ms=5").text() == "ok");
  CHECK(c.get("/delay?ms=5").text() == "ok");
  auto fan = c.get("/fanout?n=3&ms=20").json();
  CHECK(fan["statuses"].dump() == "[200,200,200]");
  CHECK(fan["elapsed_ms"].as_int() >= 20);
  auto fs = c.get("/fanout-sync?n=2&ms=10").json();
  CHECK(fs["statuses"].dump() == "[200,200]");
  CHECK(fs["elapsed_ms"].as_int() >= 20);
  auto echo = c.post("/echo", "payload", "text/x-demo");
  CHECK(echo.text() == "payload");
  CHECK(echo.mimetype() == "text/x-demo");
  CHECK(c.get("/stream?n=2").text() == "chunk 0\nchunk 1\n");
  auto err = c.get("/error");
  CHECK(err.status == 500);
  CHECK(err.json()["detail"].as_string() == "the /error route always fails");
  const std::string upload =
      "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"u.bin\"\r\n\r\n" +
      std::string(70000, 'u') + "\r\n--b--\r\n";
  CHECK(c.post("/upload", upload, "multipart/form-data; boundary=b").text() == "1 70000");
  CHECK(c.post("/upload-raw", upload, "multipart/form-data; boundary=b").text() ==
        std::to_string(upload.size()));
  CHECK(c.post("/upload-stream", upload, "application/octet-stream").text() ==
        std::to_string(upload.size()));
  CHECK(c.get("/static/x.css").status == 404);  // no STATIC_FOLDER: no static route
}

#ifdef GROVE_DEMO_PATH

TEST_CASE("web: demo: every route over HTTP", "[demo]") {
  DemoProcess demo({});
  auto hello = http_get(demo.url("/hello"));
  CHECK(hello.body == "Hello, World!");
  CHECK(hello.header("Content-Type") == "text/plain; charset=utf-8");
  auto json = http_get(demo.url("/json"));
  CHECK(json.body == R"({"message":"Hello, World!"})");
  CHECK(json.header("Content-Type") == "application/json");
  CHECK(http_get(demo.url("/sleep?ms=10")).body == "ok");
  CHECK(http_get(demo.url("/async-sleep?ms=10")).body == "ok");
  CHECK(http_get(demo.url("/delay?ms=10")).body == "ok");
  for (const char* route : {"/fanout?n=3&ms=50", "/fanout-sync?n=3&ms=50"}) {
    INFO(route);
    auto r = http_get(demo.url(route));
    CHECK(r.status == 200);
    auto j = Json::parse(r.body);
    CHECK(j["statuses"].dump() == "[200,200,200]");
    CHECK(j.contains("elapsed_ms"));
    CHECK(r.body.starts_with(R"({"statuses":[200,200,200],"elapsed_ms":)"));
  }
  CHECK(http({"POST", demo.url("/echo"), {"Content-Type: text/plain"}, "plain body"}).body ==
        "plain body");
  CHECK(http({"POST", demo.url("/echo"), {}, std::string(3000, 'z'), true}).body ==
        std::string(3000, 'z'));
  auto stream = http_get(demo.url("/stream?n=4"));
  CHECK(stream.body == "chunk 0\nchunk 1\nchunk 2\nchunk 3\n");
  CHECK(stream.header("Transfer-Encoding") == "chunked");
  auto err = http_get(demo.url("/error"));
  CHECK(err.status == 500);
  CHECK(err.header("Content-Type") == "application/json");
  CHECK(Json::parse(err.body)["error"].as_string() == "Internal Server Error");
  // The default configuration warns about nothing.
  CHECK(demo.output().find("warning") == std::string::npos);
}

namespace {

bool have_websockets() {
  if (std::system((grove::test::python3() + " -c 'import websockets' 2>/dev/null").c_str()) == 0)
    return true;
  WARN("python3-websockets is not installed (scripts/install-deps.sh test)");
  return false;
}
}  // namespace

TEST_CASE("web: demo: /ws/echo and the /ws/chat rooms with Python websockets", "[demo]") {
  if (!have_websockets()) return;
  DemoProcess demo({});
  std::string script = "/tmp/grove-demo-ws-" + std::to_string(::getpid()) + ".py";
  std::ofstream(script) << R"py(
import asyncio, sys, websockets
base = sys.argv[1].replace("http://", "ws://")
async def main():
    async with websockets.connect(base + "/ws/echo") as ws:
        await ws.send("echo me")
        print(await ws.recv())
    async with websockets.connect(base + "/ws/chat/a") as a1, \
               websockets.connect(base + "/ws/chat/a") as a2, \
               websockets.connect(base + "/ws/chat/b") as b1:
        await asyncio.sleep(0.2)  # all three joined before the first message
        await a1.send("to room a")
        print("a1 got", await a1.recv())
        print("a2 got", await a2.recv())
        await b1.send("to room b")
        print("b1 got", await b1.recv())
        try:
            print("a2 got", await asyncio.wait_for(a2.recv(), 0.3))
        except asyncio.TimeoutError:
            print("a2 heard nothing from room b")
asyncio.run(main())
)py";
  int status = 0;
  std::string out = output_of(grove::test::python3() + " " + script + " " + demo.base(), &status);
  std::remove(script.c_str());
  INFO(out);
  CHECK(status == 0);
  CHECK(out ==
        "echo me\n"
        "a1 got to room a\n"
        "a2 got to room a\n"
        "b1 got to room b\n"
        "a2 heard nothing from room b\n");
  CHECK(http_get(demo.url("/ws/echo")).status == 400);  // a plain GET is no handshake
}

TEST_CASE("web: demo: /chat in headless Chromium: a message sent in one page shows in another",
          "[demo]") {
  if (!have_websockets()) return;
  const char* chromium = "/usr/bin/chromium";
  if (::access(chromium, X_OK) != 0) {
    WARN("chromium is not installed (scripts/install-deps.sh test)");
    return;
  }
  DemoProcess demo({});
  auto page = http_get(demo.url("/chat"));
  CHECK(page.status == 200);
  CHECK(page.header("Content-Type") == "text/html; charset=utf-8");
  int status = 0;
  std::string out = output_of(
      grove::test::python3() + " " GROVE_CHAT_BROWSER_PY " " + chromium + " " + demo.base(),
      &status);
  INFO(out);
  CHECK(status == 0);
  CHECK(out.find("page 1: [\"hello from page 1\"]") != std::string::npos);
  CHECK(out.find("page 2: [\"hello from page 1\"]") != std::string::npos);
}

TEST_CASE("web: demo: fan-outs overlap with the aio client and not with the easy API", "[demo]") {
  DemoProcess demo({});
  auto fan = Json::parse(http_get(demo.url("/fanout?n=6&ms=100")).body);
  auto sync = Json::parse(http_get(demo.url("/fanout-sync?n=6&ms=100")).body);
  CHECK(fan["elapsed_ms"].as_int() < 300);    // gathered: at most half of 6 x 100 ms
  CHECK(sync["elapsed_ms"].as_int() >= 600);  // one after another
}

namespace {
void fifty_concurrent(DemoProcess& demo, const char* route) {
  std::vector<CurlRequest> reqs(50, CurlRequest{"GET", demo.url(route)});
  auto start = std::chrono::steady_clock::now();
  auto results = http_parallel(reqs);
  auto elapsed = std::chrono::steady_clock::now() - start;
  int ok = 0;
  for (auto& r : results) {
    INFO(r.error);
    if (r.status == 200 && r.body == "ok") ++ok;
  }
  CHECK(ok == 50);
  // All fifty wait at once: about 0.5 s in total (25 s if they took turns).
  CHECK(elapsed < 1500ms);
}
}  // namespace

TEST_CASE("web: demo: 50 concurrent /async-sleep?ms=500, compat on, green bridge",
          "[demo][combination]") {
  DemoProcess demo({});
  fifty_concurrent(demo, "/async-sleep?ms=500");
}

TEST_CASE("web: demo: the same with a coroutine teardown hook", "[demo][combination]") {
  DemoProcess demo({"--async-teardown"});
  fifty_concurrent(demo, "/async-sleep?ms=500");
}

TEST_CASE("web: demo: 50 concurrent /sleep?ms=500 (plain usleep) under compat",
          "[demo][combination]") {
  DemoProcess demo({});
  fifty_concurrent(demo, "/sleep?ms=500");
}

TEST_CASE("web: demo: the thread bridge warns once and still answers every request",
          "[demo][combination]") {
  DemoProcess demo({"--bridge", "thread"});
  std::vector<CurlRequest> reqs;
  for (int i = 0; i < 10; ++i) {
    reqs.push_back({"GET", demo.url("/async-sleep?ms=50")});
    reqs.push_back({"GET", demo.url("/hello")});
  }
  for (auto& r : reqs) r.timeout_ms = 30000;
  auto results = http_parallel(reqs);
  for (std::size_t i = 0; i < results.size(); ++i) {
    INFO(results[i].error);
    CHECK(results[i].status == 200);
    CHECK(results[i].body == (i % 2 == 0 ? "ok" : "Hello, World!"));
  }
  const std::string& out = demo.output();
  CHECK(count(out, "runs them with the thread bridge") == 1);
  CHECK(out.find("--bridge green") != std::string::npos);
  CHECK(out.find("blocks the OS thread that runs the hub") != std::string::npos);
}

TEST_CASE("web: demo: --config loads app.config and a bad file stops it naming the file",
          "[demo][config]") {
  {
    DemoProcess demo({});
    auto r = http_get(demo.url("/visits"));
    CHECK(r.status == 500);  // no SECRET_KEY: the session says so
    CHECK(Json::parse(r.body)["detail"].as_string().find("SECRET_KEY") != std::string::npos);
  }
  char path[] = "/tmp/grove-demo-config-XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  char static_dir[] = "/tmp/grove-demo-static-XXXXXX";
  REQUIRE(::mkdtemp(static_dir));
  std::ofstream(std::string(static_dir) + "/site.css") << "body { color: green }";
  std::string text = R"({"SECRET_KEY": "demo test key", "SESSION_COOKIE_NAME": "demo", )"
                     R"("STATIC_FOLDER": ")" +
                     std::string(static_dir) + "\"}";
  REQUIRE(::write(fd, text.data(), text.size()) == ssize_t(text.size()));
  ::close(fd);
  {
    DemoProcess demo({"--config", path});
    auto css = http_get(demo.url("/static/site.css"));  // STATIC_FOLDER
    CHECK(css.status == 200);
    CHECK(css.body == "body { color: green }");
    CHECK(css.header("Content-Type").starts_with("text/css"));
    std::system(("rm -rf " + std::string(static_dir)).c_str());
    auto first = http_get(demo.url("/visits"));
    CHECK(first.body == "1");
    std::string cookie = first.header("Set-Cookie");
    REQUIRE(cookie.starts_with("demo="));
    auto second =
        http({"GET", demo.url("/visits"), {"Cookie: " + cookie.substr(0, cookie.find(';'))}});
    CHECK(second.body == "2");
  }
  std::string bad = std::string(path) + ".missing";
  for (const std::string& file : {bad, std::string(path)}) {
    if (file == path) {
      FILE* f = std::fopen(path, "w");
      std::fputs("{\"SECRET_KEY\": ", f);  // cut short
      std::fclose(f);
    }
    int status = 0;
    std::string out =
        output_of(std::string(GROVE_DEMO_PATH) + " --bind 127.0.0.1:0 --config " + file, &status);
    INFO(out);
    CHECK(out.find("error: config file " + file) != std::string::npos);
    CHECK(status == 2);
    CHECK(out.find("listening") == std::string::npos);
  }
  std::remove(path);
}

#endif  // GROVE_DEMO_PATH
