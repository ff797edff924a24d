// Patched accept and connect: servers and clients written with plain blocking calls.
#include "compat_support.hpp"

#include <sys/un.h>

#include <cstring>

using namespace grove::test;

namespace {
int connect_to(const Listener& l) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = l.address();
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  return fd;
}
}  // namespace

TEST_CASE("patched: accept and connect wait only their green threads", "[compat][connections]") {
  compat::patch_all();
  Listener l;
  Ticker ticker;
  auto server = green::spawn([&] {
    int served = 0;
    for (int i = 0; i < 3; ++i) {
      int c = ::accept(l.fd, nullptr, nullptr);
      if (c < 0) break;
      green::spawn([c] {
        char buf[64];
        ssize_t n;
        while ((n = ::read(c, buf, sizeof buf)) > 0) ::write(c, buf, std::size_t(n));
        ::close(c);
      });
      ++served;
    }
    return served;
  });
  std::vector<green::Handle<std::string>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(green::spawn([&, i] {
      green::sleep(std::chrono::milliseconds(10 * i));
      int fd = connect_to(l);
      if (fd < 0) return std::string("connect failed: ") + std::strerror(errno);
      // The socket is blocking again after connect: grove restored the flag.
      if (::fcntl(fd, F_GETFL) & O_NONBLOCK) return std::string("left non-blocking");
      std::string msg = "client " + std::to_string(i);
      ::write(fd, msg.data(), msg.size());
      char buf[64];
      ssize_t n = ::read(fd, buf, sizeof buf);
      ::close(fd);
      return std::string(buf, n > 0 ? std::size_t(n) : 0);
    }));
  }
  for (int i = 0; i < 3; ++i)
    CHECK(clients[std::size_t(i)].join() == "client " + std::to_string(i));
  CHECK(server.join() == 3);
  ticker.stop();
  CHECK(ticker.max_gap_ms() < 90);
}

TEST_CASE("patched: connect reports refusal like libc", "[compat][connections]") {
  compat::patch_all();
  int port;
  {
    Listener gone;
    port = gone.port;
  }
  in_green([&] {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(std::uint16_t(port));
    errno = 0;
    CHECK(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == -1);
    CHECK(errno == ECONNREFUSED);
    CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) == 0);
    ::close(fd);
  });
}

TEST_CASE("patched: a user non-blocking connect returns EINPROGRESS", "[compat][connections]") {
  compat::patch_all();
  Listener l;
  in_green([&] {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in a = l.address();
    int r = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    CHECK((r == 0 || errno == EINPROGRESS));
    pollfd p{fd, POLLOUT, 0};
    CHECK(::poll(&p, 1, 1000) == 1);
    ::close(fd);
  });
}

TEST_CASE("patched: Unix-domain sockets connect and accept", "[compat][connections]") {
  compat::patch_all();
  std::string path = "/tmp/grove-compat-" + std::to_string(::getpid()) + ".sock";
  ::unlink(path.c_str());
  int l = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  REQUIRE(::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(l, 4) == 0);
  auto server = green::spawn([&] {
    int c = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
    char buf[8];
    ssize_t n = ::read(c, buf, sizeof buf);
    ::close(c);
    return std::string(buf, n > 0 ? std::size_t(n) : 0);
  });
  auto client = green::spawn([&] {
    green::sleep(10ms);
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    int r = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::write(fd, "unix", 4);
    ::close(fd);
    return r;
  });
  CHECK(client.join() == 0);
  CHECK(server.join() == "unix");
  ::close(l);
  ::unlink(path.c_str());
}

TEST_CASE("patched: accept honours SO_RCVTIMEO and wakes on close", "[compat][connections]") {
  compat::patch_all();
  {
    Listener l;
    timeval tv{0, 40'000};
    REQUIRE(::setsockopt(l.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
    in_green([&] {
      auto start = SteadyClock::now();
      errno = 0;
      CHECK(::accept(l.fd, nullptr, nullptr) == -1);
      CHECK(errno == EAGAIN);
      CHECK(ms_since(start) >= 39);
    });
  }
  {
    Listener l;
    auto acceptor = green::spawn([&] {
      int r = ::accept(l.fd, nullptr, nullptr);
      return std::pair<int, int>(r, errno);
    });
    in_green([&] {
      green::sleep(10ms);
      ::close(l.fd);
      l.fd = -1;
    });
    auto [r, err] = acceptor.join();
    CHECK(r == -1);
    CHECK(err == EBADF);
  }
}

TEST_CASE("patched: several green threads may accept on one listener", "[compat][connections]") {
  compat::patch_all();
  Listener l;
  std::vector<green::Handle<int>> acceptors;
  for (int i = 0; i < 3; ++i)
    acceptors.push_back(green::spawn([&] {
      int c = ::accept(l.fd, nullptr, nullptr);
      if (c < 0) return -1;
      char b;
      ssize_t n = ::read(c, &b, 1);
      ::close(c);
      return int(n);
    }));
  in_green([&] {
    green::sleep(10ms);
    for (int i = 0; i < 3; ++i) {
      int fd = connect_to(l);
      ::write(fd, "a", 1);
      ::close(fd);
    }
  });
  for (auto& a : acceptors) CHECK(a.join() == 1);
}

TEST_CASE("patched: accept4 flags reach the new fd", "[compat][connections]") {
  compat::patch_all();
  Listener l;
  auto acceptor = green::spawn([&] {
    int c = ::accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    char b;
    errno = 0;
    ssize_t n = ::read(c, &b, 1);  // the user asked for non-blocking: EAGAIN, no wait
    int err = errno;
    bool nb = ::fcntl(c, F_GETFL) & O_NONBLOCK;
    ::close(c);
    return n == -1 && err == EAGAIN && nb;
  });
  int fd = -1;
  in_green([&] { fd = connect_to(l); });
  CHECK(acceptor.join());
  ::close(fd);
}
