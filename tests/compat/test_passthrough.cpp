// Unpatched (this process never patches), every interposed call is the libc call: the same
// return value and the same errno, inside green threads and outside. The pairs below run the
// interposed name and compat::original side by side on identical states.
#include "compat_support.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/uio.h>

#include <cstring>
#include <thread>

using namespace grove::test;
namespace original = grove::compat::original;

namespace {

struct Result {
  long value;
  int err;
  bool operator==(const Result& o) const { return value == o.value && err == o.err; }
};
std::ostream& operator<<(std::ostream& os, const Result& r) {
  return os << "{" << r.value << ", errno " << r.err << " (" << std::strerror(r.err) << ")}";
}

// The calls under test, either grove's interposed definitions or libc's.
struct Api {
  ssize_t (*read)(int, void*, size_t);
  ssize_t (*write)(int, const void*, size_t);
  ssize_t (*readv)(int, const iovec*, int);
  ssize_t (*writev)(int, const iovec*, int);
  ssize_t (*recv)(int, void*, size_t, int);
  ssize_t (*send)(int, const void*, size_t, int);
  ssize_t (*recvfrom)(int, void*, size_t, int, sockaddr*, socklen_t*);
  ssize_t (*sendto)(int, const void*, size_t, int, const sockaddr*, socklen_t);
  ssize_t (*recvmsg)(int, msghdr*, int);
  ssize_t (*sendmsg)(int, const msghdr*, int);
  int (*accept)(int, sockaddr*, socklen_t*);
  int (*accept4)(int, sockaddr*, socklen_t*, int);
  int (*connect)(int, const sockaddr*, socklen_t);
  int (*close)(int);
  int (*shutdown)(int, int);
  int (*dup)(int);
  int (*dup2)(int, int);
  int (*dup3)(int, int, int);
  int (*fcntl)(int, int, long);
  int (*ioctl)(int, unsigned long, void*);
  int (*poll)(pollfd*, nfds_t, int);
  int (*ppoll)(pollfd*, nfds_t, const timespec*, const sigset_t*);
  int (*select)(int, fd_set*, fd_set*, fd_set*, timeval*);
  int (*nanosleep)(const timespec*, timespec*);
  int (*clock_nanosleep)(clockid_t, int, const timespec*, timespec*);
  int (*usleep)(useconds_t);
  unsigned (*sleep)(unsigned);
};

const Api ours{&::read,
               &::write,
               &::readv,
               &::writev,
               &::recv,
               &::send,
               &::recvfrom,
               &::sendto,
               &::recvmsg,
               &::sendmsg,
               &::accept,
               &::accept4,
               &::connect,
               &::close,
               &::shutdown,
               &::dup,
               &::dup2,
               &::dup3,
               [](int fd, int cmd, long arg) { return ::fcntl(fd, cmd, arg); },
               [](int fd, unsigned long req, void* arg) { return ::ioctl(fd, req, arg); },
               &::poll,
               &::ppoll,
               &::select,
               &::nanosleep,
               &::clock_nanosleep,
               &::usleep,
               &::sleep};
const Api libc{&original::read,
               &original::write,
               &original::readv,
               &original::writev,
               &original::recv,
               &original::send,
               &original::recvfrom,
               &original::sendto,
               &original::recvmsg,
               &original::sendmsg,
               &original::accept,
               &original::accept4,
               &original::connect,
               &original::close,
               &original::shutdown,
               &original::dup,
               &original::dup2,
               &original::dup3,
               &original::fcntl,
               &original::ioctl,
               &original::poll,
               &original::ppoll,
               &original::select,
               &original::nanosleep,
               &original::clock_nanosleep,
               &original::usleep,
               &original::sleep};

// Records what each call returned and what errno was then. errno is set to a value no call
// sets before each one, so a success that touched errno shows.
struct Trace {
  std::vector<Result> results;
  template <class F>
  void operator()(F&& f) {
    errno = 777;
    long v = long(f());
    results.push_back({v, errno});
  }
};

// Every comparison below needs grove's definitions in this binary's link: without them both
// sides would be libc and every case would pass unchecked.
void require_interposed() {
  auto check = grove::compat::self_check();
  INFO("not interposed: " << check.not_interposed.size() << " names; " << check.fix);
  REQUIRE(check.ok);
}

// Runs the scenario once with grove's calls and once with libc's, each on fresh state, and
// requires the same results, call by call.
template <class Scenario>
void same_as_libc(Scenario&& scenario) {
  require_interposed();
  Trace a, b;
  scenario(ours, a);
  scenario(libc, b);
  CHECK(a.results == b.results);
}

}  // namespace

TEST_CASE("unpatched: read and write match libc", "[compat][passthrough]") {
  same_as_libc([](const Api& api, Trace& t) {
    Pair p;
    char buf[16];
    t([&] { return api.write(p.a, "hello", 5); });
    t([&] { return api.read(p.b, buf, 3); });   // partial: 3 of 5
    t([&] { return api.read(p.b, buf, 16); });  // the rest: 2
    t([&] { return api.read(-1, buf, 1); });    // EBADF
    t([&] { return api.write(12345, buf, 1); });
    int fl = api.fcntl(p.b, F_GETFL, 0);
    t([&] { return api.fcntl(p.b, F_SETFL, fl | O_NONBLOCK); });
    t([&] { return api.read(p.b, buf, 1); });  // EAGAIN
    t([&] { return api.shutdown(p.a, SHUT_WR); });
    t([&] { return api.read(p.b, buf, 1); });  // EOF: 0
  });
}

TEST_CASE("unpatched: vectored and socket calls match libc", "[compat][passthrough]") {
  same_as_libc([](const Api& api, Trace& t) {
    Pair p;
    char x[4] = "abc", y[4] = "def";
    iovec out[2] = {{x, 3}, {y, 3}};
    t([&] { return api.writev(p.a, out, 2); });
    char r1[2], r2[10];
    iovec in[2] = {{r1, 2}, {r2, 10}};
    t([&] { return api.readv(p.b, in, 2); });
    volatile int negative = -1;
    t([&] { return api.readv(p.b, in, negative); });  // EINVAL
    t([&] { return api.send(p.a, "zz", 2, 0); });
    char buf[8];
    t([&] { return api.recv(p.b, buf, 1, MSG_PEEK); });
    t([&] { return api.recv(p.b, buf, 8, MSG_DONTWAIT); });
    t([&] { return api.recv(p.b, buf, 8, MSG_DONTWAIT); });  // EAGAIN
    msghdr m{};
    iovec v{buf, 8};
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    t([&] { return api.sendmsg(p.a, &m, 0); });
    t([&] { return api.recvmsg(p.b, &m, 0); });
    t([&] { return api.recvmsg(p.b, &m, MSG_DONTWAIT); });  // EAGAIN
    Pair full;
    api.fcntl(full.a, F_SETFL, O_NONBLOCK);
    char big[65536] = {};
    while (api.send(full.a, big, sizeof big, 0) > 0) {
    }
    t([&] { return api.send(full.a, "x", 1, 0); });  // EAGAIN
    t([&] { return api.write(full.a, "x", 1); });
  });
}

TEST_CASE("unpatched: datagrams match libc", "[compat][passthrough]") {
  same_as_libc([](const Api& api, Trace& t) {
    int u = ::socket(AF_INET, SOCK_DGRAM, 0);
    int w = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(u, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(u, reinterpret_cast<sockaddr*>(&a), &len);
    auto* sa = reinterpret_cast<sockaddr*>(&a);
    t([&] { return api.sendto(w, "ping", 4, 0, sa, sizeof a); });
    char buf[8];
    sockaddr_in from{};
    socklen_t fl = sizeof from;
    t([&] { return api.recvfrom(u, buf, 2, 0, reinterpret_cast<sockaddr*>(&from), &fl); });
    t([&] { return api.recvfrom(u, buf, 8, MSG_DONTWAIT, nullptr, nullptr); });  // EAGAIN
    t([&] { return api.close(u); });
    t([&] { return api.close(w); });
  });
}

TEST_CASE("unpatched: accept, connect, close, dup, fcntl and ioctl match libc",
          "[compat][passthrough]") {
  int port;
  {
    Listener gone;
    port = gone.port;
  }
  same_as_libc([port](const Api& api, Trace& t) {
    Listener l;
    api.fcntl(l.fd, F_SETFL, O_NONBLOCK);
    t([&] { return api.accept(l.fd, nullptr, nullptr); });  // EAGAIN
    t([&] { return api.accept4(l.fd, nullptr, nullptr, 0); });
    t([&] { return api.accept(-1, nullptr, nullptr); });
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(std::uint16_t(port));  // nobody listens: refused
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    t([&] { return api.connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a); });
    t([&] { return api.close(s); });
    t([&] { return api.close(s); });  // EBADF
    t([&] { return api.shutdown(-1, SHUT_RDWR); });
    t([&] { return api.dup(-1); });
    t([&] { return api.dup2(-1, 50); });
    t([&] { return api.dup3(l.fd, l.fd, 0); });  // EINVAL
    t([&] { return api.fcntl(l.fd, F_GETFL, 0); });
    t([&] { return api.fcntl(-1, F_GETFL, 0); });
    int n = 0;
    t([&] { return api.ioctl(l.fd, FIONREAD, &n); });
    t([&] { return api.ioctl(-1, FIONREAD, &n); });
  });
}

TEST_CASE("unpatched: poll, select and sleeps match libc", "[compat][passthrough]") {
  same_as_libc([](const Api& api, Trace& t) {
    Pair p;
    pollfd f{p.a, POLLIN, 0};
    t([&] { return api.poll(&f, 1, 0); });
    f.events = POLLOUT;
    t([&] { return api.poll(&f, 1, 0); });
    t([&] { return f.revents; });
    timespec zero{0, 0};
    t([&] { return api.ppoll(&f, 1, &zero, nullptr); });
    timespec bad{0, -1};
    t([&] { return api.ppoll(&f, 1, &bad, nullptr); });  // EINVAL
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(p.a, &rd);
    timeval tv{0, 0};
    t([&] { return api.select(p.a + 1, &rd, nullptr, nullptr, &tv); });
    t([&] { return api.select(-1, nullptr, nullptr, nullptr, &tv); });  // EINVAL
    t([&] { return api.nanosleep(&bad, nullptr); });                    // EINVAL
    timespec tiny{0, 1000};
    t([&] { return api.nanosleep(&tiny, nullptr); });
    // clock_nanosleep returns the error instead of setting errno.
    t([&] { return api.clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, nullptr); });
    t([&] { return api.clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &tiny, nullptr); });
    t([&] { return api.usleep(1); });
    t([&] { return api.sleep(0); });
  });
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev[4];
  errno = 777;
  CHECK(::epoll_wait(ep, ev, 4, 0) == 0);
  CHECK(errno == 777);
  CHECK(::epoll_wait(ep, ev, 0, 0) == -1);
  CHECK(errno == EINVAL);
  ::close(ep);
}

#define SAME(ours_expr, libc_expr)     \
  do {                                 \
    errno = 777;                       \
    Result a_{long(ours_expr), errno}; \
    errno = 777;                       \
    Result b_{long(libc_expr), errno}; \
    CHECK(a_ == b_);                   \
  } while (0)

TEST_CASE("unpatched: name resolution matches libc", "[compat][passthrough]") {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo *ours = nullptr, *theirs = nullptr;
  SAME(::getaddrinfo("localhost", "80", &hints, &ours),
       original::getaddrinfo("localhost", "80", &hints, &theirs));
  REQUIRE(ours);
  REQUIRE(theirs);
  CHECK(std::memcmp(ours->ai_addr, theirs->ai_addr, ours->ai_addrlen) == 0);
  ::freeaddrinfo(ours);
  ::freeaddrinfo(theirs);
  addrinfo* none = nullptr;
  hints.ai_flags = AI_NUMERICHOST;  // fails at once, without asking a DNS server
  SAME(::getaddrinfo("not-a-number", nullptr, &hints, &none),
       original::getaddrinfo("not-a-number", nullptr, &hints, &none));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(80);
  char h1[64], h2[64], s1[16], s2[16];
  SAME(::getnameinfo(reinterpret_cast<sockaddr*>(&a), sizeof a, h1, sizeof h1, s1, sizeof s1,
                     NI_NUMERICHOST | NI_NUMERICSERV),
       original::getnameinfo(reinterpret_cast<sockaddr*>(&a), sizeof a, h2, sizeof h2, s2,
                             sizeof s2, NI_NUMERICHOST | NI_NUMERICSERV));
  CHECK(std::string(h1) == std::string(h2));
  CHECK(std::string(s1) == "80");
  hostent* e = ::gethostbyname("localhost");
  REQUIRE(e);
  CHECK(e->h_addrtype == AF_INET);
}

TEST_CASE("unpatched: a signal interrupts a blocking read with EINTR, as in libc",
          "[compat][passthrough][tsan]") {
  require_interposed();
  struct sigaction sa {
  }, old{};
  sa.sa_handler = [](int) {};
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART
  REQUIRE(::sigaction(SIGUSR1, &sa, &old) == 0);
  Pair p;
  Result got{};
  std::atomic<bool> entered{false}, done{false};
  std::thread t([&] {
    char c;
    entered = true;
    errno = 777;
    long v = ::read(p.b, &c, 1);
    got = {v, errno};
    done = true;
  });
  while (!entered) std::this_thread::sleep_for(1ms);
  // Keep signalling until the read returns (the thread may not have blocked yet).
  for (int i = 0; i < 500 && !done; ++i) {
    ::pthread_kill(t.native_handle(), SIGUSR1);
    std::this_thread::sleep_for(2ms);
  }
  t.join();
  ::sigaction(SIGUSR1, &old, nullptr);
  CHECK(got == (Result{-1, EINTR}));
}

TEST_CASE("unpatched: a sleep in a green thread blocks the whole hub, as plain libc does",
          "[compat][passthrough]") {
  require_interposed();
  Ticker ticker;
  in_green([] {
    green::sleep(5ms);
    ::usleep(60'000);
  });
  ticker.stop();
  CHECK(ticker.max_gap_ms() >= 50);
}
