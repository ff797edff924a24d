// app.websocket() through a real server and Python's `websockets` client: routing with
// parameters, blueprints, before_request refusing before the upgrade, the request context
// inside the handler, a refused plain GET, and a throwing handler (1011); coroutine
// handlers (web::AsyncWebSocket): echo, concurrent tasks on one WebSocket, a cancelled
// receive losing no message, and a graceful stop's 1001; web::Hub fan-out past a client
// that never reads. On every engine.
#include "http_support.hpp"
#include "python.hpp"

#include <grove/http/websocket.hpp>
#include <grove/web/hub.hpp>

#include <grove/aio.hpp>

#include <cstdio>
#include <fstream>

using namespace grove::web;
using namespace grove::web::test;
namespace ws = grove::http::ws;
namespace aio = grove::aio;

namespace {

int run(const std::string& cmd, std::string* out) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  std::size_t n;
  out->clear();
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

bool have_websockets() {
  std::string out;
  if (run(grove::test::python3() + " -c 'import websockets'", &out) == 0) return true;
  WARN("python3-websockets is not installed (scripts/install-deps.sh test)");
  return false;
}

// Runs a Python client: `body` defines `async def main()`, which may use `base` (the
// served app's ws:// URL) and prints what the test checks.
int run_client(const std::string& body, const std::string& base_url, std::string* out) {
  std::string script = "/tmp/grove-web-ws-" + std::to_string(::getpid()) + ".py";
  std::ofstream(script) << "import asyncio, sys, websockets\n"
                           "base = sys.argv[1].replace('http://', 'ws://')\n"
                        << body << "\nasyncio.run(main())\n";
  int rc = run(grove::test::python3() + " " + script + " " + base_url, out);
  std::remove(script.c_str());
  INFO(*out);
  return rc;
}

void build(App& app, Blueprint& bp) {
  app.before_request([](Request& r) -> std::optional<Response> {
    if (r.path() == "/ws/private") return Response("members only", 403);
    return std::nullopt;
  });
  app.websocket("/ws/<room>", [](ws::WebSocket& w) {
    // The request context is there: the rule's parameters, the path.
    w.send("joined " + request().view_args()["room"] + " at " + request().path());
    while (auto m = w.receive()) w.send(request().view_args()["room"] + ": " + m->data);
  });
  app.websocket("/boom", [](ws::WebSocket& w) {
    w.receive();
    throw std::runtime_error("handler bug");
  });
  bp.websocket("/echo", [](ws::WebSocket& w) {
    while (auto m = w.receive()) w.send(*m);
  });
  app.register_blueprint(bp);
}

// Coroutine handlers.
void build_async(App& app) {
  app.websocket("/async/<room>", [](AsyncWebSocket& w) -> aio::Task<void> {
    co_await w.send("async " + request().view_args()["room"]);
    while (auto m = co_await w.receive()) co_await w.send(*m);
  });
  // Two tasks on one WebSocket: one receives, one sends a tick until told to stop.
  app.websocket("/ticker", [](AsyncWebSocket& w) -> aio::Task<void> {
    bool stop = false;
    auto ticker = aio::create_task([](AsyncWebSocket& w, bool& stop) -> aio::Task<void> {
      for (int i = 0; !stop; ++i) {
        co_await w.send("tick " + std::to_string(i));
        co_await aio::sleep(std::chrono::milliseconds(5));
      }
    }(w, stop));
    auto m = co_await w.receive();
    stop = true;
    co_await ticker;
    std::string why = m ? m->data : "close";  // named: a ?: inside co_await (docs/aio.md)
    co_await w.send("stopped by " + why);
    co_await w.close(4000, "done");
  });
  // A receive abandoned by wait_for loses nothing: the next receive gets the message.
  app.websocket("/patient", [](AsyncWebSocket& w) -> aio::Task<void> {
    bool timed_out = false;
    try {
      co_await aio::wait_for(w.receive(), std::chrono::milliseconds(30));
    } catch (const aio::TimeoutError&) {
      timed_out = true;
    }
    co_await w.send(std::string(timed_out ? "timed out" : "unexpected message"));
    auto m = co_await w.receive();
    std::string got = m ? m->data : "nothing";
    co_await w.send("then " + got);
  });
}

// A room on a web::Hub: "flood N" publishes N messages of 64 KiB (numbered) to the room at
// once;
// anything else is published as it is. /hub/stats says how many messages were dropped.
void build_hub(App& app, Hub& hub) {
  app.websocket("/ws/room", [&hub](ws::WebSocket& w) {
    auto member = hub.join("room", w);  // up to 256 pending messages each
    while (auto m = w.receive()) {
      if (m->data.rfind("flood ", 0) == 0) {
        int n = std::stoi(m->data.substr(6));
        for (int i = 0; i < n; ++i)
          hub.publish("room", std::to_string(i) + ":" + std::string(64 * 1024, 'x'));
      } else {
        hub.publish("room", m->data);
      }
    }
  });
  app.route("/hub/stats", [&hub] {
    return Response(Json{{"members", std::int64_t(hub.size("room"))},
                         {"dropped", std::int64_t(hub.dropped())}});
  });
}

}  // namespace

TEST_CASE("web::Hub: a client that never reads does not stall the room's other members") {
  if (!have_websockets()) return;
  App app("hub");
  Hub hub;
  build_hub(app, hub);
  ServedApp served(app);
  std::string out;
  int rc = run_client(R"py(
import json, socket, urllib.request
def stats():
    return json.load(urllib.request.urlopen(sys.argv[1] + "/hub/stats"))
async def main():
    host, port = sys.argv[1][len("http://"):].split(":")
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect((host, int(port)))
    slow.sendall(("GET /ws/room HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += slow.recv(1)
    print(head.split(b"\r\n")[0].decode())
    async with websockets.connect(base + "/ws/room", max_size=None) as fast:
        while stats()["members"] < 2:
            await asyncio.sleep(0.05)
        # Twice 200 messages: the fast member's queue never holds more than 200; the slow
        # one's fills past 256 in the second round (its socket took a few MB and stopped).
        for _ in range(2):
            await fast.send("flood 200")
            got = [(await asyncio.wait_for(fast.recv(), 30)).split(":")[0] for _ in range(200)]
            print("fast got", len(got), "in order" if got == [str(i) for i in range(200)] else "out of order")
        await fast.send("still here")
        print("fast got", await asyncio.wait_for(fast.recv(), 30))
    print("dropped for the slow one:", "some" if stats()["dropped"] > 0 else "none")
    slow.close()
)py",
                      served.base(), &out);
  CHECK(rc == 0);
  CHECK(out.find("HTTP/1.1 101 Switching Protocols") != std::string::npos);
  CHECK(out.find("fast got 200 in order") != std::string::npos);
  CHECK(out.find("fast got still here") != std::string::npos);
  CHECK(out.find("dropped for the slow one: some") != std::string::npos);
}

TEST_CASE("app.websocket: routing, blueprints, hooks and the request context over a real server") {
  std::string out;
  if (!have_websockets()) return;
  App app("ws");
  Blueprint bp("bp", "/bp");
  build(app, bp);
  ServedApp served(app);
  int rc = run_client(R"py(
async def main():
    out = []
    async with websockets.connect(base + "/ws/lobby") as ws:
        out.append(await ws.recv())
        await ws.send("hi")
        out.append(await ws.recv())
    async with websockets.connect(base + "/bp/echo", compression="deflate") as ws:
        await ws.send("via blueprint")
        out.append("bp=" + await ws.recv())
    try:
        async with websockets.connect(base + "/ws/private") as ws:
            out.append("private: connected")
    except websockets.exceptions.InvalidStatusCode as e:
        out.append("private: %d" % e.status_code)
    async with websockets.connect(base + "/boom") as ws:
        await ws.send("x")
        try:
            await ws.recv()
        except websockets.exceptions.ConnectionClosed as e:
            out.append("boom: %d" % e.code)
    print("\n".join(out))
)py",
                      served.base(), &out);
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find("joined lobby at /ws/lobby") != std::string::npos);
  CHECK(out.find("lobby: hi") != std::string::npos);
  CHECK(out.find("bp=via blueprint") != std::string::npos);
  CHECK(out.find("private: 403") != std::string::npos);
  CHECK(out.find("boom: 1011") != std::string::npos);
  // A plain GET to a WebSocket route is refused, and the app serves on.
  auto plain = http_get(served.url("/ws/lobby"));
  CHECK(plain.status == 400);
  CHECK(plain.body.find("Upgrade: websocket") != std::string::npos);
}

TEST_CASE("app.websocket: coroutine handlers over a real server") {
  std::string out;
  if (!have_websockets()) return;
  App app("ws-async");
  build_async(app);
  ServedApp served(app);
  int rc = run_client(R"py(
async def main():
    out = []
    async with websockets.connect(base + "/async/lobby", compression="deflate") as ws:
        out.append(await ws.recv())
        for i in range(3):
            await ws.send("m%d" % i)
            out.append("echo " + await ws.recv())
        await ws.send(b"\x00\x01")
        out.append("binary %r" % (await ws.recv()))
    async with websockets.connect(base + "/ticker") as ws:
        ticks = [await ws.recv() for _ in range(3)]
        out.append("ticks " + ",".join(ticks))
        await ws.send("client")
        while True:
            m = await ws.recv()
            if not m.startswith("tick"):
                break
        out.append(m)
        try:
            await ws.recv()
        except websockets.exceptions.ConnectionClosed as e:
            out.append("ticker closed %d %s" % (e.code, e.reason))
    async with websockets.connect(base + "/patient") as ws:
        out.append(await ws.recv())
        await ws.send("late")
        out.append(await ws.recv())
    print("\n".join(out))
)py",
                      served.base(), &out);
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find("async lobby\n") != std::string::npos);
  CHECK(out.find("echo m0\necho m1\necho m2\n") != std::string::npos);
  CHECK(out.find("binary b'\\x00\\x01'") != std::string::npos);
  CHECK(out.find("ticks tick 0,tick 1,tick 2") != std::string::npos);
  CHECK(out.find("stopped by client") != std::string::npos);
  CHECK(out.find("ticker closed 4000 done") != std::string::npos);
  CHECK(out.find("timed out\nthen late") != std::string::npos);
}

TEST_CASE("app.websocket: a graceful stop says 1001 to a coroutine handler's client") {
  if (!have_websockets()) return;
  App app("ws-stop");
  build_async(app);
  ServedApp served(app);
  std::string script = "/tmp/grove-web-ws-stop-" + std::to_string(::getpid()) + ".py";
  std::ofstream(script) << R"py(
import asyncio, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1].replace("http://", "ws://") + "/async/x") as ws:
        print(await ws.recv(), flush=True)
        try:
            await ws.recv()
        except websockets.exceptions.ConnectionClosed as e:
            print("closed %d" % e.code, flush=True)
asyncio.run(main())
)py";
  FILE* p =
      ::popen((grove::test::python3() + " " + script + " " + served.base() + " 2>&1").c_str(), "r");
  REQUIRE(p);
  char line[512] = {};
  REQUIRE(std::fgets(line, sizeof line, p));
  CHECK(std::string(line) == "async x\n");
  served.server().stop_threadsafe(10s);
  std::string rest;
  while (std::fgets(line, sizeof line, p)) rest += line;
  int status = ::pclose(p);
  std::remove(script.c_str());
  INFO(rest);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(rest == "closed 1001\n");
}
