// Fault injection (issue 8): hostile clients and faulty applications, each case bounded in
// time, on every engine. The server must carry on serving, leak no descriptor, and report
// what went wrong clearly.
//
// Related cases elsewhere: EMFILE with a low descriptor limit and its recovery is
// test_server_limits.cpp ("EMFILE: ..."); a worker that aborts is test_server_cli.cpp
// ("the flag --workers 2: ..."). docs/reliability.md lists them all with their figures.
#include "server_support.hpp"

#include <dirent.h>

#include <algorithm>
#include <set>

using namespace grove::http;
using namespace grove::http::test;

namespace {

// Raises the soft descriptor limit to the hard limit; returns the new soft limit.
rlim_t raise_fd_limit() {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

// Descriptors open in this process (the in-process server's included).
int open_fds() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return -1;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n - 1;  // the directory's own descriptor
}

// Waits until the process has at most `limit` descriptors open (the server closes its side
// asynchronously); returns the last count.
int wait_fds_at_most(int limit, std::chrono::milliseconds timeout = 3000ms) {
  auto until = SteadyClock::now() + timeout;
  int n = open_fds();
  while (n > limit && SteadyClock::now() < until) {
    std::this_thread::sleep_for(10ms);
    n = open_fds();
  }
  return n;
}

// Closes with a reset (RST) instead of a FIN: SO_LINGER with a zero timeout.
void reset(Socket& s) {
  linger l{1, 0};
  ::setsockopt(s.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  s.close();
}

std::atomic<int> g_bodies_read{0};

Response app(Request& req) {
  std::string_view path = req.path();
  if (path == "/throw") throw std::runtime_error("fault injected by the test");
  if (path == "/big") return Response::text(std::string(16 << 20, 'x'));
  if (path == "/echo") {
    std::string body = req.read_body();
    ++g_bodies_read;
    return Response::text(body);
  }
  return Response::text("ok");
}

// The slowloris latency target: p99 under 50 ms is for an optimised build. An -O0 build
// under ASan+UBSan does the same work about ten times slower, and CI runs it two tests at a
// time on two shared cores (measured there: p99 from 3 ms to 670 ms with the load average
// at 9), so there the bound only says that no normal client is starved: its p99 stays well
// under the 2 s header timeout the slow clients get.
#if defined(__OPTIMIZE__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
constexpr double kP99LimitMs = 50.0;
constexpr std::size_t kMinRequests = 100;
#else
constexpr double kP99LimitMs = 1500.0;
constexpr std::size_t kMinRequests = 20;
#endif

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = std::size_t(p * double(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// grove_fault_app as a child process on 127.0.0.1:0, with `env` added; waits for its
// startup line.
Child start_fault_app(const std::string& dir, std::vector<std::string> args, int* port,
                      std::map<std::string, std::string> env = {}) {
  std::vector<std::string> argv{GROVE_FAULT_APP_PATH, "--bind", "127.0.0.1:0"};
  for (auto& a : args) argv.push_back(a);
  Child c(argv, dir + "/fault.log", nullptr, std::move(env));
  std::string log = c.wait_for_log("listening on");
  INFO(c.log());
  REQUIRE(!log.empty());
  *port = port_from_log(log);
  return c;
}

// The pids of both workers of a --workers 2 server (each answers /pid), within 10 s.
std::set<std::string> worker_pids(int port) {
  std::set<std::string> pids;
  auto t0 = SteadyClock::now();
  while (pids.size() < 2 && seconds_since(t0) < 10.0) {
    // Concurrent connections spread over the workers.
    std::vector<Socket> conns;
    for (int i = 0; i < 8; ++i) {
      conns.push_back(Socket::tcp(port));
      conns.back().send("GET /pid HTTP/1.1\r\nHost: t\r\n\r\n");
    }
    for (auto& s : conns) {
      ResponseReader rr(s);
      if (auto r = rr.next()) pids.insert(r->body);
    }
  }
  return pids;
}

// Sequential requests on fresh connections for `seconds`; how many failed.
int failures_over(int port, double seconds, int* total = nullptr) {
  int failed = 0, n = 0;
  auto t0 = SteadyClock::now();
  while (seconds_since(t0) < seconds) {
    auto r = try_get(port, "/", 2000ms);
    ++n;
    if (!r || r->status != 200) ++failed;
  }
  if (total) *total = n;
  return failed;
}

}  // namespace

TEST_CASE(
    "fault: slowloris with 1000 dribbling connections while normal clients keep p99 under 50 ms") {
  constexpr int kSlow = 1000;
  // The client and the server share this process: two descriptors per slow connection.
  REQUIRE(raise_fd_limit() >= rlim_t(2 * kSlow + 200));
  ServerConfig cfg;
  cfg.header_timeout = 2s;
  ServerThread st(app, cfg);
  const int port = st.port();

  auto t_open = SteadyClock::now();
  std::vector<Socket> slow;
  slow.reserve(kSlow);
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(Socket::tcp(port));
    slow.back().send("GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ");
  }
  double open_s = seconds_since(t_open);

  // One byte to every slow connection every 100 ms (10,000 small writes a second), from
  // another thread while normal clients are measured: 50 connections every 5 ms, the way
  // independent attackers spread out.
  std::atomic<bool> stop{false};
  std::thread dribbler([&] {
    std::size_t next = 0;
    while (!stop) {
      for (int i = 0; i < kSlow / 20; ++i, next = (next + 1) % slow.size())
        slow[next].try_send("a");
      std::this_thread::sleep_for(5ms);
    }
  });
  // Normal clients: kClients threads, each a request on a fresh connection after another
  // for 1 s; the latency of each (connect to the end of the response).
  constexpr int kClients = 4;
  std::vector<std::vector<double>> lat(kClients);
  std::atomic<int> failed{0};
  std::vector<std::thread> clients;
  auto t0 = SteadyClock::now();
  for (int c = 0; c < kClients; ++c)
    clients.emplace_back([&, c] {
      while (seconds_since(t0) < 1.0) {
        auto t = SteadyClock::now();
        auto r = try_get(port, "/fast", 2000ms);
        lat[c].push_back(seconds_since(t) * 1000.0);
        if (!r || r->status != 200) ++failed;
      }
    });
  // Every slow connection is still open (within its header timeout) while measured.
  std::this_thread::sleep_until(t0 + 900ms);
  int open_now = 0;
  for (auto& s : slow) {
    pollfd p{s.fd(), POLLIN, 0};
    open_now += ::poll(&p, 1, 0) == 0 ? 1 : 0;
  }
  for (auto& t : clients) t.join();
  std::vector<double> ms;
  for (auto& v : lat) ms.insert(ms.end(), v.begin(), v.end());
  const double p50 = percentile(ms, 0.50), p99 = percentile(ms, 0.99), max = percentile(ms, 1.0);
  stop = true;
  dribbler.join();

  // Each slow connection is cut at the header timeout (408), counted from its first byte.
  int cut = 0, got_408 = 0;
  for (auto& s : slow) {
    bool closed = false;
    std::string all = s.recv_all(4000ms, &closed);
    cut += closed ? 1 : 0;
    got_408 += all.rfind("HTTP/1.1 408", 0) == 0 ? 1 : 0;
  }
  const double all_cut_s = seconds_since(t_open);

  WARN("slowloris figures: " << kSlow << " slow connections opened in " << open_s << " s, "
                             << open_now << " still open during the measurement; " << ms.size()
                             << " normal requests from " << kClients << " clients in 1 s: p50 "
                             << p50 << " ms, p99 " << p99 << " ms, max " << max << " ms, "
                             << failed.load() << " failed; " << cut << " cut (" << got_408
                             << " with 408) by " << all_cut_s
                             << " s after the first opened (header timeout 2 s); p99 limit "
                             << kP99LimitMs << " ms");
  CHECK(open_now == kSlow);
  CHECK(failed == 0);
  CHECK(ms.size() >= kMinRequests);
  CHECK(p99 < kP99LimitMs);
  CHECK(cut == kSlow);
  CHECK(got_408 == kSlow);
  CHECK(all_cut_s < 2.0 + open_s + 2.0);
}

TEST_CASE("fault: clients resetting mid head and mid body and mid response leak nothing") {
  ServerThread st(app);
  const int port = st.port();
  CHECK(get(port, "/").status == 200);
  std::this_thread::sleep_for(50ms);
  const int baseline = open_fds();
  g_bodies_read = 0;
  constexpr int kRounds = 20;
  for (int i = 0; i < kRounds; ++i) {
    {  // In the middle of a request head.
      Socket s = Socket::tcp(port);
      s.send("GET / HTTP/1.1\r\nHost: t\r\nX-Partial: abc");
      std::this_thread::sleep_for(2ms);
      reset(s);
    }
    {  // In the middle of a body the application is reading.
      Socket s = Socket::tcp(port);
      s.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n");
      s.send(std::string(100000, 'b'));
      std::this_thread::sleep_for(2ms);
      reset(s);
    }
    {  // In the middle of a 16 MiB response the server is writing.
      Socket s = Socket::tcp(port);
      s.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
      auto got = s.recv_some(3000ms);
      CHECK(got);
      CHECK((got && got->rfind("HTTP/1.1 200", 0) == 0));
      reset(s);
    }
    // The next client is served at once.
    auto r = try_get(port, "/next", 2000ms);
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  // No application read a whole body: every one was cut short.
  CHECK(g_bodies_read == 0);
  // Every descriptor the server opened for them is closed again.
  const int after = wait_fds_at_most(baseline);
  WARN("resets: " << 3 * kRounds << " connections reset; descriptors before " << baseline
                  << ", after " << after);
  CHECK(after <= baseline);
  // And the server still serves a pipelined burst and a large body.
  Socket s = Socket::tcp(port);
  s.send(
      "GET / HTTP/1.1\r\nHost: t\r\n\r\nPOST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: "
      "5\r\n\r\nhello");
  ResponseReader rr(s);
  auto a = rr.next();
  auto b = rr.next();
  REQUIRE(a);
  REQUIRE(b);
  CHECK(b->body == "hello");
}

TEST_CASE("fault: an application that throws gets 500 and the server carries on") {
  ServerThread st(app);
  const int port = st.port();
  // 50 connections, each a throwing request pipelined with a good one behind it.
  std::vector<Socket> conns;
  for (int i = 0; i < 50; ++i) {
    conns.push_back(Socket::tcp(port));
    conns.back().send(
        "GET /throw HTTP/1.1\r\nHost: t\r\n\r\nGET /after HTTP/1.1\r\nHost: t\r\n\r\n");
  }
  int ok = 0;
  for (auto& s : conns) {
    ResponseReader rr(s);
    auto a = rr.next();
    auto b = rr.next();
    ok += a && a->status == 500 && b && b->status == 200 && b->body == "ok";
  }
  CHECK(ok == 50);
  CHECK(get(port, "/").status == 200);
  st.stop();
  CHECK(st.final_stats().errors_5xx == 50);
}

TEST_CASE("fault: an application that blocks its OS thread is reported by the blocking detector") {
  TempDir dir;
  int port = -1;
  // The server and the CLI enable the detector from the environment (read when the hub
  // starts): GROVE_BLOCKING_WARN_MS=<ms>.
  Child c = start_fault_app(dir.path, {}, &port, {{"GROVE_BLOCKING_WARN_MS", "100"}});
  auto t0 = SteadyClock::now();
  auto r = try_get(port, "/block?ms=400", 5000ms);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(seconds_since(t0) >= 0.35);
  std::string log = c.wait_for_log("blocking detector", 3000ms);
  INFO(c.log());
  CHECK(log.find("grove: blocking detector: green thread '") != std::string::npos);
  CHECK(log.find("has held its hub for more than 100 ms without yielding") != std::string::npos);
  // The server carries on.
  auto after = try_get(port, "/", 2000ms);
  REQUIRE(after);
  CHECK(after->status == 200);
  c.signal(SIGTERM);
  CHECK(c.wait(10000ms) == 0);
}

TEST_CASE("fault: a green thread stack overflow names the thread and a worker is replaced") {
  TempDir dir;
  SECTION("one process: a clear message then abort") {
    int port = -1;
    Child c = start_fault_app(dir.path, {}, &port);
    Socket s = Socket::tcp(port);
    s.send("GET /overflow HTTP/1.1\r\nHost: t\r\n\r\n");
    s.recv_all(5000ms);  // no response: the process dies
    CHECK(c.wait(10000ms) == 128 + SIGABRT);
    std::string log = c.log();
    INFO(log);
    CHECK(log.find("green thread green-") != std::string::npos);
    CHECK(log.find("-byte stack") != std::string::npos);
    CHECK(log.find("give it a bigger stack") != std::string::npos);
  }
  SECTION("with --workers 2: the worker is replaced and the server keeps serving") {
    int port = -1;
    Child c = start_fault_app(dir.path, {"--workers", "2"}, &port);
    auto pids = worker_pids(port);
    CHECK(pids.size() == 2);
    {
      Socket s = Socket::tcp(port);
      s.send("GET /overflow HTTP/1.1\r\nHost: t\r\n\r\n");
      s.recv_all(5000ms);  // that worker dies: the connection drops without a response
    }
    std::string log = c.wait_for_log("starting a new one", 5000ms);
    INFO(c.log());
    CHECK(log.find("green thread green-") != std::string::npos);
    CHECK(log.find("overflowed its") != std::string::npos);
    CHECK(log.find("was killed by signal 6") != std::string::npos);
    int total = 0;
    CHECK(failures_over(port, 0.5, &total) == 0);
    CHECK(total > 0);
    auto now = worker_pids(port);
    CHECK(now.size() == 2);
    CHECK(now != pids);
    c.signal(SIGTERM);
    CHECK(c.wait(15000ms) == 0);
  }
}

TEST_CASE("fault: a worker killed with SIGKILL is replaced and service continues") {
  TempDir dir;
  int port = -1;
  Child c = start_fault_app(dir.path, {"--workers", "2"}, &port);
  auto pids = worker_pids(port);
  REQUIRE(pids.size() == 2);
  const pid_t victim = std::stoi(*pids.begin());
  auto t0 = SteadyClock::now();
  REQUIRE(::kill(victim, SIGKILL) == 0);
  // Once the master has reaped it (and logged it), every new connection is served: the
  // other worker takes them while the new one starts.
  std::string log = c.wait_for_log("was killed by signal 9", 5000ms);
  INFO(c.log());
  CHECK(log.find("(pid " + std::to_string(victim) + ") was killed by signal 9") !=
        std::string::npos);
  const double reaped_s = seconds_since(t0);
  int total = 0;
  const int failed = failures_over(port, 0.5, &total);
  auto now = worker_pids(port);
  WARN("SIGKILL: worker reaped and replaced " << reaped_s * 1000 << " ms after the kill; " << total
                                              << " requests in the next 0.5 s, " << failed
                                              << " failed");
  CHECK(failed == 0);
  CHECK(now.size() == 2);
  CHECK(now.count(std::to_string(victim)) == 0);
  c.signal(SIGTERM);
  CHECK(c.wait(15000ms) == 0);
}
