// A bounded pool of Redis connections, for coroutines and green threads alike.
//
//   redis::Pool pool({.url = "redis://127.0.0.1:6379/0", .max_size = 20});
//   co_await pool.open();                                   // a clear start-up error here
//   co_await pool.command("SET", "k", "v");                 // acquire, run, give back
//   std::optional<std::string> v = co_await pool.get("k");
//   {
//     redis::PooledConnection c = co_await pool.acquire();  // PoolTimeout after acquire_timeout
//     co_await c->command("WATCH", "k");
//     auto r = co_await c->transaction({redis::command("INCR", "k")});
//   }                                                       // back to the pool (or dropped)
//   // From a green thread: green::wait(pool.command("PING")).
//
// acquire() waits at most acquire_timeout for a free slot, then checks the idle connection
// it takes (healthy(): nothing to read, not closed by the server) and drops it if not. With
// no idle connection it opens one, retrying with backoff while the server is unreachable
// (restarting), until the deadline: then PoolTimeout naming the last connection error. A
// connection that broke (lost mid-command, timed out, refused a reply, cancelled) never
// goes back. The Pool object may go before its PooledConnections (its state is shared).
#pragma once

#include <grove/detail/connection_pool.hpp>
#include <grove/redis/connection.hpp>

#include <memory>

// Instantiated once, in the client library.
extern template class grove::detail::PooledConnection<grove::redis::Connection>;
extern template class grove::detail::ConnectionPool<grove::redis::Connection>;

namespace grove::redis {

struct PoolOptions {
  std::string url = "redis://127.0.0.1:6379";
  std::size_t max_size = 10;
  Duration acquire_timeout = 5s;
  ConnectionOptions connection = {};
  // Between failed connection attempts: first wait, doubling up to the maximum.
  Duration backoff_initial = 50ms;
  Duration backoff_max = 1s;
};

// A pool's figures at one moment (grove::http::add_pool_metrics() exports them).
using PoolStats = grove::detail::ConnectionPoolStats;

// A connection lent by a Pool: use it through -> or *; destroyed, it goes back.
using PooledConnection = grove::detail::PooledConnection<Connection>;

// open(), acquire(), max_size(), size(), idle(), discarded() and stats() are
// grove::detail::ConnectionPool's. open() throws ConnectionError for a refused connection or
// a wrong password.
class Pool : public grove::detail::ConnectionPool<Connection> {
 public:
  // Throws std::invalid_argument for a bad URL or a max_size of 0.
  explicit Pool(PoolOptions options);
  ~Pool();

  // acquire() + the call + give back.
  template <class... Args>
  aio::Task<Reply> command(Args... args) {
    return execute(redis::command(args...));
  }
  aio::Task<Reply> execute(Command command);
  aio::Task<std::vector<Reply>> pipeline(std::vector<Command> commands);
  aio::Task<std::optional<std::string>> get(std::string key);
  aio::Task<void> set(std::string key, std::string value, Duration ttl = Duration::zero());
};

}  // namespace grove::redis
