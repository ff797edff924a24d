// grove::redis::Subscriber against a real Redis: SUBSCRIBE and PSUBSCRIBE as a stream of
// messages, in RESP2 and RESP3; messages that arrive during a subscribe call are kept; a
// quiet timeout leaves the subscriber usable; UNSUBSCRIBE; the server going away.
#include "redis_support.hpp"

using namespace grove;
using namespace grove::redis::test;

namespace {
aio::Task<void> publish_all(redis::Pool& pool, std::string channel, int n) {
  for (int i = 0; i < n; ++i) co_await pool.command("PUBLISH", channel, "m" + std::to_string(i));
}
}  // namespace

TEST_CASE("redis pubsub: SUBSCRIBE and PSUBSCRIBE deliver messages in order, RESP2 and RESP3",
          "[redis][pubsub]") {
  Service* server = grove::test::redis();
  if (!server) return;
  for (std::string query : {"", "?protocol=3"}) {
    DYNAMIC_SECTION("url" << query) {
      run([&]() -> aio::Task<void> {
        redis::Pool pool({.url = url_of(*server)});
        std::string channel = unique_key("news");
        redis::Subscriber sub = co_await redis::Subscriber::connect(url_of(*server, query));
        co_await sub.subscribe(channel);
        co_await sub.psubscribe(channel + ":*");
        CHECK(sub.subscriptions() == 2);
        co_await publish_all(pool, channel, 50);
        for (int i = 0; i < 50; ++i) {
          redis::Message m = co_await sub.next_message(5s);
          REQUIRE(m.channel == channel);
          REQUIRE(m.payload == "m" + std::to_string(i));
          REQUIRE(m.pattern.empty());
        }
        co_await pool.command("PUBLISH", channel + ":sport", "goal");
        redis::Message p = co_await sub.next_message(5s);
        CHECK(p.channel == channel + ":sport");
        CHECK(p.pattern == channel + ":*");
        CHECK(p.payload == "goal");
      });
    }
  }
}

TEST_CASE("redis pubsub: messages arriving during a subscribe call are queued, not lost",
          "[redis][pubsub]") {
  Service* server = grove::test::redis();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    redis::Pool pool({.url = url_of(*server)});
    std::string a = unique_key("a"), b = unique_key("b");
    redis::Subscriber sub = co_await redis::Subscriber::connect(url_of(*server));
    co_await sub.subscribe(a);
    // Published before the second SUBSCRIBE is confirmed: in the stream ahead of it.
    co_await publish_all(pool, a, 3);
    co_await aio::sleep(20ms);
    co_await sub.subscribe(b);
    co_await pool.command("PUBLISH", b, "on b");
    for (int i = 0; i < 3; ++i) {
      auto v36 = co_await sub.next_message(5s);
      CHECK(v36.payload == "m" + std::to_string(i));
    }
    auto v37 = co_await sub.next_message(5s);
    CHECK(v37.channel == b);
  });
}

TEST_CASE(
    "redis pubsub: a quiet timeout leaves the subscriber usable, and UNSUBSCRIBE stops delivery",
    "[redis][pubsub]") {
  Service* server = grove::test::redis();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    redis::Pool pool({.url = url_of(*server)});
    std::string channel = unique_key("quiet");
    redis::Subscriber sub = co_await redis::Subscriber::connect(url_of(*server));
    co_await sub.subscribe(channel, channel + ":2");
    auto e38 = co_await thrown<redis::Timeout>(sub.next_message(100ms));
    CHECK(e38.has_value());
    CHECK_FALSE(sub.broken());
    co_await pool.command("PUBLISH", channel, "after the timeout");
    auto v39 = co_await sub.next_message(5s);
    CHECK(v39.payload == "after the timeout");
    co_await sub.unsubscribe(channel);
    CHECK(sub.subscriptions() == 1);
    auto v40 = co_await pool.command("PUBLISH", channel, "x");
    CHECK(v40.as_integer() == 0);  // nobody listens
    co_await sub.unsubscribe();
    CHECK(sub.subscriptions() == 0);
    const std::vector<std::string> none;
    auto e41 = co_await thrown<std::invalid_argument>(sub.subscribe(none));
    CHECK(e41.has_value());
  });
}

TEST_CASE("redis pubsub: the server going away ends the stream with ConnectionError",
          "[redis][pubsub][restart]") {
  Service* server = grove::test::private_redis();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    redis::Subscriber sub = co_await redis::Subscriber::connect(url_of(*server));
    co_await sub.subscribe(unique_key("gone"));
    auto waiting = aio::create_task(sub.next_message());
    co_await aio::sleep(50ms);
    server->stop();
    auto e42 = co_await thrown<redis::ConnectionError>(waiting);
    CHECK(e42.has_value());
    CHECK(sub.broken());
    REQUIRE(server->start() == 0);
  });
}
