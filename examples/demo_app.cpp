// grove-demo: the framework served by the green-thread server.
//
//   grove-demo                         # compat on, green bridge, default engine, 127.0.0.1:8000
//   grove-demo --bridge thread         # asgiref's model: works, slowly, and says why
//   grove-demo --upstream http://127.0.0.1:9000 --workers 2 --access-log -
//   grove-demo --config demo.json      # app.config from a JSON file ({"SECRET_KEY": "..."})
//   grove-demo --database-url "host=127.0.0.1 dbname=app" --redis-url redis://127.0.0.1:6379
//
// Every standard serve flag applies (--bind, --workers, --engine, --compat/--no-compat,
// the limits and timeouts, the logs; see --help), and web::serve's --config and --env-prefix.
// Routes:
//   GET  /hello                 Hello, World! (text/plain)
//   GET  /json                  {"message":"Hello, World!"}
//   GET  /sleep?ms=N            sync view, plain usleep(): cooperative only through compat
//   GET  /async-sleep?ms=N      coroutine view, co_await aio::sleep
//   GET  /delay?ms=N            answers after N ms (the upstream of the fan-outs)
//   GET  /fanout?n=3&ms=50      coroutine: n upstream /delay fetches gathered (aio HTTP client)
//   GET  /fanout-sync?n=3&ms=50 sync: the same fetches one after another (libcurl easy API)
//   POST /echo                  the body back, chunked or not
//   GET  /stream?n=N            N chunks, streamed
//   GET  /error                 throws; the app's error handler answers 500 with JSON
//   GET  /visits                counts this client's visits in its session (needs SECRET_KEY)
//   POST /upload                multipart/form-data: "<files> <bytes>" of its file parts
//   POST /upload-raw            plain view: the body's size, read with request.read()
//   POST /upload-stream         coroutine view: the same with co_await request.stream().read()
//   GET  /static/<path>         the files under config STATIC_FOLDER, when set
//   WS   /ws/echo               a WebSocket that sends every message back (docs/websocket.md)
//   GET  /chat                  a chat page: its JavaScript joins /ws/chat/lobby
//   WS   /ws/chat/<room>        every message goes to everyone in the room (web::Hub)
//   GET  /db?ms=N               coroutine view: pg_sleep through grove::pg's pool (--database-url)
//   GET  /db-sync?ms=N          plain view: the same through unmodified libpq, under compat
//   GET  /counter?name=x        coroutine view: INCR through grove::redis's pool (--redis-url)
//   GET  /tasks/add?a=2&b=3     enqueues a background task (--redis-url); grove-worker runs it
//   GET  /tasks/sleep?ms=N      enqueues a blocking-sleep task
//   GET  /tasks/record?key=k&ms=N  enqueues a task recording its result in PostgreSQL once
//   GET  /tasks/result/<id>     a task's status and result
// The database routes exist when grove-demo is built with the database clients
// (GROVE_BUILD_CLIENTS) and their flag is given; without a flag it needs no database.
//
// Built with GROVE_DEMO_AS_LIBRARY, this file provides make_demo_app() without main(), so
// the test suite drives the very same app through the test client.
#include "demo_app.hpp"

#include <grove/aio.hpp>
#include <grove/compat.hpp>
#include <grove/green.hpp>
#include <grove/http.hpp>
#include <grove/web.hpp>

#ifndef GROVE_DEMO_AS_LIBRARY
#include <CLI/CLI.hpp>
#endif
#ifdef GROVE_DEMO_DATABASES
#include "demo_databases.hpp"
#endif
#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace web = grove::web;
namespace aio = grove::aio;
using namespace std::chrono_literals;

namespace {

// The /chat page: joins /ws/chat/lobby and shows what the room says (tested in a real
// browser, headless Chromium, by tests/framework/test_demo.cpp).
constexpr std::string_view kChatPage = R"html(<!doctype html>
<html><head><meta charset="utf-8"><title>grove chat</title></head>
<body>
<h1>grove chat</h1>
<p id="state">connecting</p>
<form id="form"><input id="text" autocomplete="off"><button>Send</button></form>
<ul id="messages"></ul>
<script>
const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/chat/lobby";
const ws = new WebSocket(url);
const state = document.getElementById("state");
ws.onopen = () => { state.textContent = "connected"; };
ws.onclose = (e) => { state.textContent = "closed " + e.code; };
ws.onmessage = (e) => {
  const li = document.createElement("li");
  li.textContent = e.data;
  document.getElementById("messages").appendChild(li);
};
document.getElementById("form").onsubmit = (e) => {
  e.preventDefault();
  const text = document.getElementById("text");
  if (text.value) ws.send(text.value);
  text.value = "";
};
</script>
</body></html>
)html";

using Clock = std::chrono::steady_clock;

int clamp_arg(const web::Request& req, const char* name, int fallback, int lo, int hi) {
  return std::clamp(req.args().get_as<int>(name, fallback), lo, hi);
}

std::string upstream_of(const DemoOptions& o, const web::Request& req) {
  if (!o.upstream.empty()) return o.upstream;
  return "http://" + req.host();  // this server, as the client reached it
}

long elapsed_ms(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

aio::Task<web::Json> fanout(std::string base, int n, int ms) {
  auto start = Clock::now();
  aio::HttpClient http;
  std::vector<aio::Task<aio::HttpResponse>> fetches;
  for (int i = 0; i < n; ++i)
    fetches.push_back(http.get(base + "/delay?ms=" + std::to_string(ms), {}, 10s));
  std::vector<aio::HttpResponse> responses = co_await aio::gather(std::move(fetches));
  web::Json statuses = web::Json::array();
  for (auto& r : responses) statuses.push_back(r.status);
  co_return web::Json{{"statuses", statuses}, {"elapsed_ms", elapsed_ms(start)}};
}

size_t discard(char*, size_t size, size_t n, void*) { return size * n; }

web::Json fanout_sync(const std::string& base, int n, int ms) {
  auto start = Clock::now();
  web::Json statuses = web::Json::array();
  std::unique_ptr<CURL, void (*)(CURL*)> easy(curl_easy_init(), curl_easy_cleanup);
  if (!easy) throw std::runtime_error("curl_easy_init failed");
  std::string url = base + "/delay?ms=" + std::to_string(ms);
  for (int i = 0; i < n; ++i) {
    curl_easy_setopt(easy.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy.get(), CURLOPT_WRITEFUNCTION, &discard);
    curl_easy_setopt(easy.get(), CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(easy.get(), CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(easy.get());
    if (rc != CURLE_OK)
      throw std::runtime_error("GET " + url + " failed: " + curl_easy_strerror(rc));
    long status = 0;
    curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &status);
    statuses.push_back(status);
  }
  return web::Json{{"statuses", statuses}, {"elapsed_ms", elapsed_ms(start)}};
}

aio::Task<void> async_teardown_hook() {
  co_await aio::sleep(0ms);
  web::request().g().erase("demo.start");  // the request is still readable here
}

// The upload routes (bench/run_web_files.sh compares them) and the static folder.
void add_upload_routes(web::App& app) {
  app.route("/upload", {"POST"}, [](web::Request& req) {
    std::uint64_t files = 0, bytes = 0;
    for (const auto& [name, file] : req.files()) {
      ++files;
      bytes += file.size();
    }
    return web::Response::text(std::to_string(files) + " " + std::to_string(bytes));
  });
  app.route("/upload-raw", {"POST"}, [](web::Request& req) {
    std::string buf(64 * 1024, '\0');
    std::uint64_t bytes = 0;
    while (std::size_t n = req.read(buf.data(), buf.size())) bytes += n;
    return web::Response::text(std::to_string(bytes));
  });
  app.route("/upload-stream", {"POST"},
            web::streamed_body([](web::Request& req) -> aio::Task<web::Response> {
              std::uint64_t bytes = 0;
              while (true) {
                std::string piece = co_await req.stream().read(64 * 1024);
                if (piece.empty()) break;
                bytes += piece.size();
              }
              co_return web::Response::text(std::to_string(bytes));
            }));
  std::string folder = app.config.get<std::string>("STATIC_FOLDER", "");
  if (!folder.empty()) app.serve_static(folder);
}

}  // namespace

void make_demo_app(web::App& app, std::shared_ptr<DemoOptions> options) {
  app.route("/hello", [] { return web::Response::text("Hello, World!"); });
  app.route("/json", [] { return web::Json{{"message", "Hello, World!"}}; });

  app.route("/sleep", [](web::Request& req) {
    ::usleep(static_cast<useconds_t>(clamp_arg(req, "ms", 0, 0, 60'000)) * 1000);
    return web::Response::text("ok");
  });
  app.route("/async-sleep", [](web::Request& req) -> aio::Task<web::Response> {
    co_await aio::sleep(std::chrono::milliseconds(clamp_arg(req, "ms", 0, 0, 60'000)));
    co_return web::Response::text("ok");
  });
  // The upstream: waits without holding anything, with or without compat.
  app.route("/delay", [](web::Request& req) {
    grove::green::sleep(std::chrono::milliseconds(clamp_arg(req, "ms", 0, 0, 60'000)));
    return web::Response::text("ok");
  });

  app.route("/fanout", [options](web::Request& req) -> aio::Task<web::Json> {
    return fanout(upstream_of(*options, req), clamp_arg(req, "n", 3, 0, 100),
                  clamp_arg(req, "ms", 50, 0, 60'000));
  });
  app.route("/fanout-sync", [options](web::Request& req) {
    return fanout_sync(upstream_of(*options, req), clamp_arg(req, "n", 3, 0, 100),
                       clamp_arg(req, "ms", 50, 0, 60'000));
  });

  app.route("/echo", {"POST"}, [](web::Request& req) {
    web::Response r(req.data());
    r.set_mimetype(req.content_type().empty() ? "application/octet-stream" : req.content_type());
    return r;
  });
  app.route("/stream", [](web::Request& req) {
    int n = clamp_arg(req, "n", 10, 0, 100'000);
    return web::Response::stream(
        [i = 0, n]() mutable -> std::optional<std::string> {
          if (i >= n) return std::nullopt;
          return "chunk " + std::to_string(i++) + "\n";
        },
        200, {{"Content-Type", "text/plain; charset=utf-8"}});
  });

  app.route("/error",
            []() -> web::Response { throw std::runtime_error("the /error route always fails"); });
  app.route("/visits", [] {
    std::int64_t n = web::session().get<std::int64_t>("visits", 0) + 1;
    web::session()["visits"] = n;
    return web::Response::text(std::to_string(n));
  });
  add_upload_routes(app);
  app.websocket("/ws/echo", [](grove::http::ws::WebSocket& ws) {
    while (auto msg = ws.receive()) ws.send(*msg);
  });
  // One Hub per process (each worker has its own rooms).
  auto chat = std::make_shared<web::Hub>();
  app.websocket("/ws/chat/<room>", [chat](grove::http::ws::WebSocket& ws) {
    std::string room = web::request().view_args()["room"];
    auto member = chat->join(room, ws);
    while (auto msg = ws.receive())
      if (!msg->binary) chat->publish(room, msg->data);
  });
  app.route("/chat", [] {
    web::Response r{std::string(kChatPage)};
    r.headers.set("Content-Type", "text/html; charset=utf-8");
    return r;
  });
  app.errorhandler(500, [](const web::HTTPException& e) {
    std::string detail = "internal error";
    if (auto* ise = dynamic_cast<const web::InternalServerError*>(&e);
        ise && ise->original_exception()) {
      try {
        std::rethrow_exception(ise->original_exception());
      } catch (const std::exception& x) {
        detail = x.what();
      } catch (...) {
      }
    }
    return web::Response(web::Json{{"error", e.name()}, {"detail", detail}, {"status", 500}}, 500);
  });

  if (options->async_teardown) app.teardown_request(&async_teardown_hook);
#ifdef GROVE_DEMO_DATABASES
  add_database_routes(app, {options->database_url, options->redis_url, options->db_pool_size,
                            options->tasks_prefix});
#else
  if (!options->database_url.empty() || !options->redis_url.empty())
    throw std::invalid_argument(
        "--database-url and --redis-url need a grove-demo built with the database clients "
        "(cmake -DGROVE_BUILD_CLIENTS=ON, with libpq-dev from scripts/install-deps.sh test)");
#endif
}

#ifndef GROVE_DEMO_AS_LIBRARY
int main(int argc, char** argv) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  web::App app("grove-demo");
  auto options = std::make_shared<DemoOptions>();
  std::string bridge = "green";

  grove::http::ServeOptions serve;
  serve.description = "grove-demo: the grove web framework on the green-thread HTTP server";
  serve.config.compat = true;  // the demo's default; --no-compat turns it off
  serve.add_flags = [&](void* cli) {
    auto* c = static_cast<CLI::App*>(cli);
    c->add_option("--bridge", bridge,
                  "How coroutine views run: green (on the hub) or thread (asgiref's model)")
        ->check(CLI::IsMember({"green", "thread"}));
    c->add_option("--upstream", options->upstream,
                  "Base URL the fan-out routes fetch /delay from (default: this server)");
    c->add_flag("--async-teardown", options->async_teardown,
                "Also register a coroutine teardown_request hook");
    c->add_option("--database-url", options->database_url,
                  "PostgreSQL for /db and /db-sync (libpq connection string or postgresql:// URI)");
    c->add_option("--redis-url", options->redis_url,
                  "Redis for /counter and /tasks/... (redis://host:port/db)");
    c->add_option(
        "--tasks-prefix", options->tasks_prefix,
        "Key prefix of the background tasks (default grove-demo:tasks; grove-worker --prefix)");
    c->add_option("--db-pool-size", options->db_pool_size,
                  "Connections per database pool (default 100)");
  };
  serve.configure = [&](grove::http::ServerConfig& config) {
    app.async_to_sync = web::bridge_from_name(bridge);
    make_demo_app(app, options);
#ifdef GROVE_DEMO_DATABASES
    check_databases(
        {options->database_url, options->redis_url, options->db_pool_size, options->tasks_prefix});
#endif
    // The fan-outs' default upstream is this server: prefer its first TCP address.
    if (options->upstream.empty() && !config.binds.empty()) {
      const std::string& b = config.binds.front();
      bool tcp = b.rfind("unix:", 0) != 0 && b.size() > 2 && b.substr(b.size() - 2) != ":0";
      if (tcp) options->upstream = "http://" + b;
    }
    app.check_deployment(config.compat, true);
    if (bridge == "thread" && app.has_coroutines())
      grove::compat::warn(
          "demo.thread-bridge-self-upstream",
          "grove-demo: with --bridge thread, /fanout must not fetch from this same server (the "
          "default --upstream): the hub that would answer /delay is blocked while the "
          "coroutine runs, so each fetch waits for its 10 s timeout and the request fails. "
          "Use --bridge green, or point --upstream at another server");
    if (!config.compat)
      grove::compat::warn(
          "demo.no-compat-blocking-views",
          "grove-demo: without compat, /sleep (usleep) and /fanout-sync (libcurl's blocking "
          "easy API) block the hub: every other connection waits while they run, and "
          "/fanout-sync against this same server waits for its own /delay until it times out. "
          "Drop --no-compat");
  };
  return web::serve(app, argc, argv, std::move(serve));
}
#endif
