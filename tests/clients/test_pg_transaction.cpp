// grove::pg::Transaction: commit keeps, rollback and scope exit undo.
#include "pg_support.hpp"

using namespace grove;
using namespace grove::pg::test;

namespace {
aio::Task<int> count(pg::Connection& conn, const std::string& table) {
  pg::Result r = co_await conn.query("SELECT count(*) AS n FROM " + table);
  co_return r[0].get<int>("n");
}
}  // namespace

TEST_CASE("pg: a transaction commits, rolls back, and rolls back when dropped uncommitted",
          "[pg]") {
  Service* server = grove::test::postgres();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    pg::Connection conn = co_await pg::Connection::connect(server->conninfo_unix());
    std::string table = unique_name("tx");
    co_await conn.query("CREATE TABLE " + table + " (id int)");
    // Awaited outside the CHECKs: g++ 12 may evaluate a co_await inside Catch's expression
    // decomposition twice.
    int rows = 0;
    {
      pg::Transaction tx = co_await conn.begin();
      co_await conn.query("INSERT INTO " + table + " VALUES (1)");
      co_await tx.commit();
      CHECK_FALSE(tx.active());
    }
    rows = co_await count(conn, table);
    CHECK(rows == 1);
    {
      pg::Transaction tx = co_await conn.begin();
      co_await conn.query("INSERT INTO " + table + " VALUES (2)");
      co_await tx.rollback();
    }
    rows = co_await count(conn, table);
    CHECK(rows == 1);
    {
      pg::Transaction tx = co_await conn.begin();
      co_await conn.query("INSERT INTO " + table + " VALUES (3)");
      // dropped: no commit
    }
    rows = co_await count(conn, table);
    CHECK(rows == 1);
    // An error inside the transaction, then commit: reported, nothing kept.
    {
      pg::Transaction tx = co_await conn.begin();
      co_await conn.query("INSERT INTO " + table + " VALUES (4)");
      CHECK_THROWS_AS(co_await conn.query("SELECT 1/0"), pg::ServerError);
      CHECK_THROWS_WITH(co_await tx.commit(), Catch::Contains("rolled back"));
    }
    rows = co_await count(conn, table);
    CHECK(rows == 1);
    co_await conn.query("DROP TABLE " + table);
  });
}
