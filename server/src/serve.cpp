// serve(): the standard command line, the startup line, and pre-forked workers.
//
// Workers are processes, not threads: the master binds every address once, then forks N
// workers that each run their own hub over the inherited listening sockets (the kernel
// hands each connection to one of the processes waiting in accept). A worker that crashes
// (a stack overflow, an abort in a C library) takes only itself down, and the master starts
// a new one; applications need no thread safety; and compat's process-wide patching needs
// no OS threads besides the hub. docs/server.md records the measurements behind the choice.
#include <grove/http/serve.hpp>

#include "master.hpp"
#include "server_impl.hpp"

#include <CLI/CLI.hpp>

#if GROVE_HTTP_HAVE_COMPAT
#include <grove/compat.hpp>
#endif

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>

namespace grove::http {

bool compat_available() noexcept { return GROVE_HTTP_HAVE_COMPAT != 0; }

namespace {

// "10", "10s", "250ms", "1.5s", "2m" -> a duration. Plain numbers are seconds.
Duration parse_duration(const std::string& flag, const std::string& text) {
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
    ++i;
  std::string number = text.substr(0, i), unit = text.substr(i);
  char* end = nullptr;
  double v = number.empty() ? -1 : std::strtod(number.c_str(), &end);
  double scale = 0;
  if (unit.empty() || unit == "s") scale = 1e9;
  else if (unit == "ms") scale = 1e6;
  else if (unit == "us") scale = 1e3;
  else if (unit == "m") scale = 60e9;
  if (number.empty() || !end || *end != '\0' || scale == 0 || !std::isfinite(v) || v < 0 ||
      v * scale > 1e18)
    throw std::invalid_argument(flag + ": invalid duration '" + text +
                                "' (use seconds, or a number with ms, s or m: 250ms, 1.5s, 2m)");
  return Duration(std::int64_t(v * scale));
}

// "1048576", "512K", "4M", "1G" (binary units) -> bytes.
std::uint64_t parse_size(const std::string& flag, const std::string& text) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  std::string unit(p, text.data() + text.size());
  std::uint64_t scale = 0;
  if (unit.empty() || unit == "B") scale = 1;
  else if (unit == "K" || unit == "k" || unit == "KiB") scale = 1024;
  else if (unit == "M" || unit == "MiB") scale = 1024 * 1024;
  else if (unit == "G" || unit == "GiB") scale = 1024ull * 1024 * 1024;
  if (ec != std::errc() || p == text.data() || scale == 0 || v > (std::uint64_t(1) << 50) / scale)
    throw std::invalid_argument(flag + ": invalid size '" + text +
                                "' (use bytes, or a number with K, M or G: 512K, 4M)");
  return v * scale;
}

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

std::vector<std::string> hub_engines() {
  std::vector<std::string> out;
  for (auto& e : built_engines())
    if (e != "green") out.push_back(e);  // the hub drives a real engine; green is the hub
  return out;
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

// The TLS flags as given.
struct TlsFlags {
  std::string certfile, keyfile, ca_certs, cert_reqs = "none", ciphers, min_version = "1.2";
  std::vector<std::string> sni;  // "CERTFILE,KEYFILE" each
};

// One --sni value: "CERTFILE,KEYFILE".
TlsCertificate parse_sni_pair(const std::string& value) {
  auto comma = value.find(',');
  if (comma == std::string::npos || comma == 0 || comma + 1 == value.size() ||
      value.find(',', comma + 1) != std::string::npos)
    throw std::invalid_argument("--sni '" + value + "': expected CERTFILE,KEYFILE");
  return {value.substr(0, comma), value.substr(comma + 1)};
}

// The TLS flags into cfg.tls; https:// binds without a certificate are refused.
// Throws std::invalid_argument, or TlsError naming the file and the problem.
void configure_tls(ServerConfig& cfg, const TlsFlags& flags) {
  const bool any_https = std::any_of(cfg.binds.begin(), cfg.binds.end(), [](const std::string& b) {
    return b.starts_with("https://");
  });
  if (flags.certfile.empty() && flags.keyfile.empty()) {
    if (!flags.sni.empty())
      throw std::invalid_argument("--sni needs --certfile and --keyfile (the default pair)");
    if (any_https && !cfg.tls)
      throw std::invalid_argument("an https:// bind needs --certfile and --keyfile");
    return;
  }
  if (flags.certfile.empty() || flags.keyfile.empty())
    throw std::invalid_argument("TLS needs both --certfile and --keyfile");
  TlsConfig tls;
  tls.certificate = {flags.certfile, flags.keyfile};
  for (const auto& pair : flags.sni) tls.sni.push_back(parse_sni_pair(pair));
  tls.ca_file = flags.ca_certs;
  tls.client_certs = parse_client_certs(flags.cert_reqs);
  tls.ciphers = flags.ciphers;
  tls.min_version = flags.min_version;
  cfg.tls = std::make_shared<TlsContext>(tls);
  // As gunicorn's --certfile: with no https:// bind, every bind serves TLS.
  if (!any_https)
    for (auto& b : cfg.binds) b = "https://" + b;
}

// The --ws-* flags (empty: keep the default).
void configure_websocket(WebSocketSettings& ws, const std::string& max_message,
                         const std::string& max_frame, const std::string& ping_interval,
                         const std::string& ping_timeout, const std::string& idle_timeout) {
  using std::chrono::duration_cast;
  using ms = std::chrono::milliseconds;
  if (!max_message.empty())
    ws.max_message = std::size_t(parse_size("--ws-max-message", max_message));
  if (!max_frame.empty()) ws.max_frame = std::size_t(parse_size("--ws-max-frame", max_frame));
  if (!ping_interval.empty())
    ws.ping_interval = duration_cast<ms>(parse_duration("--ws-ping-interval", ping_interval));
  if (!ping_timeout.empty())
    ws.ping_timeout = duration_cast<ms>(parse_duration("--ws-ping-timeout", ping_timeout));
  if (!idle_timeout.empty())
    ws.idle_timeout = duration_cast<ms>(parse_duration("--ws-idle-timeout", idle_timeout));
  if (ws.max_message == 0 || ws.max_frame == 0)
    throw std::invalid_argument("--ws-max-message and --ws-max-frame must be greater than zero");
  if (ws.ping_interval > ms::zero() && ws.ping_timeout <= ms::zero())
    throw std::invalid_argument("--ws-ping-timeout must be greater than zero while pings are on");
}

}  // namespace

int serve(Application app, int argc, char** argv, ServeOptions options) {
  std::string program = options.program;
  if (program.empty()) {
    std::string a0 = argc > 0 && argv[0] ? argv[0] : "grove-server";
    auto slash = a0.rfind('/');
    program = slash == std::string::npos ? a0 : a0.substr(slash + 1);
  }
  ServerConfig cfg = options.config;
  CLI::App cli(options.description.empty() ? "A grove HTTP/1.1 server" : options.description,
               program);
  cli.option_defaults()->always_capture_default();

  std::vector<std::string> binds;
  int workers = options.workers;
  std::string engine_flag;
  bool compat = cfg.compat;
  std::size_t max_connections = cfg.max_connections;
  std::string max_body, max_header_bytes, max_request_line;
  std::size_t max_headers = cfg.limits.max_header_count;
  std::string header_timeout, body_timeout, keepalive_timeout, write_timeout, graceful_timeout;
  TlsFlags tls;
  std::string handshake_timeout;
  std::string ws_max_message, ws_max_frame, ws_ping_interval, ws_ping_timeout, ws_idle_timeout;
  std::string access_log = options.access_log, error_log = "-";
  std::string log_level(to_string(options.log_level));
  bool show_version = false;
  std::string health_drain_delay;

  cli.add_option("-b,--bind", binds,
                 "Address to listen on, repeatable: host:port, [v6addr]:port or unix:/path; "
                 "https://host:port serves TLS (see --certfile) "
                 "(default " +
                     join(cfg.binds) + ")")
      ->check([](const std::string& v) {
        try {
          std::string_view spec = v;
          if (spec.starts_with("https://")) spec.remove_prefix(8);
          detail::parse_bind(spec);
        } catch (const std::invalid_argument& e) {
          return std::string(e.what());
        }
        return std::string();
      });
  cli.add_option("-w,--workers", workers, "Worker processes (pre-forked)")
      ->check(CLI::Range(1, 1024));
  auto engines = hub_engines();
  // --backend: the flag's name before it said "engine", still accepted.
  cli.add_option("--engine,--backend", engine_flag,
                 "Event loop engine: " + join(engines) + " (default " + selected_engine() + ")")
      ->check(CLI::IsMember(engines));
  cli.add_flag("--compat,!--no-compat", compat,
               "Patch blocking libc calls to be cooperative (grove::compat::patch_all)");
  cli.add_option("--max-connections", max_connections,
                 "Open connections per worker; beyond, accepting waits")
      ->check(CLI::Range(std::size_t(1), std::size_t(10'000'000)));
  cli.add_option("--max-body", max_body, "Largest request body: bytes or 512K, 4M (default 1M)");
  cli.add_option("--max-header-bytes", max_header_bytes, "Largest header section (default 64K)");
  cli.add_option("--max-headers", max_headers, "Most header fields (default 100)")
      ->check(CLI::Range(std::size_t(1), std::size_t(100000)));
  cli.add_option("--max-request-line", max_request_line, "Longest request line (default 8K)");
  cli.add_option("--header-timeout", header_timeout,
                 "Time to receive a request head (default 10s)");
  cli.add_option("--body-timeout", body_timeout, "Longest wait for more body bytes (default 30s)");
  cli.add_option("--keepalive-timeout", keepalive_timeout,
                 "Idle time before a kept-alive connection closes (default 15s)");
  cli.add_option("--write-timeout", write_timeout,
                 "Longest wait for a client to take response bytes (default 30s)");
  cli.add_option("--graceful-timeout", graceful_timeout,
                 "Time a stop gives in-flight requests (default 30s)");
  cli.add_option("--certfile", tls.certfile,
                 "TLS certificate (PEM, with its chain) for the https:// binds; with no https:// "
                 "bind, every bind serves TLS");
  cli.add_option("--keyfile", tls.keyfile, "TLS private key (PEM, unencrypted) of --certfile");
  cli.add_option("--sni", tls.sni,
                 "CERTFILE,KEYFILE: one more pair, served to clients asking (SNI) for a name of "
                 "its certificate (repeatable; other names get --certfile)");
  cli.add_option("--ca-certs", tls.ca_certs,
                 "CA certificates (PEM) client certificates must chain to");
  cli.add_option("--cert-reqs", tls.cert_reqs,
                 "Client certificates: none, optional or required (default none)");
  cli.add_option("--ciphers", tls.ciphers,
                 "TLS 1.2 cipher list, OpenSSL syntax (default OpenSSL's)");
  cli.add_option("--tls-min-version", tls.min_version,
                 "Lowest TLS version: 1.2 or 1.3 (default 1.2)");
  cli.add_option("--handshake-timeout", handshake_timeout,
                 "Time from the accept to a finished TLS handshake (default 10s)");
  cli.add_option("--ws-max-message", ws_max_message,
                 "Largest WebSocket message, after decompression (default 1M)");
  cli.add_option("--ws-max-frame", ws_max_frame, "Largest WebSocket frame payload (default 1M)");
  cli.add_option("--ws-ping-interval", ws_ping_interval,
                 "WebSocket ping interval; 0 turns pings off (default 20s)");
  cli.add_option("--ws-ping-timeout", ws_ping_timeout,
                 "Time for a WebSocket pong to arrive (default 20s)");
  cli.add_option("--ws-idle-timeout", ws_idle_timeout,
                 "Time without a WebSocket message before closing; 0: none (default 0)");
  cli.add_option("--access-log", access_log,
                 "Access log (Combined Log Format): a file, or - for stderr");
  cli.add_option("--error-log", error_log, "Error log: a file, or - for stderr");
  cli.add_option("--log-level", log_level, "debug, info, warning, error or off")
      ->check(CLI::IsMember({"debug", "info", "warning", "warn", "error", "off"}));
  cli.add_option("--metrics-bind", cfg.metrics_bind,
                 "host:port serving GET /metrics (Prometheus text); loopback only; worker k of "
                 "--workers uses port + k");
  cli.add_flag("--metrics-public", cfg.metrics_public,
               "Allow a --metrics-bind address other than loopback");
  cli.add_option(
      "--health-path", cfg.health_path,
      "A path the server answers itself, before the app: 200 serving, 503 draining or not ready");
  cli.add_option("--health-drain-delay", health_drain_delay,
                 "With --health-path: a stop first answers 503 there for this long while serving "
                 "on (default 0)");
  cli.add_flag("--version", show_version, "Print the version and the built engines, then exit");
  if (options.add_flags) options.add_flags(&cli);

  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(cli.help().c_str(), stdout);
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: error: %s (see --help)\n", program.c_str(),
                 one_line(e.what()).c_str());
    return 2;
  }
  if (show_version) {
    std::printf("grove %.*s\nengines: %s\ndefault engine: %s\ncompat: %s\n",
                int(grove::version().size()), grove::version().data(), join(engines).c_str(),
                default_engine().c_str(), compat_available() ? "available" : "not built");
    return 0;
  }

  try {
    if (!binds.empty()) cfg.binds = binds;
    cfg.max_connections = max_connections;
    cfg.compat = compat;
    cfg.limits.max_header_count = max_headers;
    if (!max_body.empty()) cfg.limits.max_body = parse_size("--max-body", max_body);
    if (!max_header_bytes.empty())
      cfg.limits.max_header_bytes = std::size_t(parse_size("--max-header-bytes", max_header_bytes));
    if (!max_request_line.empty())
      cfg.limits.max_request_line = std::size_t(parse_size("--max-request-line", max_request_line));
    if (!header_timeout.empty())
      cfg.header_timeout = parse_duration("--header-timeout", header_timeout);
    if (!body_timeout.empty()) cfg.body_timeout = parse_duration("--body-timeout", body_timeout);
    if (!keepalive_timeout.empty())
      cfg.keepalive_timeout = parse_duration("--keepalive-timeout", keepalive_timeout);
    if (!write_timeout.empty())
      cfg.write_timeout = parse_duration("--write-timeout", write_timeout);
    if (!graceful_timeout.empty())
      cfg.graceful_timeout = parse_duration("--graceful-timeout", graceful_timeout);
    for (auto d : {cfg.header_timeout, cfg.body_timeout, cfg.keepalive_timeout, cfg.write_timeout})
      if (d <= Duration::zero()) throw std::invalid_argument("timeouts must be greater than zero");
    if (compat && !compat_available())
      throw std::invalid_argument("--compat: this build has no grove::compat");
    if (!health_drain_delay.empty())
      cfg.health_drain_delay = parse_duration("--health-drain-delay", health_drain_delay);
    if (!handshake_timeout.empty())
      cfg.handshake_timeout = parse_duration("--handshake-timeout", handshake_timeout);
    configure_websocket(cfg.websocket, ws_max_message, ws_max_frame, ws_ping_interval,
                        ws_ping_timeout, ws_idle_timeout);
    configure_tls(cfg, tls);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "%s: error: %s\n", program.c_str(), one_line(e.what()).c_str());
    return 2;
  } catch (const TlsError& e) {
    std::fprintf(stderr, "%s: error: %s\n", program.c_str(), one_line(e.what()).c_str());
    return 2;
  }

  try {
    Log::set_level(parse_log_level(log_level));
    Log::open_error_log(error_log);
    Log::open_access_log(access_log);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program.c_str(), one_line(e.what()).c_str());
    return 2;
  }
  // A binary upgrade (SIGUSR2 to the old master) hands the listening sockets over.
  int upgrade_ready_fd = -1;
  try {
    auto fds = detail::take_fds_from_env(detail::kListenFdsEnv);
    auto tls_fds = detail::take_fds_from_env(detail::kTlsListenFdsEnv);
    if (!fds.empty() || !tls_fds.empty()) {
      cfg.binds.clear();
      cfg.listen_fds = std::move(fds);
      cfg.tls_listen_fds = std::move(tls_fds);
    }
    auto ready = detail::take_fds_from_env(detail::kUpgradeReadyFdEnv);
    if (!ready.empty()) upgrade_ready_fd = ready.front();
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "%s: error: %s\n", program.c_str(), one_line(e.what()).c_str());
    return 2;
  }
  const ServerConfig cli_config = cfg;  // what a reload (SIGHUP) configures again
  try {
    if (options.configure) options.configure(cfg);
  } catch (const std::exception& e) {  // the program's own configuration (web::serve's --config)
    std::fprintf(stderr, "%s: error: %s\n", program.c_str(), one_line(e.what()).c_str());
    return 2;
  }

  if (!engine_flag.empty()) ::setenv("GROVE_LOOP", engine_flag.c_str(), 1);
  std::string engine;
  try {
    engine = selected_engine();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program.c_str(), one_line(e.what()).c_str());
    return 2;
  }
#if GROVE_HTTP_HAVE_COMPAT
  if (compat) compat::patch_all();
#endif

  try {
    Server server(app, cfg);
    server.listen();
    Log::write(LogLevel::info, startup_line(cfg, engine, workers, server.addresses()));
    if (workers == 1) {
      server.start();
      if (upgrade_ready_fd >= 0) {  // the new binary of an upgrade accepts: the old one may go
        char ready = 1;
        (void)!::write(upgrade_ready_fd, &ready, 1);
        ::close(upgrade_ready_fd);
      }
      server.serve_forever();
      auto st = server.stats();
      Log::write(LogLevel::info,
                 "stopped after " + std::to_string(st.requests) + " request(s)" +
                     (st.closed_at_timeout ? "; " + std::to_string(st.closed_at_timeout) +
                                                 " connection(s) closed at the stop timeout"
                                           : std::string()));
      Log::flush();
      return 0;
    }
    detail::Master master;
    master.app = app;
    master.config = cfg;
    master.config.binds.clear();
    master.config.tls_listen_fds = server.tls_listen_fds();
    master.config.listen_fds.clear();
    for (int fd : server.listen_fds())
      if (std::find(master.config.tls_listen_fds.begin(), master.config.tls_listen_fds.end(), fd) ==
          master.config.tls_listen_fds.end())
        master.config.listen_fds.push_back(fd);
    master.workers = workers;
    master.upgrade_ready_fd = upgrade_ready_fd;
    for (int i = 0; i < argc; ++i) master.exec_argv.emplace_back(argv[i]);
    master.disown_listeners = [&server] { server.keep_socket_files(); };
    // SIGHUP: the certificates (the master's context, which new workers inherit) and the
    // program's configuration again; the listeners stay the master's.
    master.reload = [&server, &options, cli_config](ServerConfig& workers_config) {
      if (workers_config.tls && !server.reload_tls()) return false;
      if (!options.configure) return true;
      ServerConfig fresh = cli_config;
      try {
        options.configure(fresh);
      } catch (const std::exception& e) {
        Log::write(LogLevel::error, std::string("reload: the configuration failed: ") + e.what());
        return false;
      }
      fresh.binds.clear();
      fresh.listen_fds = workers_config.listen_fds;
      fresh.tls_listen_fds = workers_config.tls_listen_fds;
      fresh.tls = workers_config.tls;
      workers_config = std::move(fresh);
      return true;
    };
    int rc = master.run();
    Log::write(LogLevel::info, "stopped");
    Log::flush();
    return rc;  // ~Server closes the listeners and removes unix socket files
  } catch (const std::exception& e) {
    Log::write(LogLevel::error, std::string("cannot serve: ") + e.what());
    return 1;
  }
}

}  // namespace grove::http
