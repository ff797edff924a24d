// A bounded pool of PostgreSQL connections, for coroutines and green threads alike.
//
//   pg::Pool pool({.conninfo = "host=127.0.0.1 dbname=app", .max_size = 20});
//   co_await pool.open();                       // connects once: a clear start-up error
//   pg::Result r = co_await pool.query("SELECT $1::int + 1", 41);   // acquire, run, return
//   {
//     pg::PooledConnection c = co_await pool.acquire();   // PoolTimeout after acquire_timeout
//     auto tx = co_await c->begin();
//     ...
//   }                                           // back to the pool (or dropped if broken)
//   // From a green thread: green::wait(pool.query(...)).
//
// acquire() waits at most acquire_timeout for a free slot, then checks the idle connection
// it takes (healthy(): the server has not closed it; a transaction left open is rolled
// back) and drops it if not. With no idle connection it opens one, retrying with backoff
// while the server is unreachable (restarting), until the deadline: then PoolTimeout naming
// the last connection error. A connection that is broken (lost mid-query, cancelled,
// refused a result) never goes back. The pool must outlive its PooledConnections' use; the
// Pool object itself may go first (its state is shared).
#pragma once

#include <grove/detail/connection_pool.hpp>
#include <grove/pg/connection.hpp>

#include <memory>

// Instantiated once, in the client library.
extern template class grove::detail::PooledConnection<grove::pg::Connection>;
extern template class grove::detail::ConnectionPool<grove::pg::Connection>;

namespace grove::pg {

struct PoolOptions {
  std::string conninfo;
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
// grove::detail::ConnectionPool's. open() throws ConnectionError with libpq's message for a
// wrong password, a missing database or an unreachable server.
class Pool : public grove::detail::ConnectionPool<Connection> {
 public:
  explicit Pool(PoolOptions options);
  ~Pool();

  // acquire() + query() + return.
  template <class... Args>
  aio::Task<Result> query(std::string sql, Args... args) {
    PooledConnection c = co_await acquire();
    co_return co_await c->query(std::move(sql), args...);
  }
};

}  // namespace grove::pg
