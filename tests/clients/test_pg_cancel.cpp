// Cancelling a coroutine mid-query, and a result larger than the limits.
#include "pg_support.hpp"

using namespace grove;
using namespace grove::pg::test;

namespace {
// Whether a statement like `pattern` still runs on the server, by pg_stat_activity.
aio::Task<bool> still_running(pg::Connection& watcher, int pid) {
  pg::Result r = co_await watcher.query(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", pid);
  co_return r[0].get<int>("n") > 0;
}
}  // namespace

TEST_CASE("pg: cancelling a task mid-query cancels it on the server and discards the connection",
          "[pg]") {
  Service* server = grove::test::postgres();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    pg::Connection conn = co_await pg::Connection::connect(server->conninfo_unix());
    pg::Connection watcher = co_await pg::Connection::connect(server->conninfo_unix());
    int pid = conn.server_pid();
    auto start = SteadyClock::now();
    auto task = aio::create_task(conn.query("SELECT pg_sleep(30)"));
    co_await aio::sleep(100ms);
    bool running =
        co_await still_running(watcher, pid);  // not inside CHECK: see test_pg_transaction.cpp
    CHECK(running);
    task.cancel();
    bool cancelled = false;
    try {
      co_await task;
    } catch (aio::CancelledError&) {
      cancelled = true;
    }
    CHECK(cancelled);
    CHECK(conn.broken());
    CHECK_THROWS_AS(co_await conn.query("SELECT 1"), pg::ConnectionError);
    // The server stops the statement (the cancel goes out from aio's thread pool).
    bool stopped = false;
    for (int i = 0; i < 100 && !stopped; ++i) {
      stopped = !(co_await still_running(watcher, pid));
      if (!stopped) co_await aio::sleep(50ms);
    }
    CHECK(stopped);
    CHECK(ms_since(start) < 10000);  // not the 30 s of the statement
  });
}

TEST_CASE("pg: a result over max_bytes or max_rows is refused while it streams, not buffered",
          "[pg]") {
  Service* server = grove::test::postgres();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    // 1 GB if it were all sent: a thousand rows of a megabyte each. The set-returning
    // functions are in the select list, where the server streams their rows as it makes
    // them (in FROM it would build the whole set first, a gigabyte and 10^8 rows of server
    // work before the first row is sent).
    pg::Connection conn =
        co_await pg::Connection::connect(server->conninfo_unix(), {.max_bytes = 4u << 20});
    auto start = SteadyClock::now();
    CHECK_THROWS_WITH(co_await conn.query("SELECT repeat('x', 1000000), generate_series(1, 1000)"),
                      Catch::Contains("exceeded the limit"));
    CHECK(ms_since(start) < 10000);
    CHECK(conn.broken());
    pg::Connection rows =
        co_await pg::Connection::connect(server->conninfo_unix(), {.max_rows = 1000});
    CHECK_THROWS_AS(co_await rows.query("SELECT generate_series(1, 100000000)"),
                    pg::ResultTooLarge);
    pg::Connection fresh =
        co_await pg::Connection::connect(server->conninfo_unix(), {.max_rows = 1000});
    pg::Result ok = co_await fresh.query("SELECT g FROM generate_series(1, 1000) g");
    CHECK(ok.size() == 1000);
  });
}
