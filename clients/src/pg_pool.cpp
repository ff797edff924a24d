// grove::pg::Pool: the shared pool (connection_pool.hpp) over pg::Connection.
#include <grove/pg/pool.hpp>

#include "connection_pool.hpp"

namespace grove::detail {
template <>
struct ConnectionPoolTraits<pg::Connection>
    : ClientPoolTraits<pg::Connection, pg::PoolOptions, pg::ConnectionError, pg::PoolTimeout,
                       &pg::PoolOptions::conninfo> {
  static constexpr const char* client = "grove::pg";
};
template class PooledConnection<pg::Connection>;
template class ConnectionPool<pg::Connection>;
}  // namespace grove::detail

namespace grove::pg {

Pool::Pool(PoolOptions options) : ConnectionPool(std::move(options)) {}
Pool::~Pool() = default;

}  // namespace grove::pg
