// grove::pg::Pool: the shared pool (connection_pool.hpp) over pg::Connection.
#include <grove/pg/pool.hpp>

#include "connection_pool.hpp"

namespace grove::detail {
template <>
struct ConnectionPoolTraits<pg::Connection> {
  using Options = pg::PoolOptions;
  using ConnectionError = pg::ConnectionError;
  using PoolTimeout = pg::PoolTimeout;
  static constexpr const char* client = "grove::pg";
  static aio::Task<pg::Connection> connect(const Options& o, Duration timeout) {
    pg::ConnectionOptions options = o.connection;
    options.connect_timeout = std::min(timeout, o.connection.connect_timeout);
    return pg::Connection::connect(o.conninfo, options);
  }
};
template class PooledConnection<pg::Connection>;
template class ConnectionPool<pg::Connection>;
}  // namespace grove::detail

namespace grove::pg {

Pool::Pool(PoolOptions options) : ConnectionPool(std::move(options)) {}
Pool::~Pool() = default;

}  // namespace grove::pg
