// The transport seam's result type and its plain alternative (see transport.hpp).
//
// The transport seam: the byte stream under HTTP/1 that a connection's green thread reads
// from and writes to: plain sockets (TCP and Unix) here, TLS in tls_transport.hpp.
//
// Every transport is non-blocking and owns its socket; the server waits on fd() readiness
// (a TLS transport may need to wait for the other direction: it says so with `want`).
//
//   IoResult read(char* buf, std::size_t n)       bytes read; 0 bytes means the end
//   IoResult write(const iovec* iov, int count)   bytes written (MSG_NOSIGNAL)
//   IoResult send_file(int file, off_t& offset, std::size_t n)  zero-copy (plain only)
//   bool has_pending_input()                      bytes sent by the peer not yet read
//   void shutdown_write()                         an orderly end of the sending side
//   int fd()
//   int release()                                 hands the socket over (see Handover)
#pragma once

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <utility>

namespace grove::http::detail {

struct IoResult {
  enum class Status : unsigned char { done, would_block, error };
  Status status = Status::done;
  std::size_t bytes = 0;  // with done
  int error = 0;          // errno, with error
  static IoResult from(ssize_t n) noexcept {
    if (n >= 0) return {Status::done, std::size_t(n), 0};
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {Status::would_block, 0, 0};
    return {Status::error, 0, errno};
  }
};

// A TCP or Unix-domain socket, as it is.
class PlainTransport {
 public:
  PlainTransport() = default;
  explicit PlainTransport(int fd) noexcept : fd_(fd) {}
  PlainTransport(PlainTransport&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  PlainTransport& operator=(PlainTransport&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~PlainTransport() {
    if (fd_ >= 0) ::close(fd_);
  }

  int fd() const noexcept { return fd_; }

  IoResult read(char* buf, std::size_t n) noexcept {
    ssize_t r;
    do r = ::recv(fd_, buf, n, 0);
    while (r < 0 && errno == EINTR);
    return IoResult::from(r);
  }

  IoResult write(const iovec* iov, int count) noexcept {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(iov);
    msg.msg_iovlen = std::size_t(count);
    ssize_t r;
    do r = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    return IoResult::from(r);
  }

  // The kernel copies from the file to the socket; no byte passes through user space.
  IoResult send_file(int file, off_t& offset, std::size_t n) noexcept {
    ssize_t r;
    do r = ::sendfile(fd_, file, &offset, n);
    while (r < 0 && errno == EINTR);
    return IoResult::from(r);
  }

  bool has_pending_input() const noexcept {
    char b;
    return ::recv(fd_, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
  }

  void shutdown_write() noexcept { ::shutdown(fd_, SHUT_WR); }

  // Gives up the socket without closing it.
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

}  // namespace grove::http::detail
