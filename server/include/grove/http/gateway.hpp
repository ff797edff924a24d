// The gateway interface: what the server hands an application and what it gets back.
// grove's WSGI. An application is anything callable as `Response(Request&)`; the server
// calls it once per request on the connection's green thread. docs/gateway.md is the
// contract in prose.
//
//   grove::http::Response hello(grove::http::Request& req) {
//     return grove::http::Response::text("Hello, " + std::string(req.path()) + "\n");
//   }
//   int main(int argc, char** argv) { return grove::http::serve(hello, argc, argv); }
#pragma once

#include <grove/function.hpp>
#include <grove/http/headers.hpp>
#include <grove/http/tls.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grove::http {

// An HTTP error with its status. The server's body reader throws it (400 for broken
// chunked framing, 413 for a body over the limit, 408 when the client stops sending); an
// application may throw it too. Uncaught, the server answers with `status` instead of 500.
class HttpError : public std::runtime_error {
 public:
  HttpError(int status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  int status() const noexcept { return status_; }

 private:
  int status_;
};

// The standard reason phrase of a status code ("Not Found"), or "Unknown".
std::string_view reason_phrase(int status) noexcept;

// Percent-decoding. With `plus_is_space` (form and query encoding) '+' decodes to ' '.
// Returns nullopt for a malformed escape ('%' not followed by two hex digits).
std::optional<std::string> url_decode(std::string_view s, bool plus_is_space = false);
// The same, but each malformed escape is kept literally and decoding goes on ("%41%zz"
// gives "A%zz"), as browsers, Python's unquote and werkzeug do. Never fails.
std::string url_decode_lenient(std::string_view s, bool plus_is_space = false);
// Splits a query string or an application/x-www-form-urlencoded body into decoded
// (name, value) pairs, in order, empty pairs ("a=1&&b") skipped; decoded with
// url_decode_lenient(s, true). The framework's parse_query() is this one.
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query);

// Where the server reads a request body from. The server's implementation reads the
// connection (sending `100 Continue` first if the client asked for it); test clients use
// a string. read() returns 0 at the end of the body and throws HttpError on bad input.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  virtual std::size_t read(char* buf, std::size_t n) = 0;
};

struct Version {
  int major = 1;
  int minor = 1;
  bool operator==(const Version&) const = default;
};

class Request {
 public:
  Request() = default;
  // A request made by hand (test clients, the framework's test_client): the body, if any,
  // is served from memory and Content-Length is set to its size unless a header says how
  // the body is framed.
  Request(std::string_view method, std::string_view target, Headers headers = {},
          std::string body = {}, Version version = {});
  Request(Request&&) noexcept;
  Request& operator=(Request&&) noexcept;
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;
  ~Request();

  std::string_view method() const noexcept { return method_; }
  // The request-target exactly as sent ("/a%20b?x=1", or "http://host/a" in absolute form).
  std::string_view target() const noexcept { return target_; }
  // The percent-decoded path ("/a b"); "/" for an absolute-form target without a path and
  // "*" for `OPTIONS *`.
  std::string_view path() const noexcept { return path_; }
  // The path as sent, still percent-encoded.
  std::string_view raw_path() const noexcept { return raw_path_; }
  // Everything after the first '?', not decoded (parse_query() decodes it).
  std::string_view query() const noexcept { return query_; }
  Version version() const noexcept { return version_; }
  std::string_view version_string() const noexcept {
    return version_.minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
  }
  const Headers& headers() const noexcept { return headers_; }
  Headers& headers() noexcept { return headers_; }
  std::optional<std::string_view> header(std::string_view name) const { return headers_.get(name); }
  // The authority the client addressed: the Host header, or the target's authority in
  // absolute form.
  std::string_view host() const noexcept { return host_; }
  // "https" on a TLS connection, else "http".
  std::string_view scheme() const noexcept { return tls_ ? "https" : "http"; }
  bool is_secure() const noexcept { return tls_ != nullptr; }
  // What the TLS connection negotiated (version, cipher, SNI name, ALPN, the client
  // certificate's subject and whether it was verified), or nullptr on a plain connection.
  //   if (auto* t = req.tls(); t && t->client_verified) user = t->client_subject;
  const TlsFacts* tls() const noexcept { return tls_; }
  // "127.0.0.1", "::1", or "unix:" for a Unix-domain peer; empty for a hand-made request.
  const std::string& remote_addr() const noexcept { return remote_addr_; }
  std::uint16_t remote_port() const noexcept { return remote_port_; }
  // Whether the connection stays open after this request (HTTP/1.0 and 1.1 rules).
  bool keep_alive() const noexcept { return keep_alive_; }

  // --- body --------------------------------------------------------------------------
  // The declared length, or nullopt for a chunked body.
  std::optional<std::uint64_t> content_length() const noexcept {
    if (chunked_) return std::nullopt;
    return content_length_;
  }
  bool chunked() const noexcept { return chunked_; }
  // Reads up to n bytes of the body (decoded if chunked); 0 at its end. The first read of
  // a request that sent `Expect: 100-continue` sends `100 Continue`. May throw HttpError.
  std::size_t read(char* buf, std::size_t n);
  // Reads the rest of the body; throws HttpError(413) past `limit` bytes.
  std::string read_body(std::size_t limit = std::numeric_limits<std::size_t>::max());
  // Whether the body has been read to its end.
  bool body_done() const noexcept { return body_done_; }

  // --- for servers and adapters ------------------------------------------------------
  // Fills the request from parsed parts; the server calls it once per request (the
  // object is reused, keeping its buffers). Throws HttpError(400) on a malformed target.
  struct Parts {
    std::string_view method, target;
    Version version;
    bool keep_alive = true;
    bool chunked = false;
    std::uint64_t content_length = 0;
  };
  void reset(const Parts& parts);
  void set_remote(std::string addr, std::uint16_t port) {
    remote_addr_ = std::move(addr);
    remote_port_ = port;
  }
  void set_host(std::string_view host) { host_.assign(host); }
  // The connection's TLS facts (they must outlive the request), or nullptr for plain HTTP.
  void set_tls(const TlsFacts* facts) noexcept { tls_ = facts; }
  void set_body_reader(BodyReader* reader) noexcept { reader_ = reader; }

 private:
  void split_target();

  std::string method_, target_, path_, host_, remote_addr_;
  std::string_view raw_path_, query_;
  Version version_;
  Headers headers_;
  std::uint16_t remote_port_ = 0;
  bool keep_alive_ = true;
  bool chunked_ = false;
  bool body_done_ = false;
  std::uint64_t content_length_ = 0;
  BodyReader* reader_ = nullptr;
  const TlsFacts* tls_ = nullptr;
  std::string own_body_;  // the body of a hand-made request
  std::size_t own_pos_ = 0;
};

// Where a streamed response body goes. write() sends a piece (as one chunk when the
// response is chunked) and may block the green thread until the client takes it;
// flush() pushes out anything buffered. Both throw if the client went away.
class BodyWriter {
 public:
  virtual ~BodyWriter() = default;
  virtual void write(std::string_view data) = 0;
  virtual void flush() = 0;
};

// What the server applies to WebSocket connections (`serve --ws-*`; docs/websocket.md).
struct WebSocketSettings {
  std::size_t max_message = 1024 * 1024;  // after decompression; more closes with 1009
  std::size_t max_frame = 1024 * 1024;    // one frame's payload; more closes with 1009
  // A ping every `ping_interval` while the handler waits in receive(); no pong within
  // `ping_timeout` closes with 1011. Zero turns pings off.
  std::chrono::milliseconds ping_interval{20000};
  std::chrono::milliseconds ping_timeout{20000};
  // No message from the client for this long closes with 1001. Zero: no limit.
  std::chrono::milliseconds idle_timeout{0};
  // How long close() waits for the client's Close.
  std::chrono::milliseconds close_timeout{5000};
};

// The connection after a `101 Switching Protocols` response, as the server lends it to the
// protocol the application switched to (ws::accept() builds a WebSocket on it). Used from
// green threads of the connection's OS thread (its own, or ones it spawned and outlives),
// inside Response::upgrade; one read at a time.
class UpgradedStream {
 public:
  virtual ~UpgradedStream() = default;
  enum class ReadStatus : std::uint8_t { data, end, timeout, stopping };
  struct ReadResult {
    ReadStatus status;
    std::size_t bytes = 0;  // with data
  };
  // Reads what is available (bytes the client sent right after the upgrade request come
  // first), waiting until `deadline` for something. `stopping`, once, when the server
  // begins a graceful stop: the protocol should say goodbye (reads work on after it).
  virtual ReadResult read(char* buf, std::size_t n,
                          std::chrono::steady_clock::time_point deadline) = 0;
  // Sends every byte, waiting at most the server's write timeout each time the client
  // stops taking them. Throws std::runtime_error when the client is gone or too slow.
  virtual void write(std::string_view bytes) = 0;
  // The server's settings for WebSocket connections.
  virtual const WebSocketSettings& websocket_settings() const noexcept = 0;
  // The client's address, as Request::remote_addr() said.
  virtual const std::string& peer() const noexcept = 0;
};

// An open file a response body is read from, closed when the last response holding it is
// gone. The server sends it with sendfile(2) on a plain socket (no byte passes through user
// space) and through pread + the TLS records on TLS; the in-memory exchange reads it.
//
//   int fd = ::open("logo.png", O_RDONLY | O_CLOEXEC);
//   resp.file = FileBody(std::make_shared<OpenFile>(fd), 0, size);
class OpenFile {
 public:
  explicit OpenFile(int fd) noexcept : fd_(fd) {}
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  ~OpenFile();
  int fd() const noexcept { return fd_; }

 private:
  int fd_;
};

// `length` bytes of a file from `offset`: a response body that is never in memory.
struct FileBody {
  std::shared_ptr<const OpenFile> file;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  FileBody() = default;
  FileBody(std::shared_ptr<const OpenFile> f, std::uint64_t off, std::uint64_t len)
      : file(std::move(f)), offset(off), length(len) {}
  explicit operator bool() const noexcept { return bool(file); }
};

class Response {
 public:
  // Pushes the body into the writer; runs on the connection's green thread after the
  // status line and headers were sent.
  using Stream = Function<void(BodyWriter&)>;
  // Pulls the body piece by piece, like a WSGI iterable: nullopt ends it.
  using Source = Function<std::optional<std::string>()>;

  int status = 200;
  std::string reason;  // empty: reason_phrase(status)
  Headers headers;
  std::string body;  // the body, unless `stream` is set
  Stream stream;     // a streamed body: sent chunked to HTTP/1.1 clients unless the
                     // application set Content-Length
  // With status 101: after the head (and no body) is sent, the server runs this on the
  // connection's green thread with the connection's byte stream, and closes the
  // connection when it returns. ws::accept() sets it; the server answers `Upgrade` only so.
  Function<void(UpgradedStream&)> upgrade;
  // The route that answered, as a template ("/user/<int:id>"): the metrics' route label
  // (grove::web sets its rule). Must outlive the response (the app's route table, or a
  // literal). Empty: the request is counted under route="".
  std::string_view route;
  FileBody file;  // a body read from a file (set at most one of body, stream, file);
                  // Content-Length is its length

  Response() = default;
  explicit Response(int status_code, std::string body_text = {},
                    std::string_view content_type = "text/plain; charset=utf-8");

  static Response text(std::string body_text, int status_code = 200);
  static Response html(std::string body_text, int status_code = 200);
  static Response json(std::string json_text, int status_code = 200);
  static Response streamed(Stream producer, int status_code = 200,
                           std::string_view content_type = "application/octet-stream");
  static Response from_source(Source source, int status_code = 200,
                              std::string_view content_type = "application/octet-stream");

  bool streaming() const noexcept { return bool(stream); }
  bool has_file() const noexcept { return bool(file); }
};

// An application: anything callable as Response(Request&). It may be called from several
// green threads at once (one per connection) and, with --workers, in several processes.
using Application = std::function<Response(Request&)>;

}  // namespace grove::http
