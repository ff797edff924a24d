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
constexpr std::size_t kInlineBody = 16 * 1024;      // bodies copied into the output buffer
constexpr std::uint64_t kDrainLimit = 64 * 1024;    // unread body read and dropped to keep alive
constexpr std::size_t kContextPool = 256;           // spare contexts kept per server

enum class ReadResult { data, eof, again, timeout, error };

std::string status_text(int status, std::string_view reason) {
  std::string body = std::to_string(status);
  body += ' ';
  body += reason_phrase(status);
  if (!reason.empty()) {
    body += ": ";
    body += reason;
  }
  body += '\n';
  return body;
}

bool valid_field_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool valid_field_value(std::string_view s) {
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

void append_uint(Buffer& out, std::uint64_t v) {
  char tmp[24];
  auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
  out.append(std::string_view(tmp, std::size_t(r.ptr - tmp)));
}

void append_hex(Buffer& out, std::uint64_t v) {
  char tmp[24];
  auto r = std::to_chars(tmp, tmp + sizeof tmp, v, 16);
  out.append(std::string_view(tmp, std::size_t(r.ptr - tmp)));
}

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
  Connection* idle_head[2] = {nullptr, nullptr};
  Connection* idle_tail[2] = {nullptr, nullptr};
  green::Event slot_free;
  green::Event done;
  Timer sweep_timer;
  Timer stop_timer;
  Timer flush_timer;
  Timer linger_timer;
  Duration linger_for = Duration::zero();  // how long a stop lets idle connections linger
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
    ++stats.idle;
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
    --stats.idle;
  }

  // --- contexts --------------------------------------------------------------------------
  Context* take_context() {
    if (!spare.empty()) {
      Context* x = spare.back().release();
      spare.pop_back();
      return x;
    }
    auto* x = new Context;
    x->parser.set_limits(cfg.limits);
    x->chunked.set_limits(cfg.limits);
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
      ::close(fd);
      delete c;
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
    try {
      keep = serve(c, *x);
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
    } else {
      close_connection(c);
    }
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
    green::close(c->fd);
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
      ssize_t n = ::recv(c->fd, p, avail, 0);
      if (n > 0) {
        in.commit(std::size_t(n));
        if (drained) *drained = std::size_t(n) < avail;
        return ReadResult::data;
      }
      if (n == 0) return ReadResult::eof;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return ReadResult::error;
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
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = std::size_t(n_iov);
      ssize_t n = ::sendmsg(c->fd, &msg, MSG_NOSIGNAL);
      if (n >= 0) {
        std::size_t sent = std::size_t(n);
        std::size_t from_out = std::min(sent, out.size());
        out.consume(from_out);
        extra.remove_prefix(sent - from_out);
        continue;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        throw detail::ConnectionLost(std::strerror(errno));
      if (!green::wait_writable(c->fd, cfg.write_timeout)) {
        // Given up on this client: reset rather than leave the unsent bytes queued.
        linger l{1, 0};
        ::setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        throw detail::ConnectionLost("write timed out (the client stopped reading)");
      }
    }
  }

  // --- requests ------------------------------------------------------------------------------
  // Serves requests until the connection should idle (true) or close (false).
  bool serve(Connection* c, Context& x) {
    bool drained = false;
    while (true) {
      // A complete head, waiting at most header_timeout from the first byte (from the
      // accept for a new connection).
      x.parser.reset();
      TimePoint deadline = (c->fresh ? c->since : TimePoint(Clock::now())) + cfg.header_timeout;
      while (true) {
        auto st = x.parser.parse(x.in.view(), x.head);
        if (st == RequestParser::Status::done) break;
        if (st == RequestParser::Status::error) {
          const ParseError& e = x.parser.error();
          send_error(c, x, e.status, e.reason);
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

  // One request whose head is parsed. Returns whether the connection stays open.
  bool handle(Connection* c, Context& x) {
    RequestHead& head = x.head;
    Request& req = x.request;
    if (head.form == TargetForm::authority) {
      x.in.consume(head.size);
      send_error(c, x, 501, "CONNECT is not supported");
      return false;
    }
    Request::Parts parts;
    parts.method = head.method;
    parts.target = head.target;
    parts.version = Version{1, head.minor};
    parts.keep_alive = head.keep_alive;
    parts.chunked = head.body == BodyKind::chunked;
    parts.content_length = head.content_length;
    try {
      req.reset(parts);
    } catch (const HttpError& e) {
      send_error(c, x, e.status(), e.what());
      return false;
    }
    // The header fields keep pointing into one copy of the head.
    const char* base = x.in.data();
    req.headers().assign_raw(std::string_view(base, head.size));
    for (const auto& f : head.fields)
      req.headers().add_raw(std::uint32_t(f.name.data() - base), std::uint32_t(f.name.size()),
                            std::uint32_t(f.value.data() - base), std::uint32_t(f.value.size()));
    req.set_host(head.host);
    req.set_remote(c->peer, c->peer_port);
    x.body.start(this, c, &x, head);
    req.set_body_reader(&x.body);
    const bool is_head = head.method == "HEAD";
    x.in.consume(head.size);

    Response resp;
    bool failed = false;
    try {
      resp = app(req);
    } catch (const green::GreenletExit&) {
      throw;
    } catch (const HttpError& e) {
      resp = Response::text(status_text(e.status(), e.what()), e.status());
    } catch (...) {
      failed = true;
      Log::write(LogLevel::error, "exception in the application while serving " +
                                      std::string(req.method()) + " " + std::string(req.target()) +
                                      " for " + c->peer + ":\n  " +
                                      detail::describe_current_exception());
      resp = Response::text(status_text(500, ""), 500);
    }
    if (failed) ++stats.errors_5xx;

    // Keep the connection? Not if the client or the application says close, the body
    // broke, or what is left of it is too much (or unknown) to drain.
    bool keep = req.keep_alive() && !x.body.failed();
    if (stopping_ && x.in.empty()) keep = false;
    bool drain = false;
    if (keep && !x.body.done()) {
      if (x.body.continue_pending()) keep = false;  // the client may never send it
      else if (x.body.kind() == BodyKind::length && x.body.remaining() <= kDrainLimit) drain = true;
      else keep = false;
    }
    if (auto conn = resp.headers.get("connection")) {
      std::string_view v = *conn;
      if (v.size() >= 5 && iequals(v.substr(0, 5), "close")) keep = false;
    }

    if (std::string problem = check_response(resp); !problem.empty()) {
      Log::write(LogLevel::error, "invalid response from the application for " +
                                      std::string(req.method()) + " " + std::string(req.target()) +
                                      ": " + problem);
      ++stats.errors_5xx;
      resp = Response::text(status_text(500, ""), 500);
    }
    std::uint64_t sent = 0;
    try {
      sent = write_response(c, x, req, resp, is_head, keep);
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
    if (drain) {
      try {
        char sink[4096];
        while (req.read(sink, sizeof sink) > 0) {
        }
      } catch (...) {
        return false;
      }
    }
    return keep;
  }

  // What is wrong with an application's response, or "".
  static std::string check_response(const Response& resp) {
    if (resp.status < 200 || resp.status > 999)
      return "status " + std::to_string(resp.status) + " (only final statuses 200-999 can be returned)";
    for (auto f : resp.headers)
      if (!valid_field_name(f.name) || !valid_field_value(f.value))
        return "invalid header field '" + std::string(f.name) + "' (CR, LF and controls are refused)";
    if (!valid_field_value(resp.reason) || resp.reason.find('\n') != std::string::npos)
      return "invalid reason phrase";
    if (resp.streaming()) {
      if (auto cl = resp.headers.get("content-length")) {
        std::uint64_t v = 0;
        auto r = std::from_chars(cl->data(), cl->data() + cl->size(), v);
        if (cl->empty() || r.ec != std::errc() || r.ptr != cl->data() + cl->size())
          return "invalid Content-Length for a streamed body";
      }
    }
    return {};
  }

  // Serializes the status line and headers (and a buffered body) into x.out; streams a
  // streamed body. Returns the body bytes sent.
  std::uint64_t write_response(Connection* c, Context& x, Request& req, Response& resp,
                               bool is_head, bool& keep) {
    int status = resp.status;
    const bool no_body = status == 204 || status == 304;
    const bool streaming = resp.streaming() && !no_body;
    std::optional<std::uint64_t> declared;
    if (streaming) {
      if (auto cl = resp.headers.get("content-length")) {
        std::uint64_t v = 0;
        std::from_chars(cl->data(), cl->data() + cl->size(), v);
        declared = v;
      }
    }
    const bool chunked = streaming && !declared && req.version().minor >= 1;
    // HTTP/1.0 cannot frame a stream of unknown length except by closing (HEAD sends no
    // body, so it needs no close).
    if (streaming && !declared && !chunked && !is_head) keep = false;

    Buffer& out = x.out;
    out.append("HTTP/1.1 ");
    append_uint(out, std::uint64_t(status));
    out.append(' ');
    out.append(resp.reason.empty() ? reason_phrase(status) : std::string_view(resp.reason));
    out.append("\r\n");
    if (!cfg.server_header.empty() && !resp.headers.contains("server")) {
      out.append("Server: ");
      out.append(cfg.server_header);
      out.append("\r\n");
    }
    if (!resp.headers.contains("date")) {
      out.append("Date: ");
      out.append(detail::http_date());
      out.append("\r\n");
    }
    for (auto f : resp.headers) {
      // The server owns the framing and the connection's persistence.
      if (iequals(f.name, "content-length") || iequals(f.name, "transfer-encoding") ||
          iequals(f.name, "connection"))
        continue;
      out.append(f.name);
      out.append(": ");
      out.append(f.value);
      out.append("\r\n");
    }
    if (!no_body) {
      if (!streaming) {
        out.append("Content-Length: ");
        append_uint(out, resp.body.size());
        out.append("\r\n");
      } else if (declared) {
        out.append("Content-Length: ");
        append_uint(out, *declared);
        out.append("\r\n");
      } else if (chunked) {
        out.append("Transfer-Encoding: chunked\r\n");
      }
    }
    if (!keep) out.append("Connection: close\r\n");
    else if (req.version().minor == 0) out.append("Connection: keep-alive\r\n");
    out.append("\r\n");

    if (no_body || is_head) return 0;
    if (!streaming) {
      if (resp.body.size() <= kInlineBody) {
        out.append(resp.body);
      } else {
        flush(c, out, resp.body);
      }
      return resp.body.size();
    }

    // A streamed body: every piece goes out as it is written.
    struct Writer final : BodyWriter {
      Impl* srv;
      Connection* c;
      Buffer* out;
      bool chunked;
      std::optional<std::uint64_t> declared;
      std::uint64_t sent = 0;
      void write(std::string_view d) override {
        if (d.empty()) return;
        if (declared && sent + d.size() > *declared)
          throw std::length_error("the streamed body is longer than its Content-Length");
        if (chunked) {
          append_hex(*out, d.size());
          out->append("\r\n");
        }
        if (d.size() <= kInlineBody) {
          out->append(d);
          if (chunked) out->append("\r\n");
          srv->flush(c, *out);
        } else {
          srv->flush(c, *out, d);
          if (chunked) {
            out->append("\r\n");
          }
        }
        sent += d.size();
      }
      void flush() override { srv->flush(c, *out); }
    } writer;
    writer.srv = this;
    writer.c = c;
    writer.out = &out;
    writer.chunked = chunked;
    writer.declared = declared;
    resp.stream(writer);
    if (declared && writer.sent != *declared)
      throw std::length_error("the streamed body is shorter than its Content-Length");
    if (chunked) out.append("0\r\n\r\n");
    if (!keep) flush(c, out);
    return writer.sent;
  }

  // An error found by the server itself: answers and closes.
  void send_error(Connection* c, Context& x, int status, std::string_view reason) {
    ++stats.errors_4xx;
    if (Log::enabled(LogLevel::debug))
      Log::write(LogLevel::debug, "refused a request from " + c->peer + ": " +
                                      std::to_string(status) + " " + std::string(reason));
    std::string body = status_text(status, reason);
    Buffer& out = x.out;
    out.append("HTTP/1.1 ");
    append_uint(out, std::uint64_t(status));
    out.append(' ');
    out.append(reason_phrase(status));
    out.append("\r\n");
    if (!cfg.server_header.empty()) {
      out.append("Server: ");
      out.append(cfg.server_header);
      out.append("\r\n");
    }
    out.append("Date: ");
    out.append(detail::http_date());
    out.append("\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ");
    append_uint(out, body.size());
    out.append("\r\nConnection: close\r\n\r\n");
    out.append(body);
    try {
      flush(c, out);
    } catch (const detail::ConnectionLost&) {
    }
    if (Log::access_log_enabled()) access_log(c, nullptr, status, body.size());
    // Closing with unread input makes the kernel send a reset, which can destroy the
    // response before the client reads it: stop sending, then read and drop what the
    // client still sends, for a bounded time and amount (nginx's lingering close).
    ::shutdown(c->fd, SHUT_WR);
    char sink[4096];
    auto until = TimePoint(Clock::now()) + std::min<Duration>(cfg.header_timeout, 1s);
    for (int i = 0; i < 256; ++i) {
      ssize_t n = ::recv(c->fd, sink, sizeof sink, 0);
      if (n == 0) break;
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) break;
        auto left = until - TimePoint(Clock::now());
        if (left <= Duration::zero() || !green::wait_readable(c->fd, left)) break;
      }
    }
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
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) linger_at_stop(c);
        else close_connection(c);
        c = next;
      }
    }
    if (stats.open == 0) {
      finish_stop();
      return;
    }
    stop_timer = loop->call_later(t, [this] { force_close(); });
    if (linger_for > Duration::zero())
      linger_timer = loop->call_later(std::min<Duration>(t, linger_for), [this] {
        Connection* c = all_head;
        while (c) {
          Connection* next = c->all_next;
          if (c->lingering) close_connection(c);
          c = next;
        }
      });
  }

  // An idle connection at a stop: its client may be sending a request right now (it cannot
  // know that the connection is closing), and a close with that request unread would make
  // the kernel answer it with a reset. So the connection is shut for writing (the client
  // reads an orderly end: its request was never accepted, which clients retry), and what
  // still arrives is read and dropped until the client closes too. A request that crossed
  // the shutdown arrives within a round trip: the lingering lasts four (TCP_INFO's smoothed
  // RTT), at least 20 ms and at most 1 s.
  void linger_at_stop(Connection* c) {
    unlink_idle(c);
    c->lingering = true;
    ::shutdown(c->fd, SHUT_WR);
    Duration d = 20ms;
    if (!c->unix_peer) {
      tcp_info ti{};
      socklen_t len = sizeof ti;
      if (::getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0)
        d = std::max<Duration>(d, std::chrono::microseconds(4 * std::int64_t(ti.tcpi_rtt)));
    }
    linger_for = std::min<Duration>(std::max(linger_for, d), 1s);
  }

  void linger_read(Connection* c) {
    char sink[4096];
    while (true) {
      ssize_t n = ::recv(c->fd, sink, sizeof sink, MSG_DONTWAIT);
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      close_connection(c);  // the client has closed too (or is gone)
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

void ConnBodyReader::start(Server::Impl* server, Connection* conn, Context* ctx,
                           const RequestHead& head) {
  server_ = server;
  conn_ = conn;
  ctx_ = ctx;
  kind_ = head.body;
  remaining_ = head.body == BodyKind::length ? head.content_length : 0;
  expect_pending_ = head.expect_continue;
  done_ = head.body == BodyKind::none;
  failed_ = false;
  if (kind_ == BodyKind::chunked) ctx->chunked.reset();
}

void ConnBodyReader::fail(int status, const std::string& why) {
  failed_ = true;
  throw HttpError(status, why);
}

void ConnBodyReader::fill() {
  auto deadline = TimePoint(Clock::now()) + server_->cfg.body_timeout;
  switch (server_->read_some(conn_, ctx_->in, deadline)) {
    case ReadResult::data: return;
    case ReadResult::timeout: fail(408, "timed out waiting for the request body");
    default: fail(400, "the client closed the connection before sending the whole body");
  }
}

std::size_t ConnBodyReader::read(char* buf, std::size_t n) {
  if (failed_) throw HttpError(400, "the request body could not be read");
  if (done_ || n == 0) return 0;
  Buffer& in = ctx_->in;
  if (expect_pending_) {
    expect_pending_ = false;
    if (in.empty()) {
      // Responses to earlier pipelined requests go first.
      ctx_->out.append("HTTP/1.1 100 Continue\r\n\r\n");
      server_->flush(conn_, ctx_->out);
    }
  }
  if (kind_ == BodyKind::length) {
    if (in.empty()) fill();
    std::size_t k = std::size_t(std::min<std::uint64_t>({std::uint64_t(n), remaining_, in.size()}));
    std::memcpy(buf, in.data(), k);
    in.consume(k);
    remaining_ -= k;
    if (remaining_ == 0) done_ = true;
    return k;
  }
  while (true) {
    auto r = ctx_->chunked.decode(in.view(), n);
    switch (r.status) {
      case ChunkedDecoder::Status::data:
        std::memcpy(buf, r.data.data(), r.data.size());
        in.consume(r.consumed);
        if (r.data.empty()) continue;
        return r.data.size();
      case ChunkedDecoder::Status::done:
        in.consume(r.consumed);
        done_ = true;
        return 0;
      case ChunkedDecoder::Status::error:
        in.consume(r.consumed);
        fail(ctx_->chunked.error().status, ctx_->chunked.error().reason);
      case ChunkedDecoder::Status::need_more:
        in.consume(r.consumed);
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
    ::close(c->fd);
    delete c;
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
