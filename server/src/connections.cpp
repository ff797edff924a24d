// Connections: the lists they sit on, their pooled contexts, the idle and active states, and
// reading and writing through the transport.
//
// Connection life: an accepted connection is *idle* (a read watcher on the hub, no green
// thread) until bytes arrive; then it is *active*: a green thread reads, parses, calls the
// application and writes, for as many requests as are in flight, and the connection goes
// back to idle when its input is drained. So an idle keep-alive connection costs a few
// hundred bytes, not a green thread's stack, and a busy one pays no system call to switch
// between the two states (the loop batches the watcher changes).
#include "server_impl.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace grove::http {

void Server::Impl::link_all(Connection* c) {
  c->all_next = all_head;
  if (all_head) all_head->all_prev = c;
  all_head = c;
}

void Server::Impl::unlink_all(Connection* c) {
  if (c->all_prev) c->all_prev->all_next = c->all_next;
  else all_head = c->all_next;
  if (c->all_next) c->all_next->all_prev = c->all_prev;
  c->all_prev = c->all_next = nullptr;
}

void Server::Impl::push_idle(Connection* c, int list) {
  c->idle_list = list;
  c->idle_prev = idle_tail[list];
  c->idle_next = nullptr;
  if (idle_tail[list]) idle_tail[list]->idle_next = c;
  else idle_head[list] = c;
  idle_tail[list] = c;
  if (list != kLingerList) ++stats.idle;
}

void Server::Impl::unlink_idle(Connection* c) {
  int list = c->idle_list;
  if (list < 0) return;
  if (c->idle_prev) c->idle_prev->idle_next = c->idle_next;
  else idle_head[list] = c->idle_next;
  if (c->idle_next) c->idle_next->idle_prev = c->idle_prev;
  else idle_tail[list] = c->idle_prev;
  c->idle_prev = c->idle_next = nullptr;
  c->idle_list = -1;
  if (list != kLingerList) --stats.idle;
}

Context* Server::Impl::take_context() {
  if (!spare.empty()) {
    Context* x = spare.back().release();
    spare.pop_back();
    x->in.reserve(kReadChunk);  // an upgraded connection's were released
    return x;
  }
  auto* x = new Context;
  x->framer.set_limits(cfg.limits);
  x->in.reserve(kReadChunk);
  x->out.reserve(4096);
  return x;
}

void Server::Impl::put_context(Context* x) {
  x->in.clear();
  x->out.clear();
  // Buffers grown by a big request are not kept.
  if (x->in.capacity() > 4 * kReadChunk) x->in.release();
  if (x->out.capacity() > kFlushAt * 2) x->out.release();
  if (spare.size() >= kContextPool) {
    delete x;
    return;
  }
  spare.emplace_back(x);
}

void Server::Impl::add_connection(int fd, const sockaddr_storage& ss, const Listener& from) {
  auto* c = new Connection;
  c->server = this;
  c->fd = fd;
  c->metrics = from.metrics;
  if (from.tls) c->transport.emplace<detail::TlsTransport>(fd, *cfg.tls);
  else c->transport = detail::PlainTransport(fd);
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    char host[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    c->peer = host;
    c->peer_port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    char host[INET6_ADDRSTRLEN];
    ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    c->peer = host;
    c->peer_port = ntohs(a->sin6_port);
  } else {
    c->peer = "unix:";
    c->unix_peer = true;
  }
  if (!c->unix_peer) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  try {
    c->watcher = loop->watch(fd, Events::read, [this, c](Events e) { on_readable(c, e); });
  } catch (const std::exception& e) {
    Log::write(LogLevel::error, std::string("cannot watch an accepted connection: ") + e.what());
    delete c;  // its transport closes the socket
    return;
  }
  ++stats.accepted;
  ++stats.open;
  metrics_open += c->metrics;
  link_all(c);
  c->since = loop->now();
  push_idle(c, 0);
}

// Hub callback: bytes (or EOF) on an idle connection.
void Server::Impl::on_readable(Connection* c, Events e) {
  if (c->state == Connection::State::idle) {
    if (c->lingering) {
      linger_read(c);
      return;
    }
    if (any(e & Events::closed)) {
      close_connection(c);
      return;
    }
    activate(c);
  } else if (c->green && c->green.started()) {
    // Active, and its green thread has had its turn: it reads when it is ready to (it
    // may be parked in the application). Stop reporting until it idles again, so that a
    // level-triggered poller does not spin. A green thread that has not started yet will
    // read as soon as it runs: leaving the watcher alone then costs no system call, where
    // a stop now and a start when it idles would cost two.
    c->watcher.stop();
  }
}

void Server::Impl::activate(Connection* c) {
  unlink_idle(c);
  c->state = Connection::State::active;
  ++stats.active;
  green::SpawnOptions options;
  options.stack_size = cfg.stack_size;
  try {
    c->green = green::spawn(std::move(options), [this, c] { run_connection(c); });
  } catch (const std::exception& e) {
    Log::write(LogLevel::error, std::string("cannot start a connection green thread: ") + e.what());
    --stats.active;
    close_connection(c);
  }
}

// Runs in the connection's green thread until the connection idles or closes.
void Server::Impl::run_connection(Connection* c) {
  Context* x = take_context();
  c->ctx = x;
  bool keep = false;
  bool linger = false;
  try {
    keep = serve(c, *x);
    linger = !keep && may_have_unread_input(c, *x);
  } catch (const green::GreenletExit&) {
    keep = false;  // killed by a stop that timed out
  } catch (const detail::ConnectionLost& e) {
    if (Log::enabled(LogLevel::debug))
      Log::write(LogLevel::debug, "connection from " + c->peer + " lost: " + e.what());
    keep = false;
  } catch (...) {
    Log::write(LogLevel::error,
               "connection from " + c->peer + " failed: " + detail::describe_current_exception());
    keep = false;
  }
  c->ctx = nullptr;
  put_context(x);
  --stats.active;
  c->green = {};
  if (keep && !stopping_) {
    c->state = Connection::State::idle;
    c->watcher.start();
    if (c->fresh) {
      push_idle(c, 0);  // still waiting for its first byte, timed from the accept
    } else {
      c->since = loop->now();
      push_idle(c, 1);
    }
  } else if (linger) {
    c->state = Connection::State::idle;
    lingering_close(c);
  } else {
    close_connection(c);
  }
}

// Whether closing now could leave bytes of the client's unread, which would make the
// kernel answer with a reset that can destroy the response before the client reads it.
bool Server::Impl::may_have_unread_input(Connection* c, Context& x) {
  if (c->peer_closed) return false;
  if (c->refused || stopping_ || !x.in.empty() || !x.framer.body_done()) return true;
  return detail::with_transport(c->transport, [](auto& t) { return t.has_pending_input(); });
}

void Server::Impl::close_connection(Connection* c) {
  if (c->state == Connection::State::closed) return;
  if (c->state == Connection::State::active && c->green && !c->green.dead() &&
      green::current() != c->green) {
    // Its green thread owns it: make it unwind; it closes the connection on its way out.
    // One that has not started yet never will: it is closed here.
    const bool started = c->green.started();
    c->green.kill(nullptr, /*block=*/false);
    if (started) return;
    c->green = {};
    --stats.active;
  }
  unlink_idle(c);
  unlink_all(c);
  c->state = Connection::State::closed;
  c->watcher.close();
  // The hub forgets the descriptor (and wakes any waiter) as it closes.
  int fd = detail::with_transport(c->transport, [](auto& t) { return t.release(); });
  if (fd >= 0) green::close(fd);  // -1: handed over
  --stats.open;
  metrics_open -= c->metrics;
  if (stats.open < cfg.max_connections) slot_free.set();
  delete c;
  if (stopping_) maybe_finish_stop();
}

// Reads what is available into `in`; with a deadline, waits for it.
// Sets `drained` when the read left nothing behind in the socket (it returned less than
// it could), so the caller can wait for readiness instead of reading again for EAGAIN.
ReadResult Server::Impl::read_some(Connection* c, Buffer& in, std::optional<TimePoint> deadline,
                                   bool* drained) {
  std::size_t avail, got = 0;
  char* p = in.prepare(4096, avail);
  auto r = read_into(c, p, avail, got, deadline, drained);
  in.commit(got);
  return r;
}

ReadResult Server::Impl::read_into(Connection* c, char* p, std::size_t n, std::size_t& got,
                                   std::optional<TimePoint> deadline, bool* drained) {
  got = 0;
  while (true) {
    auto r = detail::with_transport(c->transport, [&](auto& t) { return t.read(p, n); });
    if (r.status == detail::IoResult::Status::done && r.bytes > 0) {
      got = r.bytes;
      // A short TLS read says nothing of the socket (records may wait undecrypted): the
      // transport knows whether its last socket read was short and all of it read.
      if (drained) {
        auto* tls = std::get_if<detail::TlsTransport>(&c->transport);
        *drained = tls ? tls->drained() : r.bytes < n;
      }
      return ReadResult::data;
    }
    if (r.status != detail::IoResult::Status::would_block) {
      c->peer_closed = true;  // the end, or a reset
      return r.status == detail::IoResult::Status::done ? ReadResult::eof : ReadResult::error;
    }
    if (!deadline) return ReadResult::again;
    auto left = *deadline - TimePoint(Clock::now());
    if (left <= Duration::zero()) return ReadResult::timeout;
    if (!green::wait_readable(c->fd, left)) return ReadResult::timeout;
  }
}

// Sends `out` (then `extra`) completely, waiting up to the write timeout each time the
// client stops taking bytes. Throws ConnectionLost.
void Server::Impl::flush(Connection* c, Buffer& out, std::string_view extra) {
  while (!out.empty() || !extra.empty()) {
    iovec iov[2];
    int n_iov = 0;
    if (!out.empty()) iov[n_iov++] = {const_cast<char*>(out.data()), out.size()};
    if (!extra.empty()) iov[n_iov++] = {const_cast<char*>(extra.data()), extra.size()};
    auto r = detail::with_transport(c->transport, [&](auto& t) { return t.write(iov, n_iov); });
    if (r.status == detail::IoResult::Status::done) {
      std::size_t from_out = std::min(r.bytes, out.size());
      out.consume(from_out);
      extra.remove_prefix(r.bytes - from_out);
      continue;
    }
    if (r.status == detail::IoResult::Status::error)
      throw detail::ConnectionLost(std::strerror(r.error));
    wait_writable(c);
  }
  if (auto* tls = std::get_if<detail::TlsTransport>(&c->transport)) flush_records(c, *tls);
}

void Server::Impl::flush_records(Connection* c, detail::TlsTransport& tls) {
  while (tls.has_unsent_output()) {
    auto r = tls.flush();
    if (r.status == detail::IoResult::Status::error)
      throw detail::ConnectionLost(std::strerror(r.error));
    if (r.status == detail::IoResult::Status::would_block) wait_writable(c);
  }
}

bool Server::Impl::handshake(Connection* c, detail::TlsTransport& tls) {
  const TimePoint deadline = c->since + cfg.handshake_timeout;
  for (;;) {
    auto r = tls.handshake();
    if (r.status == detail::IoResult::Status::done) return true;
    if (r.status == detail::IoResult::Status::error) {
      if (tls.plain_http()) {
        answer_plain_http(c);
        Log::write(LogLevel::info,
                   "plain HTTP request from " + c->peer + " on a TLS port: answered 400");
      } else {
        Log::write(LogLevel::info,
                   "TLS handshake with " + c->peer + " failed: " +
                       (tls.failure().empty() ? std::strerror(r.error) : tls.failure()));
      }
      return false;
    }
    auto left = deadline - TimePoint(Clock::now());
    const bool ready = left > Duration::zero() && (tls.want() == detail::TlsTransport::Want::read
                                                       ? green::wait_readable(c->fd, left)
                                                       : green::wait_writable(c->fd, left));
    if (!ready) {
      Log::write(LogLevel::info, "TLS handshake with " + c->peer + " timed out");
      return false;
    }
  }
}

void Server::Impl::answer_plain_http(Connection* c) {
  static const std::string body = "The plain HTTP request was sent to HTTPS port\n";
  static const std::string response =
      "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  // Best effort, on the raw socket (the client speaks no TLS); small enough for any socket
  // buffer.
  (void)::send(c->fd, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(c->fd, SHUT_WR);
}

// Waits until the client takes more bytes, up to the write timeout. Throws
// ConnectionLost.
void Server::Impl::wait_writable(Connection* c) {
  if (green::wait_writable(c->fd, cfg.write_timeout)) return;
  // Given up on this client: reset rather than leave the unsent bytes queued.
  linger l{1, 0};
  ::setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  throw detail::ConnectionLost("write timed out (the client stopped reading)");
}

// Sends `out`, then `n` bytes of `file` from `offset`, with no copy through user space
// on a plain transport (the static-file and upload features build on it). Throws
// ConnectionLost.
void Server::Impl::send_file(Connection* c, Buffer& out, int file, off_t offset, std::size_t n) {
  flush(c, out);
  while (n > 0) {
    auto r =
        detail::with_transport(c->transport, [&](auto& t) { return t.send_file(file, offset, n); });
    if (r.status == detail::IoResult::Status::done) {
      if (r.bytes == 0) throw detail::ConnectionLost("the file ended before the bytes to send");
      if (std::holds_alternative<detail::PlainTransport>(c->transport))
        stats.sendfile_bytes += r.bytes;
      n -= r.bytes;
      continue;
    }
    if (r.status == detail::IoResult::Status::error)
      throw detail::ConnectionLost(std::strerror(r.error));
    wait_writable(c);
  }
}

void Server::Impl::inline_file(Connection* c, Buffer& out, const FileBody& f) {
  const auto n = std::size_t(f.length);
  std::size_t avail;
  char* p = out.prepare(n, avail);
  std::size_t done = 0;
  while (done < n) {
    ssize_t got = ::pread(f.file->fd(), p + done, n - done, off_t(f.offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      // Cut short as send_file() would: the earlier responses and this head still go out.
      out.commit(done);
      flush(c, out);
      throw detail::ConnectionLost(got == 0 ? "the file ended before the bytes to send"
                                            : std::strerror(errno));
    }
    done += std::size_t(got);
  }
  out.commit(n);
}

// Hands an active connection over to another protocol after an upgrade: the transport
// and the input buffered past the upgrade request move out (no byte is copied); the
// server then forgets the connection as if it had closed, without closing the socket.
// Runs on the connection's green thread, after the 101 response was flushed.
detail::Handover Server::Impl::hand_over(Connection* c, Context& x) {
  detail::Handover h{std::move(c->transport), std::move(x.in)};
  x.in = Buffer();
  c->fd = -1;
  return h;
}

}  // namespace grove::http
