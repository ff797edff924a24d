// A read that follows a write on the same socket (request, then reply) learns whether to
// wait for readiness before its first attempt, so that a reply that is not there yet costs
// no failed system call. Reads that do not follow a write always try first.
//
// The attempts are counted by replacing compat's pointer to the real recv() (white box:
// compat/src/real.hpp), and parking is seen through a sibling green thread, which can only
// run while the reader is parked (one OS thread, one hub).
#include "compat_support.hpp"

#include "real.hpp"

using namespace grove::test;
namespace real = grove::compat::detail::real;

namespace {

struct RecvCount {
  int attempts = 0;
  int eagain = 0;
};

int g_counted_fd = -1;
RecvCount g_count;
real::recv_fn g_real_recv = nullptr;

ssize_t counting_recv(int fd, void* buf, size_t n, int flags) {
  ssize_t r = g_real_recv(fd, buf, n, flags);
  if (fd == g_counted_fd) {
    ++g_count.attempts;
    if (r < 0 && errno == EAGAIN) ++g_count.eagain;
  }
  return r;
}

// Counts compat's recv() attempts on one fd while in scope.
struct CountRecv {
  explicit CountRecv(int fd) {
    g_counted_fd = fd;
    g_count = {};
    g_real_recv = real::recv_ptr.load();
    real::recv_ptr.store(&counting_recv);
  }
  ~CountRecv() {
    real::recv_ptr.store(g_real_recv);
    g_counted_fd = -1;
  }
  CountRecv(const CountRecv&) = delete;
};

// Echoes every byte it reads on fd until it reads 'q'.
auto spawn_echo(int fd) {
  return green::spawn([fd] {
    char c;
    while (::read(fd, &c, 1) == 1 && c != 'q') ::write(fd, &c, 1);
  });
}

// Request/reply rounds against an echo on p.b: p.a learns that its replies must be awaited.
void teach_replies_are_awaited(Pair& p) {
  auto echo = spawn_echo(p.b);
  in_green([&] {
    char c = 'x';
    for (int i = 0; i < 20; ++i) {
      ::write(p.a, &c, 1);
      ::read(p.a, &c, 1);
    }
  });
  ::write(p.a, "q", 1);
  echo.join();
}

// Patches, teaches p.a to await its replies, then queues `data` for p.a to read.
void teach_then_queue(Pair& p, const std::string& data) {
  compat::patch_all();
  teach_replies_are_awaited(p);
  REQUIRE(::write(p.b, data.data(), data.size()) == ssize_t(data.size()));
}

// A green thread that counts its turns; it runs only while everybody else is parked.
struct Sibling {
  long turns = 0;
  bool stop = false;
  green::Handle<void> g = green::spawn([this] {
    while (!stop) {
      ++turns;
      green::sleep(grove::Duration::zero());
    }
  });
  ~Sibling() {
    stop = true;
    g.join();
  }
};

}  // namespace

TEST_CASE("patched: a read after a write that had to wait waits first the next time",
          "[compat][io]") {
  compat::patch_all();
  Pair p;
  auto echo = spawn_echo(p.b);
  constexpr int kRounds = 200;
  RecvCount count;
  in_green([&] {
    CountRecv counting(p.a);
    char c = 'x';
    for (int i = 0; i < kRounds; ++i) {
      REQUIRE(::write(p.a, &c, 1) == 1);
      REQUIRE(::read(p.a, &c, 1) == 1);
      REQUIRE(c == 'x');
    }
    count = g_count;
  });
  ::write(p.a, "q", 1);
  echo.join();
  // The first read tries and fails; from then on the reply is awaited before the attempt,
  // except for one probe in 16, which also finds nothing and fails.
  CHECK(count.eagain <= 1 + kRounds / 16);
  CHECK(count.attempts <= kRounds + 1 + kRounds / 16);
}

TEST_CASE("patched: reads that do not follow a write try first and never park while data waits",
          "[compat][io]") {
  // Now a stream arrives unasked, and is read a byte at a time.
  const std::string stream(64, 's');
  Pair p;
  teach_then_queue(p, stream);
  Sibling sibling;
  in_green([&] {
    green::sleep(grove::Duration::zero());  // the sibling has started
    const long before = sibling.turns;
    CountRecv counting(p.a);
    for (std::size_t i = 0; i < stream.size(); ++i) {
      char c = 0;
      REQUIRE(::read(p.a, &c, 1) == 1);
      REQUIRE(c == 's');
    }
    CHECK(sibling.turns == before);  // never parked
    CHECK(g_count.attempts == int(stream.size()));
    CHECK(g_count.eagain == 0);
  });
}

TEST_CASE("patched: a read after a write that finds its data at once tries first again",
          "[compat][io]") {
  // From now on the peer answers ahead: every reply is queued before the read.
  Pair p;
  teach_then_queue(p, std::string(64, 'r'));
  Sibling sibling;
  in_green([&] {
    green::sleep(grove::Duration::zero());
    char c = 0;
    // At most 16 reads wait first (and park) before a probe finds the data there.
    for (int i = 0; i < 16; ++i) {
      ::write(p.a, "w", 1);
      REQUIRE(::read(p.a, &c, 1) == 1);
    }
    const long before = sibling.turns;
    for (int i = 0; i < 16; ++i) {
      ::write(p.a, "w", 1);
      REQUIRE(::read(p.a, &c, 1) == 1);
      REQUIRE(c == 'r');
    }
    CHECK(sibling.turns == before);  // tried first and found the data: never parked
  });
}
