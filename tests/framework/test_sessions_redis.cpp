// Server-side sessions in Redis (SESSION_TYPE = "redis") against the real Redis server
// (scripts/test-services.sh): shared by two app instances, kept out of the cookie, expired
// by Redis, refreshed, and a Redis that goes away while the apps keep answering.
#include "http_support.hpp"
#include "services.hpp"

#include <grove/redis.hpp>
#include <grove/web/redis_sessions.hpp>

namespace aio = grove::aio;
namespace redis = grove::redis;
using namespace grove::web;
using namespace grove::web::test;

namespace {

std::string redis_url(const grove::test::Service& s) {
  return "redis://127.0.0.1:" + std::to_string(s.port());
}

// One command against Redis from the test thread, on a loop of its own.
template <class... Args>
redis::Reply redis_call(const std::string& url, Args... args) {
  return aio::run(aio::co_invoke([&]() -> aio::Task<redis::Reply> {
    redis::Connection c = co_await redis::Connection::connect(url);
    co_return co_await c.command(args...);
  }));
}

// The session id a Set-Cookie carries ("session=base64url(<id>).<timestamp>.<mac>").
std::string id_in(const std::string& set_cookie) {
  std::string value = cookie_pair(set_cookie).substr(std::string("session=").size());
  return base64url_decode(value.substr(0, value.find('.'))).value_or("(not base64url)");
}

// An instance of the app: login, a plain and a coroutine reader, logout, all on Redis.
void session_app(App& app, const std::string& url) {
  app.config["SECRET_KEY"] = "shared secret of every instance";
  app.config["SESSION_TYPE"] = "redis";
  app.config["SESSION_REDIS_URL"] = url;
  app.config["SESSION_REDIS_TIMEOUT"] = 0.5;
  app.async_to_sync = green_bridge;
  app.route("/login", {"POST"}, [](Request& r) {
    session()["user"] = r.form()["name"];
    return "welcome";
  });
  app.route("/whoami", [] { return session().get<std::string>("user", "anonymous"); });
  app.route("/whoami-async", []() -> aio::Task<std::string> {
    co_await aio::sleep(1ms);  // a real coroutine view, on the hub
    co_return session().get<std::string>("user", "anonymous");
  });
  app.route("/logout", [] {
    session().clear();
    return "bye";
  });
}

}  // namespace

TEST_CASE("web: redis sessions: logged in through one instance, read through another",
          "[http][sessions]") {
  auto* redis_server = grove::test::redis();
  if (!redis_server) return;
  const std::string url = redis_url(*redis_server);
  App a("instance-a"), b("instance-b");
  session_app(a, url);
  session_app(b, url);
  ServedApp served_a(a), served_b(b);

  auto login = http({"POST",
                     served_a.url("/login"),
                     {"Content-Type: application/x-www-form-urlencoded"},
                     std::string("name=ada")});
  REQUIRE(login.status == 200);
  const std::string set_cookie = login.header("Set-Cookie");
  REQUIRE(set_cookie.starts_with("session="));
  CHECK(set_cookie.find("HttpOnly") != std::string::npos);
  CHECK(set_cookie.find("ada") == std::string::npos);  // the cookie carries only the signed id
  const std::string id = id_in(set_cookie);
  CHECK(id.size() == 43);  // 32 random bytes, base64url

  // Stored under the prefix, as JSON, with TTL = PERMANENT_SESSION_LIFETIME (31 days).
  CHECK(redis_call(url, "GET", "session:" + id).as_string() == R"({"user":"ada"})");
  const std::int64_t ttl = redis_call(url, "TTL", "session:" + id).as_integer();
  CHECK(ttl > 31 * 24 * 3600 - 60);
  CHECK(ttl <= 31 * 24 * 3600);

  const std::string cookie = "Cookie: " + cookie_pair(set_cookie);
  auto on_b = http({"GET", served_b.url("/whoami"), {cookie}});
  CHECK(on_b.body == "ada");
  CHECK_FALSE(on_b.has_header("Set-Cookie"));  // read, not modified
  CHECK(on_b.header("Vary") == "Cookie");
  CHECK(http({"GET", served_b.url("/whoami-async"), {cookie}}).body == "ada");

  // Logging out through B deletes the session in Redis: A no longer knows it.
  auto out = http({"GET", served_b.url("/logout"), {cookie}});
  CHECK(out.header("Set-Cookie").find("Max-Age=0") != std::string::npos);
  CHECK(redis_call(url, "EXISTS", "session:" + id).as_integer() == 0);
  CHECK(http({"GET", served_a.url("/whoami"), {cookie}}).body == "anonymous");
}

TEST_CASE(
    "web: redis sessions: an unknown, expired or forged id starts a new session under a new id",
    "[sessions]") {
  auto* redis_server = grove::test::redis();
  if (!redis_server) return;
  const std::string url = redis_url(*redis_server);
  App app;
  session_app(app, url);
  LogCapture log(app);
  app.logger.set_level(Logger::Level::debug);
  auto client = app.test_client();

  auto login = client.post("/login", {.form = {{"name", "grace"}}});
  const std::string set_cookie = login.headers.get("Set-Cookie", "");
  const std::string id = id_in(set_cookie);
  RequestOptions with_cookie;
  with_cookie.headers.set("Cookie", cookie_pair(set_cookie));
  CHECK(client.get("/whoami", with_cookie).body == "grace");

  // Expired in Redis: a new, empty session; writing to it gets a new id, never the old one.
  redis_call(url, "DEL", "session:" + id);
  CHECK(client.get("/whoami", with_cookie).body == "anonymous");
  CHECK(log.contains("no such session in Redis"));
  RequestOptions relogin = with_cookie;
  relogin.form = {{"name", "grace"}};
  auto again = client.post("/login", relogin);
  CHECK(id_in(again.headers.get("Set-Cookie", "")) != id);

  // An id signed with another key is refused before Redis is asked.
  App other;
  session_app(other, url);
  other.config["SECRET_KEY"] = "another key";
  auto foreign = other.test_client().post("/login", {.form = {{"name", "mallory"}}});
  RequestOptions forged;
  forged.headers.set("Cookie", cookie_pair(foreign.headers.get("Set-Cookie", "")));
  CHECK(client.get("/whoami", forged).body == "anonymous");
  CHECK(log.contains("bad signature"));
}

TEST_CASE("web: redis sessions: a permanent session's expiry moves forward on each request",
          "[sessions]") {
  auto* redis_server = grove::test::redis();
  if (!redis_server) return;
  const std::string url = redis_url(*redis_server);
  App app;
  session_app(app, url);
  app.config["PERMANENT_SESSION_LIFETIME"] = 600;
  app.route("/remember", [] {
    session()["user"] = "ada";
    session().set_permanent(true);
    return "ok";
  });
  auto client = app.test_client();
  auto first = client.get("/remember");
  const std::string set_cookie = first.headers.get("Set-Cookie", "");
  CHECK(set_cookie.find("Max-Age=600") != std::string::npos);
  const std::string key = "session:" + id_in(set_cookie);
  redis_call(url, "EXPIRE", key, 5);

  RequestOptions o;
  o.headers.set("Cookie", cookie_pair(set_cookie));
  auto read = client.get("/whoami", o);
  CHECK(read.body == "ada");
  CHECK(read.headers.get("Set-Cookie", "").find("Max-Age=600") != std::string::npos);
  CHECK(redis_call(url, "TTL", key).as_integer() > 500);
  CHECK(redis_call(url, "GET", key).as_string() == R"({"user":"ada","_permanent":true})");
}

TEST_CASE(
    "web: redis sessions: with Redis down requests still answer, reads are empty, writes are "
    "logged",
    "[http][sessions]") {
  auto* redis_server = grove::test::private_redis();
  if (!redis_server) return;
  const std::string url = redis_url(*redis_server);
  App app;
  session_app(app, url);
  LogCapture log(app);
  ServedApp served(app);

  auto login = http({"POST",
                     served.url("/login"),
                     {"Content-Type: application/x-www-form-urlencoded"},
                     std::string("name=ada")});
  const std::string cookie = "Cookie: " + cookie_pair(login.header("Set-Cookie"));
  CHECK(http({"GET", served.url("/whoami"), {cookie}}).body == "ada");

  redis_server->stop();
  auto read = http({"GET", served.url("/whoami"), {cookie}});
  CHECK(read.status == 200);
  CHECK(read.body == "anonymous");
  CHECK(log.contains("ERROR: the session store is unreachable"));
  auto write = http({"POST",
                     served.url("/login"),
                     {"Content-Type: application/x-www-form-urlencoded"},
                     std::string("name=eve")});
  CHECK(write.status == 200);
  CHECK(write.body == "welcome");
  CHECK_FALSE(write.has_header("Set-Cookie"));  // nothing stored, so no id to hand out
  CHECK(log.contains("ERROR: the session was not saved"));
  auto write_known = http({"POST",
                           served.url("/login"),
                           {cookie, "Content-Type: application/x-www-form-urlencoded"},
                           std::string("name=eve")});
  CHECK(write_known.status == 200);
  CHECK(log.contains("ERROR: session changes lost"));

  // Back (empty: the test server keeps nothing on disk): new sessions work again.
  REQUIRE(redis_server->start() == 0);
  auto relogin = http({"POST",
                       served.url("/login"),
                       {"Content-Type: application/x-www-form-urlencoded"},
                       std::string("name=ada")});
  REQUIRE(relogin.has_header("Set-Cookie"));
  CHECK(
      http({"GET", served.url("/whoami"), {"Cookie: " + cookie_pair(relogin.header("Set-Cookie"))}})
          .body == "ada");
}

TEST_CASE("web: redis sessions: SESSION_TYPE and SESSION_REDIS_URL are checked", "[sessions]") {
  App app;
  app.config["SESSION_TYPE"] = "memcached";
  CHECK_THROWS_WITH(
      app.active_session_interface(),
      Catch::Contains("\"SESSION_TYPE\" must be \"cookie\" or \"redis\", not \"memcached\""));
  App no_url;
  no_url.config["SESSION_TYPE"] = "redis";
  CHECK_THROWS_AS(no_url.active_session_interface(), ConfigError);
  CHECK_THROWS_WITH(no_url.active_session_interface(), Catch::Contains("SESSION_REDIS_URL"));
  App bad_url;
  bad_url.config["SESSION_TYPE"] = "redis";
  bad_url.config["SESSION_REDIS_URL"] = "http://example";
  CHECK_THROWS_AS(bad_url.active_session_interface(), ConfigError);
  App cookie;
  CHECK(dynamic_cast<SecureCookieSessionInterface*>(&cookie.active_session_interface()) != nullptr);
}
