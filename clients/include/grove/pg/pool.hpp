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

#include <grove/pg/connection.hpp>

#include <deque>
#include <memory>

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
struct PoolStats {
  std::size_t max_size = 0;
  std::size_t lent = 0;       // connections in use
  std::size_t idle = 0;       // open and free
  std::size_t discarded = 0;  // dropped as broken or failing the checkout check
  std::uint64_t waits = 0;    // acquires that found all max_size slots taken and waited
  double wait_seconds = 0;    // the time those acquires waited for a slot
  std::uint64_t timeouts =
      0;  // acquires that gave up with PoolTimeout (no free slot, or no connection)
};

namespace detail {
struct PoolState;
}

// A connection lent by a Pool: use it through -> or *; destroyed, it goes back.
class PooledConnection {
 public:
  PooledConnection(PooledConnection&&) noexcept = default;
  PooledConnection& operator=(PooledConnection&&) = delete;
  ~PooledConnection();
  Connection* operator->() noexcept { return conn_.get(); }
  Connection& operator*() noexcept { return *conn_; }

 private:
  friend class Pool;
  PooledConnection(std::shared_ptr<detail::PoolState> pool,
                   std::unique_ptr<Connection> conn) noexcept
      : pool_(std::move(pool)), conn_(std::move(conn)) {}
  std::shared_ptr<detail::PoolState> pool_;
  std::unique_ptr<Connection> conn_;
};

class Pool {
 public:
  explicit Pool(PoolOptions options);
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  ~Pool();

  // Opens one connection now and keeps it idle: a wrong password, a missing database or an
  // unreachable server throws ConnectionError here, at start-up, with libpq's message.
  aio::Task<void> open();
  aio::Task<PooledConnection> acquire();
  // acquire() + query() + return.
  template <class... Args>
  aio::Task<Result> query(std::string sql, Args... args) {
    PooledConnection c = co_await acquire();
    co_return co_await c->query(std::move(sql), args...);
  }

  std::size_t max_size() const noexcept;
  // Open connections: lent plus idle.
  std::size_t size() const noexcept;
  std::size_t idle() const noexcept;
  // Connections dropped because they were broken or failed the checkout check.
  std::size_t discarded() const noexcept;
  PoolStats stats() const noexcept;

 private:
  std::shared_ptr<detail::PoolState> state_;
};

}  // namespace grove::pg
