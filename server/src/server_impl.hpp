// Internals of the server: buffers, connections, the per-activation context.
#pragma once

#include <grove/green.hpp>
#include <grove/http/detail/http1.hpp>
#include <grove/http/server.hpp>

#include "transport.hpp"

#include <sys/socket.h>

#include <cstring>
#include <memory>
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
};

struct Connection {
  enum class State : std::uint8_t { idle, active, closed };
  Server::Impl* server = nullptr;
  Transport transport;         // owns the socket; the green thread's bytes go through it
  int fd = -1;                 // the socket, for readiness (watcher, waits)
  IoWatcher watcher;           // read readiness while idle
  State state = State::idle;
  bool fresh = true;           // no request seen yet
  bool unix_peer = false;
  std::uint16_t peer_port = 0;
  std::string peer;            // "127.0.0.1", "::1", "unix:"
  TimePoint since;             // accepted, or went idle
  Context* ctx = nullptr;      // while active
  green::Greenlet green;       // while active
  // Intrusive lists: every open connection, and the idle ones in the order they idled.
  Connection* all_prev = nullptr;
  Connection* all_next = nullptr;
  Connection* idle_prev = nullptr;
  Connection* idle_next = nullptr;
  int idle_list = -1;          // which idle list holds it (0 fresh, 1 keep-alive), or -1
  bool lingering = false;      // shut for writing; reads dropped until closed (lingering close)
  bool peer_closed = false;    // the client ended its side (EOF or reset): nothing to linger for
  bool refused = false;        // answered with an error of the server's: close lingering
  std::uint64_t linger_bytes = 0;  // read and dropped while lingering
  TimePoint linger_until;      // the end of the lingering close
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
std::vector<Listener> open_listeners(const BindSpec& spec, int backlog);
std::string socket_name(int fd);

}  // namespace grove::http::detail
