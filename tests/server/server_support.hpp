// Helpers for the server tests: a server on its own thread and hub, blocking loopback
// clients with time limits, HTTP response parsing, and child processes (grove-hello, curl,
// python3, nginx) with captured output.
#pragma once

#include "python.hpp"

#include <grove/green.hpp>
#include <grove/http.hpp>

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace grove::http::test {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

inline double seconds_since(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

// The in-process servers log nothing unless GROVE_TEST_LOG is set: the tests read what
// matters from the responses (a test about the log sets its own level).
inline const bool quiet_logs = [] {
  if (!std::getenv("GROVE_TEST_LOG")) Log::set_level(LogLevel::off);
  return true;
}();

// --- a server on its own OS thread ----------------------------------------------------------

// Runs a Server on a thread of its own (with its own hub, of the engine GROVE_LOOP names).
// The destructor stops it and joins.
class ServerThread {
 public:
  explicit ServerThread(Application app, ServerConfig config = {}) {
    if (config.binds == ServerConfig{}.binds) config.binds = {"127.0.0.1:0"};
    config.handle_signals = false;
    std::promise<void> ready;
    auto ready_f = ready.get_future();
    thread_ = std::thread([this, app = std::move(app), config, &ready]() mutable {
      try {
        server_ = std::make_unique<Server>(std::move(app), config);
        server_->listen();
        server_->start();
        engine_ = green::hub_engine();
      } catch (...) {
        ready.set_exception(std::current_exception());
        return;
      }
      ready.set_value();
      server_->serve_forever();
      stats_ = server_->stats();
      finished_ = true;
    });
    try {
      ready_f.get();
    } catch (...) {
      thread_.join();
      throw;
    }
  }
  ~ServerThread() { stop(1s); }

  Server& server() { return *server_; }
  std::vector<std::string> addresses() const { return server_->addresses(); }
  std::string engine() const { return engine_; }
  // The port of the first TCP address.
  int port() const {
    for (auto& a : server_->addresses()) {
      auto colon = a.rfind(':');
      if (a.rfind("unix:", 0) != 0 && colon != std::string::npos)
        return std::stoi(a.substr(colon + 1));
    }
    return -1;
  }
  // Graceful stop from this thread; waits until the server thread is done.
  void stop(std::optional<grove::Duration> timeout = 5s) {
    if (!thread_.joinable()) return;
    server_->stop_threadsafe(timeout);
    thread_.join();
  }
  bool finished() const { return finished_; }
  // Stats after stop().
  ServerStats final_stats() const { return stats_; }

 private:
  std::thread thread_;
  std::unique_ptr<Server> server_;
  std::string engine_;
  ServerStats stats_;
  std::atomic<bool> finished_{false};
};

// --- blocking clients --------------------------------------------------------------------------

class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Socket& operator=(Socket&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~Socket() { close(); }
  int fd() const { return fd_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  explicit operator bool() const { return fd_ >= 0; }

  // Connects to 127.0.0.1:port (or ::1 with v6); throws after `timeout`.
  static Socket tcp(int port, bool v6 = false) {
    // No assertions here: client threads use it too, and Catch's are not thread-safe.
    int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    Socket s(fd);
    int rc;
    if (v6) {
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(std::uint16_t(port));
      a.sin6_addr = in6addr_loopback;
      rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(std::uint16_t(port));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    if (rc != 0) throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return s;
  }
  static Socket unix_socket(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    Socket s(fd);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error(std::string("connect unix: ") + std::strerror(errno));
    return s;
  }

  void send(std::string_view data) const {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error(std::string("send: ") + std::strerror(errno));
      }
      data.remove_prefix(std::size_t(n));
    }
  }
  // Sends without failing the test if the peer has closed (for attack-style inputs).
  bool try_send(std::string_view data) const {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0) return errno == EINTR ? try_send(data) : false;
      data.remove_prefix(std::size_t(n));
    }
    return true;
  }

  // Waits up to `timeout` for readable data; returns what one recv gives ("" at EOF,
  // nullopt on timeout or a reset).
  std::optional<std::string> recv_some(std::chrono::milliseconds timeout = 5000ms) const {
    pollfd p{fd_, POLLIN, 0};
    int rc = ::poll(&p, 1, int(timeout.count()));
    if (rc <= 0) return std::nullopt;
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0) return std::nullopt;
    return std::string(buf, std::size_t(n));
  }
  // Reads until EOF (or `timeout` in total); `closed` tells whether EOF was seen.
  std::string recv_all(std::chrono::milliseconds timeout = 5000ms, bool* closed = nullptr) const {
    std::string out;
    auto until = SteadyClock::now() + timeout;
    if (closed) *closed = false;
    while (SteadyClock::now() < until) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now());
      auto got = recv_some(std::max(left, 1ms));
      if (!got) {
        // A reset after the response counts as closed too.
        if (closed) {
          pollfd p{fd_, POLLIN, 0};
          if (::poll(&p, 1, 0) > 0) *closed = true;
        }
        break;
      }
      if (got->empty()) {
        if (closed) *closed = true;
        break;
      }
      out += *got;
    }
    return out;
  }
  // Whether the server has closed this connection within `timeout` (EOF or reset).
  bool closed_by_peer(std::chrono::milliseconds timeout = 3000ms) const {
    auto until = SteadyClock::now() + timeout;
    while (SteadyClock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      int rc = ::poll(&p, 1, 50);
      if (rc <= 0) continue;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0) return true;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return true;
    }
    return false;
  }

 private:
  int fd_ = -1;
};

// An HTTP response as a client sees it.
struct HttpResponse {
  int status = 0;
  std::string version;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool chunked = false;
  std::string header(std::string_view name) const {
    for (auto& [k, v] : headers)
      if (iequals(k, name)) return v;
    return {};
  }
  bool has(std::string_view name) const {
    for (auto& [k, v] : headers)
      if (iequals(k, name)) return true;
    return false;
  }
};

// Reads responses from a connection, keeping the bytes that follow one response for the
// next (pipelining).
class ResponseReader {
 public:
  explicit ResponseReader(const Socket& s) : s_(s) {}
  // Reads one response; nullopt if the connection closed or timed out first. For a
  // response to HEAD, pass head=true (no body follows).
  std::optional<HttpResponse> next(bool head = false, std::chrono::milliseconds timeout = 5000ms) {
    auto until = SteadyClock::now() + timeout;
    HttpResponse r;
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!more(until)) return std::nullopt;
    std::string head_text = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    std::istringstream in(head_text);
    std::string line;
    std::getline(in, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto sp1 = line.find(' ');
    auto sp2 = line.find(' ', sp1 + 1);
    r.version = line.substr(0, sp1);
    r.status = std::atoi(line.substr(sp1 + 1, sp2 - sp1 - 1).c_str());
    r.reason = sp2 == std::string::npos ? "" : line.substr(sp2 + 1);
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      auto colon = line.find(':');
      std::string v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      r.headers.emplace_back(line.substr(0, colon), v);
    }
    if (head || r.status == 204 || r.status == 304 || (r.status >= 100 && r.status < 200)) return r;
    if (iequals(r.header("transfer-encoding"), "chunked")) {
      r.chunked = true;
      while (true) {
        std::size_t eol;
        while ((eol = buf_.find("\r\n")) == std::string::npos)
          if (!more(until)) return std::nullopt;
        std::size_t size = std::stoul(buf_.substr(0, eol), nullptr, 16);
        while (buf_.size() < eol + 2 + size + 2)
          if (!more(until)) return std::nullopt;
        r.body += buf_.substr(eol + 2, size);
        buf_.erase(0, eol + 2 + size + 2);
        if (size == 0) break;
      }
      return r;
    }
    if (r.has("content-length")) {
      std::size_t n = std::stoul(r.header("content-length"));
      while (buf_.size() < n)
        if (!more(until)) return std::nullopt;
      r.body = buf_.substr(0, n);
      buf_.erase(0, n);
      return r;
    }
    // Delimited by the close.
    while (more(until)) {
    }
    r.body = std::move(buf_);
    buf_.clear();
    return r;
  }
  const std::string& leftover() const { return buf_; }

 private:
  bool more(SteadyClock::time_point until) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now());
    if (left <= 0ms) return false;
    auto got = s_.recv_some(left);
    if (!got || got->empty()) return false;
    buf_ += *got;
    return true;
  }
  const Socket& s_;
  std::string buf_;
};

// One request on a new connection; the whole response.
inline HttpResponse request(int port, std::string_view raw, bool head = false) {
  Socket s = Socket::tcp(port);
  s.send(raw);
  ResponseReader rr(s);
  auto r = rr.next(head);
  REQUIRE(r);
  return *r;
}

// Like get(), without assertions: nullopt if the connection fails or no response comes.
inline std::optional<HttpResponse> try_get(int port, std::string_view target = "/",
                                           std::chrono::milliseconds timeout = 2000ms) {
  try {
    Socket s = Socket::tcp(port);
    if (!s.try_send("GET " + std::string(target) + " HTTP/1.1\r\nHost: t\r\n\r\n"))
      return std::nullopt;
    ResponseReader rr(s);
    return rr.next(false, timeout);
  } catch (const std::runtime_error&) {
    return std::nullopt;
  }
}

inline HttpResponse get(int port, std::string_view target = "/") {
  return request(port, "GET " + std::string(target) + " HTTP/1.1\r\nHost: t\r\n\r\n");
}

// --- child processes ---------------------------------------------------------------------------

// Runs a shell command; returns its exit status and stdout (stderr into `err` if given).
inline int run_command(const std::string& cmd, std::string* out = nullptr) {
  std::string full = cmd + " 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  std::string text;
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  int status = ::pclose(p);
  if (out) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

inline std::string temp_dir() {
  char tmpl[] = "/tmp/grove-http-test-XXXXXX";
  char* d = ::mkdtemp(tmpl);
  REQUIRE(d);
  return d;
}

// A temporary directory, removed with everything in it at the end of the scope.
struct TempDir {
  std::string path = temp_dir();
  ~TempDir() { run_command("rm -rf '" + path + "'"); }
};

inline std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A child process with stdout and stderr in a file; killed (SIGKILL) on destruction if
// still running.
class Child {
 public:
  Child() = default;
  // argv[0] is the program path. `setup` runs in the child before exec (e.g. setrlimit).
  Child(std::vector<std::string> argv, std::string log_path, std::function<void()> setup = nullptr,
        std::map<std::string, std::string> env = {})
      : log_(std::move(log_path)) {
    // Created empty here, before the fork, so that no earlier content is ever read as this
    // child's.
    ::close(::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      int fd = ::open(log_.c_str(), O_WRONLY | O_APPEND);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      if (fd > 2) ::close(fd);
      for (auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
      // Children of the test start with default signal handling and an empty mask.
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      if (setup) setup();
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      std::perror("execv");
      ::_exit(127);
    }
  }
  Child(Child&& o) noexcept : pid_(o.pid_), log_(std::move(o.log_)), status_(o.status_) {
    o.pid_ = -1;
  }
  ~Child() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  std::string log() const { return read_file(log_); }
  void signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  // Waits for the process to exit; returns its exit status (128+signal), or -1 on timeout.
  int wait(std::chrono::milliseconds timeout = 10000ms) {
    if (exited_) return status_;
    auto until = SteadyClock::now() + timeout;
    while (SteadyClock::now() < until) {
      int st = 0;
      pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return status_;
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }
  bool running() {
    if (exited_) return false;
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return false;
    }
    return true;
  }
  // Waits until the log contains `text`; returns the log (empty on timeout or exit).
  std::string wait_for_log(std::string_view text, std::chrono::milliseconds timeout = 10000ms) {
    auto until = SteadyClock::now() + timeout;
    while (SteadyClock::now() < until) {
      std::string l = log();
      if (l.find(text) != std::string::npos) return l;
      if (!running()) return {};
      std::this_thread::sleep_for(10ms);
    }
    return {};
  }

 private:
  pid_t pid_ = -1;
  std::string log_;
  bool exited_ = false;
  int status_ = -1;
};

// How many times `what` occurs in `text`.
inline std::size_t count_of(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Waits until `text` shows `n` times in the child's log; returns the log (empty on timeout).
inline std::string wait_for_count(Child& child, std::string_view text, std::size_t n,
                                  std::chrono::milliseconds timeout = 15000ms) {
  auto until = SteadyClock::now() + timeout;
  while (SteadyClock::now() < until) {
    std::string log = child.log();
    if (count_of(log, text) >= n) return log;
    std::this_thread::sleep_for(10ms);
  }
  return {};
}

// The first "http://host:port" in a startup line.
inline int port_from_log(const std::string& log) {
  auto at = log.find("http://");
  if (at == std::string::npos) return -1;
  auto end = log.find_first_of(", \n", at + 7);
  std::string addr = log.substr(at + 7, end - at - 7);
  return std::stoi(addr.substr(addr.rfind(':') + 1));
}

// grove-hello, started with `args` and --bind 127.0.0.1:0; waits for its startup line.
inline Child start_hello(const std::string& dir, std::vector<std::string> args = {},
                         std::function<void()> setup = nullptr, int* port = nullptr,
                         const std::string& log_name = "hello.log") {
  std::vector<std::string> argv{GROVE_HELLO_PATH};
  bool has_bind = false;
  for (auto& a : args) has_bind |= a == "--bind";
  if (!has_bind) {
    argv.push_back("--bind");
    argv.push_back("127.0.0.1:0");
  }
  for (auto& a : args) argv.push_back(a);
  Child c(argv, dir + "/" + log_name, std::move(setup));
  std::string log = c.wait_for_log("listening on");
  INFO(c.log());
  REQUIRE(!log.empty());
  if (port) *port = port_from_log(log);
  return c;
}

using grove::test::python3;

}  // namespace grove::http::test
