// Internals of the server: buffers, connections, the per-activation context.
#pragma once

#include <grove/green.hpp>
#include <grove/http/detail/http1.hpp>
#include <grove/http/server.hpp>

#include "request_metrics.hpp"
#include "transport.hpp"

#include <sys/socket.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grove::http::detail {

// A byte buffer with a read position: bytes are appended at the end and consumed from the
// front; the space is reused once everything is consumed.
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(std::size_t capacity) { reserve(capacity); }
  std::size_t size() const noexcept { return end_ - begin_; }
  bool empty() const noexcept { return end_ == begin_; }
  std::size_t capacity() const noexcept { return cap_; }
  const char* data() const noexcept { return data_.get() + begin_; }
  std::string_view view() const noexcept { return {data(), size()}; }
  void consume(std::size_t n) noexcept {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  void clear() noexcept { begin_ = end_ = 0; }
  // Room for at least `want` more bytes at the end (compacting or growing); returns the
  // writable span's start and stores its length in `avail`.
  char* prepare(std::size_t want, std::size_t& avail) {
    if (cap_ - end_ < want) {
      if (begin_ > 0 && cap_ - size() >= want) {
        std::memmove(data_.get(), data(), size());
      } else {
        std::size_t ncap = cap_ ? cap_ : 4096;
        while (ncap - size() < want) ncap *= 2;
        std::unique_ptr<char[]> n(new char[ncap]);
        if (size()) std::memcpy(n.get(), data(), size());
        data_ = std::move(n);
        cap_ = ncap;
      }
      end_ = size();
      begin_ = 0;
    }
    avail = cap_ - end_;
    return data_.get() + end_;
  }
  void commit(std::size_t n) noexcept { end_ += n; }
  void append(std::string_view s) {
    std::size_t avail;
    char* p = prepare(s.size(), avail);
    std::memcpy(p, s.data(), s.size());
    commit(s.size());
  }
  void append(char c) {
    std::size_t avail;
    *prepare(1, avail) = c;
    commit(1);
  }
  void reserve(std::size_t capacity) {
    if (cap_ >= capacity) return;
    std::size_t avail;
    prepare(capacity - size(), avail);
  }
  void release() noexcept {
    data_.reset();
    cap_ = begin_ = end_ = 0;
  }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t cap_ = 0, begin_ = 0, end_ = 0;
};

struct Connection;
struct Context;
class UpgradedConnection;

// Reads a request body from the connection through the framer (see Request::read).
class ConnBodyReader final : public BodyReader {
 public:
  std::size_t read(char* buf, std::size_t n) override;
  void start(Server::Impl* server, Connection* conn, Context* ctx) noexcept {
    server_ = server;
    conn_ = conn;
    ctx_ = ctx;
  }

 private:
  void fill();
  Server::Impl* server_ = nullptr;
  Connection* conn_ = nullptr;
  Context* ctx_ = nullptr;
};

// Everything one burst of requests on a connection needs, pooled per server so that a
// request costs no allocation and an idle connection holds none of it.
struct Context {
  Buffer in;
  Buffer out;
  RequestFramer framer;
  Request request;
  ConnBodyReader body;
  TlsFacts tls;  // the connection's, read once per burst (a TLS connection's requests point here)
};

struct Connection {
  enum class State : std::uint8_t { idle, active, closed };
  Server::Impl* server = nullptr;
  Transport transport;  // owns the socket; the green thread's bytes go through it
  int fd = -1;          // the socket, for readiness (watcher, waits)
  IoWatcher watcher;    // read readiness while idle
  State state = State::idle;
  bool fresh = true;  // no request seen yet
  bool unix_peer = false;
  bool metrics = false;  // came in on the metrics listener: served metrics, not the app
  std::uint16_t peer_port = 0;
  std::string peer;        // "127.0.0.1", "::1", "unix:"
  TimePoint since;         // accepted, or went idle
  Context* ctx = nullptr;  // while active
  green::Greenlet green;   // while active
  // Intrusive lists: every open connection, and the idle ones in the order they idled.
  Connection* all_prev = nullptr;
  Connection* all_next = nullptr;
  Connection* idle_prev = nullptr;
  Connection* idle_next = nullptr;
  int idle_list = -1;        // which idle list holds it (0 fresh, 1 keep-alive), or -1
  bool lingering = false;    // shut for writing; reads dropped until closed (lingering close)
  bool peer_closed = false;  // the client ended its side (EOF or reset): nothing to linger for
  bool refused = false;      // answered with an error of the server's: close lingering
  std::uint64_t linger_bytes = 0;          // read and dropped while lingering
  TimePoint linger_until;                  // the end of the lingering close
  UpgradedConnection* upgraded = nullptr;  // while an upgrade handler runs (WebSocket)
};

// A connection handed over to another protocol after an upgrade (WebSocket): its transport
// and the bytes already read past the upgrade request, moved (the buffer's storage, not a
// copy of its bytes). The server forgets the connection; the new owner closes it.
struct Handover {
  Transport transport;
  Buffer input;
};

struct Listener {
  int fd = -1;
  std::string name;       // as addresses() reports it
  std::string unix_path;  // to unlink at stop, when this process created it
  bool tls = false;       // an https:// bind: connections start with a TLS handshake
  bool metrics = false;   // the metrics listener (ServerConfig::metrics_bind), per process
  green::Greenlet loop;
};

// The peer of a write that failed: the client is gone or too slow.
class ConnectionLost : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// --- helpers shared by the sources ---------------------------------------------------------
// "Thu, 01 Jan 1970 00:00:00 GMT" for the current second, cached.
std::string_view http_date();
// "01/Jan/1970:00:00:00 +0000" for the current second, cached (access log).
std::string_view log_date();
// The demangled type and message of the exception being handled.
std::string describe_current_exception();

// Calls the application for one request, as the server and the in-memory exchange do: an
// HttpError becomes a response with its status; any other exception, and a response that
// check_response() refuses, become a 500, logged with `peer`, and set `failed`. A
// GreenletExit (a stop killing the connection) goes through.
Response run_application(const Application& app, Request& req, std::string_view peer, bool& failed);
// Writes `resp` into `out` as the server's last response to `req` on a connection
// (`Connection: close`); false if a streamed body failed (logged).
bool write_last_in_memory(std::string& out, Response& resp, const Request& req,
                          const HeadDefaults& d);
// Fills the server's reused Request from a parsed head whose bytes start at `base`
// (headers keep offsets into one copy of the head). Throws HttpError(400) for a bad target.
void fill_request(Request& req, const RequestHead& head, const char* base);

// Bind addresses.
struct BindSpec {
  bool is_unix = false;
  std::string host;  // numeric or a name; empty: every interface
  std::string port;
  std::string path;
};
BindSpec parse_bind(std::string_view spec);  // throws std::invalid_argument
// Opens listening sockets for a bind spec (a host name may give several).
// reuse_port: SO_REUSEPORT, so that a worker replacing another during a reload can bind
// the same metrics port while the old one drains.
std::vector<Listener> open_listeners(const BindSpec& spec, int backlog, bool reuse_port = false);
std::string socket_name(int fd);

// --- the server's tuning -------------------------------------------------------------------
inline constexpr std::size_t kReadChunk = 16 * 1024;
inline constexpr std::size_t kFlushAt = 64 * 1024;          // pipelined output flushed past this
inline constexpr std::size_t kContextPool = 256;            // spare contexts kept per server
inline constexpr std::uint64_t kLingerBytes = 1024 * 1024;  // dropped at most while lingering
inline constexpr Duration kLingerTime =
    std::chrono::seconds(2);           // longest lingering close (nginx: 30 s)
inline constexpr int kLingerList = 2;  // the idle list of lingering connections
inline constexpr Duration kFirstRequestGrace =
    std::chrono::seconds(1);  // a new connection's, at a stop

enum class ReadResult { data, eof, again, timeout, error };

}  // namespace grove::http::detail

namespace grove::http {

using detail::Buffer;
using detail::Connection;
using detail::Context;
using detail::kContextPool;
using detail::kFlushAt;
using detail::kLingerBytes;
using detail::kLingerList;
using detail::kLingerTime;
using detail::kReadChunk;
using detail::Listener;
using detail::ReadResult;

// The server's state and its work, one file per concept: connections.cpp (lists, contexts,
// idle and active states, reading and writing through the transport), requests.cpp (the
// framer to the application and back), access_log.cpp, accept.cpp, stop.cpp (timeouts, the
// lingering close, the graceful stop); server.cpp is the public Server.
struct Server::Impl {
  Application app;
  ServerConfig cfg;
  std::vector<Listener> listeners;
  bool listening = false;
  bool started = false;
  bool stopping_ = false;
  bool draining_ = false;  // a stop waits out health_drain_delay: the health path says 503
  bool stopped_ = false;
  EventLoop* loop = nullptr;
  ServerStats stats;
  // Of stats.open, the metrics listener's: a stop serves scrapes until the app's
  // connections are done, then closes these too (maybe_finish_stop()).
  std::size_t metrics_open = 0;
  bool closing_metrics_ = false;
  std::unique_ptr<detail::RequestMetrics> request_metrics;  // when metrics are on
  Connection* all_head = nullptr;
  // FIFO lists: waiting for a first byte, kept alive between requests, lingering.
  Connection* idle_head[3] = {nullptr, nullptr, nullptr};
  Connection* idle_tail[3] = {nullptr, nullptr, nullptr};
  green::Event slot_free;
  green::Event done;
  Timer sweep_timer;
  Timer stop_timer;
  Timer drain_timer;
  Timer flush_timer;
  Timer linger_timer;  // due at the earliest end of a lingering close
  std::vector<std::unique_ptr<Context>> spare;
  SignalWatcher sigterm, sigint, sighup, sigusr1;
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

  // Where a response goes: the context's output buffer, flushed to the connection.
  struct ConnectionSink {
    Impl* server;
    Connection* c;
    Buffer* buffer;
    Buffer& out() { return *buffer; }
    void flush(std::string_view extra) { server->flush(c, *buffer, extra); }
    // A small file (up to kInlineBody) is read into the buffer behind the head and leaves
    // with it in the caller's flush: one send instead of a send and a sendfile, each of
    // which costs a trip through the TCP stack. A larger one goes out with send_file.
    void send_file(const FileBody& f) {
      if (f.length <= detail::kInlineBody) server->inline_file(c, *buffer, f);
      else server->send_file(c, *buffer, f.file->fd(), off_t(f.offset), std::size_t(f.length));
    }
  };

  detail::HeadDefaults head_defaults() const { return {cfg.server_header, detail::http_date()}; }

  // --- connections: lists, contexts, states, reading and writing (connections.cpp) ---
  void link_all(Connection* c);
  void unlink_all(Connection* c);
  void push_idle(Connection* c, int list);
  void unlink_idle(Connection* c);
  Context* take_context();
  void put_context(Context* x);
  void add_connection(int fd, const sockaddr_storage& ss, const Listener& from);
  // Hub callback: bytes (or EOF) on an idle connection.
  void on_readable(Connection* c, Events e);
  void activate(Connection* c);
  // Runs in the connection's green thread until the connection idles or closes.
  void run_connection(Connection* c);
  // Whether closing now could leave bytes of the client's unread, which would make the
  // kernel answer with a reset that can destroy the response before the client reads it.
  bool may_have_unread_input(Connection* c, Context& x);
  void close_connection(Connection* c);
  // Reads what is available into `in`; with a deadline, waits for it.
  // Sets `drained` when the read left nothing behind in the socket (it returned less than
  // it could), so the caller can wait for readiness instead of reading again for EAGAIN.
  ReadResult read_some(Connection* c, Buffer& in, std::optional<TimePoint> deadline,
                       bool* drained = nullptr);
  // The same into `n` bytes at `p` (an upgraded connection reads into its handler's buffer
  // and keeps none of its own); `got` receives the count.
  ReadResult read_into(Connection* c, char* p, std::size_t n, std::size_t& got,
                       std::optional<TimePoint> deadline, bool* drained = nullptr);
  // Sends `out` (then `extra`) completely, waiting up to the write timeout each time the
  // client stops taking bytes. Throws ConnectionLost.
  void flush(Connection* c, Buffer& out, std::string_view extra = {});
  // Waits until the client takes more bytes, up to the write timeout. Throws
  // ConnectionLost.
  void wait_writable(Connection* c);
  // TLS records the socket did not take at once: sent before the connection idles.
  void flush_records(Connection* c, detail::TlsTransport& tls);
  // The TLS handshake, in the connection's green thread, within handshake_timeout of the
  // accept: whether it finished. Failures are logged at info (the client's doing).
  bool handshake(Connection* c, detail::TlsTransport& tls);
  // A readable 400 in plain HTTP for a plain request on a TLS port (as nginx answers it).
  void answer_plain_http(Connection* c);
  // Sends `out`, then `n` bytes of `file` from `offset`, with no copy through user space
  // on a plain transport (sendfile(2); pread + TLS records on TLS). A response's FileBody
  // goes out through it. Throws ConnectionLost, also when the file ended early (it shrank
  // after the response was made): the client sees the response cut short.
  void send_file(Connection* c, Buffer& out, int file, off_t offset, std::size_t n);
  // Appends a small file body to `out` (one pread; sent with the head by the caller's
  // flush). A file that ended early: what is in `out` is sent, then ConnectionLost.
  void inline_file(Connection* c, Buffer& out, const FileBody& f);
  // Hands an active connection over to another protocol after an upgrade: the transport
  // and the input buffered past the upgrade request move out (no byte is copied); the
  // server then forgets the connection as if it had closed, without closing the socket.
  // Runs on the connection's green thread, after the 101 response was flushed.
  detail::Handover hand_over(Connection* c, Context& x);

  // --- upgrades: the connection lent to another protocol (upgrade.cpp) ------
  // Answers 101 with the application's fields and runs resp.upgrade on this green thread
  // over the connection's transport; the connection then closes (returns false).
  bool upgrade(Connection* c, Context& x, Request& req, Response& resp);
  // At a graceful stop: tells each running upgrade handler (a WebSocket says 1001).
  void notify_upgraded_of_stop();

  // --- requests: framing to the application and back (requests.cpp) -------
  // Serves requests until the connection should idle (true) or close (false).
  bool serve(Connection* c, Context& x);
  // One request whose head is parsed. Returns whether the connection stays open.
  bool handle(Connection* c, Context& x);
  // What is left of a request body the application did not read, dropped.
  [[gnu::noinline]] static bool drain_body(Request& req);
  // What the server answers itself: the health path, and the metrics listener's requests
  // (metrics.cpp's neighbour, operations.cpp).
  bool answers_itself(const Connection* c, const Request& req) const;
  Response answer_itself(const Connection* c, const Request& req);
  void open_metrics_listener();
  std::string metrics_text() const;
  // An error found by the server itself: answers; the connection then closes lingering.
  void send_error(Connection* c, Context& x, int status, std::string_view reason);

  // --- the access log (access_log.cpp) ------------------------------------
  void access_log(Connection* c, const Request* req, int status, std::uint64_t bytes);

  // --- accepting (accept.cpp) ---------------------------------------------
  void accept_loop(Listener* l);

  // --- timeouts, the lingering close, the graceful stop (stop.cpp) --------
  void sweep();
  Duration sweep_interval() const;
  void begin_stop(std::optional<Duration> timeout);
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
  void lingering_close(Connection* c);
  Duration stop_linger_time(Connection* c) const;
  void arm_linger_timer(TimePoint until);
  void expire_lingering();
  // Hub callback: bytes (or the end) from a lingering connection's client.
  void linger_read(Connection* c);
  void force_close();
  // After the stop, nothing of the loop's is kept: the hub and its loop may go away with
  // their thread before this server is destroyed.
  void release_loop_handles();
  // During a stop: finishes it once every connection is closed; once only the metrics
  // listener's are left, closes that listener and them first.
  void maybe_finish_stop();
  void close_listener(Listener& l);
  void finish_stop();
};

}  // namespace grove::http
