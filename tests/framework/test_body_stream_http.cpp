// request.stream() in coroutine views over real sockets, on every engine and both bridges:
// a 12 MiB body from curl and a chunked one from Python requests read piece by piece while
// the server answers other requests, a client that disconnects mid-body (a clear error in
// the view, the server carries on), MAX_CONTENT_LENGTH (413), and the misuse errors.
#include "http_support.hpp"

#include <unistd.h>

#include <grove/web/body_stream.hpp>

#include <atomic>
#include <fstream>
#include <mutex>
#include <sstream>

using namespace grove::web;
using namespace grove::web::test;

namespace {

// What the streamed views saw, for the test to read after the fact.
struct Seen {
  std::atomic<std::uint64_t> bytes{0};  // read by /count so far
  std::atomic<int> answered{0};         // /count views that finished
  std::mutex mutex;
  std::string last_error;
  void set_error(std::string e) {
    std::lock_guard lock(mutex);
    last_error = std::move(e);
  }
  std::string error() {
    std::lock_guard lock(mutex);
    return last_error;
  }
};

// A checksum that depends on every byte and its order: a body read out of order or with a
// piece lost or repeated does not match.
std::uint64_t fnv1a(std::uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  return h;
}
constexpr std::uint64_t kFnvBasis = 14695981039346656037ull;

grove::aio::Task<void> second_read(Request& req, Seen& seen) {
  try {
    (void)co_await req.stream().read(4);
    seen.set_error("the second read was let through");
  } catch (const std::logic_error& e) {
    seen.set_error(e.what());
  }
}

// /count reads the body with co_await request.stream().read() and answers
// "<bytes> <checksum> <reads>"; an error on the way is kept in `seen` and rethrown.
void streamed_routes(App& app, Seen& seen) {
  app.route("/count", {"POST"}, streamed_body([&seen](Request& req) -> grove::aio::Task<Response> {
              std::uint64_t total = 0, reads = 0, sum = kFnvBasis;
              try {
                while (true) {
                  std::string piece = co_await req.stream().read(64 * 1024);
                  if (piece.empty()) break;
                  total += piece.size();
                  seen.bytes += piece.size();
                  sum = fnv1a(sum, piece);
                  ++reads;
                }
              } catch (const HTTPException& e) {
                seen.set_error(std::to_string(e.code()) + " " + e.description());
                throw;
              }
              ++seen.answered;
              co_return Response::text(std::to_string(total) + " " + std::to_string(sum) + " " +
                                       std::to_string(reads));
            }));
  // load() reads it all into memory, after which form() works.
  app.route("/form", {"POST"}, streamed_body([](Request& req) -> grove::aio::Task<Response> {
              co_await req.stream().load();
              co_return Response::text(req.form()["a"] + "," + req.form()["b"]);
            }));
  // data() before the body was awaited is a misuse: a 500 naming what to do.
  app.route("/misuse", {"POST"}, streamed_body([&seen](Request& req) -> grove::aio::Task<Response> {
              try {
                (void)req.data();
              } catch (const std::logic_error& e) {
                seen.set_error(e.what());
                throw;
              }
              co_return Response::text("unreachable");
            }));
  // A sibling task that reads while the view's own read is in flight: a std::logic_error.
  app.route("/two-reads", {"POST"},
            streamed_body([&seen](Request& req) -> grove::aio::Task<Response> {
              auto sibling = grove::aio::create_task(second_read(req, seen));
              std::string piece = co_await req.stream().read(4);
              co_await sibling;
              co_return Response::text(piece);
            }));
  app.route("/ping", [] { return "pong"; });
  app.route("/last-error", [&seen] { return seen.error(); });
}

std::string python() {
  // Debian's python3 (with python3-requests), not whichever python3 is first on PATH.
  return ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

// The Python client: a chunked body from a generator that, halfway, asks the server for
// /ping on another connection (the view is suspended mid-body then: the answer proves the
// hub was not blocked); then a client that sends 1 MiB of a declared 10 MiB and closes.
const char* const kClient = R"(import sys, socket, time, urllib.request, requests
base, mode = sys.argv[1], sys.argv[2]
if mode == 'chunked':
    pinged = []
    def body():
        for i in range(64):
            if i == 32:
                pinged.append(urllib.request.urlopen(base + '/ping', timeout=20).read().decode())
            yield bytes((i * 7 + j) % 251 for j in range(65536))
    r = requests.post(base + '/count', data=body(), timeout=60)
    print(r.status_code, r.request.headers.get('Transfer-Encoding'), r.text, ' '.join(pinged))
elif mode == 'cut':
    host, port = base[len('http://'):].split(':')
    s = socket.create_connection((host, int(port)))
    s.sendall(b'POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\n')
    s.sendall(b'c' * (1 << 20))
    s.close()
    print('cut')
elif mode == 'two':
    host, port = base[len('http://'):].split(':')
    s = socket.create_connection((host, int(port)))
    s.sendall(b'POST /two-reads HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\nConnection: close\r\n\r\n')
    time.sleep(0.5)  # the view's first read waits for the body meanwhile
    s.sendall(b'abcdefgh')
    data = b''
    while True:
        piece = s.recv(65536)
        if not piece:
            break
        data += piece
    head, _, body = data.partition(b'\r\n\r\n')
    print(head.split(b'\r\n')[0].decode(), body.decode())
elif mode == 'hold':
    host, port = base[len('http://'):].split(':')
    s = socket.create_connection((host, int(port)))
    s.sendall(b'POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\n')
    s.sendall(b'h' * (1 << 20))
    s.settimeout(float(sys.argv[3]))
    try:
        s.recv(1)  # returns when the server closes the connection (or answers)
    except OSError:
        pass
elif mode == 'limit':
    r = requests.post(base + '/count', data=(b'x' * 65536 for _ in range(17)), timeout=60)
    print(r.status_code)
)";

std::uint64_t checksum_of_chunked() {
  std::uint64_t sum = kFnvBasis;
  std::string piece(65536, '\0');
  for (int i = 0; i < 64; ++i) {
    for (int j = 0; j < 65536; ++j) piece[std::size_t(j)] = char((i * 7 + j) % 251);
    sum = fnv1a(sum, piece);
  }
  return sum;
}

}  // namespace

TEST_CASE("web: http: a coroutine view reads a large body piece by piece with request.stream()",
          "[http][body_stream][tsan]") {
  const std::string bridge = GENERATE(as<std::string>{}, "green", "thread");
  INFO("bridge " << bridge);
  char dir[] = "/tmp/grove-body-stream-XXXXXX";
  REQUIRE(::mkdtemp(dir));
  const std::string d = dir;
  std::ofstream(d + "/client.py") << kClient;
  std::string big(12 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = char(i * 31 % 253);
  std::ofstream(d + "/big.bin", std::ios::binary) << big;

  App app;
  app.async_to_sync = bridge_from_name(bridge);
  Seen seen;
  streamed_routes(app, seen);
  ServedApp served(app, [](grove::http::ServerConfig& c) { c.limits.max_body = 64 << 20; });

  SECTION("12 MiB with a Content-Length from curl, in 64 KiB reads at most") {
    std::string out =
        run_client("curl -sS --data-binary @" + d + "/big.bin -H " +
                   "'Content-Type: application/octet-stream' '" + served.url("/count") + "'");
    std::istringstream fields(out.substr(out.find('\n') + 1));
    std::uint64_t total = 0, sum = 0, reads = 0;
    fields >> total >> sum >> reads;
    CHECK(out.starts_with("exit 0\n"));
    CHECK(total == big.size());
    CHECK(sum == fnv1a(kFnvBasis, big));
    CHECK(reads >= big.size() / (64 * 1024));  // never more than asked for per read
  }
  SECTION("4 MiB chunked from Python requests, the server answering /ping meanwhile") {
    std::string out = run_client(python() + " " + d + "/client.py " + served.base() + " chunked");
    CHECK(out.starts_with("exit 0\n200 chunked 4194304 " + std::to_string(checksum_of_chunked())));
    CHECK(out.ends_with(" pong\n"));
  }
  SECTION("a client that disconnects mid-body: a 400 in the view, the server carries on") {
    std::string out = run_client(python() + " " + d + "/client.py " + served.base() + " cut");
    CHECK(out == "exit 0\ncut\n");
    std::string error;
    for (int i = 0; i < 200 && error.empty(); ++i) {  // the view sees it after the close
      error = http_get(served.url("/last-error")).body;
      if (error.empty()) ::usleep(20000);
    }
    CHECK(error == "400 the client closed the connection before sending the whole body");
    CHECK(http_get(served.url("/ping")).body == "pong");
  }
  SECTION("one read at a time: a sibling task's read while one is in flight is refused") {
    std::string out = run_client(python() + " " + d + "/client.py " + served.base() + " two");
    CHECK(out == "exit 0\nHTTP/1.1 200 OK abcd\n");
    INFO(seen.error());
    CHECK(seen.error().find("await one read at a time") != std::string::npos);
  }
  SECTION("load() reads the body into memory, then form() works") {
    auto r = http({"POST",
                   served.url("/form"),
                   {"Content-Type: application/x-www-form-urlencoded"},
                   std::string("a=1&b=two")});
    CHECK(r.status == 200);
    CHECK(r.body == "1,two");
  }
  SECTION("data() before the body was awaited: 500 and a std::logic_error saying what to do") {
    auto r = http({"POST", served.url("/misuse"), {}, std::string("abc")});
    CHECK(r.status == 500);
    CHECK(seen.error().find("co_await request.stream().read(n), or co_await "
                            "request.stream().load()") != std::string::npos);
    CHECK(http_get(served.url("/ping")).body == "pong");
  }
  std::system(("rm -rf " + d).c_str());
}

TEST_CASE("web: http: request.stream() honours MAX_CONTENT_LENGTH and the server's --max-body",
          "[http][body_stream]") {
  const std::string bridge = GENERATE(as<std::string>{}, "green", "thread");
  INFO("bridge " << bridge);
  char dir[] = "/tmp/grove-body-limit-XXXXXX";
  REQUIRE(::mkdtemp(dir));
  const std::string d = dir;
  std::ofstream(d + "/client.py") << kClient;
  App app;
  app.async_to_sync = bridge_from_name(bridge);
  app.config["MAX_CONTENT_LENGTH"] = 1 << 20;
  Seen seen;
  streamed_routes(app, seen);
  ServedApp served(app, [](grove::http::ServerConfig& c) { c.limits.max_body = 2 << 20; });

  // A declared length over the limit: 413 before any of it is read.
  auto declared = http({"POST", served.url("/count"), {}, std::string((1 << 20) + 1, 'd')});
  CHECK(declared.status == 413);
  CHECK(seen.error().starts_with("413 "));
  seen.set_error("");
  // 1 MiB + 64 KiB chunked (no length to check first): 413 once the view has read past
  // 1 MiB (the rest is small enough for the server to drain: the client reads the answer).
  std::string out = run_client(python() + " " + d + "/client.py " + served.base() + " limit");
  CHECK(out == "exit 0\n413\n");
  CHECK(seen.error().starts_with("413 "));
  // Under the limit: read whole.
  auto fits = http({"POST", served.url("/count"), {}, std::string(1 << 20, 'f')});
  CHECK(fits.status == 200);
  CHECK(fits.body.starts_with("1048576 "));
  CHECK(http_get(served.url("/ping")).body == "pong");

  // The server's own limit applies too: no MAX_CONTENT_LENGTH, --max-body 2 MiB, a declared
  // length past it (a chunked body past it gets its 413 while the client is still sending,
  // and the server closes: whether the client reads the answer first is a race).
  App unlimited;
  unlimited.async_to_sync = bridge_from_name(bridge);
  streamed_routes(unlimited, seen);
  ServedApp served2(unlimited, [](grove::http::ServerConfig& c) { c.limits.max_body = 2 << 20; });
  auto server_limit = http({"POST", served2.url("/count"), {}, std::string((2 << 20) + 1, 'o')});
  CHECK(server_limit.status == 413);
  CHECK(http_get(served2.url("/ping")).body == "pong");
  std::system(("rm -rf " + d).c_str());
}

TEST_CASE("web: request.stream() in a coroutine view of the test client reads from memory",
          "[body_stream]") {
  App app;
  Seen seen;
  streamed_routes(app, seen);
  TestClient client(app);
  std::string body(200000, 'm');
  auto r = client.post("/count", body);
  CHECK(r.status == 200);
  CHECK(r.body == "200000 " + std::to_string(fnv1a(kFnvBasis, body)) + " 4");
}

TEST_CASE("web: http: a graceful stop ends a coroutine view waiting for the rest of its body",
          "[http][body_stream][tsan]") {
  const std::string bridge = GENERATE(as<std::string>{}, "green", "thread");
  INFO("bridge " << bridge);
  char dir[] = "/tmp/grove-body-hold-XXXXXX";
  REQUIRE(::mkdtemp(dir));
  const std::string d = dir;
  std::ofstream(d + "/client.py") << kClient;
  App app;
  app.async_to_sync = bridge_from_name(bridge);
  Seen seen;
  streamed_routes(app, seen);
  {
    ServedApp served(app, [](grove::http::ServerConfig& c) { c.limits.max_body = 64 << 20; });
    // The client sends 1 MiB of a declared 10 MiB and then holds the connection (up to 20 s).
    std::system((python() + " " + d + "/client.py " + served.base() + " hold 20 >/dev/null 2>&1 &")
                    .c_str());
    for (int i = 0; i < 500 && seen.bytes < (1 << 20); ++i) ::usleep(20000);
    REQUIRE(seen.bytes == (1u << 20));  // the view is waiting for the rest
    // Leaving the scope stops the server (1 s for in-flight requests, then they are ended):
    // it returns, with the coroutine and the read it waits on ended, long before the client
    // would send anything more.
  }
  CHECK(seen.answered == 0);
  CHECK(seen.bytes == (1u << 20));
  std::system(("rm -rf " + d).c_str());  // the client ends when the server closes on it
}
