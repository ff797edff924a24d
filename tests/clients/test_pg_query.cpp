// grove::pg::Connection: connecting, parameters, typed rows, NULLs, server errors that keep
// the connection usable, and the clear errors of a bad start.
#include "pg_support.hpp"
#include "test_certs.hpp"

using namespace grove;
using namespace grove::pg::test;

TEST_CASE("pg: a query with parameters returns typed rows, NULL as std::optional", "[pg]") {
  Service* server = grove::test::postgres();
  if (!server) return;
  auto how = GENERATE(std::string("TCP"), std::string("a Unix socket"));
  std::string conninfo = how == "TCP" ? server->conninfo_tcp() : server->conninfo_unix();
  INFO("over " << how);
  run([&]() -> aio::Task<void> {
    pg::Connection conn = co_await pg::Connection::connect(conninfo);
    pg::Result r = co_await conn.query(
        "SELECT $1::bigint AS id, $2::text AS name, $3::text AS email, $4::float8 AS score, "
        "$5::bool AS active",
        std::int64_t(9007199254740993), "Zoë 'quoted'", std::nullopt, 2.5, true);
    REQUIRE(r.size() == 1);
    CHECK(r.columns() == std::vector<std::string>{"id", "name", "email", "score", "active"});
    pg::Row row = r[0];
    CHECK(row.get<std::int64_t>("id") == 9007199254740993);
    CHECK(row.get<std::string>("name") == "Zoë 'quoted'");
    CHECK(row.get<std::optional<std::string>>("email") == std::nullopt);
    CHECK(row.is_null("email"));
    CHECK(row.get<std::optional<std::string>>("name") == "Zoë 'quoted'");
    CHECK(row.get<double>("score") == 2.5);
    CHECK(row.get<bool>("active"));
    CHECK(row.get<std::int64_t>(0) == 9007199254740993);

    pg::Result many = co_await conn.query("SELECT g AS n FROM generate_series(1, $1::int) g", 500);
    CHECK(many.size() == 500);
    std::int64_t sum = 0;
    for (pg::Row x : many) sum += x.get<int>("n");
    CHECK(sum == 500 * 501 / 2);
    CHECK(many.affected_rows() == 500);
  });
}

TEST_CASE("pg: reading a value as the wrong type or a NULL as a plain type throws TypeError",
          "[pg]") {
  Service* server = grove::test::postgres();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    pg::Connection conn = co_await pg::Connection::connect(server->conninfo_unix());
    pg::Result r = co_await conn.query("SELECT 'abc' AS word, NULL::int AS nothing, 70000 AS big");
    pg::Row row = r[0];
    CHECK_THROWS_AS(row.get<int>("word"), pg::TypeError);
    CHECK_THROWS_WITH(row.get<int>("nothing"),
                      Catch::Contains("NULL") && Catch::Contains("std::optional"));
    CHECK_THROWS_AS(row.get<std::int16_t>("big"), pg::TypeError);  // out of range
    CHECK(row.get<std::int32_t>("big") == 70000);
    CHECK_THROWS_WITH(row.get<int>("missing"), Catch::Contains("word, nothing, big"));
    CHECK_THROWS_AS(r[1], std::out_of_range);
  });
}

TEST_CASE("pg: a server error carries SQLSTATE and message, and the connection stays usable",
          "[pg]") {
  Service* server = grove::test::postgres();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    pg::Connection conn = co_await pg::Connection::connect(server->conninfo_unix());
    std::string table = unique_name("users");
    co_await conn.query("CREATE TABLE " + table + " (id int PRIMARY KEY)");
    co_await conn.query("INSERT INTO " + table + " VALUES ($1)", 1);
    std::string state, message;
    try {
      co_await conn.query("INSERT INTO " + table + " VALUES ($1)", 1);
    } catch (const pg::ServerError& e) {
      state = e.sqlstate();
      message = e.message();
    }
    CHECK(state == "23505");  // unique_violation
    CHECK(message.find("duplicate key") != std::string::npos);
    try {
      co_await conn.query("SELEC 1");
    } catch (const pg::ServerError& e) {
      state = e.sqlstate();
    }
    CHECK(state == "42601");  // syntax_error
    CHECK_FALSE(conn.broken());
    pg::Result r = co_await conn.query("SELECT count(*) AS n FROM " + table);
    CHECK(r[0].get<int>("n") == 1);
    co_await conn.query("DROP TABLE " + table);
  });
}

TEST_CASE("pg: a wrong password or a missing database is a clear ConnectionError", "[pg]") {
  Service* server = grove::test::postgres();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    std::string wrong_password = server->conninfo_password("wrong");
    std::string missing_db = server->conninfo_unix("dbname=no_such_db");
    std::string e1, e2;
    try {
      co_await pg::Connection::connect(wrong_password);
    } catch (const pg::ConnectionError& e) {
      e1 = e.what();
    }
    try {
      co_await pg::Connection::connect(missing_db);
    } catch (const pg::ConnectionError& e) {
      e2 = e.what();
    }
    INFO(e1 << "\n" << e2);
    // The right password gets in: the failure above was the password's.
    pg::Connection right = co_await pg::Connection::connect(server->conninfo_password("grove"));
    CHECK(right.is_open());
    CHECK(e1.find("password authentication failed") != std::string::npos);
    CHECK(e2.find("\"no_such_db\" does not exist") != std::string::npos);
  });
}

TEST_CASE("pg: connect gives up after connect_timeout when the server never answers", "[pg]") {
  // A listener that completes TCP handshakes but never speaks PostgreSQL.
  int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(l, 16) == 0);
  socklen_t len = sizeof a;
  ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
  std::string conninfo =
      "host=127.0.0.1 user=grove dbname=postgres port=" + std::to_string(ntohs(a.sin_port));
  auto start = SteadyClock::now();
  std::string error = run([&]() -> aio::Task<std::string> {
    try {
      co_await pg::Connection::connect(conninfo, {.connect_timeout = 300ms});
    } catch (const pg::ConnectionError& e) {
      co_return e.what();
    }
    co_return "connected?";
  });
  double took = ms_since(start);
  ::close(l);
  INFO(error << " after " << took << " ms");
  CHECK(error.find("within 300 ms") != std::string::npos);
  CHECK(took >= 290);
  CHECK(took < 5000);
}

TEST_CASE("pg: two queries at once on one connection is a usage error", "[pg]") {
  Service* server = grove::test::postgres();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    pg::Connection conn = co_await pg::Connection::connect(server->conninfo_unix());
    auto first = aio::create_task(conn.query("SELECT pg_sleep(0.05)"));
    co_await aio::sleep(10ms);
    CHECK_THROWS_WITH(co_await conn.query("SELECT 1"), Catch::Contains("already running"));
    co_await first;
    pg::Result r = co_await conn.query("SELECT 2 AS two");
    CHECK(r[0].get<int>("two") == 2);
  });
}

// grove::pg over TLS: libpq's own TLS (sslmode in the connection string) on the native
// client's non-blocking connect, against a PostgreSQL with TLS on; verify-full checks the
// certificate against the test CA and the host name, and an untrusted CA is refused.
TEST_CASE("pg: the native client connects over TLS with sslmode=require and verify-full",
          "[pg][tls]") {
  static grove::test::TestCertificates certs;  // one set per process, like its server
  Service* server = grove::test::postgres_tls(certs.server.cert, certs.server.key);
  if (!server) return;
  run([&]() -> aio::Task<void> {
    for (const std::string extra :
         {std::string("sslmode=require"), "sslmode=verify-full sslrootcert=" + certs.ca.cert}) {
      INFO(extra);
      pg::Connection conn = co_await pg::Connection::connect(server->conninfo_localhost(extra));
      pg::Result r =
          co_await conn.query("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
      REQUIRE(r.size() == 1);
      CHECK(r[0].get<bool>("ssl"));
      CHECK(r[0].get<std::string>("version").rfind("TLSv1.", 0) == 0);
    }
    // A CA that did not sign the server's certificate: refused during the handshake.
    std::string refused;
    try {
      co_await pg::Connection::connect(
          server->conninfo_localhost("sslmode=verify-full sslrootcert=" + certs.other_ca.cert));
    } catch (const pg::ConnectionError& e) {
      refused = e.what();
    }
    INFO(refused);
    CHECK(refused.find("certificate verify failed") != std::string::npos);
  });
}
