// Helpers shared by the compat tests.
#pragma once

#include <grove/compat.hpp>
#include <grove/green.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace grove::test {

using namespace std::chrono_literals;
namespace compat = grove::compat;
namespace green = grove::green;
using SteadyClock = std::chrono::steady_clock;

inline double ms_since(SteadyClock::time_point t) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t).count();
}

// Runs fn in a green thread and returns its value; the main context waits on the hub.
template <class F>
auto in_green(F&& fn) {
  return green::spawn(std::forward<F>(fn)).join();
}

// Two connected sockets, closed on scope exit (blocking unless asked otherwise).
struct Pair {
  int a = -1, b = -1;
  explicit Pair(int type = SOCK_STREAM, int domain = AF_UNIX) {
    int sv[2];
    REQUIRE(::socketpair(domain, type | SOCK_CLOEXEC, 0, sv) == 0);
    a = sv[0];
    b = sv[1];
  }
  Pair(const Pair&) = delete;
  ~Pair() {
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
  }
};

struct Pipe {
  int r = -1, w = -1;
  explicit Pipe(int flags = 0) {
    int p[2];
    REQUIRE(::pipe2(p, flags | O_CLOEXEC) == 0);
    r = p[0];
    w = p[1];
  }
  Pipe(const Pipe&) = delete;
  ~Pipe() {
    if (r >= 0) ::close(r);
    if (w >= 0) ::close(w);
  }
};

// A TCP listener on 127.0.0.1 with an ephemeral port.
struct Listener {
  int fd = -1;
  int port = 0;
  explicit Listener(int backlog = 128) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, backlog) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
  }
  Listener(const Listener&) = delete;
  ~Listener() {
    if (fd >= 0) ::close(fd);
  }
  sockaddr_in address() const {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(std::uint16_t(port));
    return a;
  }
};

// A green thread that counts 1 ms ticks until stopped, and records the longest gap: the
// evidence that the hub was not blocked.
class Ticker {
 public:
  Ticker() {
    handle_ = green::spawn(green::SpawnOptions{"ticker"}, [this] {
      auto last = SteadyClock::now();
      while (!stop_) {
        green::sleep(1ms);
        auto now = SteadyClock::now();
        double gap = std::chrono::duration<double, std::milli>(now - last).count();
        if (gap > max_gap_) max_gap_ = gap;
        last = now;
        ++ticks_;
      }
    });
  }
  ~Ticker() { stop(); }
  void stop() {
    if (!stopped_) {
      stopped_ = true;
      stop_ = true;
      handle_.join();
    }
  }
  int ticks() const { return ticks_; }
  double max_gap_ms() const { return max_gap_; }

 private:
  green::Handle<void> handle_;
  bool stop_ = false;
  bool stopped_ = false;
  int ticks_ = 0;
  double max_gap_ = 0;
};

// Runs a shell command and returns what it printed (stdout and stderr) and its status.
struct Output {
  std::string text;
  int status = -1;
  bool has(const std::string& s) const { return text.find(s) != std::string::npos; }
};
inline Output run_command(const std::string& cmd) {
  Output out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.text.append(buf, n);
  out.status = ::pclose(p);
  return out;
}

// Runs `fetch` in `n` green threads at once (256 KiB stacks: libcurl and OpenSSL need more
// than the default) and joins them. Returns how many gave `expected` (the other results are
// reported) and how long all of it took, in ms.
struct ConcurrentRun {
  int matched = 0;
  double ms = 0;
};
template <class Fetch>
ConcurrentRun run_concurrently(int n, Fetch fetch, const std::string& expected) {
  std::vector<green::Handle<std::string>> runs;
  auto start = SteadyClock::now();
  for (int i = 0; i < n; ++i)
    runs.push_back(
        green::spawn(green::SpawnOptions{"run-" + std::to_string(i), 256 * 1024}, fetch));
  ConcurrentRun out;
  for (auto& r : runs) {
    std::string result = r.join();
    if (result == expected) ++out.matched;
    else UNSCOPED_INFO(result);
  }
  out.ms = ms_since(start);
  return out;
}

}  // namespace grove::test
