// The cooperative paths: one non-blocking attempt (MSG_DONTWAIT for sockets, RWF_NOWAIT for
// pipes and other pollable fds), and on EAGAIN a wait on the calling green thread's hub,
// then the next attempt. The fd's own O_NONBLOCK flag is never changed (except around
// connect() on a socket the process created), so the fd behaves the same for everyone else.
#include "coop.hpp"
#include "openssl_errors.hpp"

#include "real.hpp"
#include "state.hpp"

#include <grove/green/greenlet.hpp>
#include <grove/green/hub.hpp>
#include <grove/green/thread_pool.hpp>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <sys/ioctl.h>

namespace grove::compat::detail::coop {

namespace gd = grove::green::detail;

namespace {

using Deadline = std::optional<TimePoint>;

TimePoint now() { return std::chrono::time_point_cast<Duration>(Clock::now()); }

Deadline deadline_after_ns(std::int64_t ns) {
  if (ns <= 0) return std::nullopt;
  return now() + Duration(ns);
}

Deadline deadline_after(const timespec* ts) {
  if (!ts) return std::nullopt;
  return now() + std::chrono::seconds(ts->tv_sec) + Duration(ts->tv_nsec);
}

bool valid(const timespec* ts) {
  return ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < 1'000'000'000;
}

// --- waiting on the hub ------------------------------------------------------------------

// The loop's engine may flip O_NONBLOCK with ioctl/fcntl when it starts watching an fd
// (Asio does, for every fd it waits on); it does so during the hub's turn, and that is not
// the user's choice.
// Whether an fcntl/ioctl now comes from the user (and so says what the user wants).
bool from_user() { return !green::in_hub(); }

enum class Woke { ready, timeout, closed, unpollable };

// Every wait of a patched call keeps the caller's OpenSSL errors its own (openssl_errors.hpp);
// errno is restored by each call itself.
void sleep_kept(Duration d) {
  KeptOpenSslErrors kept;
  green::sleep(d);
}

template <class F>
auto in_thread_kept(F&& fn) {
  KeptOpenSslErrors kept;
  return green::run_in_thread(std::forward<F>(fn));
}

struct Interest {
  int fd;
  Events events;
  bool optional = false;  // the caller asked for neither input nor output (POLLPRI, 0)
  bool fired = false;
};

// Parks the calling green thread until one of `list` is ready, the deadline passes, or one
// of the fds is closed. Built on the hub's park primitive and plain loop watchers, so any
// number of green threads may wait on the same fd (poll() from several green threads is
// legitimate, unlike two readers of one socket).
class MultiWait final : public gd::Parking {
 public:
  explicit MultiWait(gd::GreenletBase* g) : green_(g) {}
  void cancel() noexcept override { stop(); }
  void stop() noexcept {
    for (auto& w : watchers_) {
      try {
        w.close();
      } catch (...) {
      }
    }
  }
  Woke wait(std::vector<Interest>& list, Deadline deadline) {
    EventLoop& loop = green::hub_loop();
    watchers_.reserve(list.size());
    for (auto& in : list) {
      in.fired = false;
      try {
        Interest* p = &in;
        watchers_.push_back(loop.watch(in.fd, in.events, [this, p](Events e) {
          if (e == Events::closed) closed_ = true;
          p->fired = true;
          fired_ = true;
          gd::wake(green_, gd::Wake::notified);
        }));
      } catch (const std::invalid_argument&) {
        stop();
        return Woke::ready;  // always ready (a regular file): let poll() say so
      } catch (const std::system_error&) {
        stop();
        return Woke::ready;  // not open any more: the next attempt reports it
      }
    }
    if (deadline && now() >= *deadline) {
      stop();
      return Woke::timeout;
    }
    gd::Wake why = gd::park(this, deadline);
    stop();
    gd::throw_pending();
    if (closed_) return Woke::closed;
    if (fired_) return Woke::ready;
    if (why == gd::Wake::timed_out) return Woke::timeout;
    if (why == gd::Wake::nothing_left)
      throw green::WouldBlockForever(
          "grove::compat: a patched call waits on file descriptors that nothing can make "
          "ready (no other green thread, timer or I/O is left in this hub)");
    return Woke::ready;
  }

 private:
  gd::GreenletBase* green_;
  std::vector<IoWatcher> watchers_;
  bool fired_ = false;
  bool closed_ = false;
};

// The epoch of each fd number this OS thread's hub last waited on. A hub caches a watcher
// per fd; if the number was closed without the hub being told (a close outside any green
// thread, or in another OS thread), that watcher belongs to the previous file, so the hub is
// told to forget the fd before waiting on it again.
thread_local std::vector<std::uint32_t> t_seen_epoch;

void refresh(int fd) {
  FdState* s = fd_state(fd);
  if (!s) return;
  std::uint32_t e = s->epoch.load(std::memory_order_acquire);
  if (std::size_t(fd) >= t_seen_epoch.size()) {
    if (e == 0) return;
    t_seen_epoch.resize(std::size_t(fd) + 1, 0);
  }
  if (t_seen_epoch[std::size_t(fd)] == e) return;
  t_seen_epoch[std::size_t(fd)] = e;
  green::forget_fd(fd);
}

Woke wait_many(std::vector<Interest>& list, Deadline deadline) {
  for (const auto& in : list) refresh(in.fd);
  KeptOpenSslErrors kept;
  MultiWait w(gd::current_green());
  return w.wait(list, deadline);
}

Woke wait_fd(int fd, Events events, Deadline deadline) {
  std::optional<Duration> timeout;
  if (deadline) {
    Duration left = *deadline - now();
    if (left <= Duration::zero()) return Woke::timeout;
    timeout = left;
  }
  refresh(fd);
  try {
    Events got;
    {
      KeptOpenSslErrors kept;
      got = green::wait(fd, events, timeout);
    }
    return any(got) ? Woke::ready : Woke::timeout;
  } catch (const std::invalid_argument&) {
    return Woke::unpollable;
  } catch (const std::logic_error&) {
    // Another green thread waits on this fd in the same direction (two acceptors on one
    // listening socket, say): wait beside it with a watcher of our own.
    std::vector<Interest> one{{fd, events}};
    return wait_many(one, deadline);
  } catch (const std::system_error& e) {
    if (e.code().value() == EBADF) return Woke::closed;
    throw;
  }
}

// --- the retry loop ------------------------------------------------------------------------

// How one attempt is made: non-blocking (the normal case) or, when the fd cannot be waited
// on, blocking as libc would.
enum class Mode { nonblocking, blocking };

// Request and reply. A read that follows a write on the same fd usually waits for the
// peer's answer to that write, and trying it first costs a system call that fails with
// EAGAIN. So such a read learns, per fd: when it had to wait, the next read after a write
// waits for readiness first; when it found data at once, the next one tries first again.
// Reads that do not follow a write (a stream read in pieces, a server reading the rest of a
// request) always try first, so a reader never parks while data is queued.
bool read_follows_write(FdState& s) noexcept {
  if (!s.has(FdState::kWroteLast)) return false;
  s.clear(FdState::kWroteLast);
  return true;
}

void learn_read(FdState& s, bool had_to_wait) noexcept {
  if (s.has(FdState::kReadWaitsFirst) == had_to_wait) return;
  if (had_to_wait) s.set(FdState::kReadWaitsFirst);
  else s.clear(FdState::kReadWaitsFirst);
}

// A read that waits first cannot tell whether data was already there, so one in
// kProbeEvery tries first anyway and learns again.
constexpr std::uint32_t kProbeEvery = 16;

bool probe_now(FdState& s) noexcept {
  // Not a read-modify-write: a lost count between OS threads only moves the next probe.
  std::uint32_t n = s.waited_first.load(std::memory_order_relaxed) + 1;
  s.waited_first.store(n, std::memory_order_relaxed);
  return n % kProbeEvery == 0;
}

void note_write(FdState& s) noexcept {
  if (!s.has(FdState::kWroteLast)) s.set(FdState::kWroteLast);
}

// Runs attempt(done, mode) until it transfers something (or everything, with until_all),
// fails with something other than EAGAIN, or the deadline passes. Returns the libc result:
// the count, or -1 with errno; a partial count after a later failure, as the kernel does.
template <class Attempt>
ssize_t drive(int fd, FdState& s, bool writing, std::size_t total, bool until_all,
              Attempt&& attempt) {
  const int saved = errno;
  std::size_t done = 0;
  bool have_deadline = false;
  Deadline deadline;
  auto finish_partial = [&](int err) -> ssize_t {
    if (done > 0) {
      errno = saved;
      return ssize_t(done);
    }
    errno = err;
    return -1;
  };
  Mode mode = Mode::nonblocking;
  // Waits for the fd; false when that ends the call, with its result in `ended`.
  ssize_t ended = -1;
  auto wait = [&]() -> bool {
    if (!have_deadline) {
      have_deadline = true;
      deadline = deadline_after_ns(writing ? s.sndtimeo_ns.load(std::memory_order_relaxed)
                                           : s.rcvtimeo_ns.load(std::memory_order_relaxed));
    }
    switch (wait_fd(fd, writing ? Events::write : Events::read, deadline)) {
      case Woke::ready: return true;
      case Woke::timeout: ended = finish_partial(EAGAIN); return false;
      case Woke::closed: ended = finish_partial(EBADF); return false;
      case Woke::unpollable: mode = Mode::blocking; return true;
    }
    return true;
  };
  // See read_follows_write.
  bool learns = !writing && total > 0 && read_follows_write(s);
  if (learns && s.has(FdState::kReadWaitsFirst) && !probe_now(s) && !user_nonblock(fd, s)) {
    learns = false;  // nothing to learn: whether data was there is not known
    if (!wait()) return ended;
  }
  for (;;) {
    ssize_t r = attempt(done, mode);
    if (r >= 0) {
      if (learns) {
        learn_read(s, false);
        learns = false;
      }
      if (writing && r > 0) note_write(s);
      done += std::size_t(r);
      if (!until_all || r == 0 || done >= total) {
        errno = saved;
        return ssize_t(done);
      }
      continue;
    }
    int err = errno;
    if (err == EINTR) continue;
    if (err != EAGAIN && err != EWOULDBLOCK) return finish_partial(err);
    if (mode == Mode::blocking || user_nonblock(fd, s)) return finish_partial(err);
    if (learns) {
      learn_read(s, true);
      learns = false;
    }
    if (!wait()) return ended;
  }
}

// An iovec array that can be advanced past what was already transferred. The caller's array
// is used as is until the first partial transfer.
class IovCursor {
 public:
  IovCursor(const iovec* iov, int count) : orig_(iov), count_(count) {
    for (int i = 0; i < count; ++i) total_ += iov[i].iov_len;
  }
  std::size_t total() const { return total_; }
  // The iovecs for the part after `done` bytes.
  const iovec* at(std::size_t done, int* count) {
    if (done == 0) {
      *count = count_;
      return orig_;
    }
    copy_.assign(orig_, orig_ + count_);
    std::size_t skip = done;
    std::size_t i = 0;
    while (i < copy_.size() && skip >= copy_[i].iov_len) skip -= copy_[i++].iov_len;
    if (i < copy_.size()) {
      copy_[i].iov_base = static_cast<char*>(copy_[i].iov_base) + skip;
      copy_[i].iov_len -= skip;
    }
    *count = int(copy_.size() - i);
    return copy_.data() + i;
  }

 private:
  const iovec* orig_;
  int count_;
  std::size_t total_ = 0;
  std::vector<iovec> copy_;
};

bool is_socket(Kind k) { return k == Kind::stream || k == Kind::socket; }

// Whether this call on this fd is cooperative: the part for its kind is patched and the user
// did not make the fd non-blocking (then the call passes through and returns EAGAIN itself).
bool handled(int fd, FdState& s) {
  Kind k = s.kind();
  if (is_socket(k)) {
    if (!patched_any(unsigned(Patch::socket))) return false;
  } else if (k == Kind::pollable) {
    if (!patched_any(unsigned(Patch::os))) return false;
  } else {
    return false;
  }
  std::uint32_t b = s.bits.load(std::memory_order_relaxed);
  return !((b & FdState::kNbKnown) && (b & FdState::kUserNb));
}

// A descriptor grove classified as a socket that turned out not to be one (the number was
// reused behind grove's back): classify again and let the caller start over.
bool stale_socket(int fd, FdState& s, int err) {
  if (err != ENOTSOCK) return false;
  s.set_kind(Kind::unknown);
  classify(fd, s);
  return true;
}

// One non-blocking attempt on a pollable non-socket fd: RWF_NOWAIT where the kernel supports
// it for this file, else poll(0) first, then the (then non-blocking in practice) call.
ssize_t pollable_readv(int fd, FdState& s, const iovec* iov, int count, Mode mode) {
  if (mode == Mode::nonblocking && !s.has(FdState::kNoNowait)) {
    ssize_t r = ::preadv2(fd, iov, count, -1, RWF_NOWAIT);
    if (r >= 0 || errno != EOPNOTSUPP) return r;
    s.set(FdState::kNoNowait);
  }
  if (mode == Mode::nonblocking) {
    pollfd p{fd, POLLIN, 0};
    int n = real::poll(&p, 1, 0);
    if (n < 0) return -1;
    if (n == 0) {
      errno = EAGAIN;
      return -1;
    }
  }
  return count == 1 ? real::read(fd, iov[0].iov_base, iov[0].iov_len) : real::readv(fd, iov, count);
}

ssize_t pollable_writev(int fd, FdState& s, const iovec* iov, int count, Mode mode) {
  if (mode == Mode::nonblocking && !s.has(FdState::kNoNowait)) {
    ssize_t r = ::pwritev2(fd, iov, count, -1, RWF_NOWAIT);
    if (r >= 0 || errno != EOPNOTSUPP) return r;
    s.set(FdState::kNoNowait);
  }
  if (mode == Mode::nonblocking) {
    pollfd p{fd, POLLOUT, 0};
    int n = real::poll(&p, 1, 0);
    if (n < 0) return -1;
    if (n == 0) {
      errno = EAGAIN;
      return -1;
    }
    // Writable means room for at least PIPE_BUF bytes; more could block.
    std::size_t len = 0;
    for (int i = 0; i < count; ++i) len += iov[i].iov_len;
    if (len > PIPE_BUF) {
      const iovec& first = iov[0];
      return real::write(fd, first.iov_base, std::min<std::size_t>(first.iov_len, PIPE_BUF));
    }
  }
  return count == 1 ? real::write(fd, iov[0].iov_base, iov[0].iov_len)
                    : real::writev(fd, iov, count);
}

int dontwait(Mode mode) { return mode == Mode::nonblocking ? MSG_DONTWAIT : 0; }

}  // namespace

void unsupported(const char* what, const char* message) {
  warn(std::string("compat.") + what, message);
}

// --- reads -----------------------------------------------------------------------------------

ssize_t read(int fd, void* buf, size_t n) {
  // read() of nothing returns at once on every kind of fd; recv() of nothing would wait.
  if (n == 0) return real::read(fd, buf, n);
  FdState scratch;
  for (;;) {
    FdState* s = classified(fd, scratch);
    if (!handled(fd, *s)) return real::read(fd, buf, n);
    if (is_socket(s->kind())) {
      const int saved = errno;
      ssize_t r = drive(fd, *s, false, n, false,
                        [&](std::size_t, Mode m) { return real::recv(fd, buf, n, dontwait(m)); });
      if (r < 0 && stale_socket(fd, *s, errno)) {
        errno = saved;
        continue;
      }
      return r;
    }
    iovec v{buf, n};
    return drive(fd, *s, false, n, false,
                 [&](std::size_t, Mode m) { return pollable_readv(fd, *s, &v, 1, m); });
  }
}

ssize_t readv(int fd, const iovec* iov, int iovcnt) {
  FdState scratch;
  if (iovcnt <= 0 || iovcnt > IOV_MAX) return real::readv(fd, iov, iovcnt);
  for (;;) {
    FdState* s = classified(fd, scratch);
    if (!handled(fd, *s)) return real::readv(fd, iov, iovcnt);
    IovCursor cur(iov, iovcnt);
    if (cur.total() == 0) return real::readv(fd, iov, iovcnt);
    if (is_socket(s->kind())) {
      const int saved = errno;
      ssize_t r = drive(fd, *s, false, cur.total(), false, [&](std::size_t, Mode m) {
        msghdr msg{};
        msg.msg_iov = const_cast<iovec*>(iov);
        msg.msg_iovlen = std::size_t(iovcnt);
        return real::recvmsg(fd, &msg, dontwait(m));
      });
      if (r < 0 && stale_socket(fd, *s, errno)) {
        errno = saved;
        continue;
      }
      return r;
    }
    return drive(fd, *s, false, cur.total(), false,
                 [&](std::size_t, Mode m) { return pollable_readv(fd, *s, iov, iovcnt, m); });
  }
}

ssize_t recvfrom(int fd, void* buf, size_t n, int flags, sockaddr* addr, socklen_t* len,
                 bool plain_recv) {
  FdState scratch;
  FdState* s = classified(fd, scratch);
  if (!is_socket(s->kind()) || !handled(fd, *s) || (flags & MSG_DONTWAIT))
    return plain_recv ? real::recv(fd, buf, n, flags)
                      : real::recvfrom(fd, buf, n, flags, addr, len);
  bool all = (flags & MSG_WAITALL) && s->kind() == Kind::stream && !(flags & MSG_PEEK);
  return drive(fd, *s, false, n, all, [&](std::size_t done, Mode m) {
    char* p = static_cast<char*>(buf) + done;
    int f = flags | dontwait(m);
    return plain_recv ? real::recv(fd, p, n - done, f)
                      : real::recvfrom(fd, p, n - done, f, addr, len);
  });
}

ssize_t recvmsg(int fd, msghdr* msg, int flags) {
  FdState scratch;
  FdState* s = classified(fd, scratch);
  if (!is_socket(s->kind()) || !handled(fd, *s) || (flags & MSG_DONTWAIT) || !msg ||
      msg->msg_iovlen > std::size_t(IOV_MAX))
    return real::recvmsg(fd, msg, flags);
  // MSG_WAITALL is handed to the kernel as is: with MSG_DONTWAIT it returns what is there,
  // and the loop below waits for the rest only for a stream socket without ancillary data.
  bool all = (flags & MSG_WAITALL) && s->kind() == Kind::stream && !(flags & MSG_PEEK) &&
             msg->msg_controllen == 0;
  IovCursor cur(msg->msg_iov, int(msg->msg_iovlen));
  return drive(fd, *s, false, cur.total(), all, [&](std::size_t done, Mode m) {
    if (done == 0) return real::recvmsg(fd, msg, flags | dontwait(m));
    msghdr rest = *msg;
    int count = 0;
    rest.msg_iov = const_cast<iovec*>(cur.at(done, &count));
    rest.msg_iovlen = std::size_t(count);
    ssize_t r = real::recvmsg(fd, &rest, flags | dontwait(m));
    msg->msg_flags = rest.msg_flags;
    return r;
  });
}

// --- writes -----------------------------------------------------------------------------------

ssize_t write(int fd, const void* buf, size_t n) {
  if (n == 0) return real::write(fd, buf, n);
  FdState scratch;
  for (;;) {
    FdState* s = classified(fd, scratch);
    if (!handled(fd, *s)) return real::write(fd, buf, n);
    if (is_socket(s->kind())) {
      const int saved = errno;
      // A blocking write to a stream socket returns only when everything is sent.
      ssize_t r = drive(fd, *s, true, n, s->kind() == Kind::stream, [&](std::size_t done, Mode m) {
        return real::send(fd, static_cast<const char*>(buf) + done, n - done, dontwait(m));
      });
      if (r < 0 && stale_socket(fd, *s, errno)) {
        errno = saved;
        continue;
      }
      return r;
    }
    return drive(fd, *s, true, n, true, [&](std::size_t done, Mode m) {
      iovec v{const_cast<char*>(static_cast<const char*>(buf)) + done, n - done};
      return pollable_writev(fd, *s, &v, 1, m);
    });
  }
}

ssize_t writev(int fd, const iovec* iov, int iovcnt) {
  FdState scratch;
  if (iovcnt <= 0 || iovcnt > IOV_MAX) return real::writev(fd, iov, iovcnt);
  for (;;) {
    FdState* s = classified(fd, scratch);
    if (!handled(fd, *s)) return real::writev(fd, iov, iovcnt);
    IovCursor cur(iov, iovcnt);
    if (cur.total() == 0) return real::writev(fd, iov, iovcnt);
    if (is_socket(s->kind())) {
      const int saved = errno;
      ssize_t r = drive(fd, *s, true, cur.total(), s->kind() == Kind::stream,
                        [&](std::size_t done, Mode m) {
                          msghdr msg{};
                          int count = 0;
                          msg.msg_iov = const_cast<iovec*>(cur.at(done, &count));
                          msg.msg_iovlen = std::size_t(count);
                          return real::sendmsg(fd, &msg, dontwait(m));
                        });
      if (r < 0 && stale_socket(fd, *s, errno)) {
        errno = saved;
        continue;
      }
      return r;
    }
    return drive(fd, *s, true, cur.total(), true, [&](std::size_t done, Mode m) {
      int count = 0;
      const iovec* v = cur.at(done, &count);
      return pollable_writev(fd, *s, v, count, m);
    });
  }
}

ssize_t sendto(int fd, const void* buf, size_t n, int flags, const sockaddr* addr, socklen_t len,
               bool plain_send) {
  FdState scratch;
  FdState* s = classified(fd, scratch);
  if (!is_socket(s->kind()) || !handled(fd, *s) || (flags & MSG_DONTWAIT))
    return plain_send ? real::send(fd, buf, n, flags) : real::sendto(fd, buf, n, flags, addr, len);
  return drive(fd, *s, true, n, s->kind() == Kind::stream, [&](std::size_t done, Mode m) {
    const char* p = static_cast<const char*>(buf) + done;
    int f = flags | dontwait(m);
    return plain_send ? real::send(fd, p, n - done, f)
                      : real::sendto(fd, p, n - done, f, addr, len);
  });
}

ssize_t sendmsg(int fd, const msghdr* msg, int flags) {
  FdState scratch;
  FdState* s = classified(fd, scratch);
  if (!is_socket(s->kind()) || !handled(fd, *s) || (flags & MSG_DONTWAIT) || !msg ||
      msg->msg_iovlen > std::size_t(IOV_MAX))
    return real::sendmsg(fd, msg, flags);
  IovCursor cur(msg->msg_iov, int(msg->msg_iovlen));
  return drive(fd, *s, true, cur.total(), s->kind() == Kind::stream, [&](std::size_t done, Mode m) {
    if (done == 0) return real::sendmsg(fd, msg, flags | dontwait(m));
    // Ancillary data went with the first part.
    msghdr rest = *msg;
    int count = 0;
    rest.msg_iov = const_cast<iovec*>(cur.at(done, &count));
    rest.msg_iovlen = std::size_t(count);
    rest.msg_control = nullptr;
    rest.msg_controllen = 0;
    return real::sendmsg(fd, &rest, flags | dontwait(m));
  });
}

// --- connections -------------------------------------------------------------------------------

namespace {

void track_accepted(int listener, int fd, int flags) {
  FdState* s = fd_state(fd);
  if (!s) return;
  FdState* l = fd_state(listener);
  // Linux clones the listening socket: the accepted one has its type and its timeouts.
  Kind kind = l && is_socket(l->kind()) ? l->kind() : Kind::unknown;
  s->reset(std::uint32_t(kind) | FdState::kNbKnown |
           ((flags & SOCK_NONBLOCK) ? FdState::kUserNb : 0));
  if (l && l->has(FdState::kTimeouts)) {
    s->rcvtimeo_ns.store(l->rcvtimeo_ns.load(std::memory_order_relaxed), std::memory_order_relaxed);
    s->sndtimeo_ns.store(l->sndtimeo_ns.load(std::memory_order_relaxed), std::memory_order_relaxed);
    s->set(FdState::kTimeouts);
  } else if (kind != Kind::unknown) {
    // Kind known but timeouts not: let classify() fill them in on first use.
    s->set_kind(Kind::unknown);
  }
}

}  // namespace

int accept4(int fd, sockaddr* addr, socklen_t* len, int flags, bool plain_accept) {
  auto call = [&] {
    return plain_accept ? real::accept(fd, addr, len) : real::accept4(fd, addr, len, flags);
  };
  FdState scratch;
  FdState* s = nullptr;
  bool coop = in_green() && patched_any(unsigned(Patch::socket));
  if (coop) {
    s = classified(fd, scratch);
    coop = is_socket(s->kind()) && handled(fd, *s);
  }
  int r;
  if (!coop) {
    r = call();
  } else {
    // accept() has no per-call non-blocking flag, and grove does not flip O_NONBLOCK on a
    // listening socket other processes may share: wait until a connection is pending, look
    // again with poll(0) right before accepting, then accept. Only another process (or an OS
    // thread) taking the connection in between could still make it block.
    const int saved = errno;
    Deadline deadline = deadline_after_ns(s->rcvtimeo_ns.load(std::memory_order_relaxed));
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      int n = real::poll(&p, 1, 0);
      if (n != 0) {
        r = call();
        if (r >= 0) errno = saved;
        break;
      }
      Woke w = wait_fd(fd, Events::read, deadline);
      if (w == Woke::timeout) {
        errno = EAGAIN;
        return -1;
      }
      if (w == Woke::closed) {
        errno = EBADF;
        return -1;
      }
      if (w == Woke::unpollable) {
        r = call();
        break;
      }
    }
  }
  if (r >= 0) track_accepted(fd, r, plain_accept ? 0 : flags);
  return r;
}

int connect(int fd, const sockaddr* addr, socklen_t len) {
  FdState scratch;
  FdState* s = classified(fd, scratch);
  if (!is_socket(s->kind()) || !handled(fd, *s)) return real::connect(fd, addr, len);
  if (s->has(FdState::kInherited)) {
    unsupported("connect-inherited-fd",
                "connect() was called in a green thread on a blocking socket the process "
                "already had when grove::compat was patched. grove never sets O_NONBLOCK on "
                "such an fd (it may be shared with other processes), so this connect() blocks "
                "the whole hub until it completes. Create the socket after patching, or set "
                "O_NONBLOCK yourself and wait for it with poll().");
    return real::connect(fd, addr, len);
  }
  if (user_nonblock(fd, *s)) return real::connect(fd, addr, len);
  const int saved = errno;
  // connect() has no per-call flag either. The socket is this process's own and is being
  // connected, so nobody else uses it yet: make it non-blocking for the call only.
  int fl = real::fcntl(fd, F_GETFL, nullptr);
  if (fl < 0) return real::connect(fd, addr, len);
  s->set(FdState::kGroveNb);
  real::fcntl(fd, F_SETFL, reinterpret_cast<void*>(long(fl | O_NONBLOCK)));
  int r = real::connect(fd, addr, len);
  int err = errno;
  real::fcntl(fd, F_SETFL, reinterpret_cast<void*>(long(fl)));
  s->clear(FdState::kGroveNb);
  if (r == 0) {
    errno = saved;
    return 0;
  }
  Deadline deadline = deadline_after_ns(s->sndtimeo_ns.load(std::memory_order_relaxed));
  if (err == EAGAIN && addr && addr->sa_family == AF_UNIX) {
    // A full Unix-domain backlog: a blocking connect() waits for room, which cannot be
    // polled for. Retry with a short sleep.
    Duration pause = std::chrono::microseconds(200);
    for (;;) {
      if (deadline && now() >= *deadline) {
        errno = EAGAIN;
        return -1;
      }
      sleep_kept(pause);
      pause = std::min<Duration>(pause * 2, std::chrono::milliseconds(20));
      s->set(FdState::kGroveNb);
      real::fcntl(fd, F_SETFL, reinterpret_cast<void*>(long(fl | O_NONBLOCK)));
      r = real::connect(fd, addr, len);
      err = errno;
      real::fcntl(fd, F_SETFL, reinterpret_cast<void*>(long(fl)));
      s->clear(FdState::kGroveNb);
      if (r == 0) {
        errno = saved;
        return 0;
      }
      if (err != EAGAIN) break;
    }
  }
  if (err != EINPROGRESS) {
    errno = err;
    return -1;
  }
  for (;;) {
    Woke w = wait_fd(fd, Events::write, deadline);
    if (w == Woke::timeout) {
      // What a blocking connect() with SO_SNDTIMEO reports; the attempt goes on.
      errno = EINPROGRESS;
      return -1;
    }
    if (w == Woke::closed) {
      errno = EBADF;
      return -1;
    }
    pollfd p{fd, POLLOUT, 0};
    if (w == Woke::unpollable) {
      real::poll(&p, 1, -1);
    } else if (real::poll(&p, 1, 0) == 0) {
      continue;  // spurious
    }
    int so_error = 0;
    socklen_t sl = sizeof so_error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &sl) != 0) return -1;
    if (so_error != 0) {
      errno = so_error;
      return -1;
    }
    errno = saved;
    return 0;
  }
}

// --- waiting on several fds -------------------------------------------------------------------

namespace {

Events poll_interest(short events, bool* optional) {
  Events e = Events::none;
  if (events & (POLLIN | POLLRDNORM | POLLRDBAND | POLLPRI | POLLRDHUP)) e |= Events::read;
  if (events & (POLLOUT | POLLWRNORM | POLLWRBAND)) e |= Events::write;
  *optional = !(events & (POLLIN | POLLRDNORM | POLLRDBAND | POLLOUT | POLLWRNORM | POLLWRBAND));
  // Errors and hang-ups are reported whatever was asked; a read watcher sees them too.
  if (e == Events::none) e = Events::read;
  return e;
}

// After a wake-up that poll(0) did not confirm, stop watching the fds that woke us only
// because they are readable while the caller asked for something else (POLLPRI, or just
// errors and hang-ups): level-triggered readiness would otherwise wake us again at once,
// forever. Returns whether any was dropped; their errors and hang-ups are then found by
// re-polling on a short, growing interval (see Recheck).
bool drop_spurious(std::vector<Interest>& list) {
  auto end = std::remove_if(list.begin(), list.end(),
                            [](const Interest& i) { return i.optional && i.fired; });
  bool dropped = end != list.end();
  list.erase(end, list.end());
  return dropped;
}

// The re-poll interval for fds that can no longer be watched: 1 ms, doubling to 50 ms.
struct Recheck {
  bool active = false;
  Duration every = std::chrono::milliseconds(1);
  // The deadline to wait until: the caller's, or sooner when re-checking.
  Deadline cap(Deadline deadline) {
    if (!active) return deadline;
    TimePoint next = now() + every;
    every = std::min<Duration>(every * 2, std::chrono::milliseconds(50));
    if (!deadline || next < *deadline) return next;
    return deadline;
  }
};

// Sleeps until the deadline (or for good): what poll() on no fds does.
void sleep_until(Deadline deadline) {
  if (deadline) {
    Duration left = *deadline - now();
    if (left > Duration::zero()) sleep_kept(left);
    return;
  }
  std::vector<Interest> none;
  wait_many(none, std::nullopt);
}

}  // namespace

void warn_sigmask(const char* call) {
  std::string id = std::string(call) + "-sigmask";
  std::string msg = std::string(call) +
                    "() was called in a green thread with a signal mask. The green thread "
                    "waits on the hub, and the hub cannot apply one green thread's mask "
                    "while it waits, so the mask is ignored (signals stay as they were). "
                    "Handle signals with grove's signal watchers "
                    "(EventLoop::watch_signal) instead of a mask around the wait.";
  warn("compat." + id, msg);
}

int poll(pollfd* fds, nfds_t n, const timespec* timeout) {
  const int saved = errno;
  bool zero = timeout && timeout->tv_sec == 0 && timeout->tv_nsec == 0;
  Deadline deadline = deadline_after(timeout);
  std::vector<Interest> list;
  bool built = false;
  Recheck recheck;
  for (;;) {
    int r = real::poll(fds, n, 0);
    if (r != 0) {
      if (r > 0) errno = saved;
      return r;
    }
    if (zero || (deadline && now() >= *deadline)) {
      errno = saved;
      return 0;
    }
    if (!built) {
      built = true;
      list.reserve(n);
      for (nfds_t i = 0; i < n; ++i) {
        if (fds[i].fd < 0) continue;
        bool optional = false;
        Events e = poll_interest(fds[i].events, &optional);
        list.push_back({fds[i].fd, e, optional});
      }
    }
    if (list.empty()) {
      sleep_until(recheck.cap(deadline));
      continue;
    }
    Woke w = wait_many(list, recheck.cap(deadline));
    if (w == Woke::ready && real::poll(fds, n, 0) == 0 && drop_spurious(list))
      recheck.active = true;
  }
}

int select(int nfds, fd_set* rd, fd_set* wr, fd_set* ex, timeval* tv, const timespec* ts) {
  const int saved = errno;
  if (nfds < 0 || nfds > FD_SETSIZE) return real::select(nfds, rd, wr, ex, tv);
  Deadline deadline;
  bool zero = false;
  if (tv) {
    if (tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1'000'000)
      return real::select(nfds, rd, wr, ex, tv);
    zero = tv->tv_sec == 0 && tv->tv_usec == 0;
    deadline = now() + std::chrono::seconds(tv->tv_sec) + std::chrono::microseconds(tv->tv_usec);
  } else if (ts) {
    if (!valid(ts)) {
      timeval bad{-1, 0};
      return real::select(nfds, rd, wr, ex, &bad);
    }
    zero = ts->tv_sec == 0 && ts->tv_nsec == 0;
    deadline = deadline_after(ts);
  }
  fd_set in_r, in_w, in_e;
  if (rd) in_r = *rd;
  if (wr) in_w = *wr;
  if (ex) in_e = *ex;
  std::vector<Interest> list;
  for (int fd = 0; fd < nfds; ++fd) {
    Events e = Events::none;
    bool optional = true;
    if (rd && FD_ISSET(fd, &in_r)) {
      e |= Events::read;
      optional = false;
    }
    if (wr && FD_ISSET(fd, &in_w)) {
      e |= Events::write;
      optional = false;
    }
    if (ex && FD_ISSET(fd, &in_e)) e |= Events::read;  // urgent data: see drop_spurious
    if (e != Events::none) list.push_back({fd, e, optional});
  }
  auto remaining = [&] {
    if (!tv) return;
    Duration left = deadline ? std::max(Duration::zero(), *deadline - now()) : Duration::zero();
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(left).count();
    tv->tv_sec = time_t(us / 1'000'000);
    tv->tv_usec = suseconds_t(us % 1'000'000);
  };
  Recheck recheck;
  for (;;) {
    if (rd) *rd = in_r;
    if (wr) *wr = in_w;
    if (ex) *ex = in_e;
    timeval poll_now{0, 0};
    int r = real::select(nfds, rd, wr, ex, &poll_now);
    if (r != 0 || zero || (deadline && now() >= *deadline)) {
      if (r >= 0) {
        errno = saved;
        remaining();
      }
      return r;
    }
    if (list.empty()) {
      sleep_until(recheck.cap(deadline));
      continue;
    }
    Woke w = wait_many(list, recheck.cap(deadline));
    if (w == Woke::ready) {
      if (rd) *rd = in_r;
      if (wr) *wr = in_w;
      if (ex) *ex = in_e;
      timeval again{0, 0};
      int r2 = real::select(nfds, rd, wr, ex, &again);
      if (r2 != 0) {
        if (r2 > 0) {
          errno = saved;
          remaining();
        }
        return r2;
      }
      if (drop_spurious(list)) recheck.active = true;
    }
  }
}

int epoll_wait(int epfd, epoll_event* events, int max, int timeout_ms) {
  const int saved = errno;
  Deadline deadline;
  if (timeout_ms > 0) deadline = now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int r = real::epoll_wait(epfd, events, max, 0);
    if (r != 0) {
      if (r > 0) errno = saved;
      return r;
    }
    if (timeout_ms == 0 || (deadline && now() >= *deadline)) {
      errno = saved;
      return 0;
    }
    Woke w = wait_fd(epfd, Events::read, deadline);
    if (w == Woke::closed) {
      errno = EBADF;
      return -1;
    }
    if (w == Woke::unpollable) return real::epoll_wait(epfd, events, max, timeout_ms);
  }
}

// --- sleeping ---------------------------------------------------------------------------------

int nanosleep_for(clockid_t clock, int flags, const timespec* req, timespec* rem) {
  if (!req || !valid(req)) return EINVAL;
  switch (clock) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_BOOTTIME:
    case CLOCK_TAI: break;
    default:
      // CPU-time clocks and the rest: libc's answer (EINVAL, ENOTSUP or a real sleep).
      return real::clock_nanosleep(clock, flags, req, rem);
  }
  const int saved = errno;
  Duration d = std::chrono::seconds(req->tv_sec) + Duration(req->tv_nsec);
  if (flags & TIMER_ABSTIME) {
    timespec t;
    ::clock_gettime(clock, &t);
    d -= std::chrono::seconds(t.tv_sec) + Duration(t.tv_nsec);
    if (d <= Duration::zero()) return 0;
  }
  // sleep(0) yields to the other green threads, which is what a zero sleep is for.
  sleep_kept(d);
  errno = saved;
  return 0;
}

// --- name resolution on the thread pool -------------------------------------------------------
// Each job owns copies of its inputs and outputs: if the waiting green thread is killed or
// times out, the job still finishes on its pool thread and must not touch that green
// thread's stack.

namespace {

struct OptString {
  bool set = false;
  std::string value;
  explicit OptString(const char* s) : set(s != nullptr), value(s ? s : "") {}
  const char* get() const { return set ? value.c_str() : nullptr; }
};

struct AddrInfoJob {
  OptString node, service;
  bool has_hints = false;
  addrinfo hints{};
  int rc = 0;
  int err = 0;
  addrinfo* res = nullptr;
  AddrInfoJob(const char* n, const char* s, const addrinfo* h) : node(n), service(s) {
    if (h) {
      has_hints = true;
      hints.ai_flags = h->ai_flags;
      hints.ai_family = h->ai_family;
      hints.ai_socktype = h->ai_socktype;
      hints.ai_protocol = h->ai_protocol;
    }
  }
  ~AddrInfoJob() {
    if (res) ::freeaddrinfo(res);
  }
};

// Copies the hostent in `from` (pointing into from_buf) into `to`/`to_buf`, relocating every
// pointer; returns false if it does not fit.
bool relocate_hostent(const hostent& from, const char* from_buf, std::size_t used, hostent* to,
                      char* to_buf, std::size_t to_len) {
  if (used > to_len) return false;
  std::memcpy(to_buf, from_buf, used);
  auto move = [&](const void* p) -> char* {
    if (!p) return nullptr;
    return to_buf + (static_cast<const char*>(p) - from_buf);
  };
  to->h_name = move(from.h_name);
  to->h_addrtype = from.h_addrtype;
  to->h_length = from.h_length;
  to->h_aliases = reinterpret_cast<char**>(move(from.h_aliases));
  to->h_addr_list = reinterpret_cast<char**>(move(from.h_addr_list));
  if (to->h_aliases)
    for (char** a = to->h_aliases; *a; ++a) *a = move(*a);
  if (to->h_addr_list)
    for (char** a = to->h_addr_list; *a; ++a) *a = move(*a);
  return true;
}

struct HostJob {
  std::string name;
  int af;
  std::vector<char> buf;
  hostent ent{};
  hostent* result = nullptr;
  int h_err = 0;
  int rc = 0;
  int err = 0;
  bool grow = false;  // our own buffer grows on ERANGE; a caller-sized one does not
  std::size_t used() const { return buf.size(); }
};

void run_host_job(const std::shared_ptr<HostJob>& job) {
  in_thread_kept([job] {
    for (;;) {
      job->rc = job->af == AF_UNSPEC
                    ? real::gethostbyname_r(job->name.c_str(), &job->ent, job->buf.data(),
                                            job->buf.size(), &job->result, &job->h_err)
                    : real::gethostbyname2_r(job->name.c_str(), job->af, &job->ent, job->buf.data(),
                                             job->buf.size(), &job->result, &job->h_err);
      job->err = errno;
      if (job->rc != ERANGE || !job->grow || job->buf.size() >= (1u << 20)) break;
      job->buf.resize(job->buf.size() * 2);
    }
  });
}

}  // namespace

int getaddrinfo(const char* node, const char* service, const addrinfo* hints, addrinfo** res) {
  const int saved = errno;
  auto job = std::make_shared<AddrInfoJob>(node, service, hints);
  in_thread_kept([job] {
    job->rc = real::getaddrinfo(job->node.get(), job->service.get(),
                                job->has_hints ? &job->hints : nullptr, &job->res);
    job->err = errno;
  });
  *res = job->res;
  job->res = nullptr;
  errno = job->rc == EAI_SYSTEM ? job->err : saved;
  return job->rc;
}

int getnameinfo(const sockaddr* a, socklen_t l, char* h, socklen_t hl, char* s, socklen_t sl,
                int f) {
  const int saved = errno;
  struct Job {
    sockaddr_storage addr{};
    socklen_t len = 0;
    std::vector<char> host, serv;
    bool want_host = false, want_serv = false;
    int flags = 0;
    int rc = 0;
    int err = 0;
  };
  if (!a || l > socklen_t(sizeof(sockaddr_storage)))
    return real::getnameinfo(a, l, h, hl, s, sl, f);
  auto job = std::make_shared<Job>();
  std::memcpy(&job->addr, a, l);
  job->len = l;
  job->want_host = h && hl > 0;
  job->want_serv = s && sl > 0;
  job->host.resize(job->want_host ? hl : 1);
  job->serv.resize(job->want_serv ? sl : 1);
  job->flags = f;
  in_thread_kept([job] {
    job->rc = real::getnameinfo(reinterpret_cast<sockaddr*>(&job->addr), job->len,
                                job->want_host ? job->host.data() : nullptr,
                                job->want_host ? socklen_t(job->host.size()) : 0,
                                job->want_serv ? job->serv.data() : nullptr,
                                job->want_serv ? socklen_t(job->serv.size()) : 0, job->flags);
    job->err = errno;
  });
  if (job->rc == 0) {
    if (job->want_host) std::memcpy(h, job->host.data(), hl);
    if (job->want_serv) std::memcpy(s, job->serv.data(), sl);
  }
  errno = job->rc == EAI_SYSTEM ? job->err : saved;
  return job->rc;
}

int gethostbyname_r(const char* name, int af, hostent* ret, char* buf, size_t len, hostent** result,
                    int* h_errnop) {
  const int saved = errno;
  auto job = std::make_shared<HostJob>();
  job->name = name ? name : "";
  job->af = af;
  job->buf.resize(len);
  run_host_job(job);
  *result = nullptr;
  if (h_errnop) *h_errnop = job->h_err;
  if (job->rc == 0 && job->result) {
    if (!relocate_hostent(job->ent, job->buf.data(), job->used(), ret, buf, len)) {
      errno = ERANGE;
      return ERANGE;
    }
    *result = ret;
  }
  errno = job->rc == 0 ? saved : job->err;
  return job->rc;
}

hostent* gethostbyname(const char* name, int af) {
  // libc keeps one static result per process; grove keeps one per OS thread, which is at
  // least as safe for the green threads sharing it.
  thread_local hostent ent;
  thread_local std::vector<char> storage;
  const int saved = errno;
  auto job = std::make_shared<HostJob>();
  job->name = name ? name : "";
  job->af = af;
  job->buf.resize(8192);
  job->grow = true;
  run_host_job(job);
  if (job->rc != 0 || !job->result) {
    h_errno = job->h_err;
    errno = saved;
    return nullptr;
  }
  storage = job->buf;
  relocate_hostent(job->ent, job->buf.data(), job->used(), &ent, storage.data(), storage.size());
  errno = saved;
  return &ent;
}

// --- tracking ---------------------------------------------------------------------------------

namespace {

// The fd number is about to be closed or replaced. Every hub learns it at its next wait on
// the number (the epoch); a green thread's own hub learns it now, so that the green threads
// waiting on it wake with EBADF before the fd is closed. Outside green threads the hub is
// left alone: it may be the one being torn down.
void forget(int fd) noexcept {
  FdState* s = fd_state(fd);
  if (!s) return;
  std::uint32_t e = s->epoch.fetch_add(1, std::memory_order_acq_rel) + 1;
  if (!in_green()) return;
  const int saved = errno;
  try {
    green::forget_fd(fd);
    if (std::size_t(fd) >= t_seen_epoch.size()) t_seen_epoch.resize(std::size_t(fd) + 1, 0);
    t_seen_epoch[std::size_t(fd)] = e;
  } catch (...) {
  }
  errno = saved;
}

void track_new(int fd, Kind kind, bool nonblocking) {
  if (FdState* s = fd_state(fd))
    s->reset(std::uint32_t(kind) | FdState::kNbKnown | FdState::kTimeouts |
             (nonblocking ? FdState::kUserNb : 0));
}

void track_dup(int from, int to) {
  FdState* d = fd_state(to);
  if (!d) return;
  if (FdState* s = fd_state(from)) d->copy_from(*s);
  else d->reset(0);
}

}  // namespace

int close(int fd) {
  forget(fd);
  if (FdState* s = fd_state(fd)) s->reset(0);
  return real::close(fd);
}

int dup(int fd) {
  int r = real::dup(fd);
  if (r >= 0) track_dup(fd, r);
  return r;
}

int dup3(int fd, int fd2, int flags, bool plain_dup2) {
  // fd2 is closed and replaced: its waiters must not wait on the new file.
  if (fd != fd2) forget(fd2);
  int r = plain_dup2 ? real::dup2(fd, fd2) : real::dup3(fd, fd2, flags);
  if (r >= 0 && fd != fd2) track_dup(fd, r);
  return r;
}

int fcntl(int fd, int cmd, void* arg, bool is64) {
  int r = is64 ? real::fcntl64(fd, cmd, arg) : real::fcntl(fd, cmd, arg);
  if (r < 0) return r;
  switch (cmd) {
    case F_SETFL:
      if (!from_user()) break;
      if (FdState* s = fd_state(fd))
        s->set_user_nonblock((reinterpret_cast<long>(arg) & O_NONBLOCK) != 0);
      break;
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: track_dup(fd, r); break;
    default: break;
  }
  return r;
}

int ioctl(int fd, unsigned long request, void* arg) {
  int r = real::ioctl(fd, request, arg);
  if (r == 0 && request == FIONBIO && arg && from_user())
    if (FdState* s = fd_state(fd)) s->set_user_nonblock(*static_cast<const int*>(arg) != 0);
  return r;
}

int socket(int domain, int type, int protocol) {
  int fd = real::socket(domain, type, protocol);
  if (fd >= 0)
    track_new(fd, (type & 0xf) == SOCK_STREAM ? Kind::stream : Kind::socket,
              (type & SOCK_NONBLOCK) != 0);
  return fd;
}

int socketpair(int domain, int type, int protocol, int* sv) {
  int r = real::socketpair(domain, type, protocol, sv);
  if (r == 0) {
    Kind k = (type & 0xf) == SOCK_STREAM ? Kind::stream : Kind::socket;
    track_new(sv[0], k, (type & SOCK_NONBLOCK) != 0);
    track_new(sv[1], k, (type & SOCK_NONBLOCK) != 0);
  }
  return r;
}

int pipe2(int* fds, int flags, bool plain_pipe) {
  int r = plain_pipe ? real::pipe(fds) : real::pipe2(fds, flags);
  if (r == 0) {
    bool nb = !plain_pipe && (flags & O_NONBLOCK);
    track_new(fds[0], Kind::pollable, nb);
    track_new(fds[1], Kind::pollable, nb);
  }
  return r;
}

int setsockopt(int fd, int level, int opt, const void* value, socklen_t len) {
  int r = real::setsockopt(fd, level, opt, value, len);
  // SO_RCVTIMEO/SO_SNDTIMEO (20/21) and their _NEW forms (66/67): a 64-bit timeval on x86-64.
  if (r == 0 && level == SOL_SOCKET && value && len >= socklen_t(sizeof(timeval))) {
    bool rcv = opt == SO_RCVTIMEO || opt == 66;
    bool snd = opt == SO_SNDTIMEO || opt == 67;
    if (rcv || snd) {
      if (FdState* s = fd_state(fd)) {
        const auto* tv = static_cast<const timeval*>(value);
        std::int64_t ns =
            std::int64_t(tv->tv_sec) * 1'000'000'000 + std::int64_t(tv->tv_usec) * 1000;
        (rcv ? s->rcvtimeo_ns : s->sndtimeo_ns).store(ns, std::memory_order_relaxed);
      }
    }
  }
  return r;
}

}  // namespace grove::compat::detail::coop
