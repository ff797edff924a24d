// The TLS transport: the session's records to and from a non-blocking socket.
#include "tls_transport.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

namespace grove::http::detail {
namespace {

constexpr std::size_t kMaxRecord = 16 * 1024;  // TLS's largest record payload

IoResult failed(int error) { return {IoResult::Status::error, 0, error}; }
IoResult done(std::size_t n) { return {IoResult::Status::done, n, 0}; }

}  // namespace

void TlsTransport::queue_output() {
  const std::size_t n = session_->output_size();
  if (n == 0) return;
  if (sent_ == unsent_.size()) {
    unsent_.clear();
    sent_ = 0;
  }
  // Straight from the session's output into the queue, no string in between.
  const std::size_t at = unsent_.size();
  unsent_.resize(at + n);
  unsent_.resize(at + session_->take_output(unsent_.data() + at, n));
}

IoResult TlsTransport::flush() {
  queue_output();
  while (sent_ < unsent_.size()) {
    iovec iov{unsent_.data() + sent_, unsent_.size() - sent_};
    IoResult r = socket_.write(&iov, 1);
    if (r.status != IoResult::Status::done) {
      if (r.status == IoResult::Status::would_block) want_ = Want::write;
      return r;
    }
    sent_ += r.bytes;
  }
  unsent_.clear();
  sent_ = 0;
  // A large response's buffer is not kept by an idle connection.
  if (unsent_.capacity() > 64 * 1024) unsent_.shrink_to_fit();
  return done(0);
}

IoResult TlsTransport::receive() {
  char buf[kMaxRecord + 512];  // one full record and its overhead
  IoResult r = socket_.read(buf, sizeof buf);
  if (r.status == IoResult::Status::would_block) want_ = Want::read;
  if (r.status != IoResult::Status::done) return r;
  socket_drained_ = r.bytes < sizeof buf;
  if (r.bytes == 0) session_->receive_end();
  else session_->receive(buf, r.bytes);
  return r;
}

IoResult TlsTransport::handshake() {
  for (;;) {
    TlsSession::Step step = session_->handshake();
    IoResult sent = flush();
    if (step == TlsSession::Step::done) {  // tickets may still be queued
      facts_ = session_->facts();
      return done(0);
    }
    if (step == TlsSession::Step::failed) return failed(EPROTO);  // the alert went if it could
    if (sent.status == IoResult::Status::error) return sent;
    // Our flight must go out before the peer can answer it.
    if (sent.status == IoResult::Status::would_block) return sent;
    IoResult r = receive();
    if (r.status != IoResult::Status::done) return r;
  }
}

IoResult TlsTransport::read(char* buf, std::size_t n) {
  for (;;) {
    TlsSession::Read r = session_->read(buf, n);
    if (session_->output_size() > 0) {
      IoResult sent = flush();  // a key update's answer, an alert
      if (sent.status == IoResult::Status::error) return sent;
    }
    switch (r.step) {
      case TlsSession::Step::done: return done(r.bytes);
      case TlsSession::Step::closed: return done(0);
      case TlsSession::Step::failed: return failed(EPROTO);
      case TlsSession::Step::want_input: break;
    }
    IoResult got = receive();
    if (got.status != IoResult::Status::done) return got;
  }
}

IoResult TlsTransport::write(const iovec* iov, int count) {
  IoResult sent = flush();
  if (sent.status != IoResult::Status::done) return sent;
  // One SSL_write per piece would put each piece in a record of its own (a response's head
  // and its body as two records: twice the record overhead for both peers). Small pieces
  // are gathered so that a record holds as much as it can. The buffer is the OS thread's,
  // not the green thread's stack (64 KiB by default): nothing here can switch green threads.
  static thread_local char gathered[kMaxRecord];
  std::size_t used = 0;
  std::size_t total = 0;
  for (int i = 0; i < count; ++i) {
    std::string_view piece{static_cast<const char*>(iov[i].iov_base), iov[i].iov_len};
    total += piece.size();
    while (!piece.empty()) {
      if (used == 0 && piece.size() >= sizeof gathered) {
        // Whole records straight from the piece; its tail joins what follows.
        const std::size_t whole = piece.size() - piece.size() % sizeof gathered;
        if (!session_->write(piece.substr(0, whole))) return failed(EPROTO);
        piece.remove_prefix(whole);
        continue;
      }
      std::size_t n = std::min(piece.size(), sizeof gathered - used);
      std::memcpy(gathered + used, piece.data(), n);
      used += n;
      piece.remove_prefix(n);
      if (used == sizeof gathered) {
        if (!session_->write({gathered, used})) return failed(EPROTO);
        used = 0;
      }
    }
  }
  if (used > 0 && !session_->write({gathered, used})) return failed(EPROTO);
  sent = flush();
  if (sent.status == IoResult::Status::error) return sent;
  return done(total);  // what the socket did not take yet stays queued
}

IoResult TlsTransport::send_file(int file, off_t& offset, std::size_t n) {
  char buf[kMaxRecord];
  ssize_t got;
  do got = ::pread(file, buf, std::min(n, sizeof buf), offset);
  while (got < 0 && errno == EINTR);
  if (got < 0) return failed(errno);
  iovec iov{buf, std::size_t(got)};
  IoResult r = write(&iov, 1);
  if (r.status == IoResult::Status::done) offset += off_t(r.bytes);
  return r;
}

void TlsTransport::shutdown_write() noexcept {
  session_->close();
  flush();
  socket_.shutdown_write();
}

}  // namespace grove::http::detail
