// TCP sockets: connect, accept, recv, send.
#include <grove/aio/combinators.hpp>
#include <grove/aio/io.hpp>

#include <fcntl.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace grove::aio {

namespace detail {

struct SocketState {
  explicit SocketState(int f) noexcept : fd(f) {}
  SocketState(const SocketState&) = delete;
  ~SocketState() { close(); }

  void close() noexcept {
    auto error = std::make_exception_ptr(
        std::system_error(ECANCELED, std::generic_category(),
                          "grove::aio: the socket was closed while a task was waiting on it"));
    reader.shut(error);
    writer.shut(error);
    if (fd >= 0) ::close(std::exchange(fd, -1));
  }
  int require_fd(std::string_view op) const {
    if (fd < 0)
      throw std::system_error(EBADF, std::generic_category(),
                              "grove::aio: " + std::string(op) + " on a closed socket");
    return fd;
  }
  // "recv from 127.0.0.1:5000" for messages; the peer is looked up once.
  std::string describe(std::string_view op) {
    if (peer.empty() && fd >= 0) {
      Address a;
      a.length = sizeof a.storage;
      if (::getpeername(fd, reinterpret_cast<sockaddr*>(&a.storage), &a.length) == 0)
        peer = a.to_string();
      else peer = "fd " + std::to_string(fd);
    }
    return "grove::aio: " + std::string(op) + " " + peer;
  }

  int fd;
  std::string peer;
  IoChannel reader;
  IoChannel writer;
};

namespace {
// Remaining time until a deadline (`forever` stays forever); TimeoutError once it passed.
struct Deadline {
  explicit Deadline(Duration timeout)
      : forever_(timeout == forever), at_(forever_ ? TimePoint() : now() + timeout),
        timeout_(timeout) {}
  static TimePoint now() { return std::chrono::time_point_cast<Duration>(Clock::now()); }
  Duration total() const { return timeout_; }
  Duration remaining(const std::string& what) const {
    if (forever_) return forever;
    Duration left = at_ - now();
    if (left <= Duration::zero())
      throw TimeoutError(what + " timed out after " + format_duration(timeout_));
    return left;
  }
  bool forever_;
  TimePoint at_;
  Duration timeout_;
};

void set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
    throw std::system_error(
        errno, std::generic_category(),
        "grove::aio::Socket: cannot make fd " + std::to_string(fd) + " non-blocking");
}

std::system_error os_error(int err, const std::string& what) {
  return std::system_error(err, std::generic_category(), what);
}

Task<std::size_t> recv_on(std::shared_ptr<SocketState> st, void* buffer, std::size_t size,
                          Duration timeout) {
  const Deadline deadline(timeout);
  for (;;) {
    const int fd = st->require_fd("recv");
    const ssize_t n = ::recv(fd, buffer, size, 0);
    if (n >= 0) co_return std::size_t(n);
    if (errno == EINTR) continue;
    const std::string what = st->describe("recv from");
    if (errno != EAGAIN && errno != EWOULDBLOCK) throw os_error(errno, what);
    Events got = co_await IoWait(&st->reader, fd, Events::read, deadline.remaining(what), what,
                                 deadline.total());
    if (got == Events::closed) throw os_error(EBADF, what + ": the fd was closed");
  }
}

Task<std::string> recv_some_on(std::shared_ptr<SocketState> st, std::size_t max, Duration timeout) {
  std::string out(max, '\0');
  std::size_t n = co_await recv_on(st, out.data(), max, timeout);
  out.resize(n);
  co_return out;
}

Task<void> send_on(std::shared_ptr<SocketState> st, std::string_view data, Duration timeout) {
  const Deadline deadline(timeout);
  std::size_t sent = 0;
  while (sent < data.size()) {
    const int fd = st->require_fd("send");
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += std::size_t(n);
      continue;
    }
    if (errno == EINTR) continue;
    const std::string what = st->describe("send to");
    if (errno != EAGAIN && errno != EWOULDBLOCK) throw os_error(errno, what);
    Events got = co_await IoWait(&st->writer, fd, Events::write, deadline.remaining(what), what,
                                 deadline.total());
    if (got == Events::closed) throw os_error(EBADF, what + ": the fd was closed");
  }
}

Task<Socket> accept_on(std::shared_ptr<SocketState> st, Duration timeout) {
  const Deadline deadline(timeout);
  for (;;) {
    const int fd = st->require_fd("accept");
    const int conn = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (conn >= 0) {
      int one = 1;
      ::setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      co_return Socket(conn);
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    const std::string what = "grove::aio: accept on " + std::to_string(fd);
    if (errno != EAGAIN && errno != EWOULDBLOCK) throw os_error(errno, what);
    Events got = co_await IoWait(&st->reader, fd, Events::read, deadline.remaining(what), what,
                                 deadline.total());
    if (got == Events::closed) throw os_error(EBADF, what + ": the fd was closed");
  }
}

Task<Socket> connect_to(Address address, Duration timeout) {
  const std::string what = "grove::aio: connect to " + address.to_string();
  const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw os_error(errno, what);
  Socket sock(fd);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int rc;
  do {
    rc = ::connect(fd, address.sockaddr_ptr(), address.length);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    if (errno != EINPROGRESS) throw os_error(errno, what);
    // Use a private channel: the socket's own channels are for its users.
    Events got = co_await IoWait(nullptr, fd, Events::write, timeout, what);
    if (got == Events::closed) throw os_error(EBADF, what + ": the fd was closed");
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) throw os_error(err, what);
  }
  co_return sock;
}
}  // namespace
}  // namespace detail

// --- Socket ------------------------------------------------------------------------------
Socket::Socket() noexcept = default;
Socket::Socket(int fd) {
  if (fd < 0) throw std::invalid_argument("grove::aio::Socket: invalid fd " + std::to_string(fd));
  detail::set_nonblocking(fd);
  state_ = std::make_shared<detail::SocketState>(fd);
}
Socket::Socket(Socket&&) noexcept = default;
Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    close();
    state_ = std::move(other.state_);
  }
  return *this;
}
Socket::~Socket() { close(); }

bool Socket::is_open() const noexcept { return state_ && state_->fd >= 0; }
int Socket::fd() const noexcept { return state_ ? state_->fd : -1; }

void Socket::close() noexcept {
  if (state_) state_->close();
}

Task<std::size_t> Socket::recv(void* buffer, std::size_t size, Duration timeout) {
  return detail::recv_on(state_ ? state_ : std::make_shared<detail::SocketState>(-1), buffer, size,
                         timeout);
}

Task<std::string> Socket::recv_some(std::size_t max, Duration timeout) {
  return detail::recv_some_on(state_ ? state_ : std::make_shared<detail::SocketState>(-1), max,
                              timeout);
}

Task<void> Socket::send(std::string_view data, Duration timeout) {
  return detail::send_on(state_ ? state_ : std::make_shared<detail::SocketState>(-1), data,
                         timeout);
}

void Socket::shutdown_write() {
  int fd = state_ ? state_->require_fd("shutdown_write") : -1;
  if (fd < 0)
    throw std::system_error(EBADF, std::generic_category(),
                            "grove::aio: shutdown_write on a closed socket");
  if (::shutdown(fd, SHUT_WR) != 0)
    throw std::system_error(errno, std::generic_category(), "grove::aio: shutdown_write");
}

namespace {
Address name_of(int fd, bool peer) {
  Address a;
  a.length = sizeof a.storage;
  auto* sa = reinterpret_cast<sockaddr*>(&a.storage);
  if ((peer ? ::getpeername(fd, sa, &a.length) : ::getsockname(fd, sa, &a.length)) != 0)
    throw std::system_error(errno, std::generic_category(),
                            peer ? "grove::aio: getpeername" : "grove::aio: getsockname");
  return a;
}
}  // namespace

Address Socket::local_address() const { return name_of(fd(), false); }
Address Socket::peer_address() const { return name_of(fd(), true); }

// --- Listener ----------------------------------------------------------------------------
Listener::Listener() noexcept = default;
Listener::Listener(Listener&&) noexcept = default;
Listener& Listener::operator=(Listener&& other) noexcept {
  if (this != &other) {
    close();
    state_ = std::move(other.state_);
  }
  return *this;
}
Listener::~Listener() { close(); }

Listener Listener::bind(std::string_view host, std::uint16_t port, int backlog) {
  const std::string where =
      std::string(host.empty() ? "0.0.0.0" : host) + ":" + std::to_string(port);
  std::optional<Address> addr = Address::numeric(host.empty() ? "0.0.0.0" : host, port);
  if (!addr)
    throw std::invalid_argument("grove::aio::listen: '" + std::string(host) +
                                "' is not a numeric address; resolve it first");
  const int fd = ::socket(addr->family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw detail::os_error(errno, "grove::aio: listen on " + where);
  Listener l;
  l.state_ = std::make_shared<detail::SocketState>(fd);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, addr->sockaddr_ptr(), addr->length) != 0 || ::listen(fd, backlog) != 0)
    throw detail::os_error(errno, "grove::aio: listen on " + where);
  return l;
}

std::uint16_t Listener::port() const { return address().port(); }
Address Listener::address() const { return name_of(state_ ? state_->fd : -1, false); }
bool Listener::is_open() const noexcept { return state_ && state_->fd >= 0; }
void Listener::close() noexcept {
  if (state_) state_->close();
}

Task<Socket> Listener::accept(Duration timeout) {
  return detail::accept_on(state_ ? state_ : std::make_shared<detail::SocketState>(-1), timeout);
}

// --- connect -----------------------------------------------------------------------------
Task<Socket> connect(std::string host, std::uint16_t port, Duration timeout) {
  const detail::Deadline deadline(timeout);
  const std::string what = "grove::aio: connect to " + host + ":" + std::to_string(port);
  std::vector<Address> addresses;
  if (timeout == forever) {
    addresses = co_await resolve(host, port);
  } else {
    bool timed_out = false;
    try {
      addresses = co_await wait_for(resolve(host, port), deadline.remaining(what));
    } catch (const TimeoutError&) {
      timed_out = true;
    }
    if (timed_out)
      throw TimeoutError(what + " timed out after " + detail::format_duration(timeout) +
                         " while resolving the name");
  }
  std::exception_ptr last;
  for (const Address& a : addresses) {
    try {
      co_return co_await detail::connect_to(a, deadline.remaining(what));
    } catch (const TimeoutError&) {
      throw;
    } catch (const std::system_error&) {
      last = std::current_exception();  // try the next address
    }
  }
  if (last) std::rethrow_exception(last);
  throw std::system_error(EHOSTUNREACH, std::generic_category(), what + ": no address");
}

}  // namespace grove::aio
