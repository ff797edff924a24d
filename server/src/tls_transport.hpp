// A TLS connection over a non-blocking socket, with the interface of the transport seam
// (plain_transport.hpp): the bytes it reads and writes are plaintext; the records go through a
// detail::TlsSession. Nothing here blocks: would_block says to wait for want() on fd().
//
//   TlsTransport t(fd, context);
//   for (;;) {                                   // in the connection's green thread
//     auto r = t.handshake();
//     if (r.status == IoResult::Status::done) break;
//     if (r.status == IoResult::Status::error) { log(t.failure()); return; }
//     wait(t.fd(), t.want(), handshake_deadline);
//   }
//   ... read()/write() as on a PlainTransport ...
//   while (t.has_unsent_output()) if (t.flush().status == would_block) wait_writable(...)
//
// write() takes all the plaintext it is given once earlier records have gone out, and
// encrypts it; records the socket does not take at once stay queued (has_unsent_output)
// and go out first on the next write() or flush(). The server flushes them before it
// waits for the next request or closes.
#pragma once

#include "plain_transport.hpp"

#include <grove/http/detail/tls_session.hpp>

#include <memory>
#include <string>

namespace grove::http::detail {

class TlsTransport {
 public:
  enum class Want : unsigned char { read, write };

  TlsTransport(int fd, const TlsContext& context)
      : socket_(fd), session_(std::make_unique<TlsSession>(context)) {}

  int fd() const noexcept { return socket_.fd(); }

  // Advances the handshake: done, would_block (wait for want()), or error (failure()).
  IoResult handshake();
  Want want() const noexcept { return want_; }
  bool handshake_done() const noexcept { return session_->handshake_done(); }

  IoResult read(char* buf, std::size_t n);
  IoResult write(const iovec* iov, int count);
  // No zero-copy under TLS: the file's bytes are read, then encrypted.
  IoResult send_file(int file, off_t& offset, std::size_t n);

  // Records queued for the socket; flush() sends them (would_block while some remain).
  bool has_unsent_output() const noexcept { return sent_ < unsent_.size(); }
  IoResult flush();

  bool has_pending_input() const noexcept {
    return session_->has_unread_input() || socket_.has_pending_input();
  }
  // Whether the last socket read took all the socket had and every byte of it has been
  // read as plaintext: nothing waits that the poller would not report (as a short read on a
  // plain socket says), so the connection can idle without another read.
  bool drained() const noexcept { return socket_drained_ && !session_->has_unread_input(); }
  // close_notify (sent if the socket takes it now), then the end of the sending side.
  void shutdown_write() noexcept;
  // Gives up the socket; the TLS state is lost with the object (no TLS handover yet).
  int release() noexcept { return socket_.release(); }

  const std::string& failure() const noexcept { return session_->failure(); }
  bool plain_http() const noexcept { return session_->plain_http(); }
  // What the handshake negotiated, read from OpenSSL once when it finished (the server
  // hands it to every request of the connection); empty before.
  const TlsFacts& facts() const noexcept { return facts_; }

 private:
  // Reads from the socket into the session; done(0) at the peer's end.
  IoResult receive();
  void queue_output();

  PlainTransport socket_;
  std::unique_ptr<TlsSession> session_;  // movable, as a variant alternative must be
  TlsFacts facts_;
  std::string unsent_;  // records not yet taken by the socket, from sent_ on
  std::size_t sent_ = 0;
  Want want_ = Want::read;
  bool socket_drained_ = false;  // the last socket read was short
};

}  // namespace grove::http::detail
