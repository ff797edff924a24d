// A PostgreSQL connection on libpq's asynchronous API, driven by the running grove::aio loop:
// the socket's readiness is awaited, never blocked on.
//
//   aio::Task<void> f() {
//     pg::Connection conn = co_await pg::Connection::connect("host=127.0.0.1 dbname=app");
//     pg::Result r = co_await conn.query("SELECT name FROM users WHERE id = $1", 42);
//     auto tx = co_await conn.begin();
//     co_await conn.query("UPDATE users SET seen = now() WHERE id = $1", 42);
//     co_await tx.commit();                  // without it, the transaction is rolled back
//   }
//   // From a green thread: green::wait(conn.query(...)) blocks only that green thread.
//
// One statement at a time per connection (a second concurrent query throws
// aio::InvalidStateError; use a pg::Pool, or pipeline() for several statements in one round
// trip). Parameters are sent separately from the SQL text ($1, $2, ...), never spliced in.
// Cancelling the awaiting task mid-query sends the server a cancel (PQcancel, on aio's
// thread pool) and discards the connection: broken() becomes true and a pool drops it.
#pragma once

#include <grove/aio.hpp>
#include <grove/pg/errors.hpp>
#include <grove/pg/result.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace grove::pg {

using namespace std::chrono_literals;

struct ConnectionOptions {
  // Connect (and authenticate) within this, or ConnectionError.
  Duration connect_timeout = 10s;
  // A result larger than either limit is refused with ResultTooLarge while it streams in.
  std::size_t max_rows = 1'000'000;
  std::size_t max_bytes = 256u << 20;
};

// A statement parameter: text, or NULL (std::nullopt).
using Param = std::optional<std::string>;

namespace detail {
template <class T>
Param to_param(const T& v) {
  if constexpr (std::is_same_v<T, std::nullopt_t> || std::is_same_v<T, std::nullptr_t>) {
    return std::nullopt;
  } else if constexpr (requires {
                         v.has_value();
                         *v;
                       }) {
    return v ? to_param(*v) : std::nullopt;
  } else if constexpr (std::is_same_v<T, bool>) {
    return std::string(v ? "t" : "f");
  } else if constexpr (std::is_arithmetic_v<T>) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, end);
  } else {
    static_assert(
        std::is_convertible_v<const T&, std::string_view>,
        "grove::pg: a parameter must be a number, bool, string, std::optional or std::nullopt");
    return std::string(std::string_view(v));
  }
}
}  // namespace detail

// A notification delivered by LISTEN.
struct Notification {
  std::string channel;
  std::string payload;
  int backend_pid = 0;
};

class Transaction;

class Connection {
 public:
  // Connects with a libpq connection string ("host=... port=... dbname=... user=...") or
  // URI ("postgresql://user@host/db"). Throws ConnectionError with libpq's message. Host
  // names are resolved by libpq itself, synchronously: give a numeric address or a socket
  // directory where that matters.
  static aio::Task<Connection> connect(std::string conninfo, ConnectionOptions options = {});

  Connection() noexcept;
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();

  // Runs one statement with parameters $1..$n.
  template <class... Args>
  aio::Task<Result> query(std::string sql, const Args&... args) {
    return query_params(std::move(sql), {detail::to_param(args)...});
  }
  aio::Task<Result> query_params(std::string sql, std::vector<Param> params);
  // Runs a script: several statements separated by semicolons, without parameters (the
  // simple query protocol), e.g. a migration file. Their results are discarded; the first
  // failure throws ServerError, and the statements after it are not run. Without a
  // BEGIN/COMMIT of its own, the whole script is one implicit transaction.
  aio::Task<void> execute(std::string script);
  // Several statements (pg::statement(sql, args...)) in one round trip: libpq's pipeline
  // mode. They form one implicit transaction; the first failure throws ServerError and the
  // statements after it are not run. (Row limits are checked only after each result has
  // arrived whole.)
  struct Statement {
    std::string sql;
    std::vector<Param> params;
  };
  aio::Task<std::vector<Result>> pipeline(std::vector<Statement> statements);

  // BEGIN, and a scope object that rolls back unless committed (`mode`: e.g.
  // "BEGIN ISOLATION LEVEL SERIALIZABLE").
  aio::Task<Transaction> begin(std::string mode = "BEGIN");

  // LISTEN on `channel`, then await notifications one by one: an async stream.
  aio::Task<void> listen(std::string channel);
  // The next notification (buffered ones first); aio::TimeoutError after `timeout`.
  aio::Task<Notification> next_notification(Duration timeout = aio::forever);

  bool is_open() const noexcept;
  // Lost, cancelled mid-query or refused a result: unusable, and never returned to a pool.
  bool broken() const noexcept;
  // Whether a query is running now.
  bool busy() const noexcept;
  // A cheap check that sends nothing: the socket has not been closed by the server and no
  // transaction is left open (a pending rollback counts as fine: it runs before the next
  // statement).
  bool healthy();
  int server_pid() const;
  const ConnectionOptions& options() const;

  struct State;

 private:
  friend class Transaction;
  explicit Connection(std::unique_ptr<State> state) noexcept;
  std::unique_ptr<State> state_;
};

// A statement for Connection::pipeline(): pg::statement("SELECT $1::int", 7).
template <class... Args>
Connection::Statement statement(std::string sql, const Args&... args) {
  return Connection::Statement{std::move(sql), {detail::to_param(args)...}};
}

// An open transaction (from Connection::begin). commit() or rollback() ends it; destroyed
// without either, it is rolled back before the connection's next statement (a destructor
// cannot wait), so the connection never carries a half-done transaction onward.
class [[nodiscard]] Transaction {
 public:
  Transaction(Transaction&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  aio::Task<void> commit();
  aio::Task<void> rollback();
  bool active() const noexcept { return state_ != nullptr; }

 private:
  friend class Connection;
  explicit Transaction(Connection::State& state) noexcept : state_(&state) {}
  Connection::State* state_;  // stable while the Connection moves
};

}  // namespace grove::pg
