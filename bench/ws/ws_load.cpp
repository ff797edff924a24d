// grove-wsload: the WebSocket load client of bench/run_ws.sh (one thread, epoll). The same
// client drives every server, so its own cost is the same on each side.
//
//   grove-wsload --port P [--path /ws/echo] [--connections 100] [--duration 5] [--size 32]
//   grove-wsload --mode idle --port P --pids PID[,PID] [--connections 10000] [--deflate 1]
//   grove-wsload --mode broadcast --port P --path /ws/chat/bench --connections 10000
//                [--pids PID] [--rounds 10] [--burst 10]
//
// echo (this file): closed loop, N connections each send a 32-byte masked text message,
// wait for its echo, and send the next: echoes per second and the round-trip latency
// percentiles. Connections are all opened and upgraded before the clock starts.
// idle (ws_idle.cpp) and broadcast (ws_broadcast.cpp) say what they measure.
// Each prints one JSON line, echo: {"connections", "seconds", "messages", "per_second",
// "p50_ms", "p99_ms", "errors"}.
#include "ws_load.hpp"

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

using wsload::Options;

namespace {

using Clock = std::chrono::steady_clock;

struct Conn {
  int fd = -1;
  std::string in;
  Clock::time_point sent;
  bool dead = false;
};

const char* const kUsage =
    "usage: grove-wsload --port P [--mode echo|idle|broadcast] [--path /ws/echo]\n"
    "       [--connections N] [--duration S] [--size B] [--deflate 0|1] [--pids PID,...]\n"
    "       [--settle S] [--rounds R] [--burst B] [--timeout S]\n";

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--port") o.target.port = std::atoi(v.c_str());
    else if (k == "--mode") o.mode = v;
    else if (k == "--path") o.target.path = v;
    else if (k == "--deflate") o.target.deflate = v == "1";
    else if (k == "--connections") o.connections = std::atoi(v.c_str());
    else if (k == "--duration") o.duration = std::atof(v.c_str());
    else if (k == "--size") o.size = std::size_t(std::atol(v.c_str()));
    else if (k == "--pids") o.pids = v;
    else if (k == "--settle") o.settle = std::atof(v.c_str());
    else if (k == "--rounds") o.rounds = std::atoi(v.c_str());
    else if (k == "--burst") o.burst = std::atoi(v.c_str());
    else if (k == "--timeout") o.timeout = std::atof(v.c_str());
    else {
      std::fprintf(stderr, "grove-wsload: unknown option %s\n%s", k.c_str(), kUsage);
      std::exit(2);
    }
  }
  if (o.target.port <= 0 || o.connections <= 0 ||
      (o.mode != "echo" && o.mode != "idle" && o.mode != "broadcast")) {
    std::fprintf(stderr, "%s", kUsage);
    std::exit(2);
  }
  return o;
}

}  // namespace

namespace wsload {

int run_echo(const Options& o) {
  const std::string frame = client_frame(std::string(o.size, 'x'));
  std::vector<Conn> conns(std::size_t(o.connections));
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  for (std::size_t i = 0; i < conns.size(); ++i) {
    conns[i].fd = open_upgraded(o.target).fd;
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
        const bool data = is_data_frame(c.in);
        c.in.erase(0, f);
        if (!data) continue;
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

}  // namespace wsload

int main(int argc, char** argv) {
  const wsload::Options o = parse(argc, argv);
  if (o.mode == "idle") return wsload::run_idle(o);
  if (o.mode == "broadcast") return wsload::run_broadcast(o);
  return wsload::run_echo(o);
}
