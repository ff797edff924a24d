// 10,000 concurrent green threads: 5,000 socketpairs, each with a pinger and a ponger doing
// a few round trips, all alive at the same time.
#include "green_support.hpp"

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

using namespace grove;
using namespace grove::test;

namespace {

// Raises the soft fd limit toward the hard one; returns whether `need` fds fit.
bool ensure_fd_limit(rlim_t need) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return false;
  if (lim.rlim_cur >= need) return true;
  if (lim.rlim_max < need) return false;
  lim.rlim_cur = lim.rlim_max;
  return ::setrlimit(RLIMIT_NOFILE, &lim) == 0;
}

void write_byte(int fd, char c) {
  for (;;) {
    const ssize_t n = ::write(fd, &c, 1);
    if (n == 1) return;
    if (n < 0 && errno != EAGAIN) throw std::system_error(errno, std::generic_category(), "write");
    green::wait(fd, Events::write);
  }
}

char read_byte(int fd) {
  for (;;) {
    char c = 0;
    const ssize_t n = ::read(fd, &c, 1);
    if (n == 1) return c;
    if (n == 0) throw std::runtime_error("unexpected EOF");
    if (errno != EAGAIN) throw std::system_error(errno, std::generic_category(), "read");
    green::wait(fd, Events::read);
  }
}

}  // namespace

TEST_CASE("10,000 green threads do socket ping-pong over 5,000 socketpairs at once",
          "[green][scale][tsan]") {
  // ThreadSanitizer keeps megabytes of state per fiber: there the test proves the same with
  // fewer green threads.
#if defined(__SANITIZE_THREAD__)
  constexpr int kPairs = 250, kRounds = 3;
#else
  constexpr int kPairs = 5000, kRounds = 3;
#endif
  if (!ensure_fd_limit(2 * kPairs + 200)) {
    WARN("RLIMIT_NOFILE hard limit is below " << 2 * kPairs + 200
                                              << "; raise it (ulimit -Hn) to run this test");
    return;
  }
  struct Pair {
    int a, b;
  };
  std::vector<Pair> pairs(kPairs);
  for (auto& p : pairs) {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    p = {fds[0], fds[1]};
  }

  green::Event go;  // everyone is alive before the first byte moves
  int alive = 0, peak = 0, finished = 0;
  std::vector<green::Greenlet> gs;
  gs.reserve(2 * kPairs);
  for (auto& p : pairs) {
    gs.push_back(green::spawn([&, fd = p.a] {
      peak = std::max(peak, ++alive);
      go.wait();
      for (int r = 0; r < kRounds; ++r) {
        write_byte(fd, 'p');
        REQUIRE(read_byte(fd) == 'P');
      }
      --alive;
      ++finished;
    }));
    gs.push_back(green::spawn([&, fd = p.b] {
      peak = std::max(peak, ++alive);
      for (int r = 0; r < kRounds; ++r) {
        REQUIRE(read_byte(fd) == 'p');
        write_byte(fd, 'P');
      }
      --alive;
      ++finished;
    }));
  }
  green::sleep(0ns);  // every green thread starts and waits
  while (peak < 2 * kPairs) green::sleep(1ms);
  REQUIRE(peak == 2 * kPairs);
  go.set();
  const auto t0 = now();
  green::joinall(gs, 60s);
  REQUIRE(finished == 2 * kPairs);
  for (auto& g : gs) REQUIRE(g.successful());
  INFO("ping-pong took " << ms_since(t0) << " ms");
  for (auto& p : pairs) {
    green::close(p.a);
    green::close(p.b);
  }
}
