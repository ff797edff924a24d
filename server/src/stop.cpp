// Timeouts of idle connections (swept from FIFO lists by one timer), the lingering close,
// and the graceful stop.
#include "server_impl.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <cerrno>

namespace grove::http {

void Server::Impl::sweep() {
  TimePoint now = loop->now();
  const Duration limits[2] = {cfg.header_timeout, cfg.keepalive_timeout};
  for (int list = 0; list < 2; ++list) {
    while (Connection* c = idle_head[list]) {
      if (c->since + limits[list] > now) break;
      close_connection(c);
    }
  }
}

Duration Server::Impl::sweep_interval() const {
  Duration d = std::min(cfg.header_timeout, cfg.keepalive_timeout) / 4;
  return std::clamp<Duration>(d, 5ms, 1s);
}

void Server::Impl::begin_stop(std::optional<Duration> timeout) {
  if (!started || stopped_) return;
  Duration t = timeout.value_or(cfg.graceful_timeout);
  if (!stopping_ && !draining_ && !cfg.health_path.empty() &&
      cfg.health_drain_delay > Duration::zero() && t > Duration::zero()) {
    draining_ = true;
    Log::write(LogLevel::info,
               "draining: " + cfg.health_path + " answers 503 for " +
                   std::to_string(
                       std::chrono::duration_cast<std::chrono::milliseconds>(cfg.health_drain_delay)
                           .count()) +
                   " ms, then the stop begins");
    drain_timer =
        loop->call_later(cfg.health_drain_delay, [this, timeout] { begin_stop(timeout); });
    return;
  }
  drain_timer.cancel();
  if (stopping_) {
    // A second stop can only shorten the wait.
    if (stop_timer && loop->now() + t < stop_timer.when()) {
      stop_timer.cancel();
      stop_timer = loop->call_later(t, [this] { force_close(); });
    }
    return;
  }
  stopping_ = true;
  Log::write(LogLevel::info, "stopping: no new connections; letting " +
                                 std::to_string(stats.active) + " active connection(s) finish");
  // Connections the kernel already completed are taken and served, then the listeners close.
  for (auto& l : listeners) {
    if (l.metrics) continue;  // serves on until the app's connections are done
    for (int i = 0; i < 1024 && stats.open < cfg.max_connections; ++i) {
      sockaddr_storage ss;
      socklen_t len = sizeof ss;
      int fd =
          ::accept4(l.fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) break;
      add_connection(fd, ss, l);
    }
    close_listener(l);
  }
  slot_free.set();
  notify_upgraded_of_stop();
  // Idle connections: one whose request has arrived is served (then closed). A kept-alive
  // one is closed now (a client knows it may close, and retries). A new one whose first
  // request has not arrived yet is left kFirstRequestGrace (at most the header timeout) for
  // it: its client has just connected and is sending, and closing it would fail a request
  // that every other process sharing the listening socket (a reload's new workers) would have
  // served.
  const TimePoint now = loop->now();
  const TimePoint fresh_since =
      now - cfg.header_timeout + std::min<Duration>(detail::kFirstRequestGrace, cfg.header_timeout);
  for (int list = 0; list < 2; ++list) {
    Connection* c = idle_head[list];
    while (c) {
      Connection* next = c->idle_next;
      char b;
      ssize_t n = ::recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n > 0) activate(c);
      else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && list == 0)
        c->since = std::min(c->since, fresh_since);
      else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) lingering_close(c);
      else close_connection(c);
      c = next;
    }
  }
  maybe_finish_stop();
  if (stopped_) return;
  stop_timer = loop->call_later(t, [this] { force_close(); });
}

void Server::Impl::close_listener(Listener& l) {
  if (l.fd < 0) return;
  if (l.loop && !l.loop.dead()) l.loop.kill(nullptr, /*block=*/false);
  green::close(l.fd);
  l.fd = -1;
  if (!l.unix_path.empty()) ::unlink(l.unix_path.c_str());
}

void Server::Impl::maybe_finish_stop() {
  if (stopped_) return;
  if (stats.open == 0) {
    for (auto& l : listeners)
      if (l.metrics) close_listener(l);
    finish_stop();
    return;
  }
  if (stats.open != metrics_open || closing_metrics_) return;
  // Only scrapes are left: no more of them; each closes (at once, or as its green thread
  // unwinds), and the last close finishes the stop.
  closing_metrics_ = true;
  for (auto& l : listeners)
    if (l.metrics) close_listener(l);
  Connection* c = all_head;
  while (c) {
    Connection* next = c->all_next;
    close_connection(c);
    c = next;
  }
  closing_metrics_ = false;
  if (stats.open == 0 && !stopped_) finish_stop();
}

// The one way a connection closes while its client may still be sending: after an error
// response, with a body left unread, with a request pipelined after `Connection: close`,
// and at a stop (an idle client cannot know the connection is closing and may be sending
// a request right now). Closing with unread input makes the kernel answer with a reset,
// which can destroy the response before the client reads it (RFC 9112 §9.6). So the
// connection is shut for writing (the client reads the response, then an orderly end),
// and what still arrives is read and dropped on the hub, with no green thread, until the
// client closes too, kLingerBytes were dropped, or the time is up (nginx's lingering
// close). The time: after a response, kLingerTime (at most the header timeout); at a
// stop, enough for a request that crossed the shutdown to arrive: four round trips
// (TCP_INFO's smoothed RTT), at least 20 ms and at most 1 s.
void Server::Impl::lingering_close(Connection* c) {
  unlink_idle(c);
  c->state = Connection::State::idle;
  c->lingering = true;
  detail::with_transport(c->transport, [](auto& t) { t.shutdown_write(); });
  Duration d =
      stopping_ ? stop_linger_time(c) : std::min<Duration>(cfg.header_timeout, kLingerTime);
  c->linger_until = loop->now() + d;
  c->watcher.start();
  push_idle(c, kLingerList);
  arm_linger_timer(c->linger_until);
}

Duration Server::Impl::stop_linger_time(Connection* c) const {
  Duration d = 20ms;
  if (!c->unix_peer) {
    tcp_info ti{};
    socklen_t len = sizeof ti;
    if (::getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0)
      d = std::max<Duration>(d, std::chrono::microseconds(4 * std::int64_t(ti.tcpi_rtt)));
  }
  return std::min<Duration>(d, 1s);
}

void Server::Impl::arm_linger_timer(TimePoint until) {
  if (linger_timer.active() && linger_timer.when() <= until) return;
  linger_timer.cancel();
  linger_timer = loop->call_later(std::max<Duration>(until - loop->now(), Duration::zero()),
                                  [this] { expire_lingering(); });
  linger_timer.unref();
}

void Server::Impl::expire_lingering() {
  TimePoint now = loop->now();
  std::optional<TimePoint> next;
  Connection* c = idle_head[kLingerList];
  while (c) {
    Connection* after = c->idle_next;
    if (c->linger_until <= now) close_connection(c);
    else if (!next || c->linger_until < *next) next = c->linger_until;
    c = after;
  }
  if (next) arm_linger_timer(*next);
}

// Hub callback: bytes (or the end) from a lingering connection's client.
void Server::Impl::linger_read(Connection* c) {
  char sink[4096];
  while (true) {
    auto r =
        detail::with_transport(c->transport, [&](auto& t) { return t.read(sink, sizeof sink); });
    if (r.status == detail::IoResult::Status::would_block) return;
    if (r.status == detail::IoResult::Status::done && r.bytes > 0) {
      c->linger_bytes += r.bytes;
      if (c->linger_bytes <= kLingerBytes) continue;
    }
    close_connection(c);  // the client has closed too, is gone, or sent too much
    return;
  }
}

void Server::Impl::force_close() {
  std::size_t n = 0;
  for (Connection* c = all_head; c; c = c->all_next) n += !c->lingering;
  if (stats.open == 0) return;
  stats.closed_at_timeout = n;
  if (n)
    Log::write(LogLevel::warning, "stop timeout: closing " + std::to_string(n) +
                                      " connection(s) that were still open");
  Connection* c = all_head;
  while (c) {
    Connection* next = c->all_next;
    close_connection(c);
    c = next;
  }
}

// After the stop, nothing of the loop's is kept: the hub and its loop may go away with
// their thread before this server is destroyed.
void Server::Impl::release_loop_handles() {
  sweep_timer = Timer();
  stop_timer = Timer();
  flush_timer = Timer();
  linger_timer = Timer();
  drain_timer = Timer();
}

void Server::Impl::finish_stop() {
  if (stopped_) return;
  {
    std::lock_guard lock(remote_mu);
    remote_ok = false;
  }
  stopped_ = true;
  stop_timer.cancel();
  drain_timer.cancel();
  sweep_timer.cancel();
  flush_timer.cancel();
  linger_timer.cancel();
  Log::flush();
  done.set();
}

}  // namespace grove::http
