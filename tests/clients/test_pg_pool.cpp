// grove::pg::Pool: bounded, PoolTimeout under a burst, checkout health checks, broken
// connections dropped, reconnect with backoff after a server restart, a clear start-up error.
#include "pg_support.hpp"

using namespace grove;
using namespace grove::pg::test;

namespace {
aio::Task<void> terminate_backend(const std::string& conninfo, int pid) {
  pg::Connection admin = co_await pg::Connection::connect(conninfo);
  co_await admin.query("SELECT pg_terminate_backend($1)", pid);
}
}  // namespace

TEST_CASE("pg pool: concurrent queries overlap up to max_size", "[pg][pool]") {
  Service* server = grove::test::postgres();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    pg::Pool pool({.conninfo = server->conninfo_unix(), .max_size = 20});
    auto start = SteadyClock::now();
    std::vector<aio::TaskHandle<pg::Result>> queries;
    for (int i = 0; i < 20; ++i)
      queries.push_back(aio::create_task(pool.query("SELECT pg_sleep(0.1)")));
    for (auto& q : queries) co_await q;
    double took = ms_since(start);
    INFO("20 queries of 100 ms took " << took << " ms");
    CHECK(took < 1000);  // 2000 one after another
    CHECK(pool.size() == 20);
    CHECK(pool.idle() == 20);
  });
}

TEST_CASE("pg pool: a 10x burst gets PoolTimeout for what cannot be served in time, no deadlock",
          "[pg][pool]") {
  Service* server = grove::test::postgres();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    pg::Pool pool({.conninfo = server->conninfo_unix(), .max_size = 5, .acquire_timeout = 250ms});
    std::size_t most_open = 0;
    int ok = 0, timeouts = 0, other = 0;
    std::vector<aio::TaskHandle<void>> burst;
    for (int i = 0; i < 50; ++i)
      burst.push_back(aio::create_task(aio::co_invoke([&]() -> aio::Task<void> {
        try {
          pg::PooledConnection c = co_await pool.acquire();
          most_open = std::max(most_open, pool.size());
          co_await c->query("SELECT pg_sleep(0.1)");
          ++ok;
        } catch (const pg::PoolTimeout& e) {
          ++timeouts;
          if (timeouts == 1) UNSCOPED_INFO(e.what());
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
    // Afterwards the pool serves again.
    pg::Result r = co_await pool.query("SELECT 1 AS one");
    CHECK(r[0].get<int>("one") == 1);
  });
}

TEST_CASE(
    "pg pool: checkout drops an idle connection the server closed, and broken ones never return",
    "[pg][pool]") {
  Service* server = grove::test::postgres();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    pg::Pool pool({.conninfo = server->conninfo_unix(), .max_size = 2});
    int first_pid;
    {
      pg::PooledConnection c = co_await pool.acquire();
      first_pid = c->server_pid();
    }
    co_await terminate_backend(server->conninfo_unix(), first_pid);
    co_await aio::sleep(100ms);  // the backend's farewell reaches the idle socket
    {
      pg::PooledConnection c = co_await pool.acquire();
      CHECK(c->server_pid() != first_pid);
      CHECK(pool.discarded() == 1);
      // Lost mid-query: the error is clear and the connection does not go back.
      int pid = c->server_pid();
      auto killer = aio::create_task(aio::co_invoke([&, pid]() -> aio::Task<void> {
        co_await aio::sleep(100ms);
        co_await terminate_backend(server->conninfo_unix(), pid);
      }));
      CHECK_THROWS_AS(co_await c->query("SELECT pg_sleep(10)"), pg::ConnectionError);
      co_await killer;
      CHECK(c->broken());
    }
    CHECK(pool.discarded() == 2);
    CHECK(pool.idle() == 0);
    pg::Result r = co_await pool.query("SELECT 1 AS one");
    CHECK(r[0].get<int>("one") == 1);
  });
}

TEST_CASE(
    "pg pool: the server restarts under load: in-flight queries fail clearly, new ones "
    "succeed after reconnecting",
    "[pg][pool]") {
  Service* server = grove::test::private_postgres();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    pg::Pool pool({.conninfo = server->conninfo_tcp(), .max_size = 4, .acquire_timeout = 15s});
    std::vector<aio::TaskHandle<pg::Result>> in_flight;
    for (int i = 0; i < 4; ++i)
      in_flight.push_back(aio::create_task(pool.query("SELECT pg_sleep(5)")));
    co_await aio::sleep(300ms);
    co_await aio::to_thread([server] { server->stop(); });
    int failed_clearly = 0;
    for (auto& q : in_flight) {
      try {
        co_await q;
      } catch (const pg::ConnectionError& e) {
        std::string what = e.what();
        if (what.find("terminating connection") != std::string::npos ||
            what.find("connection was lost") != std::string::npos)
          ++failed_clearly;
        else UNSCOPED_INFO(what);
      }
    }
    CHECK(failed_clearly == 4);
    // Requests made while the server is down wait (retrying with backoff) and succeed once
    // it is back.
    auto waiting = aio::create_task(pool.query("SELECT 42 AS answer"));
    co_await aio::sleep(300ms);
    CHECK_FALSE(waiting.done());
    int started = co_await aio::to_thread([server] { return server->start(); });
    CHECK(started == 0);
    pg::Result r = co_await waiting;
    CHECK(r[0].get<int>("answer") == 42);
    CHECK(pool.discarded() >= 4);
  });
}

TEST_CASE("pg pool: open() reports a wrong password or a missing database at start-up",
          "[pg][pool]") {
  Service* server = grove::test::postgres();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    pg::Pool wrong({.conninfo = server->conninfo_password("wrong")});
    CHECK_THROWS_WITH(co_await wrong.open(), Catch::Contains("password authentication failed"));
    pg::Pool missing({.conninfo = server->conninfo_unix("dbname=nope")});
    CHECK_THROWS_WITH(co_await missing.open(), Catch::Contains("\"nope\" does not exist"));
    // acquire() retries until its deadline, then names the last error.
    pg::Pool later({.conninfo = server->conninfo_unix("dbname=nope"), .acquire_timeout = 300ms});
    CHECK_THROWS_WITH(co_await later.acquire(), Catch::Contains("\"nope\" does not exist"));
    pg::Pool good({.conninfo = server->conninfo_unix()});
    co_await good.open();
    CHECK(good.idle() == 1);
  });
}
