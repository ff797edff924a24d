// grove::redis::Connection: commands encoded into one write, replies parsed as the socket's
// bytes arrive; every wait is an aio socket operation bounded by the command's deadline.
#include "redis_state.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace grove::redis {

namespace detail {

namespace {
long long ms(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

Duration left_until(TimePoint deadline) {
  if (deadline == TimePoint::max()) return aio::forever;
  auto left = std::chrono::duration_cast<Duration>(deadline - Clock::now());
  return left > Duration::zero() ? left : Duration(1);
}

[[noreturn]] void timed_out(Connection::State& s) {
  s.broken = true;
  throw Timeout("grove::redis: no reply from " + s.endpoint + " within " +
                std::to_string(ms(s.options.command_timeout)) +
                " ms (ConnectionOptions::command_timeout); the connection is discarded since "
                "the reply may still come");
}

[[noreturn]] void lost(Connection::State& s, const std::string& why) {
  s.broken = true;
  throw ConnectionError("grove::redis: the connection to " + s.endpoint + " was lost: " + why +
                        " (the server restarted, was killed or closed it; a redis::Pool "
                        "reconnects)");
}
}  // namespace

TimePoint deadline_after(Duration d) {
  if (d == aio::forever) return TimePoint::max();
  return Clock::now() + d;
}

BusyGuard::BusyGuard(Connection::State* s) : s_(s) {
  if (!s_) throw aio::InvalidStateError("grove::redis: this Connection is empty (moved from?)");
  if (s_->broken)
    throw ConnectionError(
        "grove::redis: this connection is broken (lost, timed out, cancelled "
        "mid-command or refused a reply); open a new one, or use a redis::Pool");
  if (s_->busy)
    throw aio::InvalidStateError(
        "grove::redis: a command is already running on this connection; "
        "run one at a time, use pipeline(), or a redis::Pool");
  s_->busy = true;
}
BusyGuard::~BusyGuard() { s_->busy = false; }

aio::Task<int> connect_tcp(std::string host, std::uint16_t port, Duration timeout,
                           std::string endpoint) {
  const TimePoint deadline = deadline_after(timeout);
  std::string failure;
  std::vector<aio::Address> addresses;
  try {
    addresses = co_await aio::wait_for(aio::resolve(host, port), timeout);
  } catch (aio::TimeoutError&) {
    failure = "resolving " + host + " took longer than connect_timeout";
  } catch (std::exception& e) {
    failure = e.what();
  }
  // Closes the socket unless it is handed over (also when the awaiting task is cancelled).
  struct Owned {
    int fd = -1;
    ~Owned() {
      if (fd >= 0) ::close(fd);
    }
  };
  for (const aio::Address& a : addresses) {
    Owned owned{::socket(a.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
    const int fd = owned.fd;
    if (fd < 0) {
      failure = std::string("socket(): ") + std::strerror(errno);
      continue;
    }
    int err = ::connect(fd, a.sockaddr_ptr(), a.length) == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      bool late = false;
      try {
        co_await aio::wait_writable(fd, left_until(deadline));
      } catch (aio::TimeoutError&) {
        late = true;
      }
      socklen_t len = sizeof err;
      if (late) err = ETIMEDOUT;
      else if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    }
    if (err == 0) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // commands are small writes
      owned.fd = -1;
      co_return fd;
    }
    failure =
        a.to_string() + ": " +
        (err == ETIMEDOUT ? std::string("no answer within ") + std::to_string(ms(timeout)) +
                                " ms (ConnectionOptions::connect_timeout)"
                          : std::string(std::strerror(err)) + " (is redis-server running there?)");
  }
  throw ConnectionError("grove::redis: could not connect to " + endpoint + ": " + failure);
}

aio::Task<void> send_all(Connection::State& s, std::string wire, TimePoint deadline) {
  std::size_t sent = 0;
  while (sent < wire.size()) {
    ssize_t n = ::send(s.fd, wire.data() + sent, wire.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += std::size_t(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) lost(s, std::strerror(errno));
    bool late = false;
    try {
      co_await aio::wait_writable(s.fd, left_until(deadline));
    } catch (aio::TimeoutError&) {
      late = true;
    }
    if (late) timed_out(s);
  }
}

aio::Task<Reply> read_reply(Connection::State& s, TimePoint deadline) {
  for (;;) {
    if (std::optional<Reply> r = s.parser.next()) co_return std::move(*r);
    // Read first, wait only when nothing is there: a pipelined reply is often already in.
    ssize_t n = ::recv(s.fd, s.buffer.data(), s.buffer.size(), 0);
    if (n > 0) {
      s.parser.feed(std::string_view(s.buffer.data(), std::size_t(n)));
      continue;
    }
    if (n == 0) lost(s, "the server closed the connection");
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) lost(s, std::strerror(errno));
    bool late = false;
    try {
      co_await aio::wait_readable(s.fd, left_until(deadline));
    } catch (aio::TimeoutError&) {
      late = true;
    }
    if (late) {
      if (s.parser.mid_reply()) timed_out(s);
      throw Timeout("grove::redis: nothing arrived from " + s.endpoint + " in time");
    }
  }
}

aio::Task<std::vector<Reply>> exchange(Connection::State& s, std::string wire, std::size_t replies,
                                       TimePoint deadline) {
  // Broken until every reply is in: an exception or a cancellation anywhere in between
  // leaves the stream out of step.
  s.broken = true;
  co_await send_all(s, std::move(wire), deadline);
  std::vector<Reply> out;
  out.reserve(replies);
  while (out.size() < replies) {
    Reply r;
    try {
      r = co_await read_reply(s, deadline);
    } catch (Timeout&) {
      timed_out(s);
    }
    if (r.type() == ReplyType::push) continue;  // out-of-band (client tracking): not ours
    out.push_back(std::move(r));
  }
  s.broken = false;
  co_return out;
}

}  // namespace detail

namespace {

std::string describe_handshake_error(const Url& url, const std::string& error) {
  std::string hint;
  if (error.starts_with("NOAUTH"))
    hint =
        "the server requires a password: put it in the URL (redis://:password@host:port or "
        "redis://user:password@...)";
  else if (error.starts_with("WRONGPASS") || error.find("invalid password") != std::string::npos ||
           error.find("invalid username-password") != std::string::npos)
    hint = "check the user and password in the URL";
  else if (error.starts_with("NOPROTO") || error.find("unknown command") != std::string::npos)
    hint = "the server does not speak RESP3 (Redis 6 or later does): drop ?protocol=3";
  else if (error.find("DB index") != std::string::npos)
    hint = "the database number in the URL is beyond the server's 'databases' setting";
  return "grove::redis: " + url.redacted() + " refused the connection's setup: " + error +
         (hint.empty() ? "" : " (" + hint + ")");
}

}  // namespace

Connection::State::~State() {
  if (fd >= 0) ::close(fd);
}

Connection::Connection() noexcept = default;
Connection::Connection(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

aio::Task<Connection> Connection::connect(std::string url_text, ConnectionOptions options) {
  const Url url = Url::parse(url_text);
  const TimePoint deadline = detail::deadline_after(options.connect_timeout);
  int fd =
      co_await detail::connect_tcp(url.host, url.port, options.connect_timeout, url.redacted());
  auto s = std::make_unique<State>(fd, options, url.redacted());
  std::string failure;
  // The handshake in one round trip.
  std::string wire;
  std::size_t replies = 0;
  if (url.protocol == 3) {
    Command hello{"HELLO", "3"};
    if (!url.password.empty())
      hello.insert(hello.end(), {"AUTH", url.user.empty() ? "default" : url.user, url.password});
    encode_command(wire, hello);
    ++replies;
  } else if (!url.password.empty()) {
    if (url.user.empty()) encode_command(wire, {"AUTH", url.password});
    else encode_command(wire, {"AUTH", url.user, url.password});
    ++replies;
  }
  if (url.db != 0) {
    encode_command(wire, {"SELECT", std::to_string(url.db)});
    ++replies;
  }
  if (replies == 0) {
    encode_command(wire, {"PING"});
    ++replies;
  }
  std::vector<Reply> answers;
  try {
    answers = co_await detail::exchange(*s, std::move(wire), replies, deadline);
  } catch (Timeout&) {
    failure = "the server did not answer the handshake within " +
              std::to_string(detail::ms(options.connect_timeout)) +
              " ms (ConnectionOptions::connect_timeout; is this a Redis server?)";
  } catch (ConnectionError& e) {
    failure = e.what();
  } catch (ProtocolError& e) {
    failure = e.what();
  }
  if (!failure.empty())
    throw ConnectionError("grove::redis: could not set up a connection to " + url.redacted() +
                          ": " + failure);
  for (const Reply& r : answers)
    if (r.is_error()) throw ConnectionError(describe_handshake_error(url, r.error()));
  s->protocol = url.protocol;
  co_return Connection(std::move(s));
}

aio::Task<Reply> Connection::execute(Command command) {
  detail::BusyGuard guard(state_.get());
  std::string wire;
  encode_command(wire, command);
  std::vector<Reply> r = co_await detail::exchange(
      *state_, std::move(wire), 1, detail::deadline_after(state_->options.command_timeout));
  r[0].throw_if_error();
  co_return std::move(r[0]);
}

aio::Task<std::vector<Reply>> Connection::pipeline(std::vector<Command> commands) {
  detail::BusyGuard guard(state_.get());
  if (commands.empty()) co_return std::vector<Reply>{};
  std::string wire;
  for (const Command& c : commands) encode_command(wire, c);
  co_return co_await detail::exchange(*state_, std::move(wire), commands.size(),
                                      detail::deadline_after(state_->options.command_timeout));
}

aio::Task<std::optional<std::vector<Reply>>> Connection::transaction(
    std::vector<Command> commands) {
  detail::BusyGuard guard(state_.get());
  std::string wire;
  encode_command(wire, {"MULTI"});
  for (const Command& c : commands) encode_command(wire, c);
  encode_command(wire, {"EXEC"});
  std::vector<Reply> r =
      co_await detail::exchange(*state_, std::move(wire), commands.size() + 2,
                                detail::deadline_after(state_->options.command_timeout));
  r.front().throw_if_error();  // MULTI inside MULTI
  for (std::size_t i = 1; i + 1 < r.size(); ++i)
    if (r[i].is_error())
      throw ServerError(r[i].error() + " (command " + std::to_string(i) + " of the transaction, " +
                        commands[i - 1].front() + "; nothing was run)");
  Reply& exec = r.back();
  if (exec.is_nil()) co_return std::nullopt;  // a WATCHed key changed
  exec.throw_if_error();
  co_return std::move(exec.elements());
}

aio::Task<std::optional<std::string>> Connection::get(std::string key) {
  Reply r = co_await command("GET", key);
  co_return r.as_optional_string();
}

aio::Task<void> Connection::set(std::string key, std::string value, Duration ttl) {
  if (ttl > Duration::zero())
    co_await command("SET", key, value, "PX", std::max<long long>(1, detail::ms(ttl)));
  else co_await command("SET", key, value);
}

aio::Task<std::int64_t> Connection::incr(std::string key) {
  Reply r = co_await command("INCR", key);
  co_return r.as_integer();
}

aio::Task<std::int64_t> Connection::del(std::string key) {
  Reply r = co_await command("DEL", key);
  co_return r.as_integer();
}

bool Connection::is_open() const noexcept { return state_ && state_->fd >= 0; }
bool Connection::broken() const noexcept { return !state_ || state_->broken; }
bool Connection::busy() const noexcept { return state_ && state_->busy; }
int Connection::protocol() const noexcept { return state_ ? state_->protocol : 0; }
const ConnectionOptions& Connection::options() const { return state_->options; }

bool Connection::healthy() {
  if (!state_ || state_->broken || state_->busy || state_->fd < 0) return false;
  // An idle connection has nothing to read: readable means closed (a restart) or out of step.
  pollfd p{state_->fd, POLLIN, 0};
  if (::poll(&p, 1, 0) != 0 || state_->parser.buffered() != 0) {
    state_->broken = true;
    return false;
  }
  return true;
}

}  // namespace grove::redis
