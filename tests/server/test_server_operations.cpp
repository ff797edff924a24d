// Operations: the Prometheus metrics listener, scraped by the Prometheus project's own text
// format parser (python3-prometheus-client) over real HTTP, and the health path the server
// answers before the application (200, 503 not ready, 503 while draining), the green-thread
// dump (GET /debug/green, SIGUSR1), and metrics through a stop. On every engine.
#include "server_support.hpp"
#include "test_certs.hpp"

#include <grove/green/introspect.hpp>
#include <grove/http/metrics.hpp>
#include <grove/http/tls.hpp>
#include <grove/http/websocket.hpp>

#include <atomic>
#include <random>

using namespace grove::http;
using namespace grove::http::test;

namespace {

// Scrapes `url` with urllib and parses it with prometheus_client's parser; prints the
// Content-Type, each family and each sample (labels as sorted JSON), and whether every
// histogram's buckets rise and end at its _count.
const char* const kScrape = R"PY(
import json, sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
    print('content-type', r.headers['Content-Type'])
    text = r.read().decode()
consistent = True
for fam in text_string_to_metric_families(text):
    print('family', fam.name, fam.type)
    buckets, counts = {}, {}
    for s in fam.samples:
        print('sample', s.name, json.dumps(s.labels, sort_keys=True), float(s.value))
        key = json.dumps({k: v for k, v in s.labels.items() if k != 'le'}, sort_keys=True)
        if s.name.endswith('_bucket'):
            buckets.setdefault(key, []).append(s.value)
        if s.name.endswith('_count'):
            counts[key] = s.value
    for key, values in buckets.items():
        if values != sorted(values) or values[-1] != counts.get(key):
            consistent = False
print('histograms', 'consistent' if consistent else 'INCONSISTENT')
)PY";

bool have_prometheus_parser() {
  if (run_command(python3() + " -c 'import prometheus_client.parser'") == 0) return true;
  if (const char* ci = std::getenv("CI"); ci && *ci)
    FAIL(
        "python3-prometheus-client is not installed, and CI is set (scripts/install-deps.sh test)");
  WARN("python3-prometheus-client is not installed (scripts/install-deps.sh test): skipped");
  return false;
}

std::string scrape(const std::string& url) {
  TempDir dir;
  std::string script = dir.path + "/scrape.py";
  {
    FILE* f = std::fopen(script.c_str(), "w");
    REQUIRE(f);
    std::fputs(kScrape, f);
    std::fclose(f);
  }
  std::string out;
  int rc = run_command(python3() + " " + script + " " + url, &out);
  INFO(out);
  REQUIRE(rc == 0);
  return out;
}

// An application with one templated route, as a framework would label it.
Application routed_app() {
  return [](Request& req) -> Response {
    std::string path(req.path());
    if (path.starts_with("/user/")) {
      Response r = Response::text("user " + path.substr(6));
      r.route = "/user/<id>";
      return r;
    }
    return Response(404, "no such page\n");
  };
}

// The metrics listener's port.
int metrics_port(ServerThread& t) {
  const std::string address = t.server().metrics_address();
  REQUIRE_FALSE(address.empty());
  return std::stoi(address.substr(address.rfind(':') + 1));
}

// A handler parked in a function of its own until released (the dump must name it).
struct Blocked {
  std::atomic<bool> entered{false};
  std::atomic<bool> release{false};
};
[[gnu::noinline]] int handler_waiting_in_named_function(Blocked& b) {
  b.entered = true;
  for (int i = 0; i < 2000 && !b.release; ++i) grove::green::sleep(5ms);
  asm volatile("" ::: "memory");
  return b.release ? 1 : 0;
}

// /block parks in handler_waiting_in_named_function; /ws holds a WebSocket open; the rest
// answer at once.
Application blocking_app(Blocked& b) {
  return [&b](Request& req) -> Response {
    if (req.path() == "/block")
      return Response::text(std::to_string(handler_waiting_in_named_function(b)));
    if (req.path() == "/ws")
      return ws::accept(req, [](ws::WebSocket& w) {
        while (w.receive()) {
        }
      });
    return Response::text("ok");
  };
}

void wait_until(const std::atomic<bool>& flag) {
  for (int i = 0; i < 2000 && !flag; ++i) std::this_thread::sleep_for(5ms);
  REQUIRE(flag);
}

// A server with metrics on whose /block request is in flight (parked in its handler).
struct BlockedServer {
  Blocked blocked;
  ServerThread t{blocking_app(blocked), [] {
                   ServerConfig config;
                   config.metrics_bind = "127.0.0.1:0";
                   return config;
                 }()};
  Socket busy = Socket::tcp(t.port());
  BlockedServer() {
    busy.send("GET /block HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_until(blocked.entered);
  }
  // Lets the handler return; its response says it was released.
  void release() {
    blocked.release = true;
    ResponseReader rr(busy);
    auto r = rr.next();
    REQUIRE(r);
    CHECK(r->body == "1");
  }
};

}  // namespace

TEST_CASE(
    "server: metrics: requests by route and status, latency histograms and connections, "
    "scraped by Prometheus's parser",
    "[server][metrics]") {
  if (!have_prometheus_parser()) return;
  ServerConfig config;
  config.metrics_bind = "127.0.0.1:0";
  ServerThread t(routed_app(), config);
  const std::string metrics = t.server().metrics_address();
  REQUIRE_FALSE(metrics.empty());
  CHECK(t.addresses().size() == 1);  // the metrics listener is not one of the app's

  for (int i = 0; i < 3; ++i) CHECK(get(t.port(), "/user/" + std::to_string(i)).status == 200);
  CHECK(get(t.port(), "/nowhere").status == 404);
  CHECK(request(t.port(), "GET /x HTTP/1.1\r\nHost: t\r\nContent-Length: nope\r\n\r\n").status ==
        400);
  // The app's port does not serve metrics, and the metrics port does not serve the app.
  CHECK(get(t.port(), "/metrics").status == 404);
  std::uint64_t id = add_metrics_collector([](MetricsWriter& w) {
    w.gauge("test_pool_connections", "A collector's gauge.", 1.5, {{"pool", R"(a"b\c)"}});
  });
  std::string out = scrape("http://" + metrics + "/metrics");
  remove_metrics_collector(id);
  INFO(out);
  CHECK(out.find("content-type text/plain; version=0.0.4; charset=utf-8") != std::string::npos);
  CHECK(out.find("family grove_http_requests counter") != std::string::npos);
  CHECK(out.find(
            R"(sample grove_http_requests_total {"route": "/user/<id>", "status": "200"} 3.0)") !=
        std::string::npos);
  // /nowhere and /metrics on the app's port.
  CHECK(out.find(R"(sample grove_http_requests_total {"route": "", "status": "404"} 2.0)") !=
        std::string::npos);
  CHECK(out.find(R"(sample grove_http_requests_total {"route": "", "status": "400"} 1.0)") !=
        std::string::npos);
  CHECK(out.find("family grove_http_request_duration_seconds histogram") != std::string::npos);
  CHECK(
      out.find(R"(sample grove_http_request_duration_seconds_count {"route": "/user/<id>"} 3.0)") !=
      std::string::npos);
  CHECK(
      out.find(
          R"(sample grove_http_request_duration_seconds_bucket {"le": "+Inf", "route": "/user/<id>"} 3.0)") !=
      std::string::npos);
  CHECK(out.find("histograms consistent") != std::string::npos);
  CHECK(out.find("sample grove_http_connections_open {} ") != std::string::npos);
  CHECK(out.find("sample grove_green_threads_alive {} ") != std::string::npos);
  CHECK(out.find(R"(sample test_pool_connections {"pool": "a\"b\\c"} 1.5)") != std::string::npos);
  // Nothing but /metrics on the metrics listener.
  auto colon = metrics.rfind(':');
  CHECK(get(std::stoi(metrics.substr(colon + 1)), "/user/1").status == 404);
}

TEST_CASE("server: metrics: the listener is loopback-only unless made public",
          "[server][metrics]") {
  ServerConfig config;
  config.binds = {"127.0.0.1:0"};
  config.metrics_bind = "0.0.0.0:0";
  Server server(routed_app(), config);
  CHECK_THROWS_WITH(server.start(), Catch::Contains("is not a loopback address"));
  CHECK_THROWS_WITH(MetricsWriter().gauge("bad-name", "", 1),
                    Catch::Contains("not a valid metric name"));
}

TEST_CASE(
    "server: the health path is answered before the app: 200, 503 not ready, 503 while draining",
    "[server][health]") {
  std::atomic<int> app_calls{0};
  std::atomic<bool> ready{true};
  ServerConfig config;
  config.health_path = "/healthz";
  config.health_drain_delay = 2s;  // cut short by the second stop below
  config.readiness = [&ready] { return ready.load(); };
  ServerThread t(
      [&app_calls](Request&) {
        ++app_calls;
        return Response::text("app");
      },
      config);

  auto ok = get(t.port(), "/healthz");
  CHECK(ok.status == 200);
  CHECK(ok.body == "ok\n");
  ready = false;
  auto not_ready = get(t.port(), "/healthz");
  CHECK(not_ready.status == 503);
  CHECK(not_ready.body == "not ready\n");
  ready = true;
  CHECK(app_calls == 0);
  CHECK(get(t.port(), "/other").body == "app");

  // A stop first drains: the health path says 503 while requests are still served, so a
  // balancer takes the instance out before it stops accepting.
  t.server().stop_threadsafe(5s);
  std::optional<HttpResponse> draining;
  for (int i = 0; i < 100 && !(draining && draining->status == 503); ++i) {
    draining = try_get(t.port(), "/healthz");
    if (!draining || draining->status != 503) std::this_thread::sleep_for(1ms);
  }
  REQUIRE(draining);
  CHECK(draining->status == 503);
  CHECK(draining->body == "draining\n");
  auto during = try_get(t.port(), "/other");
  REQUIRE(during);
  CHECK(during->body == "app");
  t.stop();
  CHECK(t.finished());
}

TEST_CASE("server: metrics: the run-queue delay, TLS and WebSocket connections and pool figures",
          "[server][metrics]") {
  if (!have_prometheus_parser()) return;
  grove::test::TestCertificates certs;
  TlsConfig tls;
  tls.certificate = {certs.server.cert, certs.server.key};
  Blocked blocked;
  ServerConfig config;
  config.binds = {"127.0.0.1:0", "https://127.0.0.1:0"};
  config.tls = std::make_shared<TlsContext>(tls);
  config.metrics_bind = "127.0.0.1:0";
  ServerThread t(blocking_app(blocked), config);
  int tls_port = -1;
  for (const auto& a : t.addresses())
    if (a.starts_with("https://")) tls_port = std::stoi(a.substr(a.rfind(':') + 1));
  REQUIRE(tls_port > 0);

  for (int i = 0; i < 5; ++i) CHECK(get(t.port(), "/").status == 200);
  Socket on_tls = Socket::tcp(tls_port);  // accepted: a TLS connection, handshake or not
  Socket ws = Socket::tcp(t.port());
  ws.send(
      "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  std::string head;
  while (head.find("\r\n\r\n") == std::string::npos) {
    auto piece = ws.recv_some(5000ms);
    REQUIRE(piece);
    REQUIRE(!piece->empty());
    head += *piece;
  }
  REQUIRE(head.starts_with("HTTP/1.1 101"));
  std::uint64_t pool = add_pool_metrics("redis", "sessions", [] {
    return PoolFigures{.max_size = 8,
                       .lent = 3,
                       .idle = 2,
                       .discarded = 1,
                       .waits = 7,
                       .wait_seconds = 0.25,
                       .timeouts = 4};
  });
  std::uint64_t other =
      add_pool_metrics("pg", "orders", [] { return PoolFigures{.max_size = 20, .lent = 1}; });
  std::string out = scrape("http://" + t.server().metrics_address() + "/metrics");
  remove_pool_metrics(pool);
  remove_pool_metrics(other);
  INFO(out);
  CHECK(out.find("family grove_green_run_queue_delay_seconds histogram") != std::string::npos);
  auto count_at = out.find("sample grove_green_run_queue_delay_seconds_count {} ");
  REQUIRE(count_at != std::string::npos);
  CHECK(std::stod(out.substr(out.find("} ", count_at) + 2)) >
        0);  // the requests' green threads waited some
  CHECK(out.find("histograms consistent") != std::string::npos);
  CHECK(out.find("sample grove_http_tls_connections_open {} 1.0") != std::string::npos);
  CHECK(out.find("sample grove_http_websocket_connections_open {} 1.0") != std::string::npos);
  CHECK(out.find("family grove_pool_connections gauge") != std::string::npos);
  CHECK(
      out.find(
          R"(sample grove_pool_connections {"client": "redis", "pool": "sessions", "state": "lent"} 3.0)") !=
      std::string::npos);
  CHECK(
      out.find(
          R"(sample grove_pool_connections {"client": "redis", "pool": "sessions", "state": "idle"} 2.0)") !=
      std::string::npos);
  CHECK(
      out.find(
          R"(sample grove_pool_connections {"client": "pg", "pool": "orders", "state": "lent"} 1.0)") !=
      std::string::npos);
  CHECK(out.find(R"(sample grove_pool_max_size {"client": "pg", "pool": "orders"} 20.0)") !=
        std::string::npos);
  CHECK(out.find(R"(sample grove_pool_waits_total {"client": "redis", "pool": "sessions"} 7.0)") !=
        std::string::npos);
  CHECK(
      out.find(
          R"(sample grove_pool_wait_seconds_total {"client": "redis", "pool": "sessions"} 0.25)") !=
      std::string::npos);
  CHECK(
      out.find(R"(sample grove_pool_timeouts_total {"client": "redis", "pool": "sessions"} 4.0)") !=
      std::string::npos);
  CHECK(out.find(
            R"(sample grove_pool_discarded_total {"client": "redis", "pool": "sessions"} 1.0)") !=
        std::string::npos);
  CHECK_THROWS_WITH(add_pool_metrics("pg", "x", std::function<PoolFigures()>()),
                    Catch::Contains("pass a function"));
}

TEST_CASE(
    "server: GET /debug/green on the metrics listener dumps each green thread with the function it "
    "waits in",
    "[server][metrics]") {
  BlockedServer b;
  auto dump = get(metrics_port(b.t), "/debug/green");
  INFO(dump.body);
  CHECK(dump.status == 200);
  CHECK(dump.body.find(" green thread(s) on this hub") != std::string::npos);
  CHECK(dump.body.find("\"accept 127.0.0.1:") != std::string::npos);  // the accept loops, by name
  CHECK(dump.body.find("[parked on fd ") != std::string::npos);       // waiting in accept
  CHECK(dump.body.find("[parked, ") != std::string::npos);
  if (grove::green::dump_has_stacks() || std::getenv("CI"))
    CHECK(dump.body.find("handler_waiting_in_named_function") != std::string::npos);
  b.release();
  // Not on the app's port.
  CHECK(get(b.t.port(), "/debug/green").body == "ok");
}

TEST_CASE("server: metrics answer through a graceful stop until the app's connections are done",
          "[server][metrics]") {
  BlockedServer b;
  const int metrics = metrics_port(b.t);
  b.t.server().stop_threadsafe(10s);
  // The app's listener closes at the stop ...
  bool app_closed = false;
  for (int i = 0; i < 1000 && !app_closed; ++i) {
    app_closed = !try_get(b.t.port(), "/");
    if (!app_closed) std::this_thread::sleep_for(5ms);
  }
  CHECK(app_closed);
  CHECK(b.t.server().stopping());
  // ... the metrics listener serves on while the request is in flight.
  auto during = try_get(metrics, "/metrics");
  REQUIRE(during);
  CHECK(during->status == 200);
  CHECK(during->body.find("grove_http_connections_active") != std::string::npos);
  b.release();
  b.t.stop();
  CHECK(b.t.finished());
  CHECK_FALSE(try_get(metrics, "/metrics"));  // and closes with the stop
}

// Two consecutive free loopback ports (worker k's metrics listener is on the port + k).
// Chosen below the ephemeral range (32768 and up): a suite's thousands of outgoing
// connections leave their local ports there in TIME_WAIT, where a port picked by bind(0)
// and its neighbour were busy 50 times in a row in a CI run.
bool bindable(int port) {
  Socket s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int on = 1;
  ::setsockopt(s.fd(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);  // as the server's listeners
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(std::uint16_t(port));
  return ::bind(s.fd(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

int free_port_pair() {
  std::mt19937 pick(std::random_device{}());
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int port = 20000 + int(pick() % 12000);
    if (bindable(port) && bindable(port + 1)) return port;
  }
  FAIL("no two consecutive free ports");
  return -1;
}

TEST_CASE(
    "server: --workers 2: each worker's metrics are its own, labelled worker=k on port + k, "
    "and SIGUSR1 writes each worker's green-thread dump",
    "[server][metrics]") {
  TempDir dir;
  int port = -1;
  const int metrics = free_port_pair();
  Child c = start_hello(
      dir.path, {"--workers", "2", "--metrics-bind", "127.0.0.1:" + std::to_string(metrics)},
      nullptr, &port);
  REQUIRE(get(port, "/").status == 200);
  for (int k = 0; k < 2; ++k) {
    std::optional<HttpResponse> r;
    for (int i = 0; i < 1000 && !r; ++i) {  // the worker may still be starting
      r = try_get(metrics + k, "/metrics");
      if (!r) std::this_thread::sleep_for(5ms);
    }
    REQUIRE(r);
    INFO(r->body);
    const std::string label = "worker=\"" + std::to_string(k) + "\"";
    const std::string other = "worker=\"" + std::to_string(1 - k) + "\"";
    CHECK(r->body.find("grove_green_threads_alive{" + label + "}") != std::string::npos);
    CHECK(r->body.find(other) == std::string::npos);  // not aggregated: each worker's own
  }
  c.signal(SIGUSR1);
  wait_for_count(c, "green thread(s) on this hub", 2);
  INFO(c.log());
  CHECK(count_of(c.log(), "green thread(s) on this hub") == 2);
  CHECK(c.log().find("\"accept ") != std::string::npos);
  CHECK(c.running());
  REQUIRE(get(port, "/").status == 200);
  c.signal(SIGTERM);
  CHECK(c.wait(15000ms) == 0);
}
