// loop_bench: every grove engine beside its raw library doing the same thing, plus a
// hand-written epoll loop. What each row does on each side:
//
// post       Queue kPostBatch callbacks, then run the loop until all have run; per callback.
//   grove    call_soon(closure) x N, then run() (which returns once nothing is left).
//   asio     asio::post(io_context, closure) x N, then io_context::run() + restart().
//   libev    ev_feed_event() on N pre-initialised watchers, then ev_run(EVRUN_NOWAIT).
//            libev has no closure queue; its pending queue, fed directly, is the nearest
//            thing (an ev_idle per callback would add an ev_idle_start and _stop to each).
//   libevent event_active() on N pre-allocated events, then event_base_loop(NONBLOCK).
//            (event_base_once() would allocate an event per call.)
//
// pingpong   One byte each way over an AF_UNIX socketpair with a read watcher on each
//            end; end b echoes, end a counts and sends the next byte; per round trip.
//   grove    loop->watch(fd, Events::read) on both ends, run() until the batch stop()s.
//   asio     posix::stream_descriptor::async_wait(wait_read) per end, re-armed by its
//            handler: Asio's readiness wait, which grove's asio engine uses too.
//   libev    an ev_io per end, ev_run() until ev_break().
//   libevent a persistent EV_READ event per end, event_base_loop() until loopbreak.
//   epoll    the floor: one level-triggered epoll set, epoll_wait() + read()/write().
//
// timers_fire    Schedule kTimers one-shot timers with delays uniform in [0, 1 ms), sleep
//                (clock paused) until all are due, run until all have fired; per timer.
// timers_cancel  Schedule kTimers timers with delays in [1 s, 2 s), then cancel each (in
//                scheduling order, i.e. random heap positions): timeouts that never fire.
//   grove    call_later() (fire: the handle is dropped; cancel: kept, cancel(), dropped).
//   asio     one asio::steady_timer per timer, constructed once before timing;
//            expires_after() + async_wait(); cancel() then poll() to retire the aborts.
//   libev    one ev_timer per timer, allocated once; ev_timer_start() / ev_timer_stop().
//   libevent one event per timer, event_new'd once; event_add(tv) / event_del().
//   The raw sides own their timer objects up front; grove allocates a node per call_at
//   because its API hands out a handle, and that allocation is counted as grove's cost.
//
// wakeup     A loop thread waits in its poller with nothing else to do; the benchmark
//            thread posts a callback to it and blocks until the callback answers (atomic
//            store + futex wake); per round trip. Both threads share one CPU (PinHere).
//   grove    call_soon_threadsafe(closure) on a loop kept alive by work_started().
//   asio     asio::post(io_context, closure) to io_context::run() held by a work guard.
//   libev    ev_async_send() to an ev_async watcher (the request number travels through
//            an atomic, as a closure capture would).
//   libevent event_active() from the benchmark thread on a base made thread-safe by
//            evthread_use_pthreads() (what makes that call legal and wakes the base).
//
// Configuration of the raw sides: each library as a program of that shape would set it
// up. Asio: io_context(1), the single-threaded hint grove's engine also uses. libev:
// ev_loop_new(EVFLAG_AUTO), epoll. libevent: single-threaded rows use a base with
// EVENT_BASE_FLAG_NOLOCK (a program that never turns libevent threading on pays no locks;
// grove's libevent engine, in this same process, turns threading on), the wakeup row a
// locked base, which that row needs.
#include "common.hpp"

namespace loop_bench {
namespace {

const std::vector<std::string>& engines() {
  static const std::vector<std::string> names = {
#if GROVE_BENCH_ASIO
    "asio",
#endif
#if GROVE_BENCH_LIBEV
    "libev",
#endif
#if GROVE_BENCH_LIBEVENT
    "libevent",
#endif
  };
  return names;
}

// LOOP_BENCH_ITERATIONS=n fixes every benchmark's iteration count (a multiple of the
// batch size for the batched rows), for counting instructions under callgrind: the
// difference between two counts divided by the difference in iterations is the cost per
// operation, free of set-up. Timing runs leave it unset.
long fixed_iterations() {
  static const long n = [] {
    const char* env = std::getenv("LOOP_BENCH_ITERATIONS");
    return env ? std::atol(env) : 0L;
  }();
  return n;
}

template <class F, class... Args>
benchmark::internal::Benchmark* add(const std::string& name, F f, Args... args) {
  auto* b = benchmark::RegisterBenchmark(name.c_str(), f, args...)->UseRealTime();
  if (fixed_iterations() > 0) b->Iterations(fixed_iterations());
  return b;
}

void register_all() {
  for (const auto& e : engines()) {
    add("post/" + e + "/grove", grove_post, e);
#if GROVE_BENCH_ASIO
    if (e == "asio") add("post/asio/raw", asio_post);
#endif
#if GROVE_BENCH_LIBEV
    if (e == "libev") add("post/libev/raw", libev_post);
#endif
#if GROVE_BENCH_LIBEVENT
    if (e == "libevent") add("post/libevent/raw", libevent_post);
#endif
  }

  add("pingpong/epoll/raw", epoll_pingpong);
  for (const auto& e : engines()) {
    add("pingpong/" + e + "/grove", grove_pingpong, e);
#if GROVE_BENCH_ASIO
    if (e == "asio") add("pingpong/asio/raw", asio_pingpong);
#endif
#if GROVE_BENCH_LIBEV
    if (e == "libev") add("pingpong/libev/raw", libev_pingpong);
#endif
#if GROVE_BENCH_LIBEVENT
    if (e == "libevent") add("pingpong/libevent/raw", libevent_pingpong);
#endif
  }

  for (TimerMode m : {TimerMode::fire, TimerMode::cancel}) {
    const std::string row = m == TimerMode::fire ? "timers_fire/" : "timers_cancel/";
    for (const auto& e : engines()) {
      add(row + e + "/grove", grove_timers, e, m)->Unit(benchmark::kMillisecond);
#if GROVE_BENCH_ASIO
      if (e == "asio") add(row + "asio/raw", asio_timers, m)->Unit(benchmark::kMillisecond);
#endif
#if GROVE_BENCH_LIBEV
      if (e == "libev") add(row + "libev/raw", libev_timers, m)->Unit(benchmark::kMillisecond);
#endif
#if GROVE_BENCH_LIBEVENT
      if (e == "libevent")
        add(row + "libevent/raw", libevent_timers, m)->Unit(benchmark::kMillisecond);
#endif
    }
  }

  for (const auto& e : engines()) {
    add("wakeup/" + e + "/grove", grove_wakeup, e);
#if GROVE_BENCH_ASIO
    if (e == "asio") add("wakeup/asio/raw", asio_wakeup);
#endif
#if GROVE_BENCH_LIBEV
    if (e == "libev") add("wakeup/libev/raw", libev_wakeup);
#endif
#if GROVE_BENCH_LIBEVENT
    if (e == "libevent") add("wakeup/libevent/raw", libevent_wakeup);
#endif
  }
}

}  // namespace

const std::vector<std::int64_t>& timer_delays(TimerMode mode) {
  static const auto make = [](std::int64_t lo, std::int64_t hi) {
    std::uint64_t x = 0x9E3779B97F4A7C15ull;  // splitmix64: the same sequence everywhere
    std::vector<std::int64_t> v(kTimers);
    for (auto& d : v) {
      std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      z ^= z >> 31;
      d = lo + std::int64_t(z % std::uint64_t(hi - lo));
    }
    return v;
  };
  static const auto fire = make(0, 1'000'000);
  static const auto cancel = make(1'000'000'000, 2'000'000'000);
  return mode == TimerMode::fire ? fire : cancel;
}

}  // namespace loop_bench

int main(int argc, char** argv) {
  loop_bench::register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
