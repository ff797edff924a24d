// grove::pg::migrate and Connection::execute against the real PostgreSQL: each migration
// once and in order, a failing one rolled back, a changed one refused, instances migrating
// at once, and the folder reader's naming rules.
#include "pg_support.hpp"

#include <grove/pg/migrate.hpp>

// (A co_await inside Catch's CHECK runs more than once under g++ 12, docs/aio.md: each
// count is awaited first.)

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace grove;
using namespace grove::pg::test;

namespace {

aio::Task<std::int64_t> count(pg::Connection& conn, const std::string& sql) {
  pg::Result r = co_await conn.query(sql);
  co_return r[0].get<std::int64_t>(0);
}

// Three migrations on tables of this test's own: a table, a column, a row.
std::vector<pg::Migration> three(const std::string& t) {
  return {{1, "create", "CREATE TABLE " + t + " (id int PRIMARY KEY);"},
          {2, "add_note", "ALTER TABLE " + t + " ADD COLUMN note text; -- a comment\n"},
          {5, "first_row",
           "INSERT INTO " + t + " VALUES (1, 'one'); INSERT INTO " + t + " VALUES (2, 'two');"}};
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/grove-migrations-XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
  }
};

}  // namespace

TEST_CASE("pg: execute runs a script of statements, and the first failure stops it and throws",
          "[pg][migrate]") {
  Service* server = grove::test::postgres();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    pg::Connection conn = co_await pg::Connection::connect(server->conninfo_unix());
    std::string t = unique_name("script");
    co_await conn.execute("CREATE TABLE " + t + " (id int); INSERT INTO " + t +
                          " VALUES (1); SELECT 1; INSERT INTO " + t + " VALUES (2);");
    std::int64_t n1 = co_await count(conn, "SELECT count(*) FROM " + t);
    CHECK(n1 == 2);
    std::string thrown;
    try {
      co_await conn.execute("INSERT INTO " + t +
                            " VALUES (3); SELECT * FROM no_such_table_x; INSERT INTO " + t +
                            " VALUES (4);");
    } catch (const pg::ServerError& e) {
      thrown = e.sqlstate();
    }
    CHECK(thrown == "42P01");
    // One implicit transaction: the insert before the failure is undone too, and the
    // connection is usable.
    std::int64_t n2 = co_await count(conn, "SELECT count(*) FROM " + t);
    CHECK(n2 == 2);
    CHECK_FALSE(conn.broken());
  });
}

TEST_CASE("pg: migrate applies pending migrations once and in order, and a second run applies none",
          "[pg][migrate]") {
  Service* server = grove::test::postgres();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    pg::Connection conn = co_await pg::Connection::connect(server->conninfo_unix());
    std::string t = unique_name("notes"), table = unique_name("migrations");
    // Named: g++ 12 destroys an aggregate temporary inside a co_await twice (docs/aio.md).
    const pg::MigrateOptions opts{.table = table};
    auto all = three(t);
    // Given out of order: applied by version.
    std::vector<pg::Migration> shuffled{all[2], all[0], all[1]};
    pg::MigrationReport first = co_await pg::migrate(conn, shuffled, opts);
    CHECK(first.applied == std::vector<std::int64_t>{1, 2, 5});
    CHECK(first.already.empty());
    std::int64_t n3 = co_await count(conn, "SELECT count(*) FROM " + t + " WHERE note IS NOT NULL");
    CHECK(n3 == 2);
    pg::MigrationReport second = co_await pg::migrate(conn, all, opts);
    CHECK(second.applied.empty());
    CHECK(second.already == std::vector<std::int64_t>{1, 2, 5});
    std::int64_t n4 = co_await count(conn, "SELECT count(*) FROM " + table);
    CHECK(n4 == 3);
    // A new one later is the only one applied.
    all.push_back({7, "third_row", "INSERT INTO " + t + " VALUES (3, 'three');"});
    pg::MigrationReport third = co_await pg::migrate(conn, all, opts);
    CHECK(third.applied == std::vector<std::int64_t>{7});
    std::int64_t n5 = co_await count(conn, "SELECT count(*) FROM " + t);
    CHECK(n5 == 3);
  });
}

TEST_CASE("pg: a failing migration is rolled back with its record, and the ones before stay",
          "[pg][migrate]") {
  Service* server = grove::test::postgres();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    pg::Connection conn = co_await pg::Connection::connect(server->conninfo_unix());
    std::string t = unique_name("broken"), table = unique_name("migrations");
    const pg::MigrateOptions opts{.table = table};
    std::vector<pg::Migration> ms{
        {1, "create", "CREATE TABLE " + t + " (id int PRIMARY KEY);"},
        {2, "bad", "INSERT INTO " + t + " VALUES (1); INSERT INTO " + t + " VALUES (1);"},
        {3, "never", "INSERT INTO " + t + " VALUES (3);"}};
    std::string message;
    try {
      co_await pg::migrate(conn, ms, opts);
    } catch (const pg::MigrationError& e) {
      message = e.what();
    }
    INFO(message);
    CHECK(message.find("migration 2_bad failed and was rolled back") != std::string::npos);
    CHECK(message.find("duplicate key") != std::string::npos);
    std::int64_t n6 = co_await count(conn, "SELECT count(*) FROM " + table);  // only 1
    CHECK(n6 == 1);
    std::int64_t n7 = co_await count(conn, "SELECT count(*) FROM " + t);  // 2's first insert undone
    CHECK(n7 == 0);
    // Fixed, it runs, and 3 after it.
    ms[1].sql = "INSERT INTO " + t + " VALUES (1);";
    pg::MigrationReport r = co_await pg::migrate(conn, ms, opts);
    CHECK(r.applied == std::vector<std::int64_t>{2, 3});
    // The advisory lock was released after the failure: another session can take it.
    pg::Connection other = co_await pg::Connection::connect(server->conninfo_unix());
    pg::Result lock =
        co_await other.query("SELECT pg_try_advisory_lock(hashtext($1)) AS ok", table);
    CHECK(lock[0].get<bool>("ok"));
  });
}

TEST_CASE("pg: a migration changed after it was applied is refused, and misuse is named",
          "[pg][migrate]") {
  Service* server = grove::test::postgres();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    pg::Connection conn = co_await pg::Connection::connect(server->conninfo_unix());
    std::string t = unique_name("changed"), table = unique_name("migrations");
    const pg::MigrateOptions opts{.table = table};
    auto ms = three(t);
    co_await pg::migrate(conn, ms, opts);
    ms[1].sql += " ";
    std::string message;
    try {
      co_await pg::migrate(conn, ms, opts);
    } catch (const pg::MigrationError& e) {
      message = e.what();
    }
    CHECK(message.find("migration 2_add_note was changed after it was applied") !=
          std::string::npos);

    const pg::MigrateOptions bad_table{.table = "Bad Name; DROP"};
    std::string misuse;
    try {
      co_await pg::migrate(conn, ms, bad_table);
    } catch (const std::invalid_argument& e) {
      misuse = e.what();
    }
    CHECK(misuse.find("must be a plain lower-case SQL identifier") != std::string::npos);
    std::vector<pg::Migration> twice{{1, "a", "SELECT 1"}, {1, "b", "SELECT 1"}};
    std::string duplicate;
    try {
      co_await pg::migrate(conn, twice, opts);
    } catch (const pg::MigrationError& e) {
      duplicate = e.what();
    }
    CHECK(duplicate.find("version 1 is used twice (1_a and 1_b)") != std::string::npos);
  });
}

TEST_CASE("pg: instances migrating at once apply each migration exactly once", "[pg][migrate]") {
  Service* server = grove::test::postgres();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    std::string t = unique_name("race"), table = unique_name("migrations");
    const pg::MigrateOptions opts{.table = table};
    // Each migration appends one row: run twice, it would leave two.
    std::vector<pg::Migration> ms{
        {1, "create", "CREATE TABLE " + t + " (n int); SELECT pg_sleep(0.05);"}};
    for (int v = 2; v <= 6; ++v)
      ms.push_back({v, "row", "INSERT INTO " + t + " VALUES (" + std::to_string(v) + ");"});
    std::vector<pg::Connection> conns;
    for (int i = 0; i < 4; ++i)
      conns.push_back(co_await pg::Connection::connect(server->conninfo_unix()));
    std::vector<aio::TaskHandle<pg::MigrationReport>> runs;
    for (auto& c : conns) runs.push_back(aio::create_task(pg::migrate(c, ms, opts)));
    std::size_t applied = 0;
    for (auto& r : runs) applied += (co_await r).applied.size();
    CHECK(applied == 6);
    std::int64_t n8 = co_await count(conns[0], "SELECT count(*) FROM " + t);
    CHECK(n8 == 5);
    std::int64_t n9 = co_await count(conns[0], "SELECT count(DISTINCT n) FROM " + t);
    CHECK(n9 == 5);
  });
}

TEST_CASE("pg: migrations_from_directory reads <version>_<name>.sql in order and names a bad file",
          "[pg][migrate]") {
  TempDir dir;
  dir.write("0010_second.sql", "SELECT 2;");
  dir.write("0002_first.sql", "SELECT 1;");
  std::filesystem::create_directory(dir.path / "archive");  // folders are skipped
  auto ms = pg::migrations_from_directory(dir.path);
  REQUIRE(ms.size() == 2);
  CHECK(ms[0].version == 2);
  CHECK(ms[0].name == "first");
  CHECK(ms[0].sql == "SELECT 1;");
  CHECK(ms[1].version == 10);
  CHECK(ms[1].name == "second");

  dir.write("10_again.sql", "SELECT 3;");
  CHECK_THROWS_WITH(pg::migrations_from_directory(dir.path),
                    Catch::Contains("version 10 is used twice"));
  std::filesystem::remove(dir.path / "10_again.sql");
  dir.write("README.md", "notes");
  CHECK_THROWS_WITH(pg::migrations_from_directory(dir.path),
                    Catch::Contains("README.md is not named <version>_<name>.sql"));
  CHECK_THROWS_AS(pg::migrations_from_directory(dir.path / "missing"), pg::MigrationError);
}
