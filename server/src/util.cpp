// Dates, logs, exception descriptions and listening sockets.
#include "server_impl.hpp"

#include <grove/diagnostics.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <atomic>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <stdexcept>
#include <system_error>

namespace grove::http {

// --- log levels and the logs ---------------------------------------------------------------

std::string_view to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warning: return "warning";
    case LogLevel::error: return "error";
    case LogLevel::off: return "off";
  }
  return "?";
}

LogLevel parse_log_level(std::string_view name) {
  if (name == "debug") return LogLevel::debug;
  if (name == "info") return LogLevel::info;
  if (name == "warning" || name == "warn") return LogLevel::warning;
  if (name == "error") return LogLevel::error;
  if (name == "off") return LogLevel::off;
  throw std::invalid_argument("unknown log level '" + std::string(name) +
                              "' (use debug, info, warning, error or off)");
}

namespace {

struct LogState {
  std::mutex mu;
  int error_fd = 2;
  bool error_owned = false;
  int access_fd = -1;
  bool access_owned = false;
  std::string access_buffer;
};
LogState& log_state() {
  static LogState* s = new LogState;  // never destroyed: logging works during exit
  return *s;
}
std::atomic<int> g_level{int(LogLevel::info)};
std::atomic<bool> g_access_on{false};  // read per request without the lock

void write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere to report a failing log
    }
    s.remove_prefix(std::size_t(n));
  }
}

int open_log_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    throw std::system_error(errno, std::generic_category(), "cannot open log file " + path);
  return fd;
}

}  // namespace

void Log::set_level(LogLevel level) noexcept {
  g_level.store(int(level), std::memory_order_relaxed);
}
LogLevel Log::level() noexcept { return LogLevel(g_level.load(std::memory_order_relaxed)); }

namespace {

// The error log's own line, the diagnostic sink's default writer for the server's records.
void write_error_log(const Diagnostic& d) {
  char stamp[64];
  std::time_t t = std::time(nullptr);
  std::tm tm;
  ::localtime_r(&t, &tm);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S %z", &tm);
  std::string line;
  line.reserve(d.message.size() + 64);
  line += '[';
  line += stamp;
  line += "] [";
  line += std::to_string(::getpid());
  line += "] [";
  line += to_string(d.level);
  line += "] ";
  line += d.message;
  if (line.back() != '\n') line += '\n';
  auto& s = log_state();
  std::lock_guard lock(s.mu);
  write_all(s.error_fd, line);
}

}  // namespace

// The error log is a view of grove's diagnostic sink (source "http"): a handler installed
// with grove::set_diagnostic_handler receives the server's records; without one they go to
// the error log as before.
void Log::write(LogLevel level, std::string_view message) {
  if (!enabled(level) || level == LogLevel::off) return;
  static constexpr Severity kSeverity[] = {Severity::debug, Severity::info, Severity::warning,
                                           Severity::error};
  grove::report(Diagnostic{kSeverity[int(level)], "http", message, {}}, &write_error_log);
}

void Log::open_error_log(const std::string& path) {
  int fd = (path.empty() || path == "-") ? 2 : open_log_file(path);
  auto& s = log_state();
  std::lock_guard lock(s.mu);
  if (s.error_owned) ::close(s.error_fd);
  s.error_fd = fd;
  s.error_owned = fd != 2;
}

void Log::open_access_log(const std::string& path) {
  int fd = -1;
  if (path == "-") fd = 2;
  else if (!path.empty() && path != "off") fd = open_log_file(path);
  auto& s = log_state();
  std::lock_guard lock(s.mu);
  if (s.access_fd >= 0) {
    write_all(s.access_fd, s.access_buffer);
    s.access_buffer.clear();
    if (s.access_owned) ::close(s.access_fd);
  }
  s.access_fd = fd;
  s.access_owned = fd > 2;
  g_access_on.store(fd >= 0, std::memory_order_relaxed);
}

bool Log::access_log_enabled() noexcept { return g_access_on.load(std::memory_order_relaxed); }

void Log::access(std::string_view line) {
  auto& s = log_state();
  std::lock_guard lock(s.mu);
  if (s.access_fd < 0) return;
  s.access_buffer.append(line);
  // stderr is for watching: unbuffered. Files are written in blocks of whole lines.
  if (s.access_fd == 2 || s.access_buffer.size() >= 16 * 1024) {
    write_all(s.access_fd, s.access_buffer);
    s.access_buffer.clear();
  }
}

void Log::flush() {
  auto& s = log_state();
  std::lock_guard lock(s.mu);
  if (s.access_fd >= 0 && !s.access_buffer.empty()) {
    write_all(s.access_fd, s.access_buffer);
    s.access_buffer.clear();
  }
}

std::string startup_line(const ServerConfig& config, std::string_view engine, int workers,
                         const std::vector<std::string>& addresses) {
  std::string line = "grove ";
  line += grove::version();
  line += " HTTP server: engine ";
  line += engine;
  line += ", ";
  line += std::to_string(workers);
  line += workers == 1 ? " worker" : " workers (pre-forked processes)";
  line += ", compat ";
  line += config.compat ? "on" : "off";
  line += ", listening on ";
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    if (i) line += ", ";
    // "https://..." (a TLS listener) and "unix:..." say their scheme already.
    bool has_scheme = addresses[i].rfind("unix:", 0) == 0 || addresses[i].rfind("https://", 0) == 0;
    if (!has_scheme) line += "http://";
    line += addresses[i];
  }
  return line;
}

namespace detail {

// --- dates -----------------------------------------------------------------------------------

namespace {
constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void put2(char* p, int v) {
  p[0] = char('0' + v / 10);
  p[1] = char('0' + v % 10);
}
}  // namespace

std::string_view http_date() {
  thread_local std::time_t cached = -1;
  thread_local char buf[32];
  std::time_t now = std::time(nullptr);
  if (now != cached) {
    std::tm tm;
    ::gmtime_r(&now, &tm);
    // IMF-fixdate (RFC 9110 §5.6.7), built by hand: strftime's names follow the locale.
    std::memcpy(buf, kDays[tm.tm_wday], 3);
    buf[3] = ',';
    buf[4] = ' ';
    put2(buf + 5, tm.tm_mday);
    buf[7] = ' ';
    std::memcpy(buf + 8, kMonths[tm.tm_mon], 3);
    buf[11] = ' ';
    int year = tm.tm_year + 1900;
    put2(buf + 12, year / 100);
    put2(buf + 14, year % 100);
    buf[16] = ' ';
    put2(buf + 17, tm.tm_hour);
    buf[19] = ':';
    put2(buf + 20, tm.tm_min);
    buf[22] = ':';
    put2(buf + 23, tm.tm_sec);
    std::memcpy(buf + 25, " GMT", 4);
    cached = now;
  }
  return {buf, 29};
}

std::string_view log_date() {
  thread_local std::time_t cached = -1;
  thread_local char buf[40];
  thread_local std::size_t len = 0;
  std::time_t now = std::time(nullptr);
  if (now != cached) {
    std::tm tm;
    ::localtime_r(&now, &tm);
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    if (off < 0) off = -off;
    int n = std::snprintf(buf, sizeof buf, "%02d/%s/%04d:%02d:%02d:%02d %c%02ld%02ld", tm.tm_mday,
                          kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
                          sign, off / 60, off % 60);
    len = n > 0 ? std::size_t(n) : 0;
    cached = now;
  }
  return {buf, len};
}

std::string describe_current_exception() {
  try {
    throw;
  } catch (const green::Timeout& t) {  // not a std::exception, but it says what expired
    return grove::describe_current_exception() + ": " + t.what();
  } catch (...) {
    return grove::describe_current_exception();
  }
}

// --- addresses -------------------------------------------------------------------------------

BindSpec parse_bind(std::string_view spec) {
  BindSpec b;
  auto bad = [&](const char* why) {
    return std::invalid_argument("invalid bind address '" + std::string(spec) + "': " + why +
                                 " (use host:port, [ipv6]:port or unix:/path)");
  };
  if (spec.rfind("unix:", 0) == 0) {
    b.is_unix = true;
    b.path = spec.substr(5);
    if (b.path.empty()) throw bad("empty socket path");
    if (b.path.size() >= sizeof(sockaddr_un::sun_path)) throw bad("socket path too long");
    return b;
  }
  std::string_view port;
  if (!spec.empty() && spec[0] == '[') {
    std::size_t close = spec.find(']');
    if (close == spec.npos) throw bad("missing ']'");
    b.host = spec.substr(1, close - 1);
    if (b.host.empty()) throw bad("empty IPv6 address");
    if (close + 1 >= spec.size() || spec[close + 1] != ':') throw bad("missing :port");
    port = spec.substr(close + 2);
    in6_addr a;
    if (::inet_pton(AF_INET6, b.host.c_str(), &a) != 1) throw bad("not an IPv6 address");
  } else {
    std::size_t colon = spec.rfind(':');
    if (colon == spec.npos) throw bad("missing :port");
    b.host = spec.substr(0, colon);
    if (b.host.find(':') != std::string::npos) throw bad("IPv6 addresses go in brackets");
    port = spec.substr(colon + 1);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
    throw bad("the port must be a number from 0 to 65535");
  b.port = std::to_string(value);
  return b;
}

std::string socket_name(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
  char host[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(a->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  if (ss.ss_family == AF_UNIX) {
    auto* a = reinterpret_cast<sockaddr_un*>(&ss);
    std::size_t n =
        len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
    std::string path(a->sun_path, ::strnlen(a->sun_path, n));
    return "unix:" + path;
  }
  return "?";
}

namespace {
[[noreturn]] void throw_errno(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}
}  // namespace

std::vector<Listener> open_listeners(const BindSpec& spec, int backlog, bool reuse_port) {
  std::vector<Listener> out;
  if (spec.is_unix) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw_errno(errno, "socket(AF_UNIX)");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, spec.path.data(), spec.path.size());
    // A socket file left by a previous run is replaced; anything else is an error.
    struct stat st;
    if (::lstat(spec.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(spec.path.c_str());
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      int err = errno;
      ::close(fd);
      throw_errno(err, "cannot bind unix:" + spec.path);
    }
    if (::listen(fd, backlog) != 0) {
      int err = errno;
      ::close(fd);
      throw_errno(err, "cannot listen on unix:" + spec.path);
    }
    Listener l;
    l.fd = fd;
    l.name = "unix:" + spec.path;
    l.unix_path = spec.path;
    out.push_back(std::move(l));
    return out;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const char* host = spec.host.empty() ? nullptr : spec.host.c_str();
  if (!host) hints.ai_family = AF_INET;  // ":port" means every IPv4 interface
  int rc = ::getaddrinfo(host, spec.port.c_str(), &hints, &res);
  if (rc != 0)
    throw std::system_error(EADDRNOTAVAIL, std::generic_category(),
                            "cannot resolve " + spec.host + ": " + ::gai_strerror(rc));
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, ::freeaddrinfo);
  std::string shown =
      (spec.host.find(':') != std::string::npos ? "[" + spec.host + "]" : spec.host) + ":" +
      spec.port;
  try {
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
      int fd =
          ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
      if (fd < 0) throw_errno(errno, "socket() for " + shown);
      int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (reuse_port) ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
      if (ai->ai_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
      if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        int err = errno;
        ::close(fd);
        throw_errno(err, "cannot bind " + shown);
      }
      if (::listen(fd, backlog) != 0) {
        int err = errno;
        ::close(fd);
        throw_errno(err, "cannot listen on " + shown);
      }
      Listener l;
      l.fd = fd;
      l.name = socket_name(fd);
      out.push_back(std::move(l));
    }
  } catch (...) {
    for (auto& l : out) ::close(l.fd);
    throw;
  }
  return out;
}

}  // namespace detail
}  // namespace grove::http
