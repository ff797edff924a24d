// A Redis connection driven by the running grove::aio loop: a non-blocking socket whose
// every wait is an aio readiness await on the loop running the command, so the loop is
// never blocked (on every engine, in green threads through green::wait) and a pooled
// connection can serve tasks of different loops one after another (the green bridge runs
// each request on a loop of its own).
//
//   aio::Task<void> f() {
//     redis::Connection conn = co_await redis::Connection::connect("redis://127.0.0.1:6379/0");
//     co_await conn.command("SET", "visits", 0);
//     std::int64_t n = (co_await conn.command("INCR", "visits")).as_integer();
//     std::optional<std::string> v = co_await conn.get("missing");          // nullopt
//     std::vector<redis::Reply> r = co_await conn.pipeline(
//         {redis::command("INCR", "a"), redis::command("GET", "a")});       // one round trip
//   }
//   // From a green thread: green::wait(conn.command("PING")) blocks only that green thread.
//
// URL: redis://[user[:password]@]host[:port][/db][?protocol=3]. A password sends AUTH (with
// the user: an ACL user), /db sends SELECT, protocol=3 sends HELLO 3 (RESP3 replies: maps,
// doubles, booleans). All of it in one round trip at connect, within connect_timeout; with
// none of them a PING, so connect() proves a Redis server answers.
//
// One command (or pipeline) at a time per connection: a second concurrent one throws
// aio::InvalidStateError (use a redis::Pool). A command that fails with anything but an
// error reply (lost connection, timeout, malformed or oversized reply, cancellation of the
// awaiting task) leaves the connection broken(): the reply stream can no longer be trusted,
// so it is not used again and a pool drops it.
#pragma once

#include <grove/aio.hpp>
#include <grove/redis/errors.hpp>
#include <grove/redis/reply.hpp>
#include <grove/redis/resp.hpp>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace grove::redis {

using namespace std::chrono_literals;

struct ConnectionOptions {
  // Connect and the handshake (AUTH, SELECT, HELLO) within this, or ConnectionError.
  Duration connect_timeout = 10s;
  // Each command, or each whole pipeline, gets its reply within this or throws Timeout
  // (and the connection is discarded). aio::forever: no limit (blocking commands).
  Duration command_timeout = aio::forever;
  // Replies larger than these are refused with ReplyTooLarge before they are buffered.
  Limits limits = {};
};

// A parsed redis:// URL.
struct Url {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::string user;      // empty: the default user
  std::string password;  // empty: no AUTH
  int db = 0;
  int protocol = 2;
  // Throws std::invalid_argument saying what is wrong with `url`.
  static Url parse(std::string_view url);
  // The URL without the password ("redis://127.0.0.1:6379/0"), for messages.
  std::string redacted() const;
};

// A command: its name and arguments as they go on the wire.
using Command = std::vector<std::string>;

namespace detail {
template <class T>
std::string to_arg(const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "1" : "0";
  } else if constexpr (std::is_arithmetic_v<T>) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, end);
  } else {
    static_assert(std::is_convertible_v<const T&, std::string_view>,
                  "grove::redis: a command argument must be a number or a string");
    return std::string(std::string_view(v));
  }
}
}  // namespace detail

// redis::command("SET", "key", 42) -> {"SET", "key", "42"}.
template <class... Args>
Command command(const Args&... args) {
  static_assert(sizeof...(Args) > 0, "grove::redis: a command needs at least its name");
  return Command{detail::to_arg(args)...};
}

class Connection {
 public:
  static aio::Task<Connection> connect(std::string url, ConnectionOptions options = {});

  Connection() noexcept;
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();

  // Runs one command; an error reply throws ServerError (the connection stays usable).
  template <class... Args>
  aio::Task<Reply> command(const Args&... args) {
    return execute(redis::command(args...));
  }
  aio::Task<Reply> execute(Command command);
  // Sends every command, then reads every reply: one round trip. Error replies are
  // returned in place (reply.is_error()), not thrown.
  aio::Task<std::vector<Reply>> pipeline(std::vector<Command> commands);
  // MULTI, the commands, EXEC in one round trip: the commands' replies (error replies in
  // place, as Redis runs the rest). nullopt when EXEC was aborted because a key WATCHed on
  // this connection changed. A command refused while queueing (a syntax error) throws
  // ServerError and nothing runs.
  aio::Task<std::optional<std::vector<Reply>>> transaction(std::vector<Command> commands);

  // Typed shortcuts.
  aio::Task<std::optional<std::string>> get(std::string key);
  // SET, with an expiry when ttl is positive (PX, milliseconds).
  aio::Task<void> set(std::string key, std::string value, Duration ttl = Duration::zero());
  aio::Task<std::int64_t> incr(std::string key);
  aio::Task<std::int64_t> del(std::string key);

  bool is_open() const noexcept;
  bool broken() const noexcept;
  bool busy() const noexcept;
  // A check that sends nothing: the server has not closed the socket and sent nothing
  // unasked (an idle connection has nothing to read).
  bool healthy();
  // 2 or 3 (RESP3, after HELLO 3).
  int protocol() const noexcept;
  const ConnectionOptions& options() const;

  struct State;

 private:
  friend class Subscriber;
  explicit Connection(std::unique_ptr<State> state) noexcept;
  std::unique_ptr<State> state_;
};

}  // namespace grove::redis
