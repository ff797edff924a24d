// grove::http::Server — the green-thread HTTP/1.1 server.
//
// One accept-loop green thread per listening socket and one green thread per connection
// while it has a request to serve, all on the calling OS thread's hub. docs/server.md
// describes the model, the timeouts and the graceful stop; docs/gateway.md the interface
// to the application.
//
//   grove::http::ServerConfig config;
//   config.binds = {"127.0.0.1:8000", "[::1]:8000", "unix:/tmp/app.sock",
//                   "https://0.0.0.0:8443"};       // TLS: needs config.tls
//   config.tls = std::make_shared<grove::http::TlsContext>(tls_config);  // docs/tls.md
//   grove::http::Server server(app, config);
//   server.listen();          // binds (throws std::system_error naming the address)
//   server.serve_forever();   // until stop(), SIGTERM or SIGINT; then drains
#pragma once

#include <grove/http/gateway.hpp>
#include <grove/http/parser.hpp>
#include <grove/http/tls.hpp>
#include <grove/loop.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grove::http {

using namespace std::chrono_literals;

enum class LogLevel { debug, info, warning, error, off };
std::string_view to_string(LogLevel level) noexcept;
// "debug", "info", "warning" (or "warn"), "error", "off"; throws std::invalid_argument.
LogLevel parse_log_level(std::string_view name);

// Where the server writes its logs; process-wide. The error log goes to stderr unless
// redirected; the access log (Combined Log Format) is off unless opened.
class Log {
 public:
  static void set_level(LogLevel level) noexcept;
  static LogLevel level() noexcept;
  static bool enabled(LogLevel level) noexcept { return level >= Log::level(); }
  // "[2024-05-01 12:00:00 +0000] [pid] [level] message" on the error log.
  static void write(LogLevel level, std::string_view message);
  // Redirects the error log to a file ("" or "-": stderr); throws std::system_error.
  static void open_error_log(const std::string& path);
  // Opens the access log: a path (appended to), "-" for stderr, "" or "off" to disable.
  static void open_access_log(const std::string& path);
  static bool access_log_enabled() noexcept;
  static void access(std::string_view line);
  // Writes out buffered access log lines (the server does it every second and at stop).
  static void flush();
};

struct ServerConfig {
  // host:port, [v6addr]:port, or unix:/path. Port 0 picks a free port (see addresses()).
  std::vector<std::string> binds{"127.0.0.1:8000"};
  // Already listening sockets to serve (pre-forked workers inherit them); used as well as
  // `binds`. The server takes ownership.
  std::vector<int> listen_fds;
  std::vector<int> tls_listen_fds;  // as listen_fds, served with TLS (needs `tls`)
  // The certificates and settings of the https:// binds; shared, so that reload() on it
  // (SIGHUP, reload_tls()) reaches every listener. Binds without https:// stay plain.
  std::shared_ptr<TlsContext> tls;
  Duration handshake_timeout = 10s;  // from the accept to a finished TLS handshake
  std::size_t max_connections = 10000;
  Limits limits;
  Duration header_timeout = 10s;     // from a connection's first byte to a complete head
  Duration body_timeout = 30s;       // longest wait for more request body bytes
  Duration keepalive_timeout = 15s;  // idle time between requests on a kept-alive connection
  Duration write_timeout = 30s;      // longest wait for the client to take response bytes
  Duration graceful_timeout = 30s;   // how long a stop from a signal lets requests finish
  bool handle_signals = true;        // serve_forever() stops gracefully on SIGTERM and SIGINT
                                     // and, with `tls`, reloads the certificates on SIGHUP
                                     // (unblocking SIGHUP in the calling thread)
  std::size_t stack_size = 0;        // per connection green thread; 0: green's default
  int backlog = 4096;
  bool compat = false;                  // reported in the startup line; serve() patches
  std::string server_header = "grove";  // empty: no Server header
  WebSocketSettings websocket;          // limits and timeouts of upgraded WebSocket connections

  // Operations (docs/server.md, "Metrics and health"):
  // host:port of a second listener, opened by start() in each process, that answers
  // GET /metrics (Prometheus text format). Loopback only unless metrics_public: it shows the
  // process's internals. Under --workers, worker k listens on port + k and labels its
  // samples worker="k". Empty: no listener.
  std::string metrics_bind;
  bool metrics_public = false;
  // Records request metrics without a listener (Server::metrics_text()); on with metrics_bind.
  bool metrics = false;
  // A path the server answers itself, before the application (any method): 200 "ok" while
  // serving, 503 "draining" once a stop began, 503 "not ready" while `readiness` returns
  // false (it runs on the request's green thread, so it may wait, e.g. ping a database).
  std::string health_path;
  std::function<bool()> readiness;
  // With health_path: a graceful stop first waits this long, serving everything as before
  // while the health path says 503 "draining", so that a balancer takes the server out
  // before it stops accepting. A second stop (signal) ends the wait.
  Duration health_drain_delay = Duration::zero();
  int worker_index = -1;  // set by serve() in each pre-forked worker (0..N-1)
};

// What the server has done so far (for tests and diagnostics).
struct ServerStats {
  std::uint64_t accepted = 0;
  std::uint64_t requests = 0;    // responses completed
  std::uint64_t errors_4xx = 0;  // requests refused by the parser or limits
  std::uint64_t errors_5xx = 0;  // application failures
  std::uint64_t accept_errors = 0;
  std::uint64_t sendfile_bytes = 0;   // file body bytes sent by sendfile(2), never in memory
  std::size_t open = 0;               // connections open now
  std::size_t active = 0;             // of which served by a green thread now
  std::size_t idle = 0;               // of which idle (keep-alive, or waiting for a first byte)
  std::size_t closed_at_timeout = 0;  // connections cut by the last stop's timeout
};

class Server {
 public:
  Server(Application app, ServerConfig config = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Creates the listening sockets for config.binds (and adopts config.listen_fds).
  // Throws std::system_error naming the address on failure. Idempotent.
  void listen();
  // The bound addresses, as binds would spell them ("127.0.0.1:41234", "[::1]:8080",
  // "unix:/tmp/s"), with ports resolved.
  std::vector<std::string> addresses() const;
  // The listening fds (for a pre-forking master).
  std::vector<int> listen_fds() const;
  // Of those, the TLS ones (https:// binds and tls_listen_fds).
  std::vector<int> tls_listen_fds() const;

  // Starts the accept loops on the calling thread's hub and returns at once; listens
  // first if needed.
  void start();
  // start(), then waits (letting the hub run) until the server has stopped. Handles
  // SIGTERM/SIGINT when config.handle_signals: the first one stops gracefully with
  // config.graceful_timeout, a second one stops at once.
  void serve_forever();
  // Graceful stop: stop accepting, let in-flight requests finish (their responses say
  // Connection: close), close idle connections, and after `timeout` close what remains
  // (counted in the log and in stats().closed_at_timeout). Waits until done when called
  // from a green thread or the main context of the server's thread; from a hub callback
  // it only begins the stop.
  void stop(std::optional<Duration> timeout = std::nullopt);
  // Reads config.tls's certificate and key files again (what SIGHUP does): new handshakes
  // use the new pairs, open connections keep theirs. Returns false, logging why, when the
  // new files cannot serve; the old pairs then stay in force. Any thread. Throws
  // std::logic_error when the server has no TLS context.
  //   if (!server.reload_tls()) alert("still serving the old certificate: see the log");
  bool reload_tls();
  // The unix: socket files of its listeners are left in place when it is destroyed: another
  // process serves on them now (a binary upgrade, SIGUSR2, handed them over).
  void keep_socket_files() noexcept;
  // stop() from any thread: queued onto the server's hub; returns at once.
  void stop_threadsafe(std::optional<Duration> timeout = std::nullopt);
  bool stopping() const noexcept;
  bool stopped() const noexcept;

  ServerStats stats() const;
  // The metrics listener's address ("127.0.0.1:9100"), once started; empty without one.
  std::string metrics_address() const;
  // What GET /metrics answers: the server's figures, then every add_metrics_collector()'s.
  std::string metrics_text() const;
  const ServerConfig& config() const noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// One line naming the engine, the workers, compat and the addresses.
std::string startup_line(const ServerConfig& config, std::string_view engine, int workers,
                         const std::vector<std::string>& addresses);

}  // namespace grove::http
