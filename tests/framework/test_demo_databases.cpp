// grove-demo's database routes against the real PostgreSQL and Redis of
// scripts/test-services.sh: /db (coroutine view, grove::pg), /db-sync (plain view, unmodified
// libpq under compat), /counter (grove::redis) and /tasks/add run by grove-worker
// (grove::tasks), over HTTP with libcurl; their concurrency;
// and the start-up errors of a wrong password and an unreachable Redis.
#include "demo_app.hpp"
#include "http_support.hpp"
#include "services.hpp"

#include <grove/aio.hpp>

#include <csignal>
#include <set>
#include <thread>

using namespace grove::web;
using namespace grove::web::test;

#ifdef GROVE_DEMO_PATH

namespace {

std::string redis_url(const grove::test::Service& s) {
  return "redis://127.0.0.1:" + std::to_string(s.port());
}

// Runs grove-demo with `args` expecting it to refuse to start; returns its output and status.
std::string failed_start(const std::string& args) {
  int status = 0;
  std::string out =
      output_of(std::string(GROVE_DEMO_PATH) + " --bind 127.0.0.1:0 " + args, &status);
  return out + "rc=" + std::to_string(status);
}

// `n` concurrent GETs of `route`; how many answered 200, and the wall time.
std::pair<int, double> concurrent(DemoProcess& demo, const std::string& route, int n) {
  std::vector<CurlRequest> reqs(n, CurlRequest{"GET", demo.url(route)});
  auto start = std::chrono::steady_clock::now();
  auto results = http_parallel(reqs);
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  int ok = 0;
  for (auto& r : results) {
    if (r.status == 200) ++ok;
    else UNSCOPED_INFO(r.status << " " << r.body << " " << r.error);
  }
  return {ok, ms};
}

}  // namespace

TEST_CASE("web: demo: /db, /db-sync and /counter against real servers", "[demo][databases]") {
  auto* pg = grove::test::postgres();
  auto* redis = grove::test::redis();
  if (!pg || !redis) return;
  DemoProcess demo({"--database-url", pg->conninfo_tcp(), "--redis-url", redis_url(*redis),
                    "--db-pool-size", "60"});
  // ms=0, the default, is the SELECT 1-style query bench/run_db.sh measures.
  for (auto [route, ms] : {std::pair{"/db?ms=10", 10}, std::pair{"/db-sync?ms=10", 10},
                           std::pair{"/db?ms=0", 0}, std::pair{"/db-sync", 0}}) {
    INFO(route);
    auto r = http_get(demo.url(route));
    REQUIRE(r.status == 200);
    auto j = Json::parse(r.body);
    CHECK(j["ms"].as_int() == ms);
    CHECK(j["pid"].as_int() > 0);
  }
  std::string name = "t" + std::to_string(::getpid());
  auto first = Json::parse(http_get(demo.url("/counter?name=" + name)).body);
  auto second = Json::parse(http_get(demo.url("/counter?name=" + name)).body);
  CHECK(first["count"].as_int() == 1);
  CHECK(second["count"].as_int() == 2);
  CHECK(second["name"].as_string() == name);

  // Fifty at once overlap in each view: about 0.3 s each, 15 s one after another.
  for (const char* route : {"/db?ms=300", "/db-sync?ms=300"}) {
    INFO(route);
    auto [ok, ms] = concurrent(demo, route, 50);
    INFO("50 concurrent took " << ms << " ms");
    CHECK(ok == 50);
    CHECK(ms < 7500);
  }
  auto [ok, ms] = concurrent(demo, "/counter?name=" + name, 200);
  CHECK(ok == 200);
  CHECK(Json::parse(http_get(demo.url("/counter?name=" + name)).body)["count"].as_int() == 203);
  CHECK(demo.output().find("warning") == std::string::npos);
}

TEST_CASE("web: demo: /db and /db-sync use at most --db-pool-size connections",
          "[demo][databases]") {
  auto* pg = grove::test::postgres();
  if (!pg) return;
  DemoProcess demo({"--database-url", pg->conninfo_tcp(), "--db-pool-size", "3"});
  for (const char* route : {"/db?ms=200", "/db-sync?ms=200"}) {
    INFO(route);
    // Twelve at once: the ones beyond the third wait for a connection instead of opening one,
    // so at most three server processes (one per connection) answer.
    std::vector<CurlRequest> reqs(12, CurlRequest{"GET", demo.url(route)});
    std::set<std::int64_t> pids;
    for (auto& r : http_parallel(reqs)) {
      CHECK(r.status == 200);
      if (r.status == 200) pids.insert(Json::parse(r.body)["pid"].as_int());
    }
    CHECK(!pids.empty());
    CHECK(pids.size() <= 3);
  }
}

TEST_CASE("web: demo: a wrong database password or an unreachable Redis stops it at start-up",
          "[demo][databases]") {
  auto* pg = grove::test::postgres();
  auto* redis = grove::test::redis();
  if (!pg || !redis) return;
  std::string out = failed_start("--database-url '" + pg->conninfo_password("wrong") + "'");
  INFO(out);
  CHECK(out.find("error: --database-url: ") != std::string::npos);
  CHECK(out.find("password authentication failed") != std::string::npos);
  CHECK(out.find("rc=2") != std::string::npos);
  CHECK(out.find("listening") == std::string::npos);

  grove::aio::Listener l = grove::aio::Listener::bind("127.0.0.1", 0);
  std::uint16_t closed = l.port();
  l.close();
  std::string out2 = failed_start("--redis-url redis://127.0.0.1:" + std::to_string(closed));
  INFO(out2);
  CHECK(out2.find("error: --redis-url: ") != std::string::npos);
  CHECK(out2.find("refused") != std::string::npos);
  CHECK(out2.find("rc=2") != std::string::npos);
}

TEST_CASE("web: demo: a database that goes away gives 503 and the demo keeps serving",
          "[demo][databases]") {
  auto* redis = grove::test::private_redis();
  if (!redis) return;
  DemoProcess demo({"--redis-url", redis_url(*redis)});
  CHECK(http_get(demo.url("/counter?name=away")).status == 200);
  redis->stop();
  auto r = http_get(demo.url("/counter?name=away"));
  CHECK(r.status == 503);
  CHECK(Json::parse(r.body)["detail"].as_string().find("grove::redis") != std::string::npos);
  CHECK(http_get(demo.url("/hello")).status == 200);
  REQUIRE(redis->start() == 0);
  CHECK(http_get(demo.url("/counter?name=away")).status == 200);
}

#ifdef GROVE_WORKER_PATH
TEST_CASE("web: demo: /tasks/add enqueues a task that grove-worker runs",
          "[demo][databases][tasks]") {
  auto* redis = grove::test::redis();
  if (!redis) return;
  // A prefix of this process's own: the ctest run's Redis is shared.
  std::string prefix = "grove-demo-test:" + std::to_string(::getpid());
  DemoProcess demo({"--redis-url", redis_url(*redis), "--tasks-prefix", prefix});
  auto enqueued = http_get(demo.url("/tasks/add?a=20&b=22"));
  REQUIRE(enqueued.status == 202);
  std::string id = Json::parse(enqueued.body).at("id").as_string();
  auto before = Json::parse(http_get(demo.url("/tasks/result/" + id)).body);
  CHECK(before.at("status").as_string() == "pending");  // no worker yet

  std::string worker_cmd = std::string(GROVE_WORKER_PATH) + " --redis " + redis_url(*redis) +
                           " --prefix " + prefix + " --concurrency 10 > /dev/null 2>&1 & echo $!";
  FILE* p = ::popen(worker_cmd.c_str(), "r");
  REQUIRE(p);
  char pid_text[32] = {};
  REQUIRE(std::fgets(pid_text, sizeof pid_text, p));
  ::pclose(p);
  pid_t worker = std::atoi(pid_text);
  REQUIRE(worker > 0);
  Json after;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    after = Json::parse(http_get(demo.url("/tasks/result/" + id)).body);
    if (after.at("status").as_string() != "pending") break;
    std::this_thread::sleep_for(50ms);
  }
  ::kill(worker, SIGTERM);
  CHECK(after.at("status").as_string() == "succeeded");
  CHECK(after.at("value") == Json(42));
}
#endif

#endif  // GROVE_DEMO_PATH
