// grove::redis::Connection against a real Redis: typed replies, error replies that keep the
// connection usable, pipelines, MULTI/EXEC (and WATCH), the URL's AUTH/SELECT/HELLO, one
// command at a time, big values through the socket, and green threads.
#include "redis_support.hpp"

#include <grove/green.hpp>
#include <grove/green/aio.hpp>

using namespace grove;
using namespace grove::redis::test;

TEST_CASE("redis url: the parts of redis:// URLs, and clear errors", "[redis][url]") {
  redis::Url u = redis::Url::parse("redis://app:p%40ss@10.0.0.1:7000/3?protocol=3");
  CHECK(u.host == "10.0.0.1");
  CHECK(u.port == 7000);
  CHECK(u.user == "app");
  CHECK(u.password == "p@ss");
  CHECK(u.db == 3);
  CHECK(u.protocol == 3);
  CHECK(u.redacted() == "redis://app:***@10.0.0.1:7000/3");
  redis::Url d = redis::Url::parse("redis://");
  CHECK(d.host == "127.0.0.1");
  CHECK(d.port == 6379);
  CHECK(d.db == 0);
  CHECK(d.protocol == 2);
  CHECK(redis::Url::parse("redis://secret@h").password == "secret");  // as redis-cli -u reads it
  CHECK(redis::Url::parse("redis://[::1]:6380").host == "::1");
  CHECK_THROWS_WITH(redis::Url::parse("http://x"), Catch::Contains("redis://"));
  CHECK_THROWS_WITH(redis::Url::parse("rediss://x"), Catch::Contains("TLS"));
  CHECK_THROWS_WITH(redis::Url::parse("redis://h:99999"), Catch::Contains("port"));
  CHECK_THROWS_WITH(redis::Url::parse("redis://h/x"), Catch::Contains("database"));
  CHECK_THROWS_WITH(redis::Url::parse("redis://h?protocol=4"), Catch::Contains("protocol"));
  CHECK_THROWS_WITH(redis::Url::parse("redis://h?tls=1"), Catch::Contains("unknown option"));
  // The password never appears in an error.
  CHECK_THROWS_WITH(redis::Url::parse("redis://:hunter2@h:0"), !Catch::Contains("hunter2"));
}

TEST_CASE("redis: commands with typed replies", "[redis]") {
  Service* server = grove::test::redis();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    redis::Connection c = co_await redis::Connection::connect(url_of(*server));
    CHECK(c.protocol() == 2);
    std::string key = unique_key("typed");
    auto v1 = co_await c.command("PING");
    CHECK(v1.as_string() == "PONG");
    auto v2 = co_await c.get(key);
    CHECK_FALSE(v2.has_value());
    co_await c.set(key, "v1");
    auto v3 = co_await c.get(key);
    CHECK(v3 == std::optional<std::string>("v1"));
    auto v4 = co_await c.del(key);
    CHECK(v4 == 1);
    auto v5 = co_await c.incr(key);
    CHECK(v5 == 1);
    auto v6 = co_await c.command("INCRBY", key, 41);
    CHECK(v6.as_integer() == 42);
    auto v7 = co_await c.command("EXISTS", key);
    CHECK(v7.as_bool());
    co_await c.command("RPUSH", key + ":l", "a", "b", "c");
    redis::Reply list = co_await c.command("LRANGE", key + ":l", 0, -1);
    REQUIRE(list.elements().size() == 3);
    CHECK(list.elements()[2].as_string() == "c");
    co_await c.command("HSET", key + ":h", "f1", "1", "f2", "2");
    auto pairs = (co_await c.command("HGETALL", key + ":h")).as_pairs();
    CHECK(pairs.size() == 2);
    co_await c.set(key + ":ttl", "x", 50s);
    std::int64_t pttl = (co_await c.command("PTTL", key + ":ttl")).as_integer();
    CHECK(pttl > 40000);
    CHECK(pttl <= 50000);
  });
}

TEST_CASE("redis: an error reply throws ServerError and the connection stays usable", "[redis]") {
  Service* server = grove::test::redis();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    redis::Connection c = co_await redis::Connection::connect(url_of(*server));
    std::string key = unique_key("wrongtype");
    co_await c.set(key, "string");
    bool thrown = false;
    try {
      co_await c.command("LPUSH", key, "x");
    } catch (const redis::ServerError& e) {
      thrown = true;
      CHECK(e.code() == "WRONGTYPE");
      CHECK(std::string(e.what()).find("WRONGTYPE") != std::string::npos);
    }
    CHECK(thrown);
    CHECK_FALSE(c.broken());
    auto v8 = co_await c.get(key);
    CHECK(v8 == std::optional<std::string>("string"));
    bool unknown = false;
    try {
      co_await c.command("NOSUCHCOMMAND");
    } catch (const redis::ServerError& e) {
      unknown = e.code() == "ERR";
    }
    CHECK(unknown);
    auto v9 = co_await c.command("PING");
    CHECK(v9.as_string() == "PONG");
  });
}

TEST_CASE("redis: a pipeline is one round trip, with error replies in place", "[redis][pipeline]") {
  Service* server = grove::test::redis();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    redis::Connection c = co_await redis::Connection::connect(url_of(*server));
    std::string key = unique_key("pipe");
    std::vector<redis::Command> cmds;
    for (int i = 0; i < 1000; ++i) cmds.push_back(redis::command("INCR", key));
    cmds.push_back(redis::command("LPUSH", key, "x"));  // WRONGTYPE, in place
    cmds.push_back(redis::command("GET", key));
    std::vector<redis::Reply> r = co_await c.pipeline(std::move(cmds));
    REQUIRE(r.size() == 1002);
    for (int i = 0; i < 1000; ++i) REQUIRE(r[i].as_integer() == i + 1);
    CHECK(r[1000].is_error());
    CHECK(r[1001].as_integer() == 1000);
    const std::vector<redis::Command> nothing;
    auto v10 = co_await c.pipeline(nothing);
    CHECK(v10.empty());
    CHECK_FALSE(c.broken());
  });
}

TEST_CASE("redis: MULTI/EXEC transactions, WATCH aborts, queueing errors run nothing",
          "[redis][transaction]") {
  Service* server = grove::test::redis();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    redis::Connection c = co_await redis::Connection::connect(url_of(*server));
    redis::Connection other = co_await redis::Connection::connect(url_of(*server));
    std::string key = unique_key("tx");

    const std::vector<redis::Command> mixed{
        redis::command("SET", key, 10), redis::command("INCR", key),
        redis::command("LPUSH", key, "x"), redis::command("GET", key)};
    auto r = co_await c.transaction(mixed);
    REQUIRE(r.has_value());
    REQUIRE(r->size() == 4);
    CHECK((*r)[1].as_integer() == 11);
    CHECK((*r)[2].is_error());  // a runtime error: the others still ran
    CHECK((*r)[3].as_integer() == 11);

    bool refused = false;
    try {
      const std::vector<redis::Command> bad_arity{redis::command("INCR", key),
                                                  redis::command("SET", key)};
      co_await c.transaction(bad_arity);
    } catch (const redis::ServerError& e) {
      refused = std::string(e.what()).find("nothing was run") != std::string::npos;
    }
    CHECK(refused);
    auto v11 = co_await c.get(key);
    CHECK(v11 == std::optional<std::string>("11"));  // the INCR did not run

    co_await c.command("WATCH", key);
    co_await other.set(key, "changed");
    const std::vector<redis::Command> mine{redis::command("SET", key, "mine")};
    auto aborted = co_await c.transaction(mine);
    CHECK_FALSE(aborted.has_value());
    auto v12 = co_await c.get(key);
    CHECK(v12 == std::optional<std::string>("changed"));
  });
}

TEST_CASE("redis: the URL's database (SELECT), RESP3 (HELLO 3) and ACL user (AUTH)",
          "[redis][url]") {
  Service* server = grove::test::redis();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    std::string key = unique_key("db");
    redis::Connection db0 = co_await redis::Connection::connect(url_of(*server));
    redis::Connection db5 = co_await redis::Connection::connect(url_of(*server, "/5"));
    co_await db5.set(key, "in five");
    auto v13 = co_await db0.get(key);
    CHECK_FALSE(v13.has_value());
    auto v14 = co_await db5.get(key);
    CHECK(v14 == std::optional<std::string>("in five"));

    redis::Connection r3 = co_await redis::Connection::connect(url_of(*server, "/5?protocol=3"));
    CHECK(r3.protocol() == 3);
    co_await r3.command("HSET", key + ":h", "a", "1");
    redis::Reply h = co_await r3.command("HGETALL", key + ":h");
    CHECK(h.type() == redis::ReplyType::map);  // RESP2 gives a flat array
    CHECK(h.as_pairs() == std::vector<std::pair<std::string, std::string>>{{"a", "1"}});
    auto v15 = co_await db5.command("HGETALL", key + ":h");
    CHECK(v15.type() == redis::ReplyType::array);
    auto v16 = co_await r3.get(key);
    CHECK(v16 == std::optional<std::string>("in five"));

    std::string user = "grove_user_" + std::to_string(::getpid());
    co_await db0.command("ACL", "SETUSER", user, "on", ">s3cret", "~*", "+@all");
    redis::Connection authed = co_await redis::Connection::connect(
        "redis://" + user + ":s3cret@127.0.0.1:" + std::to_string(server->port()));
    auto v17 = co_await authed.command("ACL", "WHOAMI");
    CHECK(v17.as_string() == user);
    redis::Connection authed3 = co_await redis::Connection::connect(
        "redis://" + user + ":s3cret@127.0.0.1:" + std::to_string(server->port()) + "?protocol=3");
    auto v18 = co_await authed3.command("ACL", "WHOAMI");
    CHECK(v18.as_string() == user);

    std::string message;
    try {
      co_await redis::Connection::connect("redis://" + user +
                                          ":wrong@127.0.0.1:" + std::to_string(server->port()));
    } catch (const redis::ConnectionError& e) {
      message = e.what();
    }
    INFO(message);
    CHECK(message.find("WRONGPASS") != std::string::npos);
    CHECK(message.find("check the user and password") != std::string::npos);
    CHECK(message.find("wrong") == std::string::npos);  // the password is not repeated
    std::string db_message;
    try {
      co_await redis::Connection::connect(url_of(*server, "/999"));
    } catch (const redis::ConnectionError& e) {
      db_message = e.what();
    }
    CHECK(db_message.find("database number") != std::string::npos);
    co_await db0.command("ACL", "DELUSER", user);
  });
}

TEST_CASE("redis: a second concurrent command on one connection is a usage error", "[redis]") {
  Service* server = grove::test::redis();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    redis::Connection c = co_await redis::Connection::connect(url_of(*server));
    auto first = aio::create_task(c.command("BLPOP", unique_key("nothing"), "0.2"));
    co_await aio::sleep(20ms);
    auto e19 = co_await thrown<std::exception>(c.command("PING"));
    REQUIRE(e19.has_value());
    CHECK(e19->find("redis::Pool") != std::string::npos);
    auto v20 = co_await first;
    CHECK(v20.is_nil());
    CHECK_FALSE(c.broken());
    redis::Connection empty;
    auto e21 = co_await thrown<aio::InvalidStateError>(empty.command("PING"));
    CHECK(e21.has_value());
  });
}

TEST_CASE("redis: an 8 MB value round-trips through the socket", "[redis]") {
  Service* server = grove::test::redis();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    redis::Connection c = co_await redis::Connection::connect(url_of(*server));
    std::string key = unique_key("big");
    std::string value(8u << 20, '\0');
    for (std::size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>(i * 7 + (i >> 12));
    co_await c.set(key, value);
    auto v22 = co_await c.get(key);
    CHECK(v22 == std::optional<std::string>(value));
    co_await c.del(key);
  });
}

TEST_CASE("redis: green threads share a pool through green::wait and overlap", "[redis][green]") {
  Service* server = grove::test::redis();
  if (!server) return;
  redis::Pool pool({.url = url_of(*server), .max_size = 20});
  std::string key = unique_key("green");
  auto start = SteadyClock::now();
  std::vector<green::Handle<std::int64_t>> threads;
  for (int i = 0; i < 20; ++i)
    threads.push_back(green::spawn([&pool, &key, i] {
      // Each blocks 200 ms in the server: together they overlap.
      green::wait(pool.command("BLPOP", key + ":none:" + std::to_string(i), "0.2"));
      return green::wait(pool.command("INCR", key)).as_integer();
    }));
  std::int64_t most = 0;
  for (auto& t : threads) most = std::max(most, t.join());
  double took = ms_since(start);
  INFO("20 green threads took " << took << " ms");
  CHECK(most == 20);
  CHECK(took < 2000);  // 4000 one after another
}
