// grove-wsload --mode broadcast: one message to every connection of a room. Opens N
// connections to a broadcast path (every message a client sends goes to all members,
// the sender included), then the first connection sends:
//   - `rounds` single messages, each sent when every client has the previous one: the time
//     until the last client has it (first round, median, worst);
//   - then a burst of `burst` messages back to back: deliveries per second (N x burst over
//     the time until every client has all of them).
// With --pids it also reports the server's VmRSS growth over the N upgraded connections
// (members that have received nothing yet).
#include "ws_load.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace wsload {

namespace {

using Clock = std::chrono::steady_clock;

struct Member {
  int fd = -1;
  std::string in;
  long received = 0;
  bool dead = false;
};

class Room {
 public:
  explicit Room(std::vector<Member>& m) : members_(m) {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) die("epoll_create1");
    for (std::size_t i = 0; i < members_.size(); ++i) {
      ::fcntl(members_[i].fd, F_SETFL, ::fcntl(members_[i].fd, F_GETFL) | O_NONBLOCK);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      if (::epoll_ctl(ep_, EPOLL_CTL_ADD, members_[i].fd, &ev) != 0) die("epoll_ctl");
      count_frames(members_[i]);  // anything that came with the 101
    }
  }
  ~Room() { ::close(ep_); }

  // Waits until every live member has received `target` messages or `deadline`; returns
  // how many members are still short.
  std::size_t wait_all(long target, Clock::time_point deadline) {
    std::vector<epoll_event> events(1024);
    for (;;) {
      std::size_t short_of = 0;
      for (auto& m : members_) short_of += !m.dead && m.received < target;
      // Cheap enough: N is 10k and a wake-up delivers many frames at once.
      if (short_of == 0 || Clock::now() >= deadline) return short_of;
      int n = ::epoll_wait(ep_, events.data(), int(events.size()), 50);
      if (n < 0 && errno != EINTR) die("epoll_wait");
      for (int k = 0; k < n; ++k) drain(members_[events[std::size_t(k)].data.u64]);
    }
  }

  std::size_t dead() const {
    std::size_t d = 0;
    for (auto& m : members_) d += m.dead;
    return d;
  }

 private:
  void drain(Member& m) {
    char buf[16384];
    for (;;) {
      ssize_t got = ::recv(m.fd, buf, sizeof buf, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0 && errno == EAGAIN) break;
      if (got <= 0) {
        m.dead = true;
        ::epoll_ctl(ep_, EPOLL_CTL_DEL, m.fd, nullptr);
        return;
      }
      m.in.append(buf, std::size_t(got));
    }
    count_frames(m);
  }

  static void count_frames(Member& m) {
    while (std::size_t f = frame_size(m.in)) {
      if (f > m.in.size()) {
        m.dead = true;
        return;
      }
      m.received += is_data_frame(m.in);
      m.in.erase(0, f);
    }
  }

  std::vector<Member>& members_;
  int ep_ = -1;
};

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

}  // namespace

int run_broadcast(const Options& o) {
  const std::string frame = client_frame(std::string(o.size, 'x'));
  const std::vector<int> pids = parse_pids(o.pids);
  const long before = rss_kib(pids);
  std::vector<Member> members(std::size_t(o.connections));
  const auto connect_start = Clock::now();
  for (auto& m : members) {
    Upgraded u = open_upgraded(o.target);
    m.fd = u.fd;
    m.in = std::move(u.rest);
  }
  const double connect_s = ms_since(connect_start) / 1000;
  // Lets the server finish joining the last ones to the room before anything is sent.
  std::this_thread::sleep_for(std::chrono::duration<double>(o.settle));
  const long after = rss_kib(pids);
  Room room(members);
  const auto limit =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.timeout));
  std::vector<double> rounds_ms;
  std::size_t missing = 0;
  long target = 0;
  for (int r = 0; r < o.rounds && missing == 0; ++r) {
    const auto t0 = Clock::now();
    write_all(members[0].fd, frame);
    missing = room.wait_all(++target, t0 + limit);
    rounds_ms.push_back(ms_since(t0));
  }
  double burst_s = 0;
  if (missing == 0 && o.burst > 0) {
    const auto t0 = Clock::now();
    std::string frames;
    for (int i = 0; i < o.burst; ++i) frames += frame;
    write_all(members[0].fd, frames);
    target += o.burst;
    missing = room.wait_all(target, t0 + limit);
    burst_s = ms_since(t0) / 1000;
  }
  const double first = rounds_ms.empty() ? 0 : rounds_ms.front();
  const double worst =
      rounds_ms.empty() ? 0 : *std::max_element(rounds_ms.begin(), rounds_ms.end());
  std::vector<double> sorted = rounds_ms;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted.empty() ? 0 : sorted[sorted.size() / 2];
  const double per_second =
      burst_s > 0 && missing == 0 ? double(o.connections) * o.burst / burst_s : 0;
  std::printf(
      "{\"connections\": %d, \"connect_seconds\": %.2f, \"rounds\": %zu, \"first_ms\": %.2f, "
      "\"median_ms\": %.2f, \"max_ms\": %.2f, \"burst\": %d, \"burst_seconds\": %.3f, "
      "\"deliveries_per_second\": %.0f, \"missing\": %zu, \"dead\": %zu, \"rss_before_kib\": %ld, "
      "\"rss_after_kib\": %ld, \"per_connection_bytes\": %.0f}\n",
      o.connections, connect_s, rounds_ms.size(), first, median, worst, o.burst, burst_s,
      per_second, missing, room.dead(), before, after,
      double(after - before) * 1024.0 / double(std::max(1, o.connections)));
  for (auto& m : members) ::close(m.fd);
  return 0;
}

}  // namespace wsload
