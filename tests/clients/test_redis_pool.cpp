// grove::redis::Pool: overlap up to max_size, PoolTimeout under a burst without deadlock,
// checkout drops connections the server closed, broken ones never return, reconnect with
// backoff after a server restart under load, a clear start-up error.
#include "redis_support.hpp"

using namespace grove;
using namespace grove::redis::test;

TEST_CASE("redis pool: concurrent commands overlap up to max_size", "[redis][pool]") {
  Service* server = grove::test::redis();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    redis::Pool pool({.url = url_of(*server), .max_size = 20});
    std::string key = unique_key("overlap");
    auto start = SteadyClock::now();
    std::vector<aio::TaskHandle<redis::Reply>> waits;
    for (int i = 0; i < 20; ++i)
      waits.push_back(
          aio::create_task(pool.command("BLPOP", key + ":" + std::to_string(i), "0.2")));
    for (auto& w : waits) {
      auto v29 = co_await w;
      CHECK(v29.is_nil());
    }
    double took = ms_since(start);
    INFO("20 BLPOPs of 200 ms took " << took << " ms");
    CHECK(took < 2000);  // 4000 one after another
    CHECK(pool.size() == 20);
    CHECK(pool.idle() == 20);
  });
}

TEST_CASE("redis pool: a 10x burst gets PoolTimeout for what cannot be served in time, no deadlock",
          "[redis][pool]") {
  Service* server = grove::test::redis();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    redis::Pool pool({.url = url_of(*server), .max_size = 5, .acquire_timeout = 250ms});
    std::string key = unique_key("burst");
    std::size_t most_open = 0;
    int ok = 0, timeouts = 0, other = 0;
    std::vector<aio::TaskHandle<void>> burst;
    for (int i = 0; i < 50; ++i)
      burst.push_back(aio::create_task(aio::co_invoke([&]() -> aio::Task<void> {
        try {
          redis::PooledConnection c = co_await pool.acquire();
          most_open = std::max(most_open, pool.size());
          co_await c->command("BLPOP", key, "0.1");
          ++ok;
        } catch (const redis::PoolTimeout& e) {
          if (++timeouts == 1) UNSCOPED_INFO(e.what());
        } catch (...) {
          ++other;
        }
      })));
    for (auto& t : burst) co_await t;
    INFO(ok << " served, " << timeouts << " timed out");
    CHECK(ok + timeouts == 50);
    CHECK(other == 0);
    CHECK(ok >= 5);
    CHECK(timeouts > 0);
    CHECK(most_open <= 5);
    // Its figures (grove::http::add_pool_metrics' grove_pool_*): the first five took a free
    // slot, the other 45 waited for one.
    const auto st = pool.stats();
    CHECK(st.max_size == 5);
    CHECK(st.timeouts == std::uint64_t(timeouts));
    CHECK(st.waits == 45);
    CHECK(st.wait_seconds > 0);
    CHECK(st.lent == 0);
    CHECK(st.idle <= 5);
    auto v30 = co_await pool.command("PING");
    CHECK(v30.as_string() == "PONG");  // serves again afterwards
  });
}

TEST_CASE(
    "redis pool: checkout drops an idle connection the server closed, and broken ones never return",
    "[redis][pool]") {
  Service* server = grove::test::redis();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    redis::Pool pool(
        {.url = url_of(*server), .max_size = 2, .connection = {.command_timeout = 100ms}});
    std::int64_t first_id;
    {
      redis::PooledConnection c = co_await pool.acquire();
      first_id = (co_await c->command("CLIENT", "ID")).as_integer();
    }
    CHECK(pool.idle() == 1);
    redis::Connection admin = co_await redis::Connection::connect(url_of(*server));
    co_await admin.command("CLIENT", "KILL", "ID", first_id);
    co_await aio::sleep(50ms);  // the close reaches the idle socket
    {
      redis::PooledConnection c = co_await pool.acquire();
      auto v31 = co_await c->command("CLIENT", "ID");
      CHECK(v31.as_integer() != first_id);
    }
    CHECK(pool.discarded() == 1);
    // A command timeout breaks the connection: it is dropped, not reused.
    {
      redis::PooledConnection c = co_await pool.acquire();
      auto e32 = co_await thrown<redis::Timeout>(c->command("BLPOP", unique_key("never"), 5));
      CHECK(e32.has_value());
      CHECK(c->broken());
    }
    CHECK(pool.discarded() == 2);
    CHECK(pool.idle() == 0);
    auto v33 = co_await pool.command("PING");
    CHECK(v33.as_string() == "PONG");
  });
}

TEST_CASE(
    "redis pool: after a server restart under load, in-flight commands fail clearly and new ones "
    "succeed",
    "[redis][pool][restart]") {
  Service* server = grove::test::private_redis();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    redis::Pool pool({.url = url_of(*server), .max_size = 10, .acquire_timeout = 10s});
    std::string key = unique_key("restart");
    co_await pool.command("PING");
    std::vector<aio::TaskHandle<redis::Reply>> in_flight;
    for (int i = 0; i < 10; ++i)
      in_flight.push_back(aio::create_task(pool.command("BLPOP", key, 30)));
    co_await aio::sleep(100ms);
    server->stop();  // blocks this loop while redis-server exits: the BLPOPs are waiting
    int lost = 0;
    for (auto& t : in_flight) {
      try {
        co_await t;
      } catch (const redis::ConnectionError& e) {
        if (++lost == 1) UNSCOPED_INFO(e.what());
        CHECK(std::string(e.what()).find("was lost") != std::string::npos);
      }
    }
    CHECK(lost == 10);
    CHECK(pool.idle() == 0);
    // New commands wait (backoff) while the server is away, then succeed.
    auto next = aio::create_task(pool.command("INCR", key + ":n"));
    co_await aio::sleep(200ms);
    CHECK_FALSE(next.done());
    REQUIRE(server->start() == 0);
    auto v34 = co_await next;
    CHECK(v34.as_integer() == 1);
    CHECK(pool.discarded() == 10);
  });
}

TEST_CASE("redis pool: open() is the place for start-up errors", "[redis][pool]") {
  Service* server = grove::test::redis();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    redis::Pool ok({.url = url_of(*server)});
    co_await ok.open();
    CHECK(ok.idle() == 1);
    redis::Pool wrong({.url = "redis://nobody:bad@127.0.0.1:" + std::to_string(server->port())});
    auto e35 = co_await thrown<std::exception>(wrong.open());
    REQUIRE(e35.has_value());
    CHECK(e35->find("WRONGPASS") != std::string::npos);
    CHECK_THROWS_AS(redis::Pool({.url = "postgres://x"}), std::invalid_argument);
    CHECK_THROWS_AS(redis::Pool({.url = url_of(*server), .max_size = 0}), std::invalid_argument);
  });
}

TEST_CASE("redis pool: a pooled connection serves tasks on different loops, one after another",
          "[redis][pool]") {
  // The green bridge runs each request's coroutine view on a loop of its own, while the pool
  // and its connections outlive them all.
  Service* server = grove::test::redis();
  if (!server) return;
  redis::Pool pool({.url = url_of(*server), .max_size = 1});
  std::string key = unique_key("loops");
  for (int i = 1; i <= 3; ++i) {
    std::int64_t n = run([&]() -> aio::Task<std::int64_t> {
      redis::Reply r = co_await pool.command("INCR", key);
      co_return r.as_integer();
    });
    CHECK(n == i);
  }
  CHECK(pool.size() == 1);
  CHECK(pool.discarded() == 0);
}
