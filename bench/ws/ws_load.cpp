// grove-wsload: a closed-loop WebSocket echo load client (one thread, epoll), for
// bench/run_ws.sh. N connections each send a 32-byte masked text message, wait for its
// echo, and send the next: echoes per second and the round-trip latency percentiles. The
// same client drives every server, so its own cost is the same on each side.
//
//   grove-wsload --port P [--path /ws/echo] [--connections 100] [--duration 5] [--size 32]
//
// Prints one JSON line: {"connections", "seconds", "messages", "per_second", "p50_ms",
// "p99_ms", "errors"}. Connections are all opened and upgraded before the clock starts.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int port = 0;
  std::string path = "/ws/echo";
  int connections = 100;
  double duration = 5;
  std::size_t size = 32;
};

struct Conn {
  int fd = -1;
  std::string in;
  Clock::time_point sent;
  bool upgraded = false;
  bool dead = false;
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "grove-wsload: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

// A masked text frame of `payload` (the mask is fixed: the server must unmask either way).
std::string client_frame(const std::string& payload) {
  std::string f;
  f.push_back(char(0x81));
  const unsigned char key[4] = {0x12, 0x34, 0x56, 0x78};
  if (payload.size() < 126) {
    f.push_back(char(0x80 | payload.size()));
  } else {
    f.push_back(char(0x80 | 126));
    f.push_back(char(payload.size() >> 8));
    f.push_back(char(payload.size() & 0xff));
  }
  f.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < payload.size(); ++i) f.push_back(char(payload[i] ^ key[i % 4]));
  return f;
}

// Bytes of the first complete unmasked server frame in `in`, or 0 if incomplete.
std::size_t frame_size(const std::string& in) {
  if (in.size() < 2) return 0;
  std::size_t len = std::uint8_t(in[1]) & 0x7f, head = 2;
  if (len == 126) {
    if (in.size() < 4) return 0;
    len = (std::size_t(std::uint8_t(in[2])) << 8) | std::uint8_t(in[3]);
    head = 4;
  } else if (len == 127) {
    return in.size() + 1;  // never for 32-byte echoes: counted as an error by the caller
  }
  return in.size() >= head + len ? head + len : 0;
}

void write_all(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die("send");
    done += std::size_t(n);
  }
}

int open_upgraded(const Options& o) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(std::uint16_t(o.port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("connect");
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  write_all(fd, "GET " + o.path +
                    " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n");
  std::string head;
  char c;
  while (head.find("\r\n\r\n") == std::string::npos) {
    if (::recv(fd, &c, 1, 0) != 1) die("reading the 101");
    head.push_back(c);
  }
  if (head.rfind("HTTP/1.1 101", 0) != 0) {
    errno = EPROTO;
    die("no 101 from the server: " + head.substr(0, head.find('\r')));
  }
  return fd;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--port") o.port = std::atoi(v.c_str());
    else if (k == "--path") o.path = v;
    else if (k == "--connections") o.connections = std::atoi(v.c_str());
    else if (k == "--duration") o.duration = std::atof(v.c_str());
    else if (k == "--size") o.size = std::size_t(std::atol(v.c_str()));
    else {
      std::fprintf(stderr, "grove-wsload: unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  if (o.port <= 0) {
    std::fprintf(stderr,
                 "usage: grove-wsload --port P [--path /ws/echo] [--connections N] [--duration S] "
                 "[--size B]\n");
    std::exit(2);
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const std::string frame = client_frame(std::string(o.size, 'x'));
  std::vector<Conn> conns(std::size_t(o.connections));
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  for (std::size_t i = 0; i < conns.size(); ++i) {
    conns[i].fd = open_upgraded(o);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev) != 0) die("epoll_ctl");
  }
  std::vector<double> latencies_ms;
  latencies_ms.reserve(1 << 20);
  std::uint64_t errors = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(o.duration));
  for (auto& c : conns) {
    c.sent = Clock::now();
    write_all(c.fd, frame);
  }
  std::vector<epoll_event> events(1024);
  char buf[16384];
  while (Clock::now() < end) {
    int n = ::epoll_wait(ep, events.data(), int(events.size()), 100);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("epoll_wait");
    for (int k = 0; k < n; ++k) {
      Conn& c = conns[events[std::size_t(k)].data.u64];
      if (c.dead) continue;
      ssize_t got = ::recv(c.fd, buf, sizeof buf, 0);
      if (got <= 0) {
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        ++errors;
        c.dead = true;
        ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
        continue;
      }
      c.in.append(buf, std::size_t(got));
      while (std::size_t f = frame_size(c.in)) {
        if (f > c.in.size()) {
          ++errors;
          c.dead = true;
          break;
        }
        c.in.erase(0, f);
        auto now = Clock::now();
        latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - c.sent).count());
        c.sent = now;
        write_all(c.fd, frame);
      }
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto pct = [&](double p) {
    return latencies_ms.empty()
               ? 0.0
               : latencies_ms[std::min(latencies_ms.size() - 1,
                                       std::size_t(p * double(latencies_ms.size())))];
  };
  std::printf(
      "{\"connections\": %d, \"seconds\": %.3f, \"messages\": %zu, \"per_second\": %.1f, "
      "\"p50_ms\": %.3f, \"p99_ms\": %.3f, \"errors\": %llu}\n",
      o.connections, seconds, latencies_ms.size(), double(latencies_ms.size()) / seconds, pct(0.50),
      pct(0.99), static_cast<unsigned long long>(errors));
  for (auto& c : conns) ::close(c.fd);
  return 0;
}
