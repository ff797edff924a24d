// Shared pieces of loop_bench: the workloads' parameters and the helpers every side uses.
//
// Each raw library lives in its own translation unit (raw_<library>.cpp) because their
// headers collide: libevent's <event2/event.h> #defines EV_READ 0x02 and EV_WRITE 0x04,
// which silently rewrites libev's enum (EV_READ 0x01, EV_WRITE 0x02) in any file that
// includes both, turning an ev_io read watcher into a write watcher.
//
// Every benchmark is registered (main.cpp) as "<row>/<engine>/<side>", side "grove" (the
// grove engine) or "raw" (its library used directly); bench/run_loop.sh pairs them by that
// name. Time is real time per operation: KeepRunningBatch for the batched rows, and
// items_per_second for the timer rows (which pause the clock between phases).
#pragma once

#include <benchmark/benchmark.h>

#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace loop_bench {

// --- post: queue kPostBatch callbacks, then run the loop until they have all run -------
constexpr int kPostBatch = 1000;
// --- pingpong: one byte each way over a socketpair, per round trip ---------------------
constexpr int kPingBatch = 1000;
// --- timers_fire / timers_cancel: kTimers timers with random deadlines -----------------
constexpr int kTimers = 100000;
enum class TimerMode { fire, cancel };

[[noreturn]] inline void die(const char* what) {
  std::perror(what);
  std::abort();
}

// A connected, non-blocking AF_UNIX stream pair, closed on scope exit.
struct SocketPair {
  int a = -1, b = -1;
  SocketPair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
      die("socketpair");
    a = fds[0];
    b = fds[1];
  }
  ~SocketPair() {
    ::close(a);
    ::close(b);
  }
  SocketPair(const SocketPair&) = delete;
  SocketPair& operator=(const SocketPair&) = delete;
};

// One byte in, one byte out: the ping-pong legs, identical for every side.
inline void read1(int fd) {
  char c;
  if (::read(fd, &c, 1) != 1) die("read");
}
inline void write1(int fd) {
  char c = 'x';
  if (::write(fd, &c, 1) != 1) die("write");
}

inline void check_count(benchmark::State& state, std::uint64_t got, std::uint64_t want) {
  if (got != want) state.SkipWithError("wrong number of callbacks ran");
}

// Timer delays in ns, the same sequence for every side: uniform in [0, 1 ms) for the fire
// phase, in [1 s, 2 s) for the cancel phase (they must never fire).
const std::vector<std::int64_t>& timer_delays(TimerMode mode);

// Untimed, between scheduling and running the fire phase: sleeps until every deadline has
// passed (10 ms: 1 ms of delays plus two ticks of libevent's 4 ms coarse clock), so the
// row measures scheduling and firing, never waiting.
inline void settle(benchmark::State& state) {
  state.PauseTiming();
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  state.ResumeTiming();
}

inline void finish_timers(benchmark::State& state, std::uint64_t fired, TimerMode mode) {
  check_count(state, fired,
              mode == TimerMode::fire ? std::uint64_t(state.iterations()) * kTimers : 0);
  state.SetItemsProcessed(state.iterations() * kTimers);
}

// --- wakeup: cross-thread round trip -----------------------------------------------------
// The loop's answer, the same for every side: an atomic store and a futex wake that the
// benchmark thread waits on.
struct Reply {
  std::atomic<std::uint32_t> value{0};
  void answer(std::uint32_t seq) {
    value.store(seq, std::memory_order_release);
    value.notify_one();
  }
  void await(std::uint32_t seq) {
    for (std::uint32_t v; (v = value.load(std::memory_order_acquire)) != seq;)
      value.wait(v, std::memory_order_acquire);
  }
};

// Pins the calling thread, and so the loop thread it then starts (std::thread inherits
// the affinity), to the CPU it is running on, for the scope's lifetime. On a virtual
// machine a wake-up that crosses to an idle vCPU pays the hypervisor's halt/IPI latency
// (10-160 us here, varying from run to run), which would bury the libraries' own cost; on
// one CPU the round trip is the libraries' work plus two context switches.
class PinHere {
 public:
  PinHere() {
    pthread_getaffinity_np(pthread_self(), sizeof(saved_), &saved_);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu(), &one);
    pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
  }
  ~PinHere() { pthread_setaffinity_np(pthread_self(), sizeof(saved_), &saved_); }
  PinHere(const PinHere&) = delete;
  PinHere& operator=(const PinHere&) = delete;

 private:
  cpu_set_t saved_;
};

// --- the sides ------------------------------------------------------------------------
// grove_side.cpp: every row on a grove engine, by name.
void grove_post(benchmark::State&, const std::string& engine);
void grove_pingpong(benchmark::State&, const std::string& engine);
void grove_timers(benchmark::State&, const std::string& engine, TimerMode mode);
void grove_wakeup(benchmark::State&, const std::string& engine);
// raw_epoll.cpp: the hand-written floor.
void epoll_pingpong(benchmark::State&);
// raw_<library>.cpp
#if GROVE_BENCH_ASIO
void asio_post(benchmark::State&);
void asio_pingpong(benchmark::State&);
void asio_timers(benchmark::State&, TimerMode mode);
void asio_wakeup(benchmark::State&);
#endif
#if GROVE_BENCH_LIBEV
void libev_post(benchmark::State&);
void libev_pingpong(benchmark::State&);
void libev_timers(benchmark::State&, TimerMode mode);
void libev_wakeup(benchmark::State&);
#endif
#if GROVE_BENCH_LIBEVENT
void libevent_post(benchmark::State&);
void libevent_pingpong(benchmark::State&);
void libevent_timers(benchmark::State&, TimerMode mode);
void libevent_wakeup(benchmark::State&);
#endif

}  // namespace loop_bench
