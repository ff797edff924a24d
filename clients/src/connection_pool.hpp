// The pool behind grove::pg::Pool and grove::redis::Pool: a semaphore of max_size slots, a
// stack of idle connections, and connection attempts with backoff bounded by the acquire
// deadline. Each client instantiates it for its Connection type (pg_pool.cpp,
// redis_pool.cpp), giving how to connect and which PoolTimeout to throw.
#pragma once

#include <grove/aio.hpp>
#include <grove/detail/connection_pool.hpp>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

namespace grove::detail {

// What each client gives its pool, specialised next to its Pool (pg_pool.cpp,
// redis_pool.cpp):
//   using Options = PoolOptions;        // max_size, acquire_timeout, backoff_initial/_max
//   using ConnectionError = ...;        // a failed connection attempt: retried with backoff
//   using PoolTimeout = ...;            // thrown when acquire() gives up
//   static constexpr const char* client = "grove::pg";   // starts every error message
//   static aio::Task<Connection> connect(const Options&, Duration timeout);
//     // opens one connection within `timeout`, at most the client's own connect timeout
template <class Connection>
struct ConnectionPoolTraits;

// The traits of a client whose PoolOptions name the server in `target` and carry the
// connection's options in `connection` (both clients do); the specialisation adds `client`.
template <class Connection, class PoolOptions, class ConnectionErrorType, class PoolTimeoutType,
          std::string PoolOptions::*target>
struct ClientPoolTraits {
  using Options = PoolOptions;
  using ConnectionError = ConnectionErrorType;
  using PoolTimeout = PoolTimeoutType;
  static aio::Task<Connection> connect(const Options& o, Duration timeout) {
    auto options = o.connection;
    options.connect_timeout = std::min(timeout, o.connection.connect_timeout);
    return Connection::connect(o.*target, options);
  }
};

template <class Connection>
struct ConnectionPoolState {
  using Traits = ConnectionPoolTraits<Connection>;
  using Options = typename Traits::Options;
  using Lease = PooledConnection<Connection>;

  explicit ConnectionPoolState(Options o) : options(std::move(o)), slots(options.max_size) {
    if (options.max_size == 0)
      throw std::invalid_argument(std::string(Traits::client) +
                                  ": PoolOptions::max_size must be at least 1");
  }

  Options options;
  aio::Semaphore slots;
  std::vector<std::unique_ptr<Connection>> idle;  // most recently used last
  std::size_t lent = 0;
  std::size_t discarded = 0;
  std::uint64_t waits = 0;     // acquires that found every slot taken
  double wait_seconds = 0;     // their time waiting for a slot
  std::uint64_t timeouts = 0;  // acquires that gave up (PoolTimeout)

  std::size_t size() const noexcept { return lent + idle.size(); }
  ConnectionPoolStats stats() const noexcept {
    return {options.max_size, lent, idle.size(), discarded, waits, wait_seconds, timeouts};
  }

  // Opens one connection now and keeps it idle: a start-up error surfaces here.
  static aio::Task<void> open(std::shared_ptr<ConnectionPoolState> state) {
    auto conn =
        std::make_unique<Connection>(co_await Traits::connect(state->options, Duration::max()));
    if (state->size() < state->options.max_size) state->idle.push_back(std::move(conn));
  }

  // `state` by value: the Pool object may go while this waits.
  static aio::Task<Lease> acquire(std::shared_ptr<ConnectionPoolState> state) {
    const Options& o = state->options;
    const auto asked = Clock::now();
    const auto deadline = asked + o.acquire_timeout;
    bool timed_out = false;
    // A free slot is taken at once (none is free while others wait, so this keeps the FIFO);
    // otherwise the wait is counted for the metrics.
    if (!state->slots.try_acquire()) {
      ++state->waits;
      try {
        co_await aio::wait_for(state->slots.acquire(), o.acquire_timeout);
      } catch (aio::TimeoutError&) {
        timed_out = true;
      }
      state->wait_seconds += std::chrono::duration<double>(Clock::now() - asked).count();
    }
    if (timed_out) {
      ++state->timeouts;
      throw typename Traits::PoolTimeout(
          std::string(Traits::client) + ": no connection free within " +
          std::to_string(ms(o.acquire_timeout)) + " ms: all " + std::to_string(o.max_size) +
          " are in use (raise PoolOptions::max_size or acquire_timeout)");
    }
    ++state->lent;
    // From here the slot is ours: every way out either lends a connection or gives it back.
    Lease lease(state);
    if (std::unique_ptr<Connection> c = state->take_healthy_idle()) {
      lease.conn_ = std::move(c);
      co_return lease;
    }
    lease.conn_ = co_await connect_with_backoff(state, deadline);
    co_return lease;
  }

  void give_back(std::unique_ptr<Connection> conn) noexcept {
    --lent;
    if (conn && !conn->broken() && conn->is_open() && !conn->busy()) {
      try {
        idle.push_back(std::move(conn));
      } catch (...) {
        ++discarded;
      }
    } else if (conn) {
      ++discarded;
    }
    slots.release();
  }

 private:
  static long long ms(Duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  }

  // The most recently used idle connection that passes the checkout check; the others
  // met on the way are dropped.
  std::unique_ptr<Connection> take_healthy_idle() {
    while (!idle.empty()) {
      std::unique_ptr<Connection> c = std::move(idle.back());
      idle.pop_back();
      if (c->healthy()) return c;
      ++discarded;
    }
    return nullptr;
  }

  // Retries while the server is unreachable (restarting), until the acquire deadline.
  static aio::Task<std::unique_ptr<Connection>> connect_with_backoff(
      std::shared_ptr<ConnectionPoolState> state, Clock::time_point deadline) {
    const Options& o = state->options;
    std::string last_error;
    Duration backoff = o.backoff_initial;
    for (;;) {
      auto left = std::chrono::duration_cast<Duration>(deadline - Clock::now());
      try {
        co_return std::make_unique<Connection>(
            co_await Traits::connect(o, std::max(left, Duration(std::chrono::milliseconds(1)))));
      } catch (typename Traits::ConnectionError& e) {
        last_error = e.what();
      }
      left = std::chrono::duration_cast<Duration>(deadline - Clock::now());
      if (left <= backoff) {
        ++state->timeouts;
        throw typename Traits::PoolTimeout(
            std::string(Traits::client) + ": could not open a connection within " +
            std::to_string(ms(o.acquire_timeout)) + " ms; last error: " + last_error);
      }
      co_await aio::sleep(backoff);
      backoff = std::min(backoff * 2, o.backoff_max);
    }
  }
};

template <class Connection>
PooledConnection<Connection>::~PooledConnection() {
  if (pool_) pool_->give_back(std::move(conn_));
}

template <class Connection>
aio::Task<void> ConnectionPool<Connection>::open() {
  return ConnectionPoolState<Connection>::open(state_);
}
template <class Connection>
aio::Task<PooledConnection<Connection>> ConnectionPool<Connection>::acquire() {
  return ConnectionPoolState<Connection>::acquire(state_);
}
template <class Connection>
std::size_t ConnectionPool<Connection>::max_size() const noexcept {
  return state_->options.max_size;
}
template <class Connection>
std::size_t ConnectionPool<Connection>::size() const noexcept {
  return state_->size();
}
template <class Connection>
std::size_t ConnectionPool<Connection>::idle() const noexcept {
  return state_->idle.size();
}
template <class Connection>
std::size_t ConnectionPool<Connection>::discarded() const noexcept {
  return state_->discarded;
}
template <class Connection>
ConnectionPoolStats ConnectionPool<Connection>::stats() const noexcept {
  return state_->stats();
}

}  // namespace grove::detail
