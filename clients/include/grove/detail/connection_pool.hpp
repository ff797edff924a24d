// What grove::pg::Pool and grove::redis::Pool share: their base, the figures and the lease.
// Use them through <grove/pg/pool.hpp> and <grove/redis/pool.hpp>, as pg::Pool,
// pg::PoolStats, pg::PooledConnection and the redis:: ones. The machinery (slots, idle
// stack, connection attempts) is clients/src/connection_pool.hpp, instantiated once per
// client in its library.
#pragma once

#include <grove/aio.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace grove::detail {

// A pool's figures at one moment (grove::http::add_pool_metrics() exports them).
struct ConnectionPoolStats {
  std::size_t max_size = 0;
  std::size_t lent = 0;       // connections in use
  std::size_t idle = 0;       // open and free
  std::size_t discarded = 0;  // dropped as broken or failing the checkout check
  std::uint64_t waits = 0;    // acquires that found all max_size slots taken and waited
  double wait_seconds = 0;    // the time those acquires waited for a slot
  // acquires that gave up with PoolTimeout (no free slot, or no connection)
  std::uint64_t timeouts = 0;
};

template <class Connection>
struct ConnectionPoolState;

// A connection lent by a pool: use it through -> or *; destroyed, it goes back (or is
// dropped if it broke). The pool's state is shared, so the Pool object may go first.
template <class Connection>
class PooledConnection {
 public:
  PooledConnection(PooledConnection&&) noexcept = default;
  PooledConnection& operator=(PooledConnection&&) = delete;
  ~PooledConnection();
  Connection* operator->() noexcept { return conn_.get(); }
  Connection& operator*() noexcept { return *conn_; }

 private:
  friend struct ConnectionPoolState<Connection>;
  explicit PooledConnection(std::shared_ptr<ConnectionPoolState<Connection>> pool) noexcept
      : pool_(std::move(pool)) {}
  std::shared_ptr<ConnectionPoolState<Connection>> pool_;
  std::unique_ptr<Connection> conn_;
};

// The calls every client's Pool has (see <grove/pg/pool.hpp> for the contract).
template <class Connection>
class ConnectionPool {
 public:
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Opens one connection now and keeps it idle: a refused connection or a failed login
  // throws the client's ConnectionError here, at start-up.
  aio::Task<void> open();
  // Waits at most acquire_timeout for a free slot, then lends a checked idle connection or
  // a new one: else the client's PoolTimeout.
  aio::Task<PooledConnection<Connection>> acquire();

  std::size_t max_size() const noexcept;
  // Open connections: lent plus idle.
  std::size_t size() const noexcept;
  std::size_t idle() const noexcept;
  // Connections dropped because they broke or failed the checkout check.
  std::size_t discarded() const noexcept;
  ConnectionPoolStats stats() const noexcept;

 protected:
  template <class Options>
  explicit ConnectionPool(Options options)
      : state_(std::make_shared<ConnectionPoolState<Connection>>(std::move(options))) {}
  ~ConnectionPool() = default;

 private:
  std::shared_ptr<ConnectionPoolState<Connection>> state_;
};

}  // namespace grove::detail
