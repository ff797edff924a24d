// grove::redis under faults: the server killed mid-command and mid-pipeline, connection
// refused, a silent server, a server that does not speak RESP, a command timeout, a reply
// past a limit, and a cancelled command. Each a clear error; the connection is discarded.
#include "redis_support.hpp"

using namespace grove;
using namespace grove::redis::test;

namespace {
// A port nothing listens on: bound, then closed.
std::uint16_t closed_port() {
  aio::Listener l = aio::Listener::bind("127.0.0.1", 0);
  std::uint16_t port = l.port();
  l.close();
  return port;
}
}  // namespace

TEST_CASE("redis faults: the server killed mid-command and mid-pipeline",
          "[redis][faults][restart]") {
  Service* server = grove::test::private_redis();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    redis::Connection blocked = co_await redis::Connection::connect(url_of(*server));
    redis::Connection piped = co_await redis::Connection::connect(url_of(*server));
    std::string key = unique_key("killed");
    auto command = aio::create_task(blocked.command("BLPOP", key, 30));
    std::vector<redis::Command> cmds;
    for (int i = 0; i < 100; ++i) cmds.push_back(redis::command("INCR", key + ":n"));
    cmds.push_back(redis::command("BLPOP", key, 30));  // the pipeline waits here
    auto pipeline = aio::create_task(piped.pipeline(std::move(cmds)));
    co_await aio::sleep(100ms);
    server->stop();
    std::string m1, m2;
    try {
      co_await command;
    } catch (const redis::ConnectionError& e) {
      m1 = e.what();
    }
    try {
      co_await pipeline;
    } catch (const redis::ConnectionError& e) {
      m2 = e.what();
    }
    INFO(m1);
    CHECK(m1.find("was lost") != std::string::npos);
    CHECK(m2.find("was lost") != std::string::npos);
    CHECK(blocked.broken());
    CHECK(piped.broken());
    auto e23 = co_await thrown<std::exception>(blocked.command("PING"));
    REQUIRE(e23.has_value());
    CHECK(e23->find("broken") != std::string::npos);
    REQUIRE(server->start() == 0);
  });
}

TEST_CASE("redis faults: connection refused says where and what to check", "[redis][faults]") {
  run([&]() -> aio::Task<void> {
    std::uint16_t port = closed_port();
    std::string message;
    try {
      co_await redis::Connection::connect("redis://127.0.0.1:" + std::to_string(port));
    } catch (const redis::ConnectionError& e) {
      message = e.what();
    }
    INFO(message);
    CHECK(message.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
    CHECK(message.find("refused") != std::string::npos);
    CHECK(message.find("redis-server running") != std::string::npos);
  });
}

TEST_CASE("redis faults: a server that accepts but never answers times out the connect",
          "[redis][faults]") {
  run([&]() -> aio::Task<void> {
    aio::Listener silent = aio::Listener::bind("127.0.0.1", 0);  // the kernel accepts; nobody reads
    auto start = SteadyClock::now();
    std::string message;
    try {
      co_await redis::Connection::connect("redis://127.0.0.1:" + std::to_string(silent.port()),
                                          {.connect_timeout = 200ms});
    } catch (const redis::ConnectionError& e) {
      message = e.what();
    }
    INFO(message);
    CHECK(message.find("connect_timeout") != std::string::npos);
    CHECK(ms_since(start) < 5000);
  });
}

TEST_CASE("redis faults: a server that does not speak RESP is a clear error, not a hang",
          "[redis][faults]") {
  run([&]() -> aio::Task<void> {
    aio::Listener http = aio::Listener::bind("127.0.0.1", 0);
    auto serve = aio::create_task(aio::co_invoke([&]() -> aio::Task<void> {
      aio::Socket s = co_await http.accept();
      co_await s.recv_some();
      co_await s.send("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
      co_await aio::sleep(2s);  // and keeps the connection open
    }));
    std::string message;
    try {
      co_await redis::Connection::connect("redis://127.0.0.1:" + std::to_string(http.port()),
                                          {.connect_timeout = 5s});
    } catch (const redis::ConnectionError& e) {
      message = e.what();
    }
    serve.cancel();
    INFO(message);
    CHECK(message.find("malformed reply") != std::string::npos);
    CHECK(message.find("is this a Redis server") != std::string::npos);
  });
}

TEST_CASE("redis faults: a command timeout throws Timeout and discards the connection",
          "[redis][faults]") {
  Service* server = grove::test::redis();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    redis::Connection c =
        co_await redis::Connection::connect(url_of(*server), {.command_timeout = 150ms});
    auto v24 = co_await c.command("PING");
    CHECK(v24.as_string() == "PONG");
    auto start = SteadyClock::now();
    std::string message;
    try {
      co_await c.command("BLPOP", unique_key("slow"), 10);
    } catch (const redis::Timeout& e) {
      message = e.what();
    }
    INFO(message);
    CHECK(message.find("command_timeout") != std::string::npos);
    CHECK(ms_since(start) < 5000);
    CHECK(c.broken());
  });
}

TEST_CASE("redis faults: a reply past a limit is refused before it is buffered",
          "[redis][faults]") {
  Service* server = grove::test::redis();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    redis::Connection writer = co_await redis::Connection::connect(url_of(*server));
    std::string key = unique_key("large");
    co_await writer.set(key, std::string(4u << 20, 'x'));
    for (int i = 0; i < 200; ++i) co_await writer.command("RPUSH", key + ":l", i);

    redis::ConnectionOptions small{.limits = {.max_bulk_bytes = 1u << 20, .max_elements = 100}};
    redis::Connection reader = co_await redis::Connection::connect(url_of(*server), small);
    std::string message;
    try {
      co_await reader.get(key);
    } catch (const redis::ReplyTooLarge& e) {
      message = e.what();
    }
    INFO(message);
    CHECK(message.find("4194304 bytes") != std::string::npos);
    CHECK(message.find("max_bulk_bytes") != std::string::npos);
    CHECK(reader.broken());

    redis::Connection lists = co_await redis::Connection::connect(url_of(*server), small);
    auto e25 = co_await thrown<redis::ReplyTooLarge>(lists.command("LRANGE", key + ":l", 0, -1));
    CHECK(e25.has_value());
    CHECK(lists.broken());

    // Through a pool: the refusing connection is dropped, the next command gets a fresh one.
    redis::Pool pool({.url = url_of(*server), .max_size = 1, .connection = small});
    auto e26 = co_await thrown<redis::ReplyTooLarge>(pool.get(key));
    CHECK(e26.has_value());
    CHECK(pool.discarded() == 1);
    auto v27 = co_await pool.command("LLEN", key + ":l");
    CHECK(v27.as_integer() == 200);
    co_await writer.del(key);
  });
}

TEST_CASE("redis faults: cancelling a command mid-flight discards the connection",
          "[redis][faults]") {
  Service* server = grove::test::redis();
  if (!server) return;
  run([&]() -> aio::Task<void> {
    redis::Pool pool({.url = url_of(*server), .max_size = 1});
    auto waiting = aio::create_task(pool.command("BLPOP", unique_key("cancelled"), 30));
    co_await aio::sleep(50ms);
    waiting.cancel();
    bool cancelled = false;
    try {
      co_await waiting;
    } catch (const aio::CancelledError&) {
      cancelled = true;
    }
    CHECK(cancelled);
    CHECK(pool.discarded() == 1);
    auto v28 = co_await pool.command("PING");
    CHECK(v28.as_string() == "PONG");
  });
}
