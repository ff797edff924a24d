// Patched sleeps (the green thread sleeps, not the OS thread) and name resolution (on the
// thread pool).
#include "compat_support.hpp"

#include <arpa/inet.h>
#include <netdb.h>

#include <cstring>
#include <thread>

using namespace grove::test;

TEST_CASE("patched: every sleep call sleeps only its green thread", "[compat][sleep]") {
  compat::patch_all();
  Ticker ticker;
  auto sleepers = std::vector<green::Handle<double>>{};
  auto timed = [](auto fn) {
    return [fn] {
      auto start = SteadyClock::now();
      fn();
      return ms_since(start);
    };
  };
  sleepers.push_back(green::spawn(timed([] { std::this_thread::sleep_for(100ms); })));
  sleepers.push_back(green::spawn(timed([] { ::usleep(100'000); })));
  sleepers.push_back(green::spawn(timed([] {
    timespec ts{0, 100'000'000};
    ::nanosleep(&ts, nullptr);
  })));
  sleepers.push_back(green::spawn(timed([] {
    timespec ts{0, 100'000'000};
    ::clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr);
  })));
  sleepers.push_back(green::spawn(timed([] {
    timespec t;
    ::clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_nsec += 100'000'000;
    if (t.tv_nsec >= 1'000'000'000) {
      t.tv_nsec -= 1'000'000'000;
      ++t.tv_sec;
    }
    ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, nullptr);
  })));
  sleepers.push_back(green::spawn(timed([] {
    timespec t;
    ::clock_gettime(CLOCK_REALTIME, &t);
    t.tv_nsec += 100'000'000;
    if (t.tv_nsec >= 1'000'000'000) {
      t.tv_nsec -= 1'000'000'000;
      ++t.tv_sec;
    }
    ::clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &t, nullptr);
  })));
  sleepers.push_back(
      green::spawn(timed([] { std::this_thread::sleep_until(SteadyClock::now() + 100ms); })));
  auto start = SteadyClock::now();
  for (auto& s : sleepers) {
    double took = s.join();
    CHECK(took >= 99);
    CHECK(took < 1000);
  }
  CHECK(ms_since(start) < 600);  // together, not one after another (700 ms in a row)
  ticker.stop();
  CHECK(ticker.ticks() >= 10);
  CHECK(ticker.max_gap_ms() < 90);
}

TEST_CASE("patched: sleep results and errors are libc's", "[compat][sleep]") {
  compat::patch_all();
  in_green([] {
    errno = 777;
    timespec zero{0, 0};
    CHECK(::nanosleep(&zero, nullptr) == 0);
    CHECK(errno == 777);
    timespec bad{0, 1'000'000'000};
    CHECK(::nanosleep(&bad, nullptr) == -1);
    CHECK(errno == EINVAL);
    errno = 777;
    CHECK(::clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, nullptr) == EINVAL);
    CHECK(errno == 777);  // clock_nanosleep returns the error, errno untouched
    timespec past{1, 0};
    CHECK(::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, nullptr) == 0);
    timespec tiny{0, 1000};
    CHECK(::clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &tiny, nullptr) ==
          compat::original::clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &tiny, nullptr));
    CHECK(::sleep(0) == 0);
    CHECK(::usleep(0) == 0);
  });
}

TEST_CASE("patched: sleep(0) yields to the other green threads", "[compat][sleep]") {
  compat::patch_all();
  int turns = 0;
  auto other = green::spawn([&] {
    for (int i = 0; i < 5; ++i) {
      ++turns;
      green::yield();
    }
  });
  in_green([&] {
    for (int i = 0; i < 5; ++i) {
      timespec zero{0, 0};
      ::nanosleep(&zero, nullptr);
    }
  });
  other.join();
  CHECK(turns == 5);
}

TEST_CASE("patched: outside green threads sleeps block as in libc", "[compat][sleep]") {
  compat::patch_all();
  auto start = SteadyClock::now();
  ::usleep(20'000);
  CHECK(ms_since(start) >= 19);
}

TEST_CASE("patched: name resolution in green threads matches libc", "[compat][dns][tsan]") {
  compat::patch_all();
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* theirs = nullptr;
  REQUIRE(compat::original::getaddrinfo("localhost", "80", &hints, &theirs) == 0);
  in_green([&] {
    addrinfo* ours = nullptr;
    errno = 777;
    REQUIRE(::getaddrinfo("localhost", "80", &hints, &ours) == 0);
    CHECK(errno == 777);
    REQUIRE(ours);
    CHECK(ours->ai_addrlen == theirs->ai_addrlen);
    CHECK(std::memcmp(ours->ai_addr, theirs->ai_addr, ours->ai_addrlen) == 0);
    ::freeaddrinfo(ours);

    addrinfo numeric{};
    numeric.ai_flags = AI_NUMERICHOST;
    addrinfo* none = nullptr;
    CHECK(::getaddrinfo("not-a-number", nullptr, &numeric, &none) ==
          compat::original::getaddrinfo("not-a-number", nullptr, &numeric, &none));

    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(8080);
    char host[64] = {}, serv[16] = {};
    CHECK(::getnameinfo(reinterpret_cast<sockaddr*>(&a), sizeof a, host, sizeof host, serv,
                        sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) == 0);
    CHECK(std::string(host) == "127.0.0.1");
    CHECK(std::string(serv) == "8080");

    hostent ent{}, *result = nullptr;
    char buf[4096];
    int herr = 0;
    CHECK(::gethostbyname_r("localhost", &ent, buf, sizeof buf, &result, &herr) == 0);
    REQUIRE(result == &ent);
    CHECK(ent.h_addrtype == AF_INET);
    CHECK(ent.h_addr_list[0] >= buf);
    CHECK(ent.h_addr_list[0] < buf + sizeof buf);  // relocated into the caller's buffer
    in_addr loop{};
    std::memcpy(&loop, ent.h_addr_list[0], sizeof loop);
    CHECK(ntohl(loop.s_addr) == INADDR_LOOPBACK);
    char tiny[8];
    CHECK(::gethostbyname_r("localhost", &ent, tiny, sizeof tiny, &result, &herr) == ERANGE);
    CHECK(result == nullptr);

    hostent* h = ::gethostbyname("localhost");
    REQUIRE(h);
    CHECK(std::string(h->h_name).size() > 0);
    std::memcpy(&loop, h->h_addr_list[0], sizeof loop);
    CHECK(ntohl(loop.s_addr) == INADDR_LOOPBACK);
  });
  ::freeaddrinfo(theirs);
}
