// grove-loadgen: a paced HTTP/1.1 load generator (one thread, epoll), for the graceful-stop
// benchmark (bench/run_stop.sh) and the soak (bench/run_soak.sh). wrk has no fixed rate, and
// wrk2 is not in Debian.
//
// Requests are scheduled at a fixed rate (request i at t0 + i/rate), open loop: each goes
// out on a free keep-alive connection (one request at a time per connection, round robin),
// and a request that finds none free waits for one; its latency is counted from its
// scheduled time, so a stall is not hidden (as in wrk2). Every outcome is counted:
//   answered        a complete response (non-200 statuses are counted apart too);
//   refused_connect connect() refused: the server was not listening;
//   refused_closed  the server closed the connection (orderly EOF, no response byte)
//                   before reading the request: an idle keep-alive connection it closed;
//   reset           ECONNRESET/EPIPE before the complete response;
//   broken          a truncated or unparsable response;
//   timeout         no response within 10 s.
//
//   grove-loadgen --port P [--path /] [--rate 1000] [--duration 10] [--connections 50]
//                 [--requests-per-connection 0] [--report 60] [--watch-pid PID]
//                 [--signal-pid PID --signal-at S [--after 0.3]]
//
// Prints JSON lines: one per --report interval ({"type":"interval", ...}: the interval's
// counts and latency percentiles, and with --watch-pid that process's RSS, open fds and
// threads), one at the signal ({"type":"signal", ...}), one when the signalled process
// has exited ({"type":"exit", ...}) and a final one ({"type":"total", ...}). With
// --signal-pid the run ends --after seconds after that process exits (or at --duration).
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using ns = std::chrono::nanoseconds;

double secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Options {
  int port = 0;
  std::string path = "/";
  double rate = 1000;
  double duration = 10;
  int connections = 50;
  long per_connection = 0;  // 0: keep each connection for the whole run
  double report = 0;        // 0: no interval lines
  pid_t watch_pid = 0;
  pid_t signal_pid = 0;
  double signal_at = -1;
  double after = 0.3;
};

struct Counts {
  std::uint64_t sent = 0, answered = 0, non200 = 0, refused_connect = 0, refused_closed = 0,
                reset = 0, broken = 0, timeout = 0;
  std::uint64_t failed() const {
    return refused_connect + refused_closed + reset + broken + timeout + non200;
  }
};

struct Slot {
  enum class State { closed, connecting, idle, busy } state = State::closed;
  int fd = -1;
  Clock::time_point scheduled;  // of the request it carries
  bool before_signal = false;   // that request was sent before the signal
  long served = 0;              // responses on this connection
  std::string in;
  std::size_t head_end = std::string::npos, need = 0;
  bool close_after = false;
  int status = 0;
};

class Loadgen {
 public:
  explicit Loadgen(Options o) : o_(std::move(o)) {
    request_ =
        "GET " + o_.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: grove-loadgen\r\n\r\n";
    slots_.resize(std::size_t(o_.connections));
    for (std::size_t i = 0; i < slots_.size(); ++i) closed_.push_back(i);
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    addr_.sin_family = AF_INET;
    addr_.sin_port = htons(std::uint16_t(o_.port));
    addr_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }

  int run() {
    if (o_.watch_pid > 0) last_ticks_ = cpu_ticks(o_.watch_pid);
    t0_ = Clock::now();
    const auto period = ns(std::int64_t(1e9 / o_.rate));
    auto send_end = t0_ + ns(std::int64_t(o_.duration * 1e9));
    auto next_due = t0_;
    std::uint64_t index = 0;
    auto next_report =
        o_.report > 0 ? t0_ + ns(std::int64_t(o_.report * 1e9)) : Clock::time_point::max();
    auto next_sweep = t0_ + std::chrono::seconds(1);
    const auto signal_time = o_.signal_pid > 0 && o_.signal_at >= 0
                                 ? t0_ + ns(std::int64_t(o_.signal_at * 1e9))
                                 : Clock::time_point::max();
    Clock::time_point end = Clock::time_point::max();
    std::vector<epoll_event> events(256);
    while (true) {
      auto now = Clock::now();
      if (now >= signal_time && !signalled_) send_signal(now);
      // The schedule: every request due by now joins the queue (at most the duration).
      while (next_due <= now && next_due < send_end) {
        queue_.push_back(next_due);
        ++index;
        next_due = t0_ + period * std::int64_t(index);
      }
      max_queue_ = std::max(max_queue_, queue_.size());
      dispatch(now);
      if (now >= next_report) {
        report_interval(now);
        next_report += ns(std::int64_t(o_.report * 1e9));
      }
      if (now >= next_sweep) {
        sweep(now, 10.0);
        next_sweep = now + std::chrono::seconds(1);
      }
      if (exited_ && end == Clock::time_point::max()) {
        // The last requests go out 0.2 s before the end, so that each gets its outcome.
        end = exit_time_ + ns(std::int64_t(o_.after * 1e9));
        send_end = std::min(send_end, end - std::chrono::milliseconds(200));
      }
      const bool sending_done = next_due >= send_end && queue_.empty();
      if (now >= end || (sending_done && busy() == 0) || now >= send_end + std::chrono::seconds(15))
        break;
      // Sleep until the next due request, report or signal, or an event.
      auto wake = std::min({next_due < send_end ? next_due : send_end + std::chrono::seconds(15),
                            next_report, next_sweep, signal_time, end});
      auto left = std::max<ns>(ns(0), std::chrono::duration_cast<ns>(wake - now));
      timespec ts{time_t(left.count() / 1'000'000'000), long(left.count() % 1'000'000'000)};
      int n = ::epoll_pwait2(ep_, events.data(), int(events.size()), &ts, nullptr);
      if (n < 0 && errno != EINTR) {
        std::perror("epoll_pwait2");
        return 1;
      }
      for (int i = 0; i < n; ++i) on_event(events[std::size_t(i)]);
    }
    auto now = Clock::now();
    sweep(now, 0.0);  // whatever is still outstanding never got an answer
    // What the schedule still held is neither sent nor counted.
    if (o_.report > 0 && now - last_report_ > std::chrono::milliseconds(500)) report_interval(now);
    std::printf(
        "{\"type\":\"total\",\"seconds\":%.3f,\"target_rate\":%.1f,\"sent\":%llu,\"answered\":%llu,"
        "\"non200\":%llu,\"refused_connect\":%llu,\"refused_closed\":%llu,\"reset\":%llu,"
        "\"broken\":%llu,"
        "\"timeout\":%llu,\"sent_before_signal\":%llu,\"answered_before_signal\":%llu,\"reset_"
        "before_signal\":%llu,"
        "\"connections_opened\":%llu,\"max_queue\":%zu}\n",
        secs(now - t0_), o_.rate, ull(total_.sent), ull(total_.answered), ull(total_.non200),
        ull(total_.refused_connect), ull(total_.refused_closed), ull(total_.reset),
        ull(total_.broken), ull(total_.timeout), ull(sent_before_), ull(answered_before_),
        ull(reset_before_), ull(opened_), max_queue_);
    std::fflush(stdout);
    return 0;
  }

 private:
  static unsigned long long ull(std::uint64_t v) { return static_cast<unsigned long long>(v); }

  std::size_t busy() const {
    std::size_t n = 0;
    for (auto& s : slots_) n += s.state == Slot::State::busy || s.state == Slot::State::connecting;
    return n;
  }

  void send_signal(Clock::time_point now) {
    signalled_ = true;
    signal_at_ = now;
    std::size_t in_flight = 0;
    for (auto& s : slots_) in_flight += s.state == Slot::State::busy;
    if (o_.signal_pid > 0) {
      pidfd_ = int(::syscall(SYS_pidfd_open, o_.signal_pid, 0));
      if (pidfd_ >= 0) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = ~std::uint64_t(0);
        ::epoll_ctl(ep_, EPOLL_CTL_ADD, pidfd_, &ev);
      }
      ::kill(o_.signal_pid, SIGTERM);
    }
    std::printf(
        "{\"type\":\"signal\",\"t\":%.3f,\"in_flight\":%zu,\"queued\":%zu,\"sent_so_far\":%llu}\n",
        secs(now - t0_), in_flight, queue_.size(), ull(total_.sent));
    std::fflush(stdout);
  }

  void dispatch(Clock::time_point now) {
    while (!queue_.empty()) {
      if (!idle_.empty()) {
        std::size_t i = idle_.front();
        idle_.pop_front();
        Slot& s = slots_[i];
        if (s.state != Slot::State::idle) continue;  // closed meanwhile
        s.scheduled = queue_.front();
        queue_.pop_front();
        send_request(i);
      } else if (!closed_.empty()) {
        std::size_t i = closed_.front();
        closed_.pop_front();
        if (slots_[i].state != Slot::State::closed) continue;
        slots_[i].scheduled = queue_.front();
        queue_.pop_front();
        open(i, now);
      } else {
        break;
      }
    }
  }

  void add(std::uint64_t Counts::*field) {
    ++(total_.*field);
    ++(interval_.*field);
  }

  void open(std::size_t i, Clock::time_point) {
    Slot& s = slots_[i];
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      std::perror("socket");
      std::exit(1);
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr_), sizeof addr_);
    if (rc != 0 && errno != EINPROGRESS) {
      ::close(fd);
      refuse_connect(i);
      return;
    }
    ++opened_;
    s.fd = fd;
    s.served = 0;
    s.in.clear();
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    ev.data.u64 = i;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    s.state = Slot::State::connecting;
    if (rc == 0) connected(i);
  }

  void refuse_connect(std::size_t i) {
    // The request it was to carry counts as sent and refused: never accepted.
    add(&Counts::sent);
    add(&Counts::refused_connect);
    slots_[i].state = Slot::State::closed;
    closed_.push_back(i);
  }

  void connected(std::size_t i) {
    Slot& s = slots_[i];
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = i;
    ::epoll_ctl(ep_, EPOLL_CTL_MOD, s.fd, &ev);
    send_request(i);
  }

  void send_request(std::size_t i) {
    Slot& s = slots_[i];
    s.state = Slot::State::busy;
    s.in.clear();
    s.head_end = std::string::npos;
    s.before_signal = !signalled_;
    add(&Counts::sent);
    if (s.before_signal) ++sent_before_;
    // A request is a hundred bytes: the socket buffer always takes it whole.
    ssize_t n = ::send(s.fd, request_.data(), request_.size(), MSG_NOSIGNAL);
    if (n != ssize_t(request_.size())) {
      int e = n < 0 ? errno : EIO;
      finish(i, e == ECONNRESET || e == EPIPE ? &Counts::reset : &Counts::broken);
    }
  }

  // The request on slot i is over (answered or not); the connection closes unless kept.
  void finish(std::size_t i, std::uint64_t Counts::*outcome, bool keep = false) {
    Slot& s = slots_[i];
    add(outcome);
    if (outcome == &Counts::answered && s.before_signal) ++answered_before_;
    if (outcome == &Counts::reset && s.before_signal) ++reset_before_;
    if (outcome == &Counts::reset && std::getenv("LOADGEN_DEBUG"))
      std::fprintf(stderr,
                   "reset: slot %zu, %ld earlier responses on the connection, %zu bytes in, %.4f s "
                   "%s the signal\n",
                   i, s.served, s.in.size(), std::abs(secs(Clock::now() - signal_at_)),
                   signalled_ ? "after" : "before");
    if (keep) {
      s.state = Slot::State::idle;
      idle_.push_back(i);
      return;
    }
    close_slot(i);
  }

  void close_slot(std::size_t i) {
    Slot& s = slots_[i];
    if (s.fd >= 0) {
      ::epoll_ctl(ep_, EPOLL_CTL_DEL, s.fd, nullptr);
      ::close(s.fd);
    }
    s.fd = -1;
    s.state = Slot::State::closed;
    closed_.push_back(i);
  }

  void on_event(const epoll_event& ev) {
    if (ev.data.u64 == ~std::uint64_t(0)) {
      exited_ = true;
      exit_time_ = Clock::now();
      ::epoll_ctl(ep_, EPOLL_CTL_DEL, pidfd_, nullptr);
      std::printf("{\"type\":\"exit\",\"t\":%.3f,\"seconds_after_signal\":%.4f}\n",
                  secs(exit_time_ - t0_), secs(exit_time_ - signal_at_));
      std::fflush(stdout);
      return;
    }
    std::size_t i = std::size_t(ev.data.u64);
    Slot& s = slots_[i];
    if (s.fd < 0) return;
    if (s.state == Slot::State::connecting) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        ::epoll_ctl(ep_, EPOLL_CTL_DEL, s.fd, nullptr);
        ::close(s.fd);
        s.fd = -1;
        if (err == ECONNREFUSED) {
          refuse_connect(i);
        } else {
          add(&Counts::sent);
          add(&Counts::broken);
          s.state = Slot::State::closed;
          closed_.push_back(i);
        }
        return;
      }
      if (ev.events & EPOLLOUT) connected(i);
      return;
    }
    char buf[16384];
    while (true) {
      ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
      if (n > 0) {
        if (s.state != Slot::State::busy) continue;  // nothing expected: ignore
        s.in.append(buf, std::size_t(n));
        if (parse(i)) return;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      // EOF or an error.
      int e = n < 0 ? errno : 0;
      if (s.state == Slot::State::busy) {
        if (n == 0) finish(i, s.in.empty() ? &Counts::refused_closed : &Counts::broken);
        else finish(i, e == ECONNRESET || e == EPIPE ? &Counts::reset : &Counts::broken);
      } else {
        close_slot(i);  // an idle connection the server closed: nothing was lost
      }
      return;
    }
  }

  // Whether the response on slot i is complete (then it is finished).
  bool parse(std::size_t i) {
    Slot& s = slots_[i];
    if (s.head_end == std::string::npos) {
      auto end = s.in.find("\r\n\r\n");
      if (end == std::string::npos) return false;
      s.head_end = end;
      std::string head = s.in.substr(0, end + 2);
      for (char& c : head) c = char(std::tolower(static_cast<unsigned char>(c)));
      auto cl = head.find("\r\ncontent-length:");
      if (head.compare(0, 9, "http/1.1 ") != 0 || cl == std::string::npos) {
        finish(i, &Counts::broken);
        return true;
      }
      s.status = std::atoi(head.c_str() + 9);
      s.need = end + 4 + std::strtoull(head.c_str() + cl + 17, nullptr, 10);
      s.close_after = head.find("\r\nconnection: close\r\n") != std::string::npos;
    }
    if (s.in.size() < s.need) return false;
    auto now = Clock::now();
    std::uint32_t us = std::uint32_t(std::min<std::int64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(now - s.scheduled).count(),
        UINT32_MAX));
    latencies_.push_back(us);
    ++s.served;
    if (s.status != 200) add(&Counts::non200);
    bool keep = !s.close_after && s.in.size() == s.need &&
                (o_.per_connection <= 0 || s.served < o_.per_connection);
    finish(i, &Counts::answered, keep);
    return true;
  }

  // Requests outstanding for longer than `limit` seconds get no answer.
  void sweep(Clock::time_point now, double limit) {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      Slot& s = slots_[i];
      if ((s.state == Slot::State::busy || s.state == Slot::State::connecting) &&
          secs(now - s.scheduled) >= limit) {
        if (std::getenv("LOADGEN_DEBUG"))
          std::fprintf(
              stderr,
              "timeout: slot %zu %s, scheduled %.3f s ago, %zu bytes in, before signal %d\n", i,
              s.state == Slot::State::connecting ? "connecting" : "busy", secs(now - s.scheduled),
              s.in.size(), int(s.before_signal));
        if (s.state == Slot::State::connecting) add(&Counts::sent);
        finish(i, &Counts::timeout);
      }
    }
  }

  static long proc_status_kib(pid_t pid, const char* key) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line))
      if (line.rfind(key, 0) == 0) return std::atol(line.c_str() + std::strlen(key));
    return -1;
  }
  static long cpu_ticks(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto paren = text.rfind(')');
    if (paren == std::string::npos) return -1;
    // After the command's ")": state is field 3; utime and stime are fields 14 and 15.
    const char* p = text.c_str() + paren + 2;
    long utime = 0, stime = 0;
    if (std::sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &utime, &stime) != 2)
      return -1;
    return utime + stime;
  }
  static long count_fds(pid_t pid) {
    DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
    if (!d) return -1;
    long n = 0;
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
    return n;
  }

  void report_interval(Clock::time_point now) {
    double span = secs(now - last_report_);
    if (last_report_ == Clock::time_point{}) span = secs(now - t0_);
    last_report_ = now;
    auto pct = [&](double p) -> double {
      if (latencies_.empty()) return 0;
      std::size_t k = std::min(latencies_.size() - 1, std::size_t(p * double(latencies_.size())));
      std::nth_element(latencies_.begin(), latencies_.begin() + std::ptrdiff_t(k),
                       latencies_.end());
      return latencies_[k] / 1000.0;
    };
    double p50 = pct(0.50), p99 = pct(0.99), p999 = pct(0.999);
    double mx =
        latencies_.empty() ? 0 : *std::max_element(latencies_.begin(), latencies_.end()) / 1000.0;
    std::printf(
        "{\"type\":\"interval\",\"t\":%.3f,\"seconds\":%.3f,\"sent\":%llu,\"answered\":%llu,"
        "\"rate\":%.1f,"
        "\"failed\":%llu,\"non200\":%llu,\"refused\":%llu,\"reset\":%llu,\"broken\":%llu,"
        "\"timeout\":%llu,"
        "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,\"max_queue\":%zu",
        secs(now - t0_), span, ull(interval_.sent), ull(interval_.answered),
        double(interval_.answered) / span, ull(interval_.failed()), ull(interval_.non200),
        ull(interval_.refused_connect + interval_.refused_closed), ull(interval_.reset),
        ull(interval_.broken), ull(interval_.timeout), p50, p99, p999, mx, max_queue_);
    if (o_.watch_pid > 0) {
      // The server's CPU time (user + system) in this interval, per answered request: what
      // a request costs it, whatever else the machine is running.
      long ticks = cpu_ticks(o_.watch_pid);
      double cpu_us = ticks >= 0 && last_ticks_ >= 0 && interval_.answered
                          ? double(ticks - last_ticks_) * 1e6 / double(::sysconf(_SC_CLK_TCK)) /
                                double(interval_.answered)
                          : -1;
      last_ticks_ = ticks;
      std::printf(",\"rss_kib\":%ld,\"fds\":%ld,\"threads\":%ld,\"cpu_us_per_request\":%.2f",
                  proc_status_kib(o_.watch_pid, "VmRSS:"), count_fds(o_.watch_pid),
                  proc_status_kib(o_.watch_pid, "Threads:"), cpu_us);
    }
    std::printf("}\n");
    std::fflush(stdout);
    latencies_.clear();
    interval_ = {};
    max_queue_ = 0;
  }

  Options o_;
  std::string request_;
  std::vector<Slot> slots_;
  std::deque<std::size_t> idle_, closed_;
  std::deque<Clock::time_point> queue_;
  std::size_t max_queue_ = 0;
  int ep_ = -1, pidfd_ = -1;
  sockaddr_in addr_{};
  Clock::time_point t0_, last_report_{}, signal_at_{}, exit_time_{};
  bool signalled_ = false, exited_ = false;
  Counts total_, interval_;
  long last_ticks_ = -1;
  std::uint64_t sent_before_ = 0, answered_before_ = 0, reset_before_ = 0, opened_ = 0;
  std::vector<std::uint32_t> latencies_;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(
      stderr,
      "grove-loadgen: %s\nusage: grove-loadgen --port P [--path /] [--rate R] [--duration S] "
      "[--connections C] [--requests-per-connection K] [--report S] [--watch-pid PID] "
      "[--signal-pid PID --signal-at S [--after S]]\n",
      why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) usage(("missing value for " + a).c_str());
    const char* v = argv[++i];
    if (a == "--port") o.port = std::atoi(v);
    else if (a == "--path") o.path = v;
    else if (a == "--rate") o.rate = std::atof(v);
    else if (a == "--duration") o.duration = std::atof(v);
    else if (a == "--connections") o.connections = std::atoi(v);
    else if (a == "--requests-per-connection") o.per_connection = std::atol(v);
    else if (a == "--report") o.report = std::atof(v);
    else if (a == "--watch-pid") o.watch_pid = pid_t(std::atoi(v));
    else if (a == "--signal-pid") o.signal_pid = pid_t(std::atoi(v));
    else if (a == "--signal-at") o.signal_at = std::atof(v);
    else if (a == "--after") o.after = std::atof(v);
    else usage(("unknown flag " + a).c_str());
  }
  if (o.port <= 0 || o.rate <= 0 || o.duration <= 0 || o.connections <= 0)
    usage("--port, --rate, --duration and --connections must be positive");
  ::signal(SIGPIPE, SIG_IGN);
  return Loadgen(o).run();
}
