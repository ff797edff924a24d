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

#include <grove/redis/connection.hpp>

#include <memory>

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
  // Throws std::invalid_argument for a bad URL or a max_size of 0.
  explicit Pool(PoolOptions options);
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  ~Pool();

  // Opens one connection now and keeps it idle: a refused connection or a wrong password
  // throws ConnectionError here, at start-up.
  aio::Task<void> open();
  aio::Task<PooledConnection> acquire();

  // acquire() + the call + give back.
  template <class... Args>
  aio::Task<Reply> command(Args... args) {
    return execute(redis::command(args...));
  }
  aio::Task<Reply> execute(Command command);
  aio::Task<std::vector<Reply>> pipeline(std::vector<Command> commands);
  aio::Task<std::optional<std::string>> get(std::string key);
  aio::Task<void> set(std::string key, std::string value, Duration ttl = Duration::zero());

  std::size_t max_size() const noexcept;
  // Open connections: lent plus idle.
  std::size_t size() const noexcept;
  std::size_t idle() const noexcept;
  // Connections dropped because they broke or failed the checkout check.
  std::size_t discarded() const noexcept;
  PoolStats stats() const noexcept;

 private:
  std::shared_ptr<detail::PoolState> state_;
};

}  // namespace grove::redis
