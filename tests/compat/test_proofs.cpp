// The proofs with code nobody here wrote: libcurl's blocking easy API, a plain blocking
// client and server, std::this_thread::sleep_for and getaddrinfo, all unmodified, running
// concurrently in green threads of a patched process. The time bounds are the correctness
// bounds the issue sets (concurrent, not sequential), not performance targets.
#include "compat_support.hpp"
#include "curl_fetch.hpp"

#include <netdb.h>

#include <cstring>
#include <thread>

using namespace grove::test;

namespace {

// An HTTP endpoint on loopback that answers every request after `delay`, written as plain
// blocking socket code: an accept loop and one green thread per connection.
class DelayServer {
 public:
  explicit DelayServer(std::chrono::milliseconds delay) : delay_(delay) {
    acceptor_ = green::spawn(green::SpawnOptions{"delay-acceptor"}, [this] {
      for (;;) {
        int c = ::accept4(listener_.fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        green::spawn(green::SpawnOptions{"delay-conn"}, [this, c] { serve(c); });
      }
    });
  }
  ~DelayServer() { acceptor_.kill(); }
  int port() const { return listener_.port; }
  int served() const { return served_; }

 private:
  void serve(int c) {
    std::string request;
    char buf[2048];
    while (request.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) {
        ::close(c);
        return;
      }
      request.append(buf, std::size_t(n));
    }
    std::this_thread::sleep_for(delay_);
    static const char response[] =
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
        "Connection: close\r\n\r\nok";
    ::send(c, response, sizeof response - 1, MSG_NOSIGNAL);
    ++served_;
    ::close(c);
  }

  std::chrono::milliseconds delay_;
  Listener listener_;
  green::Handle<void> acceptor_;
  int served_ = 0;
};

}  // namespace

TEST_CASE("proof: 50 libcurl easy transfers run concurrently in green threads", "[compat][proof]") {
  compat::patch_all();
  curl_global_init(CURL_GLOBAL_DEFAULT);
  DelayServer server(100ms);
  std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/delay";
  ConcurrentRun run = run_concurrently(
      50, [&url] { return fetch(url); }, "200 ok");
  INFO("50 transfers took " << run.ms << " ms");
  CHECK(run.matched == 50);
  CHECK(run.ms >= 100);
  CHECK(run.ms < 2500);  // overlapped: at most half of the 5 s they take one after another
  CHECK(server.served() == 50);
}

TEST_CASE("proof: a plain blocking client and server serve each other in green threads",
          "[compat][proof]") {
  compat::patch_all();
  Listener l;
  Ticker ticker;
  const int clients = 20, rounds = 50;
  auto server = green::spawn([&] {
    for (int i = 0; i < clients; ++i) {
      int c = ::accept(l.fd, nullptr, nullptr);
      if (c < 0) return;
      green::spawn([c] {
        // Line-oriented echo with blocking reads and writes.
        char buf[256];
        ssize_t n;
        while ((n = ::read(c, buf, sizeof buf)) > 0) {
          ssize_t off = 0;
          while (off < n) {
            ssize_t w = ::write(c, buf + off, std::size_t(n - off));
            if (w <= 0) break;
            off += w;
          }
        }
        ::close(c);
      });
    }
  });
  std::vector<green::Handle<int>> users;
  for (int i = 0; i < clients; ++i) {
    users.push_back(green::spawn([&, i] {
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a = l.address();
      if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return -1;
      int good = 0;
      for (int r = 0; r < rounds; ++r) {
        std::string msg = "client " + std::to_string(i) + " round " + std::to_string(r) + "\n";
        if (::send(fd, msg.data(), msg.size(), 0) != ssize_t(msg.size())) break;
        std::string got;
        char buf[256];
        while (got.size() < msg.size()) {
          ssize_t n = ::recv(fd, buf, sizeof buf, 0);
          if (n <= 0) break;
          got.append(buf, std::size_t(n));
        }
        if (got == msg) ++good;
      }
      ::close(fd);
      return good;
    }));
  }
  for (auto& u : users) CHECK(u.join() == rounds);
  server.join();
  ticker.stop();
  CHECK(ticker.max_gap_ms() < 90);
}

TEST_CASE("proof: std::this_thread::sleep_for(100ms) in 1,000 green threads takes about 100 ms",
          "[compat][proof]") {
  compat::patch_all();
  std::vector<green::Handle<void>> sleepers;
  sleepers.reserve(1000);
  auto start = SteadyClock::now();
  for (int i = 0; i < 1000; ++i)
    sleepers.push_back(green::spawn([] { std::this_thread::sleep_for(100ms); }));
  for (auto& s : sleepers) s.join();
  double took = ms_since(start);
  INFO("1,000 sleeps took " << took << " ms");
  CHECK(took > 100);
  CHECK(took < 1000);
}

TEST_CASE("proof: getaddrinfo in green threads does not stall a 1 ms ticker",
          "[compat][proof][tsan]") {
  compat::patch_all();
  Ticker ticker;
  auto start = SteadyClock::now();
  int ticked_during = 0;  // lookups during which the ticker ran: none if they held the hub
  std::vector<green::Handle<int>> resolvers;
  for (int i = 0; i < 8; ++i)
    resolvers.push_back(green::spawn([&] {
      int ok = 0;
      for (int j = 0; j < 100; ++j) {
        addrinfo hints{};
        hints.ai_family = AF_INET;
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* res = nullptr;
        int before = ticker.ticks();
        if (::getaddrinfo("localhost", "http", &hints, &res) == 0) {
          ++ok;
          ::freeaddrinfo(res);
        }
        if (ticker.ticks() != before) ++ticked_during;
      }
      return ok;
    }));
  for (auto& r : resolvers) CHECK(r.join() == 100);
  double took = ms_since(start);
  ticker.stop();
  INFO("800 lookups took " << took << " ms; ticks " << ticker.ticks() << ", longest gap "
                           << ticker.max_gap_ms() << " ms; " << ticked_during
                           << " lookups saw the ticker run");
  // On the hub, a lookup would never let the ticker run while it is in progress.
  CHECK(ticked_during >= 5);
  // Lookups that held the hub would leave one gap as long as the whole run; a descheduled
  // process (TSan on a loaded machine: 184 ms) is still far shorter.
  CHECK(ticker.max_gap_ms() < took / 2);
}
