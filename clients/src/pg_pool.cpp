// grove::pg::Pool: a semaphore of max_size slots, a stack of idle connections, and
// connection attempts with backoff bounded by the acquire deadline.
#include <grove/pg/pool.hpp>

#include <algorithm>

namespace grove::pg {

namespace detail {
struct PoolState {
  explicit PoolState(PoolOptions o) : options(std::move(o)), slots(options.max_size) {}
  PoolOptions options;
  aio::Semaphore slots;
  std::vector<std::unique_ptr<Connection>> idle;  // most recently used last
  std::size_t lent = 0;
  std::size_t discarded = 0;
  std::uint64_t waits = 0;     // acquires that found every slot taken
  double wait_seconds = 0;     // their time waiting for a slot
  std::uint64_t timeouts = 0;  // acquires that gave up (PoolTimeout)

  void give_back(std::unique_ptr<Connection> conn) noexcept {
    --lent;
    if (!conn) {
      // a checkout that failed: nothing to keep
    } else if (!conn->broken() && conn->is_open() && !conn->busy()) {
      try {
        idle.push_back(std::move(conn));
      } catch (...) {
        ++discarded;
      }
    } else {
      ++discarded;
    }
    slots.release();
  }
};
}  // namespace detail

namespace {
long long ms(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}
}  // namespace

PooledConnection::~PooledConnection() {
  if (pool_) pool_->give_back(std::move(conn_));
}

Pool::Pool(PoolOptions options) {
  if (options.max_size == 0)
    throw std::invalid_argument("grove::pg: PoolOptions::max_size must be at least 1");
  state_ = std::make_shared<detail::PoolState>(std::move(options));
}
Pool::~Pool() = default;

std::size_t Pool::max_size() const noexcept { return state_->options.max_size; }
std::size_t Pool::size() const noexcept { return state_->lent + state_->idle.size(); }
std::size_t Pool::idle() const noexcept { return state_->idle.size(); }
std::size_t Pool::discarded() const noexcept { return state_->discarded; }
PoolStats Pool::stats() const noexcept {
  const detail::PoolState& st = *state_;
  return {st.options.max_size, st.lent,    st.idle.size(), st.discarded, st.waits,
          st.wait_seconds,     st.timeouts};
}

aio::Task<void> Pool::open() {
  auto state = state_;
  auto conn = std::make_unique<Connection>(
      co_await Connection::connect(state->options.conninfo, state->options.connection));
  if (size() < max_size()) state->idle.push_back(std::move(conn));
}

aio::Task<PooledConnection> Pool::acquire() {
  auto state = state_;  // the Pool may go while this waits
  const PoolOptions& o = state->options;
  const auto asked = Clock::now();
  auto deadline = asked + o.acquire_timeout;
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
    throw PoolTimeout("grove::pg: no connection free within " +
                      std::to_string(ms(o.acquire_timeout)) + " ms: all " +
                      std::to_string(o.max_size) +
                      " are in use (raise PoolOptions::max_size or acquire_timeout)");
  }
  ++state->lent;
  // From here the slot is ours: every way out either lends a connection or gives it back.
  PooledConnection lease(state, nullptr);
  while (!state->idle.empty()) {
    std::unique_ptr<Connection> c = std::move(state->idle.back());
    state->idle.pop_back();
    if (c->healthy()) {
      lease.conn_ = std::move(c);
      co_return lease;
    }
    ++state->discarded;
  }
  std::string last_error;
  Duration backoff = o.backoff_initial;
  for (;;) {
    auto left = std::chrono::duration_cast<Duration>(deadline - Clock::now());
    ConnectionOptions co = o.connection;
    co.connect_timeout = std::clamp(left, Duration(1ms), o.connection.connect_timeout);
    try {
      lease.conn_ = std::make_unique<Connection>(co_await Connection::connect(o.conninfo, co));
      co_return lease;
    } catch (ConnectionError& e) {
      last_error = e.what();
    }
    left = std::chrono::duration_cast<Duration>(deadline - Clock::now());
    if (left <= backoff) {
      ++state->timeouts;
      throw PoolTimeout("grove::pg: could not open a connection within " +
                        std::to_string(ms(o.acquire_timeout)) + " ms; last error: " + last_error);
    }
    co_await aio::sleep(backoff);
    backoff = std::min(backoff * 2, o.backoff_max);
  }
}

}  // namespace grove::pg
