// Patched poll, ppoll, select, pselect and epoll_wait.
#include "compat_support.hpp"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>

using namespace grove::test;

TEST_CASE("patched: poll waits on several fds, only its green thread", "[compat][waiting]") {
  compat::patch_all();
  Pair p1, p2, p3;
  Ticker ticker;
  auto poller = green::spawn([&] {
    pollfd fds[3] = {{p1.b, POLLIN, 0}, {p2.b, POLLIN, 0}, {p3.b, POLLIN, 0}};
    int n = ::poll(fds, 3, 5000);
    return std::vector<int>{n, fds[0].revents, fds[1].revents, fds[2].revents};
  });
  in_green([&] {
    green::sleep(100ms);
    ::write(p2.a, "x", 1);
  });
  CHECK(poller.join() == std::vector<int>{1, 0, POLLIN, 0});
  ticker.stop();
  CHECK(ticker.ticks() >= 10);
  CHECK(ticker.max_gap_ms() < 90);
}

TEST_CASE("patched: poll timeouts, no fds, bad fds and hang-ups", "[compat][waiting]") {
  compat::patch_all();
  Pair p;
  in_green([&] {
    pollfd f{p.b, POLLIN, 0};
    errno = 777;
    auto start = SteadyClock::now();
    CHECK(::poll(&f, 1, 40) == 0);
    CHECK(ms_since(start) >= 39);
    CHECK(errno == 777);
    CHECK(::poll(&f, 1, 0) == 0);
    start = SteadyClock::now();
    CHECK(::poll(nullptr, 0, 30) == 0);  // a sleep
    CHECK(ms_since(start) >= 29);
    pollfd bad{1000000, POLLIN, 0};
    CHECK(::poll(&bad, 1, 1000) == 1);
    CHECK(bad.revents == POLLNVAL);
    pollfd skipped[2] = {{-1, POLLIN, 0}, {p.a, POLLOUT, 0}};
    CHECK(::poll(skipped, 2, 1000) == 1);
    CHECK(skipped[1].revents == POLLOUT);
  });
  // Only hang-ups asked for (events 0): the peer's close wakes the poll.
  auto hup = green::spawn([&] {
    pollfd f{p.b, 0, 0};
    auto start = SteadyClock::now();
    int n = ::poll(&f, 1, 5000);
    return std::tuple<int, int, double>(n, f.revents, ms_since(start));
  });
  in_green([&] {
    green::sleep(20ms);
    ::write(p.a, "data the poller did not ask for", 31);
    green::sleep(20ms);
    ::close(p.a);
    p.a = -1;
  });
  auto [n, revents, waited] = hup.join();
  CHECK(n == 1);
  CHECK((revents & POLLHUP));
  CHECK(waited < 1000);  // noticed soon after the close, not at the 5 s timeout
}

TEST_CASE("patched: two green threads poll the same fd", "[compat][waiting]") {
  compat::patch_all();
  Pair p;
  auto poll_one = [&] {
    pollfd f{p.b, POLLIN, 0};
    return ::poll(&f, 1, 5000);
  };
  auto a = green::spawn(poll_one);
  auto b = green::spawn(poll_one);
  in_green([&] {
    green::sleep(20ms);
    ::write(p.a, "x", 1);
  });
  CHECK(a.join() == 1);
  CHECK(b.join() == 1);
}

TEST_CASE("patched: ppoll and its signal mask", "[compat][waiting]") {
  compat::patch_all();
  Pair p;
  std::vector<compat::Warning> seen;
  auto previous = compat::set_warning_sink([&](const compat::Warning& w) { seen.push_back(w); });
  auto waiter = green::spawn([&] {
    pollfd f{p.b, POLLIN, 0};
    timespec ts{5, 0};
    sigset_t mask;
    sigemptyset(&mask);
    return ::ppoll(&f, 1, &ts, &mask);
  });
  in_green([&] {
    green::sleep(10ms);
    ::write(p.a, "x", 1);
  });
  CHECK(waiter.join() == 1);
  compat::set_warning_sink(previous);
  bool warned = false;
  for (auto& w : seen)
    warned |= w.id == "compat.ppoll-sigmask" &&
              w.message.find("the mask is ignored") != std::string::npos &&
              w.message.find("EventLoop::watch_signal") != std::string::npos;
  bool already = false;
  for (auto& w : compat::warnings()) already |= w.id == "compat.ppoll-sigmask";
  CHECK((warned || already));
  in_green([&] {
    timespec bad{0, 2'000'000'000};
    pollfd f{p.b, POLLIN, 0};
    errno = 0;
    CHECK(::ppoll(&f, 1, &bad, nullptr) == -1);
    CHECK(errno == EINVAL);
  });
}

TEST_CASE("patched: select and pselect", "[compat][waiting]") {
  compat::patch_all();
  Pair p, q;
  auto selector = green::spawn([&] {
    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_SET(p.b, &rd);
    FD_SET(q.b, &rd);
    timeval tv{5, 0};
    int n = ::select(std::max(p.b, q.b) + 1, &rd, &wr, nullptr, &tv);
    bool remaining = tv.tv_sec < 5 && tv.tv_sec >= 4;  // Linux reports the time left
    return std::vector<int>{n, FD_ISSET(p.b, &rd) ? 1 : 0, FD_ISSET(q.b, &rd) ? 1 : 0,
                            remaining ? 1 : 0};
  });
  in_green([&] {
    green::sleep(20ms);
    ::write(q.a, "x", 1);
  });
  CHECK(selector.join() == std::vector<int>{1, 0, 1, 1});

  in_green([&] {
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(p.b, &rd);
    timeval tv{0, 30'000};
    auto start = SteadyClock::now();
    CHECK(::select(p.b + 1, &rd, nullptr, nullptr, &tv) == 0);
    CHECK(ms_since(start) >= 29);
    CHECK(!FD_ISSET(p.b, &rd));
    CHECK((tv.tv_sec == 0 && tv.tv_usec == 0));
    // Write readiness at once; a closed fd is EBADF.
    fd_set wr;
    FD_ZERO(&wr);
    FD_SET(p.a, &wr);
    CHECK(::select(p.a + 1, nullptr, &wr, nullptr, nullptr) == 1);
    int gone = ::dup(p.a);
    ::close(gone);
    FD_ZERO(&rd);
    FD_SET(gone, &rd);
    errno = 0;
    CHECK(::select(gone + 1, &rd, nullptr, nullptr, nullptr) == -1);
    CHECK(errno == EBADF);
    timespec ts{0, 20'000'000};
    FD_ZERO(&rd);
    FD_SET(p.b, &rd);
    start = SteadyClock::now();
    CHECK(::pselect(p.b + 1, &rd, nullptr, nullptr, &ts, nullptr) == 0);
    CHECK(ms_since(start) >= 19);
  });
}

TEST_CASE("patched: epoll_wait waits on the hub", "[compat][waiting]") {
  compat::patch_all();
  Pair p;
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = p.b;
  REQUIRE(::epoll_ctl(ep, EPOLL_CTL_ADD, p.b, &ev) == 0);
  Ticker ticker;
  auto waiter = green::spawn([&] {
    epoll_event out[4];
    int n = ::epoll_wait(ep, out, 4, 5000);
    return n == 1 && out[0].data.fd == p.b;
  });
  in_green([&] {
    green::sleep(100ms);
    ::write(p.a, "x", 1);
  });
  CHECK(waiter.join());
  in_green([&] {
    epoll_event out[4];
    char c;
    ::read(p.b, &c, 1);
    auto start = SteadyClock::now();
    CHECK(::epoll_wait(ep, out, 4, 30) == 0);
    CHECK(ms_since(start) >= 29);
  });
  ticker.stop();
  CHECK(ticker.max_gap_ms() < 90);
  ::close(ep);
}
