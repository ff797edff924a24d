// Patched reads and writes in green threads: blocking semantics, only the green thread waits.
#include "compat_support.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <cstdlib>
#include <cstring>
#include <thread>

using namespace grove::test;

TEST_CASE("patched: a blocking read waits only its green thread", "[compat][io]") {
  compat::patch_all();
  Pair p;
  Ticker ticker;
  auto start = SteadyClock::now();
  auto reader = green::spawn([&] {
    char buf[8];
    ssize_t n = ::read(p.b, buf, sizeof buf);
    return std::string(buf, n > 0 ? std::size_t(n) : 0);
  });
  auto writer = green::spawn([&] {
    green::sleep(100ms);
    return ::write(p.a, "hi", 2);
  });
  CHECK(reader.join() == "hi");
  CHECK(writer.join() == 2);
  CHECK(ms_since(start) >= 99);
  ticker.stop();
  CHECK(ticker.ticks() >= 10);
  CHECK(ticker.max_gap_ms() < 90);  // a blocked hub: at least the 100 ms the reader waited
}

TEST_CASE("patched: partial reads, EOF and errors are libc's", "[compat][io]") {
  compat::patch_all();
  Pair p;
  in_green([&] {
    CHECK(::write(p.a, "hello", 5) == 5);
    char buf[100];
    errno = 777;
    CHECK(::read(p.b, buf, sizeof buf) == 5);  // what is there, not 100
    CHECK(errno == 777);
    CHECK(::read(p.b, buf, 0) == 0);
    ::shutdown(p.a, SHUT_WR);
    CHECK(::read(p.b, buf, sizeof buf) == 0);  // EOF
    CHECK(::read(-1, buf, 1) == -1);
    CHECK(errno == EBADF);
    CHECK(::recv(p.b, buf, 1, 0) == 0);
  });
}

TEST_CASE("patched: a large write blocks until everything is written", "[compat][io]") {
  compat::patch_all();
  Pair p;
  const std::size_t size = 4 << 20;
  std::string data(size, '\0');
  for (std::size_t i = 0; i < size; ++i) data[i] = char('a' + i % 26);
  auto writer = green::spawn([&] { return ::write(p.a, data.data(), data.size()); });
  auto reader = green::spawn([&] {
    std::string got;
    std::vector<char> buf(65536);  // off the green thread's 64 KiB stack
    while (got.size() < size) {
      ssize_t n = ::read(p.b, buf.data(), buf.size());
      if (n <= 0) break;
      got.append(buf.data(), std::size_t(n));
      if (got.size() % (1 << 20) < std::size_t(n)) green::sleep(1ms);  // a slow reader
    }
    return got;
  });
  CHECK(writer.join() == ssize_t(size));
  std::string got = reader.join();
  CHECK(got.size() == size);
  CHECK((got == data));
}

TEST_CASE("patched: readv, writev, sendmsg and recvmsg", "[compat][io]") {
  compat::patch_all();
  Pair p;
  auto reader = green::spawn([&] {
    char a[3], b[10];
    iovec in[2] = {{a, 3}, {b, 10}};
    ssize_t n = ::readv(p.b, in, 2);
    return std::string(a, 3) + std::string(b, n > 3 ? std::size_t(n - 3) : 0);
  });
  auto writer = green::spawn([&] {
    green::sleep(20ms);
    char x[] = "abc", y[] = "defg";
    iovec out[2] = {{x, 3}, {y, 4}};
    return ::writev(p.a, out, 2);
  });
  CHECK(writer.join() == 7);
  CHECK(reader.join() == "abcdefg");

  // A big writev completes, and the iovecs are walked correctly past partial writes.
  std::vector<std::string> parts;
  for (int i = 0; i < 8; ++i) parts.push_back(std::string(300000, char('A' + i)));
  auto big = green::spawn([&] {
    std::vector<iovec> v;
    for (auto& s : parts) v.push_back({s.data(), s.size()});
    return ::writev(p.a, v.data(), int(v.size()));
  });
  auto drain = green::spawn([&] {
    std::string got;
    std::vector<char> buf(32768);
    while (got.size() < 8 * 300000u) {
      ssize_t n = ::read(p.b, buf.data(), buf.size());
      if (n <= 0) break;
      got.append(buf.data(), std::size_t(n));
    }
    return got;
  });
  CHECK(big.join() == 8 * 300000);
  std::string want;
  for (auto& s : parts) want += s;
  std::string drained = drain.join();
  CHECK(drained.size() == want.size());
  CHECK((drained == want));

  // An fd through SCM_RIGHTS: ancillary data survives the wait.
  Pipe carried;
  auto receiver = green::spawn([&] {
    char byte;
    iovec v{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msghdr m{};
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    if (::recvmsg(p.b, &m, 0) != 1) return -1;
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
    int fd;
    std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
  });
  auto sender = green::spawn([&] {
    green::sleep(10ms);
    char byte = 'x';
    iovec v{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr m{};
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &carried.w, sizeof(int));
    return ::sendmsg(p.a, &m, 0);
  });
  CHECK(sender.join() == 1);
  int got = receiver.join();
  REQUIRE(got >= 0);
  CHECK(::write(got, "z", 1) == 1);
  char z = 0;
  CHECK(::read(carried.r, &z, 1) == 1);
  CHECK(z == 'z');
  ::close(got);
}

TEST_CASE("patched: recv flags keep their meaning", "[compat][io]") {
  compat::patch_all();
  Pair p;
  auto waitall = green::spawn([&] {
    char buf[9];
    ssize_t n = ::recv(p.b, buf, 9, MSG_WAITALL);
    return std::string(buf, n > 0 ? std::size_t(n) : 0);
  });
  auto chunks = green::spawn([&] {
    for (const char* s : {"abc", "def", "ghi"}) {
      green::sleep(5ms);
      ::send(p.a, s, 3, 0);
    }
  });
  chunks.join();
  CHECK(waitall.join() == "abcdefghi");

  auto peek = green::spawn([&] {
    char c = 0;
    ssize_t n = ::recv(p.b, &c, 1, MSG_PEEK);
    char d = 0;
    ssize_t m = ::recv(p.b, &d, 1, 0);
    return n == 1 && m == 1 && c == 'q' && d == 'q';
  });
  in_green([&] {
    green::sleep(5ms);
    ::send(p.a, "q", 1, 0);
  });
  CHECK(peek.join());

  // MSG_DONTWAIT on a blocking socket still means "do not wait".
  in_green([&] {
    char c;
    errno = 0;
    CHECK(::recv(p.b, &c, 1, MSG_DONTWAIT) == -1);
    CHECK(errno == EAGAIN);
  });
}

TEST_CASE("patched: datagrams wait and keep message boundaries", "[compat][io]") {
  compat::patch_all();
  Pair p(SOCK_DGRAM);
  auto reader = green::spawn([&] {
    char buf[16];
    sockaddr_storage from{};
    socklen_t len = sizeof from;
    ssize_t n1 = ::recvfrom(p.b, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
    ssize_t n2 = ::recv(p.b, buf, 2, 0);  // truncated to 2, the rest of the datagram is gone
    ssize_t n3 = ::read(p.b, buf, sizeof buf);
    return std::vector<ssize_t>{n1, n2, n3};
  });
  auto writer = green::spawn([&] {
    green::sleep(10ms);
    ::send(p.a, "one", 3, 0);
    ::sendto(p.a, "three", 5, 0, nullptr, 0);
    ::write(p.a, "x", 1);
  });
  writer.join();
  CHECK(reader.join() == std::vector<ssize_t>{3, 2, 1});
}

TEST_CASE("patched: an fd the user made non-blocking keeps returning EAGAIN", "[compat][io]") {
  compat::patch_all();
  char c;
  SECTION("fcntl O_NONBLOCK") {
    Pair p;
    ::fcntl(p.b, F_SETFL, ::fcntl(p.b, F_GETFL) | O_NONBLOCK);
    in_green([&] {
      errno = 0;
      CHECK(::read(p.b, &c, 1) == -1);
      CHECK(errno == EAGAIN);
      CHECK(::recv(p.b, &c, 1, 0) == -1);
      CHECK(errno == EAGAIN);
    });
    // And cooperative again once the user clears it.
    ::fcntl(p.b, F_SETFL, ::fcntl(p.b, F_GETFL) & ~O_NONBLOCK);
    auto r = green::spawn([&] { return ::read(p.b, &c, 1); });
    in_green([&] {
      green::sleep(5ms);
      ::write(p.a, "k", 1);
    });
    CHECK(r.join() == 1);
  }
  SECTION("ioctl FIONBIO") {
    Pair p;
    int on = 1;
    REQUIRE(::ioctl(p.b, FIONBIO, &on) == 0);
    in_green([&] {
      errno = 0;
      CHECK(::read(p.b, &c, 1) == -1);
      CHECK(errno == EAGAIN);
    });
  }
  SECTION("SOCK_NONBLOCK") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    in_green([&] {
      errno = 0;
      CHECK(::read(sv[0], &c, 1) == -1);
      CHECK(errno == EAGAIN);
      // A full buffer: a partial write or EAGAIN, never a wait.
      std::string big(1 << 22, 'x');
      ssize_t n = ::write(sv[0], big.data(), big.size());
      CHECK(n > 0);
      CHECK(n < ssize_t(big.size()));
      CHECK(::write(sv[0], big.data(), big.size()) == -1);
      CHECK(errno == EAGAIN);
    });
    ::close(sv[0]);
    ::close(sv[1]);
  }
  SECTION("pipe2 O_NONBLOCK") {
    Pipe p(O_NONBLOCK);
    in_green([&] {
      errno = 0;
      CHECK(::read(p.r, &c, 1) == -1);
      CHECK(errno == EAGAIN);
    });
  }
}

TEST_CASE("patched: SO_RCVTIMEO and SO_SNDTIMEO are honoured", "[compat][io]") {
  compat::patch_all();
  Pair p;
  timeval tv{0, 100'000};
  REQUIRE(::setsockopt(p.b, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
  REQUIRE(::setsockopt(p.a, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0);
  Ticker ticker;
  in_green([&] {
    char c;
    auto start = SteadyClock::now();
    errno = 0;
    CHECK(::read(p.b, &c, 1) == -1);
    CHECK(errno == EAGAIN);
    double waited = ms_since(start);
    CHECK(waited >= 99);
    CHECK(waited < 1000);
    // Nobody reads: the send buffer fills, and the write returns what it managed.
    std::string big(8 << 20, 'x');
    start = SteadyClock::now();
    ssize_t n = ::write(p.a, big.data(), big.size());
    CHECK(n > 0);
    CHECK(n < ssize_t(big.size()));
    CHECK(ms_since(start) >= 99);
    // Now full: nothing at all goes, EAGAIN after the timeout.
    errno = 0;
    CHECK(::send(p.a, big.data(), big.size(), 0) == -1);
    CHECK(errno == EAGAIN);
  });
  ticker.stop();
  CHECK(ticker.ticks() >= 10);
  CHECK(ticker.max_gap_ms() < 90);  // each timeout is 100 ms
}

TEST_CASE("patched: errno is the caller's across the wait", "[compat][io]") {
  compat::patch_all();
  Pair p;
  auto reader = green::spawn([&] {
    char c;
    errno = 4242;
    ssize_t n = ::read(p.b, &c, 1);
    return std::pair<ssize_t, int>(n, errno);
  });
  auto noisy = green::spawn([&] {
    for (int i = 0; i < 10; ++i) {
      errno = EPIPE;
      green::sleep(1ms);
      errno = ENOENT;
    }
    ::write(p.a, "x", 1);
    errno = EIO;
  });
  noisy.join();
  auto [n, err] = reader.join();
  CHECK(n == 1);
  CHECK(err == 4242);

  // A failure reports its own errno, not a sibling's.
  timeval tv{0, 20'000};
  ::setsockopt(p.b, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto timed = green::spawn([&] {
    char c;
    ssize_t r = ::read(p.b, &c, 1);
    return std::pair<ssize_t, int>(r, errno);
  });
  auto noisy2 = green::spawn([&] {
    for (int i = 0; i < 40; ++i) {
      errno = ENOENT;
      green::sleep(1ms);
    }
  });
  noisy2.join();
  auto [r2, err2] = timed.join();
  CHECK(r2 == -1);
  CHECK(err2 == EAGAIN);
}

TEST_CASE("patched: close wakes the green threads waiting on the fd with EBADF", "[compat][io]") {
  compat::patch_all();
  SECTION("close") {
    Pair p;
    auto reader = green::spawn([&] {
      char c;
      ssize_t n = ::read(p.b, &c, 1);
      return std::pair<ssize_t, int>(n, errno);
    });
    in_green([&] {
      green::sleep(10ms);
      CHECK(::close(p.b) == 0);
      p.b = -1;
    });
    auto [n, err] = reader.join();
    CHECK(n == -1);
    CHECK(err == EBADF);
  }
  SECTION("dup2 over it") {
    Pair p;
    Pair other;
    auto reader = green::spawn([&] {
      char c;
      ssize_t n = ::recv(p.b, &c, 1, 0);
      return std::pair<ssize_t, int>(n, errno);
    });
    in_green([&] {
      green::sleep(10ms);
      CHECK(::dup2(other.a, p.b) == p.b);
    });
    auto [n, err] = reader.join();
    CHECK(n == -1);
    CHECK(err == EBADF);
  }
}

TEST_CASE("patched: pipes wait cooperatively and never become non-blocking", "[compat][io]") {
  compat::patch_all();
  Pipe p;
  Ticker ticker;
  const std::size_t size = 1 << 20;
  std::string data(size, 'p');
  auto writer = green::spawn([&] { return ::write(p.w, data.data(), data.size()); });
  auto checker = green::spawn([&] {
    green::sleep(20ms);  // the writer is waiting now (the pipe holds 64 KiB)
    return (::fcntl(p.w, F_GETFL) & O_NONBLOCK) == 0 && (::fcntl(p.r, F_GETFL) & O_NONBLOCK) == 0;
  });
  CHECK(checker.join());
  auto reader = green::spawn([&] {
    std::size_t got = 0;
    char buf[8192];
    while (got < size) {
      ssize_t n = ::read(p.r, buf, sizeof buf);
      if (n <= 0) break;
      got += std::size_t(n);
    }
    return got;
  });
  CHECK(writer.join() == ssize_t(size));
  CHECK(reader.join() == size);
  ticker.stop();
  CHECK(ticker.max_gap_ms() < 90);

  // EOF once the write end is closed.
  auto eof = green::spawn([&] {
    char c;
    return ::read(p.r, &c, 1);
  });
  in_green([&] {
    green::sleep(5ms);
    ::close(p.w);
    p.w = -1;
  });
  CHECK(eof.join() == 0);
}

TEST_CASE("patched: regular files pass through", "[compat][io]") {
  compat::patch_all();
  char path[] = "/tmp/grove-compat-XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  ::unlink(path);
  in_green([&] {
    CHECK(::write(fd, "file data", 9) == 9);
    CHECK(::lseek(fd, 0, SEEK_SET) == 0);
    char buf[32];
    CHECK(::read(fd, buf, sizeof buf) == 9);
    CHECK(::read(fd, buf, sizeof buf) == 0);
  });
  ::close(fd);
}

TEST_CASE("patched: outside green threads every call is libc's", "[compat][io][tsan]") {
  compat::patch_all();
  Pair p;
  char c;
  ::fcntl(p.b, F_SETFL, O_NONBLOCK);
  errno = 0;
  CHECK(::read(p.b, &c, 1) == -1);
  CHECK(errno == EAGAIN);
  ::fcntl(p.b, F_SETFL, 0);
  // A blocking read on the main context blocks the OS thread; another OS thread feeds it.
  std::thread feeder([&] {
    std::this_thread::sleep_for(20ms);
    compat::original::write(p.a, "m", 1);
  });
  CHECK(::read(p.b, &c, 1) == 1);
  CHECK(c == 'm');
  feeder.join();
}

TEST_CASE("patched: a signal handler does not make a waiting read fail", "[compat][io][tsan]") {
  compat::patch_all();
  struct sigaction sa {
  }, old{};
  sa.sa_handler = [](int) {};
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART
  REQUIRE(::sigaction(SIGUSR2, &sa, &old) == 0);
  Pair p;
  pthread_t hub_thread = ::pthread_self();
  std::atomic<bool> stop{false};
  std::thread signaller([&] {
    while (!stop) {
      ::pthread_kill(hub_thread, SIGUSR2);
      std::this_thread::sleep_for(2ms);
    }
  });
  auto reader = green::spawn([&] {
    char c = 0;
    ssize_t n = ::read(p.b, &c, 1);
    return std::pair<ssize_t, int>(n, n < 0 ? errno : 0);
  });
  auto writer = green::spawn([&] {
    green::sleep(60ms);
    return ::write(p.a, "s", 1);
  });
  CHECK(writer.join() == 1);
  auto [n, err] = reader.join();
  stop = true;
  signaller.join();
  ::sigaction(SIGUSR2, &old, nullptr);
  CHECK(n == 1);
  CHECK(err == 0);
}
