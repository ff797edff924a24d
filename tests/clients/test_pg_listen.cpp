// grove::pg LISTEN/NOTIFY as an async stream, and pipeline mode.
#include "pg_support.hpp"

using namespace grove;
using namespace grove::pg::test;

TEST_CASE("pg: LISTEN delivers NOTIFY payloads one by one, in order", "[pg]") {
  Service* server = grove::test::postgres();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    pg::Connection listener = co_await pg::Connection::connect(server->conninfo_unix());
    pg::Connection sender = co_await pg::Connection::connect(server->conninfo_unix());
    std::string channel = unique_name("events");
    co_await listener.listen(channel);
    // Nothing yet: the wait times out.
    CHECK_THROWS_AS(co_await listener.next_notification(50ms), aio::TimeoutError);
    auto producer = aio::create_task(aio::co_invoke([&]() -> aio::Task<void> {
      for (int i = 0; i < 3; ++i) {
        co_await aio::sleep(20ms);
        co_await sender.query("SELECT pg_notify($1, $2)", channel, "item " + std::to_string(i));
      }
    }));
    for (int i = 0; i < 3; ++i) {
      pg::Notification n = co_await listener.next_notification(5s);
      CHECK(n.channel == channel);
      CHECK(n.payload == "item " + std::to_string(i));
      CHECK(n.backend_pid == sender.server_pid());
    }
    co_await producer;
  });
}

TEST_CASE("pg: a pipeline runs several statements in one round trip and stops at a failure",
          "[pg]") {
  Service* server = grove::test::postgres();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    pg::Connection conn = co_await pg::Connection::connect(server->conninfo_unix());
    // Named first: g++ 12 cannot keep an initializer list's array across a co_await.
    std::vector<pg::Connection::Statement> batch;
    batch.push_back(pg::statement("SELECT $1::int AS a", 1));
    batch.push_back(pg::statement("SELECT $1::text || 'b' AS b", "a"));
    batch.push_back(pg::statement("SELECT g FROM generate_series(1, 3) g"));
    std::vector<pg::Result> rs = co_await conn.pipeline(std::move(batch));
    REQUIRE(rs.size() == 3);
    CHECK(rs[0][0].get<int>("a") == 1);
    CHECK(rs[1][0].get<std::string>("b") == "ab");
    CHECK(rs[2].size() == 3);
    std::string state;
    std::vector<pg::Connection::Statement> failing;
    failing.push_back(pg::statement("SELECT 1"));
    failing.push_back(pg::statement("SELECT 1/0"));
    failing.push_back(pg::statement("SELECT 3"));
    try {
      co_await conn.pipeline(std::move(failing));
    } catch (const pg::ServerError& e) {
      state = e.sqlstate();
    }
    CHECK(state == "22012");  // division_by_zero
    pg::Result after = co_await conn.query("SELECT 4 AS four");
    CHECK(after[0].get<int>("four") == 4);
  });
}
