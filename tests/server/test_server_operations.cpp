// Operations: the Prometheus metrics listener, scraped by the Prometheus project's own text
// format parser (python3-prometheus-client) over real HTTP, and the health path the server
// answers before the application (200, 503 not ready, 503 while draining). On every engine.
#include "server_support.hpp"

#include <grove/http/metrics.hpp>

#include <atomic>

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
    FAIL("python3-prometheus-client is not installed, and CI is set (scripts/install-deps.sh test)");
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

}  // namespace

TEST_CASE("server: metrics: requests by route and status, latency histograms and connections, "
          "scraped by Prometheus's parser", "[server][metrics]") {
  if (!have_prometheus_parser()) return;
  ServerConfig config;
  config.metrics_bind = "127.0.0.1:0";
  ServerThread t(routed_app(), config);
  const std::string metrics = t.server().metrics_address();
  REQUIRE_FALSE(metrics.empty());
  CHECK(t.addresses().size() == 1);  // the metrics listener is not one of the app's

  for (int i = 0; i < 3; ++i) CHECK(get(t.port(), "/user/" + std::to_string(i)).status == 200);
  CHECK(get(t.port(), "/nowhere").status == 404);
  CHECK(request(t.port(), "GET /x HTTP/1.1\r\nHost: t\r\nContent-Length: nope\r\n\r\n").status == 400);
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
  CHECK(out.find(R"(sample grove_http_requests_total {"route": "/user/<id>", "status": "200"} 3.0)") != std::string::npos);
  // /nowhere and /metrics on the app's port.
  CHECK(out.find(R"(sample grove_http_requests_total {"route": "", "status": "404"} 2.0)") != std::string::npos);
  CHECK(out.find(R"(sample grove_http_requests_total {"route": "", "status": "400"} 1.0)") != std::string::npos);
  CHECK(out.find("family grove_http_request_duration_seconds histogram") != std::string::npos);
  CHECK(out.find(R"(sample grove_http_request_duration_seconds_count {"route": "/user/<id>"} 3.0)") != std::string::npos);
  CHECK(out.find(R"(sample grove_http_request_duration_seconds_bucket {"le": "+Inf", "route": "/user/<id>"} 3.0)") != std::string::npos);
  CHECK(out.find("histograms consistent") != std::string::npos);
  CHECK(out.find("sample grove_http_connections_open {} ") != std::string::npos);
  CHECK(out.find("sample grove_green_threads_alive {} ") != std::string::npos);
  CHECK(out.find(R"(sample test_pool_connections {"pool": "a\"b\\c"} 1.5)") != std::string::npos);
  // Nothing but /metrics on the metrics listener.
  auto colon = metrics.rfind(':');
  CHECK(get(std::stoi(metrics.substr(colon + 1)), "/user/1").status == 404);
}

TEST_CASE("server: metrics: the listener is loopback-only unless made public", "[server][metrics]") {
  ServerConfig config;
  config.binds = {"127.0.0.1:0"};
  config.metrics_bind = "0.0.0.0:0";
  Server server(routed_app(), config);
  CHECK_THROWS_WITH(server.start(), Catch::Contains("is not a loopback address"));
  CHECK_THROWS_WITH(MetricsWriter().gauge("bad-name", "", 1), Catch::Contains("not a valid metric name"));
}

TEST_CASE("server: the health path is answered before the app: 200, 503 not ready, 503 while draining",
          "[server][health]") {
  std::atomic<int> app_calls{0};
  std::atomic<bool> ready{true};
  ServerConfig config;
  config.health_path = "/healthz";
  config.health_drain_delay = 2s;  // cut short by the second stop below
  config.readiness = [&ready] { return ready.load(); };
  ServerThread t([&app_calls](Request&) {
    ++app_calls;
    return Response::text("app");
  }, config);

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
