// The green-thread server: accept loops, connections, requests, responses, graceful stop.
//
// Connection life: an accepted connection is *idle* (a read watcher on the hub, no green
// thread) until bytes arrive; then it is *active*: a green thread reads, parses, calls the
// application and writes, for as many requests as are in flight, and the connection goes
// back to idle when its input is drained. So an idle keep-alive connection costs a few
// hundred bytes, not a green thread's stack, and a busy one pays no system call to switch
// between the two states (the loop batches the watcher changes). Timeouts of idle
// connections are swept from two FIFO lists (first byte, keep-alive) by one timer.
#include "server_impl.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <mutex>

namespace grove::http {

using detail::Buffer;
using detail::Connection;
using detail::Context;
using detail::Listener;

namespace {
constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kFlushAt = 64 * 1024;         // pipelined output flushed past this
constexpr std::size_t kContextPool = 256;           // spare contexts kept per server
constexpr std::uint64_t kLingerBytes = 1024 * 1024;  // dropped at most while lingering
constexpr Duration kLingerTime = 2s;                 // longest lingering close (nginx: 30 s)
constexpr int kLingerList = 2;                       // the idle list of lingering connections

enum class ReadResult { data, eof, again, timeout, error };

// Escapes a value for the access log the way nginx does: quotes, backslashes and
// non-printable bytes become \xHH.
void append_escaped(std::string& line, std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
      line += "\\x";
      line += hex[u >> 4];
      line += hex[u & 15];
    } else {
      line += c;
    }
  }
}

}  // namespace

struct Server::Impl {
  Application app;
  ServerConfig cfg;
  std::vector<Listener> listeners;
  bool listening = false;
  bool started = false;
  bool stopping_ = false;
  bool stopped_ = false;
  EventLoop* loop = nullptr;
  ServerStats stats;
  Connection* all_head = nullptr;
  // FIFO lists: waiting for a first byte, kept alive between requests, lingering.
  Connection* idle_head[3] = {nullptr, nullptr, nullptr};
  Connection* idle_tail[3] = {nullptr, nullptr, nullptr};
  green::Event slot_free;
  green::Event done;
  Timer sweep_timer;
  Timer stop_timer;
  Timer flush_timer;
  Timer linger_timer;  // due at the earliest end of a lingering close
  std::vector<std::unique_ptr<Context>> spare;
  SignalWatcher sigterm, sigint;
  // Out of descriptors on accept: in an episode now, whether its warning was printed, when
  // the last warning was, and how many accepts failed since.
  bool emfile_active = false;
  bool emfile_warned = false;
  std::optional<TimePoint> emfile_last_warning;
  std::uint64_t emfile_failures = 0;
  // stop_threadsafe() reaches the loop only while the server runs on it: once stopped,
  // the hub (and its loop) may go away with its thread.
  std::mutex remote_mu;
  bool remote_ok = false;

  Impl(Application a, ServerConfig c) : app(std::move(a)), cfg(std::move(c)) {}

  // --- lists -----------------------------------------------------------------------------
  void link_all(Connection* c) {
    c->all_next = all_head;
    if (all_head) all_head->all_prev = c;
    all_head = c;
  }
  void unlink_all(Connection* c) {
    if (c->all_prev) c->all_prev->all_next = c->all_next;
    else all_head = c->all_next;
    if (c->all_next) c->all_next->all_prev = c->all_prev;
    c->all_prev = c->all_next = nullptr;
  }
  void push_idle(Connection* c, int list) {
    c->idle_list = list;
    c->idle_prev = idle_tail[list];
    c->idle_next = nullptr;
    if (idle_tail[list]) idle_tail[list]->idle_next = c;
    else idle_head[list] = c;
    idle_tail[list] = c;
    if (list != kLingerList) ++stats.idle;
  }
  void unlink_idle(Connection* c) {
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

  // --- contexts --------------------------------------------------------------------------
  Context* take_context() {
    if (!spare.empty()) {
      Context* x = spare.back().release();
      spare.pop_back();
      return x;
    }
    auto* x = new Context;
    x->framer.set_limits(cfg.limits);
    x->in.reserve(kReadChunk);
    x->out.reserve(4096);
    return x;
  }
  void put_context(Context* x) {
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

  // --- connection states ------------------------------------------------------------------
  void add_connection(int fd, const sockaddr_storage& ss) {
    auto* c = new Connection;
    c->server = this;
    c->fd = fd;
    c->transport = detail::PlainTransport(fd);
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
    link_all(c);
    c->since = loop->now();
    push_idle(c, 0);
  }

  // Hub callback: bytes (or EOF) on an idle connection.
  void on_readable(Connection* c, Events e) {
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

  void activate(Connection* c) {
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
  void run_connection(Connection* c) {
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
      Log::write(LogLevel::error, "connection from " + c->peer +
                                      " failed: " + detail::describe_current_exception());
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
  bool may_have_unread_input(Connection* c, Context& x) {
    if (c->peer_closed) return false;
    if (c->refused || stopping_ || !x.in.empty() || !x.framer.body_done()) return true;
    return detail::with_transport(c->transport, [](auto& t) { return t.has_pending_input(); });
  }

  void close_connection(Connection* c) {
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
    if (stats.open < cfg.max_connections) slot_free.set();
    if (stopping_ && stats.open == 0) finish_stop();
    delete c;
  }

  // --- reading and writing -----------------------------------------------------------------
  // Reads what is available into `in`; with a deadline, waits for it.
  // Sets `drained` when the read left nothing behind in the socket (it returned less than
  // it could), so the caller can wait for readiness instead of reading again for EAGAIN.
  ReadResult read_some(Connection* c, Buffer& in, std::optional<TimePoint> deadline,
                       bool* drained = nullptr) {
    while (true) {
      std::size_t avail;
      char* p = in.prepare(4096, avail);
      auto r = detail::with_transport(c->transport, [&](auto& t) { return t.read(p, avail); });
      if (r.status == detail::IoResult::Status::done && r.bytes > 0) {
        in.commit(r.bytes);
        if (drained) *drained = r.bytes < avail;
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
  void flush(Connection* c, Buffer& out, std::string_view extra = {}) {
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
      if (r.status == detail::IoResult::Status::error) throw detail::ConnectionLost(std::strerror(r.error));
      wait_writable(c);
    }
  }

  // Waits until the client takes more bytes, up to the write timeout. Throws
  // ConnectionLost.
  void wait_writable(Connection* c) {
    if (green::wait_writable(c->fd, cfg.write_timeout)) return;
    // Given up on this client: reset rather than leave the unsent bytes queued.
    linger l{1, 0};
    ::setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    throw detail::ConnectionLost("write timed out (the client stopped reading)");
  }

  // Sends `out`, then `n` bytes of `file` from `offset`, with no copy through user space
  // on a plain transport (the static-file and upload features build on it). Throws
  // ConnectionLost.
  void send_file(Connection* c, Buffer& out, int file, off_t offset, std::size_t n) {
    flush(c, out);
    while (n > 0) {
      auto r = detail::with_transport(c->transport, [&](auto& t) { return t.send_file(file, offset, n); });
      if (r.status == detail::IoResult::Status::done) {
        if (r.bytes == 0) throw detail::ConnectionLost("the file ended before the bytes to send");
        n -= r.bytes;
        continue;
      }
      if (r.status == detail::IoResult::Status::error) throw detail::ConnectionLost(std::strerror(r.error));
      wait_writable(c);
    }
  }

  // Hands an active connection over to another protocol after an upgrade: the transport
  // and the input buffered past the upgrade request move out (no byte is copied); the
  // server then forgets the connection as if it had closed, without closing the socket.
  // Runs on the connection's green thread, after the 101 response was flushed.
  detail::Handover hand_over(Connection* c, Context& x) {
    detail::Handover h{std::move(c->transport), std::move(x.in)};
    x.in = Buffer();
    c->fd = -1;
    return h;
  }

  // --- requests ------------------------------------------------------------------------------
  // Serves requests until the connection should idle (true) or close (false).
  bool serve(Connection* c, Context& x) {
    using Step = detail::RequestFramer::Step;
    bool drained = false;
    while (true) {
      // A complete head, waiting at most header_timeout from the first byte (from the
      // accept for a new connection).
      x.framer.reset();
      TimePoint deadline = (c->fresh ? c->since : TimePoint(Clock::now())) + cfg.header_timeout;
      while (true) {
        auto step = x.framer.next_head(x.in.view());
        if (step == Step::head) break;
        if (step == Step::error) {
          send_error(c, x, x.framer.error().status, x.framer.error().reason);
          return false;
        }
        // With nothing buffered the wait belongs to the idle state (no green thread);
        // with part of a head buffered, this green thread waits for the rest.
        const bool had_bytes = !x.in.empty();
        auto r = read_some(c, x.in, had_bytes ? std::optional(deadline) : std::nullopt, &drained);
        if (r == ReadResult::data) {
          if (!had_bytes && !c->fresh) deadline = TimePoint(Clock::now()) + cfg.header_timeout;
          continue;
        }
        if (r == ReadResult::again) {
          flush(c, x.out);
          return !stopping_;
        }
        if (r == ReadResult::timeout) {
          send_error(c, x, 408, "the request head was not received in time");
          return false;
        }
        // EOF or a reset: nothing more to answer.
        flush(c, x.out);
        return false;
      }
      c->fresh = false;
      bool keep = handle(c, x);
      if (!keep) {
        flush(c, x.out);
        return false;
      }
      // Pipelined requests already here are answered before anything is written, so their
      // responses leave in one write; a large output is sent early.
      if (x.in.empty() || x.out.size() >= kFlushAt) flush(c, x.out);
      if (x.in.empty()) {
        if (stopping_) return false;
        // The poller is level-triggered: if more arrived since, the idle watcher fires.
        if (drained) return true;
        auto r = read_some(c, x.in, std::nullopt, &drained);
        if (r == ReadResult::again) return true;
        if (r != ReadResult::data) return false;
      }
    }
  }

  // Where a response goes: the context's output buffer, flushed to the connection.
  struct ConnectionSink {
    Impl* server;
    Connection* c;
    Buffer* buffer;
    Buffer& out() { return *buffer; }
    void flush(std::string_view extra) { server->flush(c, *buffer, extra); }
  };

  detail::HeadDefaults head_defaults() const { return {cfg.server_header, detail::http_date()}; }

  // One request whose head is parsed. Returns whether the connection stays open.
  bool handle(Connection* c, Context& x) {
    using After = detail::RequestFramer::After;
    const RequestHead& head = x.framer.head();
    Request& req = x.request;
    if (head.form == TargetForm::authority) {
      x.in.consume(head.size);
      send_error(c, x, 501, "CONNECT is not supported");
      return false;
    }
    try {
      detail::fill_request(req, head, x.in.data());
    } catch (const HttpError& e) {
      send_error(c, x, e.status(), e.what());
      return false;
    }
    req.set_remote(c->peer, c->peer_port);
    x.framer.begin_body();
    x.body.start(this, c, &x);
    req.set_body_reader(&x.body);
    const bool is_head = head.method == "HEAD";
    x.in.consume(head.size);

    bool failed = false;
    Response resp = detail::run_application(app, req, c->peer, failed);
    if (failed) ++stats.errors_5xx;
    // Keep the connection? Not if the client or the application says close, the body
    // broke, or what is left of it is too much (or unknown) to drain.
    After after = x.framer.after_response(req.keep_alive(), true, stopping_ && x.in.empty());
    detail::ResponsePlan plan =
        detail::plan_response(resp, req.version().minor, is_head, after != After::close);
    std::uint64_t sent = 0;
    try {
      ConnectionSink sink{this, c, &x.out};
      sent = detail::write_response(sink, resp, plan, head_defaults());
    } catch (const detail::ConnectionLost&) {
      throw;
    } catch (const green::GreenletExit&) {
      throw;
    } catch (...) {
      // A streamed body failed midway: the client sees it cut short.
      Log::write(LogLevel::error, "streamed response failed for " + std::string(req.method()) +
                                      " " + std::string(req.target()) + ": " +
                                      detail::describe_current_exception());
      ++stats.errors_5xx;
      return false;
    }
    ++stats.requests;
    if (Log::access_log_enabled()) access_log(c, &req, resp.status, sent);
    if (!plan.keep) return false;
    if (after == After::drain) {
      try {
        char sink[4096];
        while (req.read(sink, sizeof sink) > 0) {
        }
      } catch (...) {
        return false;
      }
    }
    return true;
  }

  // An error found by the server itself: answers; the connection then closes lingering.
  void send_error(Connection* c, Context& x, int status, std::string_view reason) {
    ++stats.errors_4xx;
    c->refused = true;
    if (Log::enabled(LogLevel::debug))
      Log::write(LogLevel::debug, "refused a request from " + c->peer + ": " +
                                      std::to_string(status) + " " + std::string(reason));
    std::size_t body = detail::write_error(x.out, status, reason, head_defaults());
    try {
      flush(c, x.out);
    } catch (const detail::ConnectionLost&) {
      c->peer_closed = true;
    }
    if (Log::access_log_enabled()) access_log(c, nullptr, status, body);
  }

  void access_log(Connection* c, const Request* req, int status, std::uint64_t bytes) {
    std::string line;
    line.reserve(256);
    line += c->peer;
    line += " - - [";
    line += detail::log_date();
    line += "] \"";
    if (req) {
      append_escaped(line, req->method());
      line += ' ';
      append_escaped(line, req->target());
      line += ' ';
      line += req->version_string();
    } else {
      line += '-';
    }
    line += "\" ";
    line += std::to_string(status);
    line += ' ';
    if (bytes) line += std::to_string(bytes);
    else line += '-';
    line += " \"";
    auto referer = req ? req->header("referer") : std::nullopt;
    if (referer) append_escaped(line, *referer);
    else line += '-';
    line += "\" \"";
    auto agent = req ? req->header("user-agent") : std::nullopt;
    if (agent) append_escaped(line, *agent);
    else line += '-';
    line += "\"\n";
    Log::access(line);
  }

  // --- accepting ----------------------------------------------------------------------------
  void accept_loop(Listener* l) {
    Duration backoff = 10ms;
    while (!stopping_) {
      while (stats.open >= cfg.max_connections && !stopping_) {
        slot_free.clear();
        slot_free.wait();
      }
      if (stopping_) break;
      sockaddr_storage ss;
      socklen_t len = sizeof ss;
      int fd = ::accept4(l->fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        if (emfile_active) {
          emfile_active = false;
          if (emfile_warned) {
            emfile_warned = false;
            Log::write(LogLevel::info, "accepting connections again on " + l->name + " (" +
                                           std::to_string(emfile_failures) +
                                           " accepts failed for lack of descriptors)");
            emfile_failures = 0;
          }
        }
        backoff = 10ms;
        add_connection(fd, ss);
        continue;
      }
      int err = errno;
      switch (err) {
        case EAGAIN:
#if EWOULDBLOCK != EAGAIN
        case EWOULDBLOCK:
#endif
          green::wait_readable(l->fd);
          break;
        case EINTR:
        case ECONNABORTED:
        case EPROTO:
        case EPERM:
          break;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
          ++stats.accept_errors;
          ++emfile_failures;
          // One warning, not one per failed accept: the condition tends to come and go
          // as connections close, so later episodes within a minute stay quiet.
          if (!emfile_active) {
            emfile_active = true;
            auto now = TimePoint(Clock::now());
            if (!emfile_last_warning || now - *emfile_last_warning >= 60s) {
              emfile_last_warning = now;
              emfile_warned = true;
              Log::write(LogLevel::warning,
                         std::string("cannot accept on ") + l->name + ": " + std::strerror(err) +
                             "; pausing accepts until descriptors free up (raise `ulimit -n` "
                             "or lower --max-connections)");
            }
          }
          green::sleep(backoff);
          backoff = std::min<Duration>(backoff * 2, 500ms);
          break;
        default:
          ++stats.accept_errors;
          Log::write(LogLevel::error, std::string("accept on ") + l->name + " failed: " + std::strerror(err));
          green::sleep(100ms);
          break;
      }
    }
  }

  // --- timers -------------------------------------------------------------------------------
  void sweep() {
    TimePoint now = loop->now();
    const Duration limits[2] = {cfg.header_timeout, cfg.keepalive_timeout};
    for (int list = 0; list < 2; ++list) {
      while (Connection* c = idle_head[list]) {
        if (c->since + limits[list] > now) break;
        close_connection(c);
      }
    }
  }

  Duration sweep_interval() const {
    Duration d = std::min(cfg.header_timeout, cfg.keepalive_timeout) / 4;
    return std::clamp<Duration>(d, 5ms, 1s);
  }

  // --- stopping -----------------------------------------------------------------------------
  void begin_stop(std::optional<Duration> timeout) {
    if (!started || stopped_) return;
    Duration t = timeout.value_or(cfg.graceful_timeout);
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
      for (int i = 0; i < 1024 && stats.open < cfg.max_connections; ++i) {
        sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = ::accept4(l.fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        add_connection(fd, ss);
      }
      if (l.loop && !l.loop.dead()) l.loop.kill(nullptr, /*block=*/false);
      green::close(l.fd);
      l.fd = -1;
      if (!l.unix_path.empty()) ::unlink(l.unix_path.c_str());
    }
    slot_free.set();
    // Idle connections: one whose request has arrived is served (then closed); the others
    // are closed now.
    for (int list = 0; list < 2; ++list) {
      Connection* c = idle_head[list];
      while (c) {
        Connection* next = c->idle_next;
        char b;
        ssize_t n = ::recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n > 0) activate(c);
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) lingering_close(c);
        else close_connection(c);
        c = next;
      }
    }
    if (stats.open == 0) {
      finish_stop();
      return;
    }
    stop_timer = loop->call_later(t, [this] { force_close(); });
  }

  // --- the lingering close ----------------------------------------------------------------
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
  void lingering_close(Connection* c) {
    unlink_idle(c);
    c->state = Connection::State::idle;
    c->lingering = true;
    detail::with_transport(c->transport, [](auto& t) { t.shutdown_write(); });
    Duration d = stopping_ ? stop_linger_time(c) : std::min<Duration>(cfg.header_timeout, kLingerTime);
    c->linger_until = loop->now() + d;
    c->watcher.start();
    push_idle(c, kLingerList);
    arm_linger_timer(c->linger_until);
  }

  Duration stop_linger_time(Connection* c) const {
    Duration d = 20ms;
    if (!c->unix_peer) {
      tcp_info ti{};
      socklen_t len = sizeof ti;
      if (::getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0)
        d = std::max<Duration>(d, std::chrono::microseconds(4 * std::int64_t(ti.tcpi_rtt)));
    }
    return std::min<Duration>(d, 1s);
  }

  void arm_linger_timer(TimePoint until) {
    if (linger_timer.active() && linger_timer.when() <= until) return;
    linger_timer.cancel();
    linger_timer = loop->call_later(std::max<Duration>(until - loop->now(), Duration::zero()),
                                    [this] { expire_lingering(); });
    linger_timer.unref();
  }

  void expire_lingering() {
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
  void linger_read(Connection* c) {
    char sink[4096];
    while (true) {
      auto r = detail::with_transport(c->transport, [&](auto& t) { return t.read(sink, sizeof sink); });
      if (r.status == detail::IoResult::Status::would_block) return;
      if (r.status == detail::IoResult::Status::done && r.bytes > 0) {
        c->linger_bytes += r.bytes;
        if (c->linger_bytes <= kLingerBytes) continue;
      }
      close_connection(c);  // the client has closed too, is gone, or sent too much
      return;
    }
  }

  void force_close() {
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
  void release_loop_handles() {
    sweep_timer = Timer();
    stop_timer = Timer();
    flush_timer = Timer();
    linger_timer = Timer();
  }

  void finish_stop() {
    if (stopped_) return;
    {
      std::lock_guard lock(remote_mu);
      remote_ok = false;
    }
    stopped_ = true;
    stop_timer.cancel();
    sweep_timer.cancel();
    flush_timer.cancel();
    linger_timer.cancel();
    Log::flush();
    done.set();
  }
};

// --- ConnBodyReader ---------------------------------------------------------------------------

namespace detail {

// More body bytes from the connection, waiting at most the body timeout.
void ConnBodyReader::fill() {
  auto deadline = TimePoint(Clock::now()) + server_->cfg.body_timeout;
  ParseError e;
  switch (server_->read_some(conn_, ctx_->in, deadline)) {
    case ReadResult::data: return;
    case ReadResult::timeout: e = ctx_->framer.interrupt_body(408, "timed out waiting for the request body"); break;
    default: e = ctx_->framer.interrupt_body(400, "the client closed the connection before sending the whole body");
  }
  throw HttpError(e.status, e.reason);
}

std::size_t ConnBodyReader::read(char* buf, std::size_t n) {
  RequestFramer& framer = ctx_->framer;
  if (framer.body_failed()) throw HttpError(400, "the request body could not be read");
  if (framer.body_done() || n == 0) return 0;
  Buffer& in = ctx_->in;
  if (framer.continue_due(!in.empty())) {
    write_continue(ctx_->out);
    server_->flush(conn_, ctx_->out);  // after the responses to earlier pipelined requests
  }
  while (true) {
    auto piece = framer.decode_body(in.view(), n);
    switch (piece.status) {
      case RequestFramer::BodyStatus::data:
        std::memcpy(buf, piece.data.data(), piece.data.size());
        in.consume(piece.consumed);
        return piece.data.size();
      case RequestFramer::BodyStatus::done:
        in.consume(piece.consumed);
        return 0;
      case RequestFramer::BodyStatus::error:
        in.consume(piece.consumed);
        throw HttpError(framer.error().status, framer.error().reason);
      case RequestFramer::BodyStatus::need_more:
        in.consume(piece.consumed);
        fill();
        break;
    }
  }
}

}  // namespace detail

// --- Server -------------------------------------------------------------------------------------

Server::Server(Application app, ServerConfig config)
    : impl_(std::make_unique<Impl>(std::move(app), std::move(config))) {
  if (impl_->cfg.max_connections == 0) throw std::invalid_argument("max_connections must be at least 1");
}

Server::~Server() {
  for (auto& l : impl_->listeners) {
    if (l.fd >= 0) {
      ::close(l.fd);
      if (!l.unix_path.empty()) ::unlink(l.unix_path.c_str());
    }
  }
  Connection* c = impl_->all_head;
  while (c) {
    Connection* next = c->all_next;
    c->watcher.close();
    delete c;  // its transport closes the socket
    c = next;
  }
}

void Server::listen() {
  Impl& s = *impl_;
  if (s.listening) return;
  std::vector<Listener> opened;
  try {
    for (const auto& spec : s.cfg.binds) {
      auto ls = detail::open_listeners(detail::parse_bind(spec), s.cfg.backlog);
      for (auto& l : ls) opened.push_back(std::move(l));
    }
  } catch (...) {
    for (auto& l : opened) {
      ::close(l.fd);
      if (!l.unix_path.empty()) ::unlink(l.unix_path.c_str());
    }
    throw;
  }
  for (int fd : s.cfg.listen_fds) {
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0)
      throw std::system_error(errno, std::generic_category(), "listen fd " + std::to_string(fd));
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    Listener l;
    l.fd = fd;
    l.name = detail::socket_name(fd);
    opened.push_back(std::move(l));
  }
  s.listeners = std::move(opened);
  s.listening = true;
}

std::vector<std::string> Server::addresses() const {
  std::vector<std::string> out;
  for (const auto& l : impl_->listeners) out.push_back(l.name);
  return out;
}

std::vector<int> Server::listen_fds() const {
  std::vector<int> out;
  for (const auto& l : impl_->listeners) out.push_back(l.fd);
  return out;
}

void Server::start() {
  Impl& s = *impl_;
  if (s.started) return;
  listen();
  s.loop = &green::hub_loop();
  s.started = true;
  {
    std::lock_guard lock(s.remote_mu);
    s.remote_ok = true;
  }
  for (auto& l : s.listeners) {
    green::SpawnOptions options;
    options.name = "accept " + l.name;
    Listener* lp = &l;
    l.loop = green::spawn(std::move(options), [&s, lp] { s.accept_loop(lp); });
  }
  s.sweep_timer = s.loop->call_every(s.sweep_interval(), [&s] { s.sweep(); });
  s.sweep_timer.unref();
  s.flush_timer = s.loop->call_every(1s, [] { Log::flush(); });
  s.flush_timer.unref();
}

void Server::serve_forever() {
  Impl& s = *impl_;
  start();
  if (s.cfg.handle_signals) {
    auto on_signal = [&s](int signum) {
      if (!s.stopping_) {
        Log::write(LogLevel::info, std::string("received ") + (signum == SIGTERM ? "SIGTERM" : "SIGINT") +
                                       ": stopping gracefully");
        s.begin_stop(std::nullopt);
      } else {
        Log::write(LogLevel::info, "second signal: closing every connection now");
        s.begin_stop(Duration::zero());
      }
    };
    s.sigterm = s.loop->watch_signal(SIGTERM, on_signal);
    s.sigint = s.loop->watch_signal(SIGINT, on_signal);
    s.sigterm.unref();
    s.sigint.unref();
  }
  s.done.wait();
  s.sigterm.close();
  s.sigint.close();
  s.release_loop_handles();
}

void Server::stop(std::optional<Duration> timeout) {
  Impl& s = *impl_;
  if (!s.started) {
    s.stopped_ = true;
    return;
  }
  s.begin_stop(timeout);
  if (!green::in_hub()) {
    s.done.wait();
    s.release_loop_handles();
  }
}

void Server::stop_threadsafe(std::optional<Duration> timeout) {
  Impl* s = impl_.get();
  std::lock_guard lock(s->remote_mu);
  if (!s->remote_ok) return;
  s->loop->call_soon_threadsafe([s, timeout] { s->begin_stop(timeout); });
}

bool Server::stopping() const noexcept { return impl_->stopping_; }
bool Server::stopped() const noexcept { return impl_->stopped_; }
ServerStats Server::stats() const { return impl_->stats; }
const ServerConfig& Server::config() const noexcept { return impl_->cfg; }

}  // namespace grove::http
