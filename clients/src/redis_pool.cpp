// grove::redis::Pool: the shared pool (connection_pool.hpp) over redis::Connection, and the
// one-call helpers that acquire, run and give back.
#include <grove/redis/pool.hpp>

#include "connection_pool.hpp"

namespace grove::detail {
template <>
struct ConnectionPoolTraits<redis::Connection>
    : ClientPoolTraits<redis::Connection, redis::PoolOptions, redis::ConnectionError,
                       redis::PoolTimeout, &redis::PoolOptions::url> {
  static constexpr const char* client = "grove::redis";
};
template class PooledConnection<redis::Connection>;
template class ConnectionPool<redis::Connection>;
}  // namespace grove::detail

namespace grove::redis {

namespace {
PoolOptions checked(PoolOptions options) {
  Url::parse(options.url);  // a bad URL is a start-up error, not the first command's
  return options;
}
}  // namespace

Pool::Pool(PoolOptions options) : ConnectionPool(checked(std::move(options))) {}
Pool::~Pool() = default;

aio::Task<Reply> Pool::execute(Command command) {
  PooledConnection c = co_await acquire();
  co_return co_await c->execute(std::move(command));
}

aio::Task<std::vector<Reply>> Pool::pipeline(std::vector<Command> commands) {
  PooledConnection c = co_await acquire();
  co_return co_await c->pipeline(std::move(commands));
}

aio::Task<std::optional<std::string>> Pool::get(std::string key) {
  PooledConnection c = co_await acquire();
  co_return co_await c->get(std::move(key));
}

aio::Task<void> Pool::set(std::string key, std::string value, Duration ttl) {
  PooledConnection c = co_await acquire();
  co_await c->set(std::move(key), std::move(value), ttl);
}

}  // namespace grove::redis
