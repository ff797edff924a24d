// Upgrades: after a 101 the connection is lent to another protocol (WebSocket) through the
// transport seam, plain or TLS alike. The handler runs on the connection's green thread,
// which stays the connection's: the server's stop and its timeouts still reach it, and the
// connection closes when the handler returns, never going back to HTTP keep-alive.
#include "server_impl.hpp"

#include <algorithm>
#include <cstring>

namespace grove::http {

namespace detail {

namespace {
// Thrown into a green thread waiting in UpgradedConnection::read() to say the server is
// stopping; caught there (not a std::exception, so application code does not swallow it).
struct StopWake {};
}  // namespace

class UpgradedConnection final : public UpgradedStream {
 public:
  UpgradedConnection(Server::Impl* server, Connection* c, Context& x)
      : server_(server), c_(c), x_(x) {}

  ReadResult read(char* buf, std::size_t n,
                  std::chrono::steady_clock::time_point deadline) override {
    if (stop_pending_) {
      stop_pending_ = false;
      return {ReadStatus::stopping};
    }
    if (x_.in.empty()) {
      // Straight into the handler's buffer: the connection's own buffers, sized for HTTP,
      // would be most of what an idle WebSocket costs (docs/websocket.md, "Memory").
      x_.in.release();
      x_.out.release();
      ::grove::http::ReadResult r;
      std::size_t got = 0;
      reader_ = green::current();
      in_read_ = true;
      try {
        r = server_->read_into(c_, buf, n, got, TimePoint(deadline));
      } catch (const StopWake&) {
        in_read_ = false;
        stop_pending_ = false;
        return {ReadStatus::stopping};
      }
      in_read_ = false;
      if (r == ::grove::http::ReadResult::timeout) return {ReadStatus::timeout};
      if (r != ::grove::http::ReadResult::data) return {ReadStatus::end};
      return {ReadStatus::data, got};
    }
    // Bytes that came in behind the upgrade request, read with it.
    std::size_t k = std::min(n, x_.in.size());
    std::memcpy(buf, x_.in.data(), k);
    x_.in.consume(k);
    return {ReadStatus::data, k};
  }

  // The stop's wake-up is thrown only into a read (see notify_stop), never a write.
  void write(std::string_view bytes) override { server_->flush(c_, x_.out, bytes); }

  const WebSocketSettings& websocket_settings() const noexcept override {
    return server_->cfg.websocket;
  }
  const std::string& peer() const noexcept override { return c_->peer; }

  // The server is stopping: wake the handler if it waits for input, else tell it at its
  // next read. While in_read_, the reading green thread (the connection's, or one the
  // handler spawned, as a coroutine handler's receive does) is parked in read_some() (or
  // queued to return from that wait): the exception lands there, whatever woke it first.
  void notify_stop() {
    stop_pending_ = true;
    if (in_read_ && reader_ && !reader_.dead() && green::current() != reader_)
      reader_.kill(std::make_exception_ptr(StopWake{}), /*block=*/false);
  }

 private:
  Server::Impl* server_;
  Connection* c_;
  Context& x_;
  green::Greenlet reader_;  // the green thread in read(), while in_read_
  bool in_read_ = false;
  bool stop_pending_ = false;
};

}  // namespace detail

bool Server::Impl::upgrade(Connection* c, Context& x, Request& req, Response& resp) {
  detail::write_upgrade_head(x.out, resp, head_defaults());
  flush(c, x.out);
  ++stats.requests;
  if (Log::access_log_enabled()) access_log(c, &req, 101, 0);
  detail::UpgradedConnection stream(this, c, x);
  c->upgraded = &stream;
  struct Unlend {
    Connection* c;
    ~Unlend() { c->upgraded = nullptr; }
  } unlend{c};
  try {
    resp.upgrade(stream);
  } catch (const green::GreenletExit&) {
    throw;
  } catch (const detail::ConnectionLost&) {
    c->peer_closed = true;
  } catch (...) {
    Log::write(LogLevel::error, "upgrade handler for " + std::string(req.target()) + " from " +
                                    c->peer + " failed: " + detail::describe_current_exception());
  }
  return false;
}

void Server::Impl::notify_upgraded_of_stop() {
  for (Connection* c = all_head; c; c = c->all_next)
    if (c->upgraded) c->upgraded->notify_stop();
}

}  // namespace grove::http
