// Graceful stop under load, end to end: grove-hello as a child process (one process, and
// --workers 2), client threads sending at a steady rate, SIGTERM in the middle. Every
// request is classified from the client's side:
//   answered - a complete, correct response;
//   refused  - never accepted: connect() refused (the listener is closed), or the server
//              closed the connection (an orderly EOF, no response byte) before reading the
//              request, i.e. an idle keep-alive connection closed by the stop;
//   reset    - ECONNRESET/EPIPE before the complete response: must never happen;
//   broken   - a wrong or truncated response, or no answer in time: must never happen.
// Every request whose send completed before kill() was called is already in the server's
// socket buffers, so it must be answered (not refused). bench/run_stop.sh measures the same
// at a higher rate with bench/http/loadgen.cpp.
#include "server_support.hpp"

#include <mutex>

using namespace grove::http;
using namespace grove::http::test;

namespace {

enum class Result { answered, refused, reset, broken };

struct Counts {
  std::atomic<int> sent{0}, answered{0}, refused_connect{0}, refused_closed{0}, reset{0}, broken{0};
  std::atomic<int> sent_before_signal{0}, answered_before_signal{0};
  std::mutex mu;
  std::vector<std::string> problems;  // the first few resets and broken responses
  void problem(std::string what) {
    std::lock_guard lock(mu);
    if (problems.size() < 10) problems.push_back(std::move(what));
  }
};

// Connects without throwing: the fd, or -errno.
int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(std::uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    int e = errno;
    ::close(fd);
    return -e;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Whether the server has already closed this idle connection (an EOF is waiting).
bool peer_closed(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  char b;
  ssize_t n = ::recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

// Reads one response (grove-hello always sends Content-Length). `close` tells whether the
// response said Connection: close.
Result read_response(int fd, const std::string& want_body, bool& close, std::string& why) {
  std::string buf;
  auto until = SteadyClock::now() + 5s;
  std::size_t need = std::string::npos;
  while (true) {
    if (need == std::string::npos) {
      auto end = buf.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::string head = buf.substr(0, end + 2);
        for (char& ch : head) ch = char(std::tolower(static_cast<unsigned char>(ch)));
        auto cl = head.find("\r\ncontent-length:");
        if (head.rfind("http/1.1 200 ", 0) != 0 || cl == std::string::npos) {
          why = "unexpected head: " + buf.substr(0, end);
          return Result::broken;
        }
        need = end + 4 + std::stoul(head.substr(cl + 17));
        close = head.find("\r\nconnection: close\r\n") != std::string::npos;
      }
    }
    if (need != std::string::npos && buf.size() >= need) {
      if (buf.size() > need || buf.substr(need - want_body.size()) != want_body) {
        why = "unexpected body: " + buf.substr(0, 200);
        return Result::broken;
      }
      return Result::answered;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now());
    pollfd p{fd, POLLIN, 0};
    if (left <= 0ms || ::poll(&p, 1, int(left.count())) <= 0) {
      why = "no response within 5 s";
      return Result::broken;
    }
    char tmp[4096];
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n > 0) {
      buf.append(tmp, std::size_t(n));
      continue;
    }
    if (n == 0) {
      if (buf.empty()) return Result::refused;  // closed before the request was read
      why = "truncated response (" + std::to_string(buf.size()) + " bytes)";
      return Result::broken;
    }
    if (errno == EINTR) continue;
    why = std::string("recv: ") + std::strerror(errno) + " after " + std::to_string(buf.size()) +
          " bytes";
    return errno == ECONNRESET || errno == EPIPE ? Result::reset : Result::broken;
  }
}

struct LoadResult {
  int exit_status = -1;
  double exit_seconds = 0;
  int in_flight_at_signal = 0;
  std::string log;
};

// grove-hello with `args`; `clients` threads at a steady pace each (half of them on
// /sleep?ms=20, so that requests are in flight at any moment, half on /), SIGTERM after
// `before` of load; the clients carry on until they are refused twice after the stop (or a
// bound in time).
LoadResult stop_under_load(Counts& n, std::vector<std::string> args) {
  TempDir dir;
  int port = -1;
  args.insert(args.end(), {"--log-level", "info"});
  Child server = start_hello(dir.path, args, nullptr, &port);
  constexpr int kClients = 12;
  const auto before = 1000ms;
  std::atomic<bool> signalled{false};
  std::atomic<int> in_flight{0};
  std::vector<std::thread> clients;
  const auto t0 = SteadyClock::now();
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      const bool slow = c % 2 == 0;
      const std::string path = slow ? "/sleep?ms=20" : "/";
      const std::string want = slow ? "ok" : "Hello, World!";
      const std::string request = "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n";
      const auto interval = slow ? 25ms : 4ms;  // about 40 + 250 requests/s per pair
      auto next = t0 + std::chrono::milliseconds(c);
      int fd = -1, refusals_after_stop = 0;
      while (seconds_since(t0) < 6.0 && refusals_after_stop < 2) {
        std::this_thread::sleep_until(next);
        next = std::max(next + interval, SteadyClock::now());
        if (fd >= 0 && peer_closed(fd)) {  // closed while idle: reconnect, nothing was sent
          ::close(fd);
          fd = -1;
        }
        if (fd < 0) {
          fd = connect_to(port);
          if (fd < 0) {
            ++n.sent;
            ++n.refused_connect;
            if (signalled) ++refusals_after_stop;
            continue;
          }
        }
        bool sent = true;
        for (std::string_view d = request; !d.empty();) {
          ssize_t k = ::send(fd, d.data(), d.size(), MSG_NOSIGNAL);
          if (k < 0 && errno == EINTR) continue;
          if (k < 0) {
            sent = false;
            break;
          }
          d.remove_prefix(std::size_t(k));
        }
        ++in_flight;
        // Read after the send: false means the request was in the server's buffers before
        // kill() was called.
        const bool before_signal = !signalled;
        ++n.sent;
        if (before_signal) ++n.sent_before_signal;
        bool close = false;
        std::string why;
        Result r = sent ? read_response(fd, want, close, why) : Result::reset;
        if (!sent) why = std::string("send: ") + std::strerror(errno);
        --in_flight;
        switch (r) {
          case Result::answered:
            ++n.answered;
            if (before_signal) ++n.answered_before_signal;
            break;
          case Result::refused:
            ++n.refused_closed;
            close = true;
            if (signalled) ++refusals_after_stop;
            break;
          case Result::reset:
            ++n.reset;
            close = true;
            n.problem("reset on " + path + (before_signal ? " (sent before the signal): " : ": ") +
                      why);
            break;
          case Result::broken:
            ++n.broken;
            close = true;
            n.problem("broken response on " + path + ": " + why);
            break;
        }
        if (close) {
          ::close(fd);
          fd = -1;
        }
      }
      if (fd >= 0) ::close(fd);
    });
  }
  std::this_thread::sleep_until(t0 + before);
  LoadResult out;
  out.in_flight_at_signal = in_flight.load();
  signalled = true;
  auto t_signal = SteadyClock::now();
  server.signal(SIGTERM);
  out.exit_status = server.wait(15000ms);
  out.exit_seconds = seconds_since(t_signal);
  for (auto& t : clients) t.join();
  out.log = server.log();
  return out;
}

void check(Counts& n, const LoadResult& r) {
  INFO("sent " << n.sent << ", answered " << n.answered << ", refused at connect "
               << n.refused_connect << ", closed before read " << n.refused_closed << ", reset "
               << n.reset << ", broken " << n.broken << "; sent before the signal "
               << n.sent_before_signal << ", of them answered " << n.answered_before_signal
               << "; in flight at the signal " << r.in_flight_at_signal << "; exit "
               << r.exit_status << " after " << r.exit_seconds << " s");
  for (auto& p : n.problems) INFO(p);
  INFO(r.log);
  CHECK(r.exit_status == 0);
  CHECK(r.exit_seconds < 3.0);
  CHECK(r.log.find("stopping gracefully") != std::string::npos);
  CHECK(n.reset == 0);
  CHECK(n.broken == 0);
  // Every request is accounted for.
  CHECK(n.sent == n.answered + n.refused_connect + n.refused_closed + n.reset + n.broken);
  // Every request already in the server's buffers when the signal was sent is answered.
  CHECK(n.answered_before_signal == n.sent_before_signal);
  CHECK(n.sent_before_signal > 100);
  // The load reached the stop: requests were in flight, and after it connections were refused.
  CHECK(r.in_flight_at_signal > 0);
  CHECK(n.refused_connect > 0);
}

}  // namespace

TEST_CASE(
    "graceful stop under steady load with SIGTERM to grove-hello: every request answered or "
    "refused and none reset") {
  Counts n;
  LoadResult r = stop_under_load(n, {});
  check(n, r);
}

TEST_CASE(
    "graceful stop under steady load with SIGTERM to grove-hello with 2 workers: every request "
    "answered or refused and none reset") {
  Counts n;
  LoadResult r = stop_under_load(n, {"--workers", "2"});
  check(n, r);
}
